//! The fields every record carries, whichever feed or lookup it comes from.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::de as lenient;

/// One day in seconds: a snapshot covers the day that starts at its `collect` time.
const DAY: i64 = 86_400;

/// The fields shared by the records of all four feeds and by lookup answers.
///
/// Only `id` is always present in the paid feeds; the free "short" feeds carry no more
/// than the indicator, `collect` and the tag names, so everything else has a default.
/// Timestamps are unix seconds in UTC.
// `Deserialize` is written by hand below: the derived one, through `flatten`, would buffer
// every field of every record before reading it. The attributes still say how each field
// reads; `read_field` follows them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct CommonFields {
    /// The indicator's identifier: a name-based UUID, stable for one indicator, so a good
    /// key to remove duplicates. Empty in the free feeds, which carry none.
    #[serde(default, deserialize_with = "lenient::string")]
    pub id: String,
    /// When the indicator was first seen, in unix seconds.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub fseen: Option<i64>,
    /// When the indicator was last seen, in unix seconds.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub lseen: Option<i64>,
    /// The day of the snapshot (midnight UTC), in unix seconds.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub collect: Option<i64>,
    /// The sources that reported the indicator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub src: Option<Sources>,
    /// The indicator's categories.
    #[serde(default)]
    pub tags: Tags,
    /// The indicator's scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    /// The false-positive assessment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp: Option<FalsePositive>,
    /// Related threats: malware families, actors, campaigns, tools.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub threat: Vec<String>,
    /// Related CVE identifiers, as sent (their case varies).
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub cve: Vec<String>,
    /// Targeted industries, as short codes such as `financial`.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub industry: Vec<String>,
    /// Related MITRE ATT&CK technique identifiers.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub ttp: Vec<String>,
    /// A generated title; not meant to be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// A generated description; not meant to be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Top-level fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CommonFields {
    /// Reads the value of `key` from `map` into the matching field, or into `extra` when
    /// no field matches, so that record types can read their common fields straight from
    /// their own map. A key sent twice keeps its last value.
    pub(crate) fn read_field<'de, A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        match key.as_ref() {
            "id" => self.id = map.next_value::<lenient::Text>()?.0,
            "fseen" => self.fseen = map.next_value::<lenient::OptNumber<i64>>()?.0,
            "lseen" => self.lseen = map.next_value::<lenient::OptNumber<i64>>()?.0,
            "collect" => self.collect = map.next_value::<lenient::OptNumber<i64>>()?.0,
            "src" => self.src = map.next_value()?,
            "tags" => self.tags = map.next_value()?,
            "score" => self.score = map.next_value()?,
            "fp" => self.fp = map.next_value()?,
            "threat" => self.threat = map.next_value::<lenient::StringList>()?.0,
            "cve" => self.cve = map.next_value::<lenient::StringList>()?.0,
            "industry" => self.industry = map.next_value::<lenient::StringList>()?.0,
            "ttp" => self.ttp = map.next_value::<lenient::StringList>()?.0,
            "title" => self.title = map.next_value()?,
            "description" => self.description = map.next_value()?,
            _ => {
                let value: Value = map.next_value()?;
                self.extra.insert(key.into_owned(), value);
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for CommonFields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CommonVisitor;

        impl<'de> Visitor<'de> for CommonVisitor {
            type Value = CommonFields;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CommonFields, A::Error> {
                let mut common = CommonFields::default();
                while let Some(lenient::Key(key)) = map.next_key()? {
                    common.read_field(key, &mut map)?;
                }
                Ok(common)
            }
        }

        d.deserialize_map(CommonVisitor)
    }
}

fn timestamp(seconds: Option<i64>) -> Option<OffsetDateTime> {
    seconds.and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
}

/// Whether `seconds` falls on the snapshot day that starts at `collect`.
fn on_day(seconds: Option<i64>, collect: Option<i64>) -> bool {
    match (seconds, collect) {
        (Some(t), Some(day)) => t >= day && t - day < DAY,
        _ => false,
    }
}

impl CommonFields {
    /// When the indicator was first seen.
    pub fn first_seen(&self) -> Option<OffsetDateTime> {
        timestamp(self.fseen)
    }

    /// When the indicator was last seen.
    pub fn last_seen(&self) -> Option<OffsetDateTime> {
        timestamp(self.lseen)
    }

    /// The day of the snapshot the record comes from.
    pub fn collected(&self) -> Option<OffsetDateTime> {
        timestamp(self.collect)
    }

