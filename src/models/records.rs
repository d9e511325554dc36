//! The records of the four snapshot feeds.

use std::net::Ipv4Addr;
use std::ops::Deref;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;
use time::macros::{date, format_description};

use super::common::{CommonFields, Ports, record_deserialize};
use super::de as lenient;
use crate::feed::Feed;

/// A record type of one of the four snapshot feeds.
pub trait FeedRecord: DeserializeOwned + Send + 'static {
    /// The feed whose snapshots hold this record type.
    const FEED: Feed;

    /// The fields every record carries.
    fn common(&self) -> &CommonFields;

    /// The indicator itself: the address, domain, URL or hash.
    fn indicator(&self) -> &str;
}

macro_rules! deref_common {
    ($($ty:ty),*) => {$(
        impl Deref for $ty {
            type Target = CommonFields;

            fn deref(&self) -> &CommonFields {
                &self.common
            }
        }
    )*};
}

deref_common!(IpRecord, DomainRecord, UrlRecord, HashRecord);

fn ports_are_absent(ports: &Ports) -> bool {
    ports.0.is_empty()
}

/// A record of the IP feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpRecord {
    /// The address.
    pub ip: IpAddress,
    /// The ports the address was seen on (snapshots since 2022).
    #[serde(default, skip_serializing_if = "ports_are_absent")]
    pub ports: Ports,
    /// The autonomous system announcing the address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asn: Option<Asn>,
    /// Where the address is located.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    /// Related indicators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related: Option<Related>,
    /// The fields every record carries.
    #[serde(flatten)]
    pub common: CommonFields,
}

impl IpRecord {
    /// The address, when it is a valid IPv4 address.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.ip.address()
    }
}

impl FeedRecord for IpRecord {
    const FEED: Feed = Feed::Ip;

    fn common(&self) -> &CommonFields {
        &self.common
    }

    fn indicator(&self) -> &str {
        &self.ip.v4
    }
}

/// An IPv4 address as the IP feed writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAddress {
    /// The address in dotted form.
    pub v4: String,
    /// The address as a 32-bit number.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub num: Option<u32>,
}

impl IpAddress {
    /// The address, when `v4` is a valid IPv4 address.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.v4.trim().parse().ok()
    }
}

/// The autonomous system that announces an address.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Asn {
    /// The AS number.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub num: Option<u32>,
    /// The first address of the announced prefix.
    #[serde(default)]
    pub firstip: AsnBound,
    /// The last address of the announced prefix.
    #[serde(default)]
    pub lastip: AsnBound,
    /// The cloud provider that owns the prefix, such as `digitalocean`; `""` if none.
    #[serde(default, deserialize_with = "lenient::string")]
    pub cloud: String,
    /// How many domains are hosted in the AS.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub domains: Option<u64>,
    /// The organisation, often `""`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub org: String,
    /// The network operator's name.
    #[serde(default, deserialize_with = "lenient::string")]
    pub isp: String,
}

impl Asn {
    /// The cloud provider that owns the prefix; `None` when it is not a cloud.
    pub fn cloud(&self) -> Option<&str> {
        lenient::known_text(Some(&self.cloud))
    }

    /// The organisation, when known.
    pub fn org(&self) -> Option<&str> {
        lenient::known_text(Some(&self.org))
    }

    /// The network operator, when known.
    pub fn isp(&self) -> Option<&str> {
        lenient::known_text(Some(&self.isp))
    }
}

/// One end of an announced prefix.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AsnBound {
    /// The address in dotted form.
    #[serde(default, deserialize_with = "lenient::string")]
    pub netv4: String,
    /// The address as a 32-bit number.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub num: Option<u32>,
}

impl AsnBound {
    /// The address, when `netv4` is a valid IPv4 address.
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.netv4.trim().parse().ok()
    }
}

/// Where an address is located. Each part is `""` when unknown.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Geo {
    /// The city.
    #[serde(default, deserialize_with = "lenient::string")]
    pub city: String,
    /// The country's full English name, such as `Vietnam` (not an ISO code).
    #[serde(default, deserialize_with = "lenient::string")]
    pub country: String,
    /// The region within the country.
    #[serde(default, deserialize_with = "lenient::string")]
    pub region: String,
}

impl Geo {
    /// The city, when known.
    pub fn city(&self) -> Option<&str> {
        lenient::known_text(Some(&self.city))
    }

    /// The country's full English name, when known.
    pub fn country(&self) -> Option<&str> {
        lenient::known_text(Some(&self.country))
    }

    /// The region, when known.
    pub fn region(&self) -> Option<&str> {
        lenient::known_text(Some(&self.region))
    }
}

