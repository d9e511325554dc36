//! The answer of an indicator lookup (`GET /ioc`).

use std::fmt;
use std::ops::Deref;

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{CommonFields, Ports, record_deserialize};
use super::de as lenient;
use super::records::{Asn, Geo, ParsedUrl, RecordWhois, Related, ResolvedIps};

/// The kind of an indicator, as a lookup answer names it.
///
/// Read case-insensitively; kinds this crate does not know are kept in
/// [`IndicatorType::Other`] and written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndicatorType {
    /// An IPv4 address (`ipv4`).
    Ipv4,
    /// An IPv6 address (`ipv6`).
    Ipv6,
    /// A domain name (`domain`).
    Domain,
    /// A URL (`url`).
    Url,
    /// An MD5 digest (`md5`).
    Md5,
    /// A SHA-1 digest (`sha1`).
    Sha1,
    /// A SHA-256 digest (`sha256`).
    Sha256,
    /// A kind this crate does not know, as sent.
    Other(String),
}

const INDICATOR_TYPES: [(&str, IndicatorType); 7] = [
    ("ipv4", IndicatorType::Ipv4),
    ("ipv6", IndicatorType::Ipv6),
    ("domain", IndicatorType::Domain),
    ("url", IndicatorType::Url),
    ("md5", IndicatorType::Md5),
    ("sha1", IndicatorType::Sha1),
    ("sha256", IndicatorType::Sha256),
];

impl IndicatorType {
    /// The kind as the API writes it, such as `sha256`.
    pub fn as_str(&self) -> &str {
        match self {
            IndicatorType::Other(s) => s,
            known => INDICATOR_TYPES
                .iter()
                .find(|(_, t)| t == known)
                .map_or("", |(word, _)| word),
        }
    }

    fn from_wire(s: &str) -> Self {
        let t = s.trim();
        INDICATOR_TYPES
            .iter()
            .find(|(word, _)| t.eq_ignore_ascii_case(word))
            .map_or_else(|| IndicatorType::Other(s.to_owned()), |(_, t)| t.clone())
    }

    /// Whether the indicator is a file digest.
    pub fn is_hash(&self) -> bool {
        matches!(
            self,
            IndicatorType::Md5 | IndicatorType::Sha1 | IndicatorType::Sha256
        )
    }
}

impl fmt::Display for IndicatorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for IndicatorType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(IndicatorType::from_wire(s))
    }
}

impl Serialize for IndicatorType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IndicatorType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Ok(IndicatorType::from_wire(&raw))
    }
}

/// `ioc_type`: null, `""` and placeholders read as absent.
fn opt_indicator_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IndicatorType>, D::Error> {
    let raw = lenient::opt_text(d)?;
    Ok(lenient::known_text(raw.as_deref()).map(IndicatorType::from_wire))
}

/// Reads `ioc_type` as [`opt_indicator_type`] does.
struct IndicatorTypeField(Option<IndicatorType>);

impl<'de> Deserialize<'de> for IndicatorTypeField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        opt_indicator_type(d).map(IndicatorTypeField)
    }
}

record_deserialize!(IndicatorRecord, "an indicator record",
required {}
optional {
    "ioc_value" => ioc_value: lenient::Text,
    "ioc_type" => ioc_type: IndicatorTypeField,
    "ports" => ports: lenient::Plain<Ports>,
    "asn" => asn: lenient::Plain<Option<Asn>>,
    "geo" => geo: lenient::Plain<Option<Geo>>,
    "related" => related: lenient::Plain<Option<Related>>,
    "resolved" => resolved: lenient::Plain<Option<LookupResolved>>,
    "parsed" => parsed: lenient::Plain<Option<ParsedUrl>>,
    "md5" => md5: lenient::OptText,
    "sha1" => sha1: lenient::OptText,
    "sha256" => sha256: lenient::OptText,
    "filename" => filename: lenient::StringList,
});

/// The record a lookup returns for a known indicator.
///
/// It has the fields of a feed record, but the indicator is in `ioc_value` and the parts
/// that depend on the indicator's kind are all optional: an address has `asn` and `geo`,
/// a domain `resolved.ip` and `resolved.whois`, a URL `parsed` and `resolved.status`, a
/// hash its digests and file names.
// `Deserialize` comes from `record_deserialize!` below, which reads the common fields
// without `flatten`; the attributes here still drive `Serialize`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndicatorRecord {
    /// The indicator as the API normalised it.
    #[serde(default, deserialize_with = "lenient::string")]
    pub ioc_value: String,
    /// The kind of indicator (in answers since 2022).
    #[serde(
        default,
        deserialize_with = "opt_indicator_type",
        skip_serializing_if = "Option::is_none"
    )]
    pub ioc_type: Option<IndicatorType>,
    /// The ports the indicator was seen on (addresses and domains).
    #[serde(default, skip_serializing_if = "ports_are_absent")]
    pub ports: Ports,
    /// The autonomous system announcing an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<Asn>,
    /// Where an address is located.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// Indicators related to an address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    /// What a domain resolved to or what a URL answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<LookupResolved>,
    /// A URL split into its parts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<ParsedUrl>,
    /// A file's MD5 digest, or `""`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5: Option<String>,
    /// A file's SHA-1 digest, or `""`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sha1: Option<String>,
    /// A file's SHA-256 digest, or `""`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub sha256: Option<String>,
    /// File names a sample was seen under.
    #[serde(
        default,
        deserialize_with = "lenient::string_list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filename: Vec<String>,
    /// The fields every record carries.
    #[serde(flatten)]
    pub common: CommonFields,
}