    /// Whether the indicator was first seen on the snapshot's day.
    ///
    /// First-seen times are usually the snapshot's midnight, but hashes can carry a time
    /// later in that day, so the whole day counts.
    pub fn is_new(&self) -> bool {
        on_day(self.fseen, self.collect)
    }

    /// Whether the indicator was seen again on the snapshot's day (new ones included).
    pub fn is_updated(&self) -> bool {
        on_day(self.lseen, self.collect)
    }

    /// The overall score from 0 to 100, when present.
    pub fn score_total(&self) -> Option<i64> {
        self.score.as_ref().and_then(|s| s.total)
    }

    /// Whether the record carries the tag `name` (such as `c2` or `phishing`), ignoring
    /// case.
    pub fn has_tag(&self, name: &str) -> bool {
        self.tags.names.iter().any(|t| t.eq_ignore_ascii_case(name))
    }

    /// Whether the record names the threat `name` (such as `emotet`), ignoring case.
    pub fn has_threat(&self, name: &str) -> bool {
        self.threat.iter().any(|t| t.eq_ignore_ascii_case(name))
    }

    /// The false-positive alarm; [`FpAlarm::False`] when the record carries none.
    pub fn fp_alarm(&self) -> FpAlarm {
        self.fp
            .as_ref()
            .map(|fp| fp.alarm.clone())
            .unwrap_or_default()
    }

    /// Why the indicator may be a false positive, when the record says.
    pub fn fp_description(&self) -> Option<&str> {
        self.fp.as_ref().and_then(FalsePositive::description)
    }

    /// The references (report URLs and the like) of the sources, when present.
    pub fn references(&self) -> &[String] {
        self.src.as_ref().map_or(&[], |s| s.references())
    }

    /// The threats without the empty names some records carry.
    pub fn threats(&self) -> impl Iterator<Item = &str> {
        self.threat
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
    }
}

/// Where an indicator was reported.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Sources {
    /// Short source codes, such as `vmray`. Not aligned one to one with the references.
    #[serde(default, deserialize_with = "lenient::string_list")]
    pub name: Vec<String>,
    /// References to the reports.
    #[serde(default)]
    pub report: Reports,
}

impl Sources {
    /// References to the reports, usually URLs but not always (some are bare host
    /// names or carry typos).
    pub fn references(&self) -> &[String] {
        &self.report.0
    }
}

/// The references of a record's sources.
///
/// The API sends them as one comma-separated string or, in newer lookup answers, as a
/// list; both read as the same list of trimmed, non-empty entries. They are written back
/// as a list, which keeps entries that contain a comma intact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Reports(pub Vec<String>);

impl<'de> Deserialize<'de> for Reports {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::comma_list(d).map(Reports)
    }
}

impl std::ops::Deref for Reports {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.0
    }
}

/// The categories of an indicator: names such as `malware` and their numeric codes.
///
/// Reads the usual `{"str": [...], "codes": [...]}` object, and also a bare list of
/// names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Tags {
    /// The category names, such as `c2`, `phishing` or `malware`.
    #[serde(rename = "str")]
    pub names: Vec<String>,
    /// The category codes, such as 8 for `c2`. Missing from the free feeds.
    pub codes: Vec<i64>,
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TagsVisitor;

        struct Codes(Vec<i64>);

        impl<'de> Deserialize<'de> for Codes {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                lenient::int_list(d).map(Codes)
            }
        }

        struct Names(Vec<String>);

        impl<'de> Deserialize<'de> for Names {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                lenient::string_list(d).map(Names)
            }
        }

        impl<'de> Visitor<'de> for TagsVisitor {
            type Value = Tags;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object with `str` and `codes`, or a list of tag names")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tags, A::Error> {
                let mut tags = Tags::default();
                while let Some(lenient::Key(key)) = map.next_key()? {
                    match key.as_ref() {
                        "str" => tags.names = map.next_value::<Names>()?.0,
                        "codes" => tags.codes = map.next_value::<Codes>()?.0,
                        _ => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(tags)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Tags, A::Error> {
                let names = Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(|Names(n)| n)?;
                Ok(Tags {
                    names,
                    codes: Vec::new(),
                })
            }

            fn visit_none<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags::default())
            }

            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags::default())
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tags, D::Error> {
                d.deserialize_any(self)
            }
        }

        d.deserialize_any(TagsVisitor)
    }
}