/// Indicators related to an address.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Related {
    /// Related domains.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub domains: Vec<String>,
}

/// A record of the domain feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainRecord {
    /// The domain name, punycode kept as sent.
    pub domain: String,
    /// The ports the domain was seen on (snapshots since 2022).
    #[serde(default, skip_serializing_if = "ports_are_absent")]
    pub ports: Ports,
    /// What the domain resolved to, and its registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<DomainResolved>,
    /// The fields every record carries.
    #[serde(flatten)]
    pub common: CommonFields,
}

impl DomainRecord {
    /// The domain's registration data, when the record has it.
    pub fn whois(&self) -> Option<&RecordWhois> {
        self.resolved.as_ref().and_then(|r| r.whois.as_ref())
    }

    /// The domain's A records as sent (`0.0.0.0` marks a sinkhole).
    pub fn a_records(&self) -> &[String] {
        self.resolved.as_ref().map_or(&[], |r| &r.ip.a)
    }
}

impl FeedRecord for DomainRecord {
    const FEED: Feed = Feed::Domain;

    fn common(&self) -> &CommonFields {
        &self.common
    }

    fn indicator(&self) -> &str {
        &self.domain
    }
}

/// What a domain resolved to, and its registration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DomainResolved {
    /// The DNS answers.
    #[serde(default)]
    pub ip: ResolvedIps,
    /// The registration data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub whois: Option<RecordWhois>,
}

/// The DNS answers for a domain.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ResolvedIps {
    /// IPv4 addresses (A records), as sent.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub a: Vec<String>,
    /// Aliases.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub alias: Vec<String>,
    /// Canonical names (CNAME records).
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub cname: Vec<String>,
}

impl ResolvedIps {
    /// The A records that are valid IPv4 addresses.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.a.iter().filter_map(|a| a.trim().parse().ok())
    }
}

/// The registration data a domain record carries.
///
/// The fields keep the values as sent; the methods of the same names read the
/// placeholders the API uses for unknown values (`1970-01-01 00:00:00`, `""`, `0`,
/// `unknown`) as `None`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RecordWhois {
    /// When the domain was registered, as `YYYY-MM-DD HH:MM:SS`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created: Option<String>,
    /// When the registration was last updated, as `YYYY-MM-DD HH:MM:SS`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated: Option<String>,
    /// When the registration expires, as `YYYY-MM-DD HH:MM:SS`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires: Option<String>,
    /// The age of the domain in days; `0` when unknown.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub age: Option<i64>,
    /// The registrar, with punctuation stripped; `unknown` or `""` when unknown.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrar: Option<String>,
    /// The registrant; `unknown` or `""` when unknown.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrant: Option<String>,
    /// Whether registration data was found.
    #[serde(default)]
    pub havedata: HaveData,
}

/// Reads a WHOIS date written as `YYYY-MM-DD HH:MM:SS` (or a bare `YYYY-MM-DD`); the
/// epoch, which the API writes for unknown dates, reads as `None`. The time zone is not
/// stated by the API.
pub(crate) fn whois_date(raw: Option<&str>) -> Option<PrimitiveDateTime> {
    let raw = lenient::known_text(raw)?;
    let full = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let day = format_description!("[year]-[month]-[day]");
    let parsed = PrimitiveDateTime::parse(raw, full)
        .ok()
        .or_else(|| time::Date::parse(raw, day).ok().map(|d| d.midnight()))?;
    (parsed.date() != date!(1970 - 01 - 01)).then_some(parsed)
}

impl RecordWhois {
    /// When the domain was registered, when known.
    pub fn created(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.created.as_deref())
    }

    /// When the registration was last updated, when known.
    pub fn updated(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.updated.as_deref())
    }

    /// When the registration expires, when known.
    pub fn expires(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.expires.as_deref())
    }

    /// The age of the domain in days, when known.
    pub fn age(&self) -> Option<i64> {
        self.age.filter(|&days| days > 0)
    }

    /// The registrar, when known.
    pub fn registrar(&self) -> Option<&str> {
        lenient::known_text(self.registrar.as_deref())
    }

    /// The registrant, when known.
    pub fn registrant(&self) -> Option<&str> {
        lenient::known_text(self.registrant.as_deref())
    }
}

/// Whether a domain's registration data was found.
///
/// Read case-insensitively; values this crate does not know are kept in
/// [`HaveData::Other`] and written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HaveData {
    /// Registration data was found (`true`).
    True,
    /// No registration data was found (`false`).
    False,
    /// Not known (`none`), also when the record says nothing.
    Unknown,
    /// A value this crate does not know, as sent.
    Other(String),
}