fn ports_are_absent(ports: &Ports) -> bool {
    ports.0.is_empty()
}

impl Deref for IndicatorRecord {
    type Target = CommonFields;

    fn deref(&self) -> &CommonFields {
        &self.common
    }
}

impl IndicatorRecord {
    /// The indicator as the API normalised it.
    pub fn indicator(&self) -> &str {
        &self.ioc_value
    }

    /// A domain's registration data, when the answer has it.
    pub fn whois(&self) -> Option<&RecordWhois> {
        self.resolved.as_ref().and_then(|r| r.whois.as_ref())
    }

    /// The last HTTP status a URL answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.resolved.as_ref().and_then(LookupResolved::status)
    }

    /// The host of a URL, from the API's own split of it.
    pub fn host(&self) -> Option<&str> {
        self.parsed.as_ref().and_then(ParsedUrl::host)
    }

    /// A file's MD5 digest, when known.
    pub fn md5(&self) -> Option<&str> {
        lenient::known_text(self.md5.as_deref())
    }

    /// A file's SHA-1 digest, when known.
    pub fn sha1(&self) -> Option<&str> {
        lenient::known_text(self.sha1.as_deref())
    }

    /// A file's SHA-256 digest, when known.
    pub fn sha256(&self) -> Option<&str> {
        lenient::known_text(self.sha256.as_deref())
    }
}

/// The `resolved` part of a lookup answer: DNS answers and registration data for a
/// domain, the last HTTP status for a URL.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LookupResolved {
    /// A domain's DNS answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<ResolvedIps>,
    /// A domain's registration data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whois: Option<RecordWhois>,
    /// A URL's last HTTP status as sent; `0` when there was no answer.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u16>,
}

impl LookupResolved {
    /// A URL's last HTTP status, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.status.filter(|&s| s != 0)
    }
}

/// The outcome of an indicator lookup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Lookup {
    /// RST Cloud knows the indicator.
    Found(Box<IndicatorRecord>),
    /// RST Cloud does not know the indicator.
    NotFound {
        /// The indicator, as the answer echoed it back (empty if it did not).
        value: String,
    },
}

impl Lookup {
    /// Whether RST Cloud knows the indicator.
    pub fn is_found(&self) -> bool {
        matches!(self, Lookup::Found(_))
    }

    /// The record, when the indicator is known.
    pub fn record(&self) -> Option<&IndicatorRecord> {
        match self {
            Lookup::Found(record) => Some(record),
            Lookup::NotFound { .. } => None,
        }
    }

    /// The record, when the indicator is known.
    pub fn into_record(self) -> Option<IndicatorRecord> {
        match self {
            Lookup::Found(record) => Some(*record),
            Lookup::NotFound { .. } => None,
        }
    }
}

/// How a lookup answer body reads, before the client turns it into a result.
#[derive(Debug, Clone, PartialEq)]
#[allow(dead_code, reason = "built here, consumed by the client")]
pub(crate) enum LookupReply {
    /// A record.
    Found(Box<IndicatorRecord>),
    /// The API does not know the indicator.
    NotFound {
        /// The indicator as echoed back, or empty.
        value: String,
    },
    /// The API answered with an error other than "not found".
    Error {
        /// The indicator as echoed back, when it was.
        value: Option<String>,
        /// The server's text.
        message: String,
    },
}

/// Just enough of a lookup answer to tell records, misses and errors apart.
#[derive(Deserialize)]
struct Outcome {
    #[serde(default, deserialize_with = "lenient::opt_text")]
    ioc_value: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_text")]
    id: Option<String>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    message: Option<Value>,
    #[serde(default)]
    status: Option<Value>,
}