/// The scores RST Cloud gives an indicator. Fields it does not know yet are ignored.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Score {
    /// The overall score from 0 to 100, already lowered for likely false positives.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub total: Option<i64>,
    /// The confidence in the sources, from 0 to 100.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub src: Option<f64>,
    /// The weight of the categories, from 0 to 1.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub tags: Option<f64>,
    /// How current the indicator is, from 0 to 1.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub frequency: Option<f64>,
    /// The overall score on the day the indicator was first seen (newer lookups only).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub first: Option<i64>,
    /// The overall score on the day the indicator was last seen (newer lookups only).
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub last: Option<i64>,
}

/// The false-positive assessment of an indicator.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FalsePositive {
    /// Whether the indicator is likely a false positive.
    #[serde(default)]
    pub alarm: FpAlarm,
    /// Why, as sent: `""` or null when there is no alarm.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub descr: Option<String>,
}

impl FalsePositive {
    /// Why the indicator may be a false positive; `None` when the record gives no reason.
    pub fn description(&self) -> Option<&str> {
        self.descr
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
    }
}

/// Whether an indicator is likely a false positive.
///
/// Read case-insensitively; values this crate does not know are kept in
/// [`FpAlarm::Other`] and written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FpAlarm {
    /// Not a false positive (`false`), also when the record says nothing.
    False,
    /// A false positive (`true`), such as a cloud provider's address.
    True,
    /// Possibly a false positive (`possible`).
    Possible,
    /// A value this crate does not know, as sent.
    Other(String),
}

lenient::wire_enum!(FpAlarm, default = False, expecting = "a false-positive alarm word", {
    "false" => False,
    "true" => True,
    "possible" => Possible,
});

impl FpAlarm {
    /// Whether the alarm is raised, surely or possibly.
    pub fn is_raised(&self) -> bool {
        matches!(self, FpAlarm::True | FpAlarm::Possible)
    }
}

/// The ports an indicator was seen on.
///
/// The API writes `[-1]` for "no known port" and may repeat ports; [`Ports::known`]
/// hides both, [`Ports::raw`] shows the list as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(transparent)]
pub struct Ports(pub Vec<i64>);

impl<'de> Deserialize<'de> for Ports {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::int_list(d).map(Ports)
    }
}

impl Ports {
    /// The real ports, in the order sent, without `-1`, out-of-range values and
    /// repeats.
    pub fn known(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::with_capacity(self.0.len());
        for port in self.0.iter().filter_map(|&p| u16::try_from(p).ok()) {
            if port != 0 && !out.contains(&port) {
                out.push(port);
            }
        }
        out
    }

    /// The list as sent, `-1` included.
    pub fn raw(&self) -> &[i64] {
        &self.0
    }

    /// Whether no real port is known.
    pub fn is_empty(&self) -> bool {
        self.known().is_empty()
    }
}

/// Writes the `Deserialize` of a record type that carries [`CommonFields`]: its own fields
/// by key, every other key through [`CommonFields::read_field`], in one pass over the map.
/// The derived impl, through `flatten`, would first buffer every field of every record.
///
/// Each field names the reader it goes through (a type whose `.0` is the field's value);
/// required fields are an error when missing, optional ones take their default.
macro_rules! record_deserialize {
    ($ty:ident, $expecting:literal,
     required { $($rkey:literal => $rfield:ident: $rwire:ty),* $(,)? }
     optional { $($okey:literal $(| $oalias:literal)* => $ofield:ident: $owire:ty),* $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct RecordVisitor;

                impl<'de> serde::de::Visitor<'de> for RecordVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($expecting)
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        mut map: A,
                    ) -> Result<$ty, A::Error> {
                        $(let mut $rfield = None;)*
                        $(let mut $ofield = None;)*
                        let mut common = $crate::models::CommonFields::default();
                        while let Some($crate::models::de::Key(key)) = map.next_key()? {
                            match key.as_ref() {
                                $($rkey => $rfield = Some(map.next_value::<$rwire>()?.0),)*
                                $($okey $(| $oalias)* => {
                                    $ofield = Some(map.next_value::<$owire>()?.0)
                                })*
                                _ => common.read_field(key, &mut map)?,
                            }
                        }
                        Ok($ty {
                            $($rfield: $rfield
                                .ok_or_else(|| serde::de::Error::missing_field($rkey))?,)*
                            $($ofield: $ofield.unwrap_or_default(),)*
                            common,
                        })
                    }
                }

                d.deserialize_map(RecordVisitor)
            }
        }
    };
}

pub(crate) use record_deserialize;
