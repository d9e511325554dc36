//! Indicator values, checked before any request so that a typo spends no quota.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::Error;

/// An indicator of compromise the API can look up: an IP address, a domain, a URL or a
/// file hash.
///
/// Parsing checks the value and puts it in the form the API is sent:
/// - IP addresses in their canonical text form (`2001:db8::1`, never `2001:0db8:0:0::1`);
/// - domains in lower case, internationalised names as punycode (`bücher.example` is
///   sent as `xn--bcher-kva.example`), the form the feeds publish them in;
/// - URLs as given (the query encoding makes every reserved character arrive intact);
/// - hashes in lower-case hex, recognised by length: 32 (MD5), 40 (SHA1), 64 (SHA256).
///
/// ```
/// use rstcloud::Indicator;
///
/// let ip: Indicator = "2001:0db8:0000::0001".parse()?;
/// assert_eq!(ip.as_str(), "2001:db8::1");
/// let idn: Indicator = "Bücher.Example".parse()?;
/// assert_eq!(idn.as_str(), "xn--bcher-kva.example");
/// assert!("not a thing".parse::<Indicator>().is_err());
/// # Ok::<(), rstcloud::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Indicator {
    kind: IndicatorKind,
    value: String,
}

/// What kind of value an [`Indicator`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum IndicatorKind {
    /// An IPv4 address.
    Ipv4,
    /// An IPv6 address.
    Ipv6,
    /// A domain name.
    Domain,
    /// A URL.
    Url,
    /// An MD5 digest.
    Md5,
    /// A SHA1 digest.
    Sha1,
    /// A SHA256 digest.
    Sha256,
}

/// The longest value accepted; longer ones are refused before any request.
const MAX_INDICATOR_LEN: usize = 8192;

impl Indicator {
    /// The value as it is sent to the API.
    pub fn as_str(&self) -> &str {
        &self.value
    }

    /// What kind of indicator this is.
    pub fn kind(&self) -> IndicatorKind {
        self.kind
    }

    /// Reads a domain name only, as the WHOIS endpoints take.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `value` is not a domain name (an IP address, a path,
    /// anything with `/`, `?`, `#` or spaces is refused).
    pub fn domain(value: &str) -> Result<Indicator, Error> {
        let value = value.trim();
        let ascii = normalise_domain(value).ok_or_else(|| {
            Error::invalid_input("domain", format!("{value:?} is not a domain name"))
        })?;
        Ok(Indicator {
            kind: IndicatorKind::Domain,
            value: ascii,
        })
    }
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl AsRef<str> for Indicator {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl FromStr for Indicator {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let value = value.trim();
        if value.is_empty() {
            return Err(Error::invalid_input("indicator", "the value is empty"));
        }
        if value.len() > MAX_INDICATOR_LEN {
            return Err(Error::invalid_input(
                "indicator",
                format!("the value is longer than {MAX_INDICATOR_LEN} bytes"),
            ));
        }
        let (kind, value) = classify(value).ok_or_else(|| {
            Error::invalid_input(
                "indicator",
                format!("{value:?} is not an IP address, domain, URL, MD5, SHA1 or SHA256"),
            )
        })?;
        Ok(Indicator { kind, value })
    }
}

impl TryFrom<&str> for Indicator {
    type Error = Error;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<String> for Indicator {
    type Error = Error;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

fn classify(value: &str) -> Option<(IndicatorKind, String)> {
    if let Ok(ip) = value.parse::<Ipv4Addr>() {
        return Some((IndicatorKind::Ipv4, ip.to_string()));
    }
    let bracketed = value.strip_prefix('[').and_then(|v| v.strip_suffix(']'));
    if let Ok(ip) = bracketed.unwrap_or(value).parse::<Ipv6Addr>() {
        return Some((IndicatorKind::Ipv6, ip.to_string()));
    }
    if value.bytes().all(|b| b.is_ascii_hexdigit()) {
        let kind = match value.len() {
            32 => IndicatorKind::Md5,
            40 => IndicatorKind::Sha1,
            64 => IndicatorKind::Sha256,
            _ => return None,
        };
        return Some((kind, value.to_ascii_lowercase()));
    }
    if value.contains("://") {
        let url = url::Url::parse(value).ok()?;
        url.host()?;
        if value.chars().any(|c| c.is_control()) {
            return None;
        }
        return Some((IndicatorKind::Url, value.to_owned()));
    }
    normalise_domain(value).map(|d| (IndicatorKind::Domain, d))
}

/// Lower-cases a domain, turns an internationalised one into punycode, and refuses
/// anything that is not a plain host name with at least two labels.
fn normalise_domain(value: &str) -> Option<String> {
    let value = value.strip_suffix('.').unwrap_or(value);
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "/\\?#@:%[]".contains(c))
    {
        return None;
    }
    let url::Host::Domain(ascii) = url::Host::parse(value).ok()? else {
        return None;
    };
    let valid = ascii.len() <= 253
        && ascii.contains('.')
        && ascii.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    valid.then_some(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(value: &str) -> Option<IndicatorKind> {
        value.parse::<Indicator>().ok().map(|i| i.kind())
    }

    #[test]
    fn each_kind_is_recognised() {
        assert_eq!(kind("45.83.122.166"), Some(IndicatorKind::Ipv4));
        assert_eq!(kind("2001:db8::1"), Some(IndicatorKind::Ipv6));
        assert_eq!(kind("app-gps.cloud"), Some(IndicatorKind::Domain));
        assert_eq!(kind("_dmarc.example.com"), Some(IndicatorKind::Domain));
        assert_eq!(
            kind("http://113.88.100.28:40506/i"),
            Some(IndicatorKind::Url)
        );
        assert_eq!(
            kind("A032D380ABDC0E9BF260F10BCC11DC76"),
            Some(IndicatorKind::Md5)
        );
        assert_eq!(kind(&"b".repeat(40)), Some(IndicatorKind::Sha1));
        assert_eq!(kind(&"c".repeat(64)), Some(IndicatorKind::Sha256));
    }

    #[test]
    fn malformed_values_are_refused() {
        for bad in [
            "",
            "   ",
            "999.1.1.1",
            "localhost",
            "abc123",
            "evil.example/../../auth/check",
            "a b.example",
            "-bad.example",
            "http://",
            &"d".repeat(33),
        ] {
            assert!(bad.parse::<Indicator>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn values_are_put_in_canonical_form() {
        let v6: Indicator = "2001:0DB8:0000:0000:0000:0000:0000:0001".parse().unwrap();
        assert_eq!(v6.as_str(), "2001:db8::1");
        let idn: Indicator = "bücher.example".parse().unwrap();
        assert_eq!(idn.as_str(), "xn--bcher-kva.example");
        let url: Indicator = "http://198.51.100.7/a?b=1&c=2#f 100%+".parse().unwrap();
        assert_eq!(url.as_str(), "http://198.51.100.7/a?b=1&c=2#f 100%+");
    }

    #[test]
    fn whois_domains_cannot_carry_a_path() {
        assert!(Indicator::domain("evil.example/../../auth/check").is_err());
        assert!(Indicator::domain("1.2.3.4").is_err());
        assert_eq!(
            Indicator::domain("App-GPS.cloud").unwrap().as_str(),
            "app-gps.cloud"
        );
    }
}