lenient::wire_enum!(HaveData, default = Unknown, expecting = "true, false or none", {
    "true" => True,
    "false" => False,
    "none" => Unknown,
});

/// A record of the URL feed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UrlRecord {
    /// The URL, percent-encoding kept as sent.
    pub url: String,
    /// The URL split into its parts by the API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<ParsedUrl>,
    /// What the URL answered when last fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<UrlResolved>,
    /// The fields every record carries.
    #[serde(flatten)]
    pub common: CommonFields,
}

impl UrlRecord {
    /// The URL parsed by this crate, when it is a valid absolute URL.
    pub fn parsed_url(&self) -> Option<url::Url> {
        url::Url::parse(self.url.trim()).ok()
    }

    /// The host named by the API's own split of the URL.
    pub fn host(&self) -> Option<&str> {
        self.parsed.as_ref().and_then(ParsedUrl::host)
    }

    /// The last HTTP status the URL answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        self.resolved.as_ref().and_then(UrlResolved::status)
    }
}

impl FeedRecord for UrlRecord {
    const FEED: Feed = Feed::Url;

    fn common(&self) -> &CommonFields {
        &self.common
    }

    fn indicator(&self) -> &str {
        &self.url
    }
}

/// A URL split into its parts by the API.
///
/// The fields keep the values as sent; the methods read `""` and the placeholder
/// `None` as absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ParsedUrl {
    /// The scheme, such as `http` (the API spells the key `schema`).
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub schema: Option<String>,
    /// The host name or address. Older snapshots call the key `host`; both are read and
    /// `domain` is written.
    #[serde(
        default,
        alias = "host",
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<String>,
    /// The port, with the scheme's default filled in.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub port: Option<u16>,
    /// The path.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub path: Option<String>,
    /// The query string, without the `?`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub params: Option<String>,
    /// The fragment, without the `#`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub anchor: Option<String>,
}

impl ParsedUrl {
    /// The scheme, when known.
    pub fn scheme(&self) -> Option<&str> {
        lenient::known_text(self.schema.as_deref())
    }

    /// The host name or address, when known.
    pub fn host(&self) -> Option<&str> {
        lenient::known_text(self.domain.as_deref())
    }

    /// The port, when known.
    pub fn port(&self) -> Option<u16> {
        self.port.filter(|&p| p != 0)
    }

    /// The path, when known.
    pub fn path(&self) -> Option<&str> {
        lenient::known_text(self.path.as_deref())
    }

    /// The query string, when there is one.
    pub fn query(&self) -> Option<&str> {
        lenient::known_text(self.params.as_deref())
    }

    /// The fragment, when there is one.
    pub fn fragment(&self) -> Option<&str> {
        lenient::known_text(self.anchor.as_deref())
    }
}

/// What a URL answered when last fetched.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UrlResolved {
    /// The HTTP status as sent; `0` when there was no answer.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<u16>,
}

impl UrlResolved {
    /// The HTTP status, when the URL answered.
    pub fn status(&self) -> Option<u16> {
        self.status.filter(|&s| s != 0)
    }
}

/// A record of the hash feed. Any of the three digests may be `""`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HashRecord {
    /// The MD5 digest in hex, or `""`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub md5: String,
    /// The SHA-1 digest in hex, or `""`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub sha1: String,
    /// The SHA-256 digest in hex, or `""`.
    #[serde(default, deserialize_with = "lenient::string")]
    pub sha256: String,
    /// File names the sample was seen under.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub filename: Vec<String>,
    /// The fields every record carries.
    #[serde(flatten)]
    pub common: CommonFields,
}

fn digest(raw: &str) -> Option<&str> {
    lenient::known_text(Some(raw))
}

impl HashRecord {
    /// The MD5 digest, when known.
    pub fn md5(&self) -> Option<&str> {
        digest(&self.md5)
    }

    /// The SHA-1 digest, when known.
    pub fn sha1(&self) -> Option<&str> {
        digest(&self.sha1)
    }

    /// The SHA-256 digest, when known.
    pub fn sha256(&self) -> Option<&str> {
        digest(&self.sha256)
    }
}

impl FeedRecord for HashRecord {
    const FEED: Feed = Feed::Hash;

    fn common(&self) -> &CommonFields {
        &self.common
    }

    /// The strongest digest present: SHA-256, then SHA-1, then MD5; `""` if none is.
    fn indicator(&self) -> &str {
        self.sha256()
            .or_else(|| self.sha1())
            .or_else(|| self.md5())
            .unwrap_or("")
    }
}