fn text_of(value: Option<Value>) -> Option<String> {
    let text = match value? {
        Value::Null => return None,
        Value::String(s) => s,
        other => other.to_string(),
    };
    let trimmed = text.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

fn is_not_found(text: &str) -> bool {
    text.eq_ignore_ascii_case("not found")
}

#[allow(dead_code, reason = "consumed by the client")]
impl LookupReply {
    /// Reads a lookup answer body.
    ///
    /// An `error` of "Not Found" (any case) is a miss; any other `error` is an error even
    /// when the body also has an `id`. Without an `error`, a non-empty `id` makes a
    /// record; a body with neither is a miss, unless it carries a `message` or `status`
    /// text other than "Not Found", which is an error.
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<LookupReply, serde_json::Error> {
        let outcome: Outcome = serde_json::from_slice(bytes)?;

        if let Some(error) = text_of(outcome.error) {
            return Ok(if is_not_found(&error) {
                LookupReply::NotFound {
                    value: outcome.ioc_value.unwrap_or_default(),
                }
            } else {
                LookupReply::Error {
                    value: outcome.ioc_value,
                    message: error,
                }
            });
        }

        if outcome
            .id
            .as_deref()
            .is_some_and(|id| !id.trim().is_empty())
        {
            let record: IndicatorRecord = serde_json::from_slice(bytes)?;
            return Ok(LookupReply::Found(Box::new(record)));
        }

        match text_of(outcome.message).or_else(|| text_of(outcome.status)) {
            Some(message) if !is_not_found(&message) => Ok(LookupReply::Error {
                value: outcome.ioc_value,
                message,
            }),
            // A miss still names the value looked up; an answer with neither an id nor
            // a value (`{}` from a proxy, say) is not a lookup answer at all.
            _ => match outcome.ioc_value.filter(|v| !v.trim().is_empty()) {
                Some(value) => Ok(LookupReply::NotFound { value }),
                None => Err(serde::de::Error::custom(
                    "not a lookup answer: it has neither an id nor an ioc_value",
                )),
            },
        }
    }

    /// The outcome, or the server's error as `(indicator, message)`.
    pub(crate) fn into_lookup(self) -> Result<Lookup, (Option<String>, String)> {
        match self {
            LookupReply::Found(record) => Ok(Lookup::Found(record)),
            LookupReply::NotFound { value } => Ok(Lookup::NotFound { value }),
            LookupReply::Error { value, message } => Err((value, message)),
        }
    }
}

/// Reads a lookup answer body; see [`LookupReply::from_slice`].
#[allow(dead_code, reason = "consumed by the client")]
pub(crate) fn classify_lookup(bytes: &[u8]) -> Result<LookupReply, serde_json::Error> {
    LookupReply::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_sample(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/data/api/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(path).unwrap()
    }

    #[test]
    fn the_not_found_sample_is_a_miss_not_an_error() {
        let reply = classify_lookup(&api_sample("ioc-lookup-not-found.json")).unwrap();
        assert_eq!(
            reply,
            LookupReply::NotFound {
                value: "1.1.1.1".into()
            }
        );
    }

    #[test]
    fn not_found_is_recognised_in_any_case() {
        let reply = classify_lookup(br#"{"ioc_value":"x","error":"NOT FOUND"}"#).unwrap();
        assert_eq!(reply, LookupReply::NotFound { value: "x".into() });
    }

    #[test]
    fn a_body_without_an_id_is_a_miss() {
        let reply = classify_lookup(br#"{"ioc_value":"x","id":""}"#).unwrap();
        assert_eq!(reply, LookupReply::NotFound { value: "x".into() });
    }

    #[test]
    fn an_empty_or_foreign_answer_is_not_taken_for_a_miss() {
        for body in [&b"{}"[..], b"[]", br#"{"ioc_value":""}"#] {
            assert!(
                classify_lookup(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn other_error_texts_are_errors_that_keep_the_server_words() {
        let reply = classify_lookup(br#"{"ioc_value":"x","error":"Invalid indicator"}"#).unwrap();
        assert_eq!(
            reply,
            LookupReply::Error {
                value: Some("x".into()),
                message: "Invalid indicator".into()
            }
        );
        let reply = classify_lookup(br#"{"ioc_value":"x","status":"Bad Request"}"#).unwrap();
        assert!(matches!(reply, LookupReply::Error { message, .. } if message == "Bad Request"));
        let (value, message) = classify_lookup(br#"{"error":"Unexpected Server Exception"}"#)
            .unwrap()
            .into_lookup()
            .unwrap_err();
        assert_eq!(
            (value, message.as_str()),
            (None, "Unexpected Server Exception")
        );
    }

    #[test]
    fn a_record_with_an_id_is_found() {
        for name in [
            "ioc-lookup-domain-2020.json",
            "ioc-lookup-hash-2022-numbers-as-strings.json",
            "ioc-lookup-ip-2020.json",
            "ioc-lookup-url-2020.json",
        ] {
            let lookup = classify_lookup(&api_sample(name))
                .unwrap()
                .into_lookup()
                .unwrap();
            assert!(lookup.is_found(), "{name}");
            assert!(!lookup.record().unwrap().id.is_empty(), "{name}");
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_decode_error() {
        assert!(classify_lookup(b"\"Bad Request\"").is_err());
        assert!(classify_lookup(b"<html>").is_err());
    }
}