record_deserialize!(IpRecord, "an IP feed record",
required { "ip" => ip: lenient::Plain<IpAddress> }
optional {
    "ports" => ports: lenient::Plain<Ports>,
    "asn" => asn: lenient::Plain<Option<Asn>>,
    "geo" => geo: lenient::Plain<Option<Geo>>,
    "related" => related: lenient::Plain<Option<Related>>,
});

record_deserialize!(DomainRecord, "a domain feed record",
required { "domain" => domain: lenient::Plain<String> }
optional {
    "ports" => ports: lenient::Plain<Ports>,
    "resolved" => resolved: lenient::Plain<Option<DomainResolved>>,
});

record_deserialize!(UrlRecord, "a URL feed record",
required { "url" => url: lenient::Plain<String> }
optional {
    "parsed" => parsed: lenient::Plain<Option<ParsedUrl>>,
    "resolved" => resolved: lenient::Plain<Option<UrlResolved>>,
});

record_deserialize!(HashRecord, "a hash feed record",
required {}
optional {
    "md5" => md5: lenient::Text,
    "sha1" => sha1: lenient::Text,
    "sha256" => sha256: lenient::Text,
    "filename" => filename: lenient::StringList,
});

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn whois_dates_read_both_forms_and_treat_the_epoch_as_unknown() {
        assert_eq!(
            whois_date(Some("2023-01-16 03:15:53")),
            Some(datetime!(2023-01-16 03:15:53))
        );
        assert_eq!(
            whois_date(Some(" 2022-01-01 ")),
            Some(datetime!(2022-01-01 00:00:00))
        );
        for unknown in ["1970-01-01 00:00:00", "1970-01-01", "", "none", "soon"] {
            assert_eq!(whois_date(Some(unknown)), None, "{unknown}");
        }
        assert_eq!(whois_date(None), None);
    }

    #[test]
    fn have_data_reads_in_any_case_and_keeps_unknown_words() {
        let read = |v: serde_json::Value| serde_json::from_value::<HaveData>(v).unwrap();
        assert_eq!(read(serde_json::json!("TRUE")), HaveData::True);
        assert_eq!(read(serde_json::json!("none")), HaveData::Unknown);
        assert_eq!(read(serde_json::json!(null)), HaveData::Unknown);
        assert_eq!(read(serde_json::json!(false)), HaveData::False);
        assert_eq!(
            read(serde_json::json!("partial")),
            HaveData::Other("partial".into())
        );
        assert_eq!(HaveData::Unknown.to_string(), "none");
    }

    #[test]
    fn own_common_and_unknown_keys_each_land_in_their_place() {
        let line = r#"{"ip":{"v4":"192.0.2.1","num":"3221225985"},"fseen":"1679011200",
            "tags":{"str":["c2"],"codes":[8]},"new_key":{"a":1},"id":"x"}"#;
        let record: IpRecord = serde_json::from_str(line).unwrap();
        assert_eq!(record.ip.num, Some(3_221_225_985));
        assert_eq!(record.fseen, Some(1_679_011_200));
        assert!(record.has_tag("c2"));
        assert_eq!(record.id, "x");
        assert_eq!(record.extra["new_key"], serde_json::json!({"a": 1}));
        let written = serde_json::to_value(&record).unwrap();
        assert_eq!(written["new_key"], serde_json::json!({"a": 1}));
        assert_eq!(written["ip"]["v4"], "192.0.2.1");
    }

    #[test]
    fn a_record_without_its_indicator_is_an_error_naming_it() {
        let err = serde_json::from_str::<IpRecord>(r#"{"id":"x"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `ip`"), "{err}");
        let err = serde_json::from_str::<UrlRecord>(r#"{"url":null}"#).unwrap_err();
        assert!(err.to_string().contains("invalid type: null"), "{err}");
    }

    #[test]
    fn every_sample_record_reads_and_writes_back_the_same() {
        fn round_trip<T: FeedRecord + Serialize>(text: &str) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let record: T = serde_json::from_str(line).unwrap();
                let again: T =
                    serde_json::from_value(serde_json::to_value(&record).unwrap()).unwrap();
                assert!(
                    serde_json::to_value(&again).unwrap() == serde_json::to_value(&record).unwrap()
                );
            }
        }
        round_trip::<IpRecord>(include_str!("../sandbox/data/random100_ioc_ip_latest.json"));
        round_trip::<DomainRecord>(include_str!(
            "../sandbox/data/random100_ioc_domain_latest.json"
        ));
        round_trip::<UrlRecord>(include_str!(
            "../sandbox/data/random100_ioc_url_latest.json"
        ));
        round_trip::<HashRecord>(include_str!(
            "../sandbox/data/random100_ioc_hash_latest.json"
        ));
    }
}
