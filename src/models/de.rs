//! Lenient deserializers for values whose JSON type drifts between eras and endpoints.
//!
//! Numbers arrive as JSON numbers in snapshot files and as numeric strings in lookups, so
//! every numeric field reads both. Optional values also read `null`, `""` and the
//! placeholder words the API uses for "unknown" as absent. Everything is visitor based
//! (no detour through `serde_json::Value`), because snapshots hold 10⁵ records.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, SeqAccess, Unexpected, Visitor};

/// Words the API writes where a value is unknown, compared case-insensitively.
const PLACEHOLDERS: [&str; 4] = ["none", "null", "n/a", "unknown"];

/// Whether `s` (already trimmed) means "no value".
pub(crate) fn is_placeholder(s: &str) -> bool {
    s.is_empty() || PLACEHOLDERS.iter().any(|p| s.eq_ignore_ascii_case(p))
}

/// `Some(s)` unless `s` is empty or a placeholder after trimming.
pub(crate) fn known_text(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !is_placeholder(s))
}

/// A numeric type that can be read from any JSON number or from a numeric string.
pub(crate) trait Number: Sized {
    const EXPECTING: &'static str;
    fn from_i64(v: i64) -> Option<Self>;
    fn from_u64(v: u64) -> Option<Self>;
    fn from_f64(v: f64) -> Option<Self>;
    /// Reads a trimmed, non-empty string.
    fn from_text(s: &str) -> Option<Self>;
}

/// Reads a float as an integer only when it has no fractional part and fits.
fn whole(v: f64) -> Option<i128> {
    (v.is_finite() && v.fract() == 0.0 && v.abs() < 1e19).then_some(v as i128)
}

macro_rules! integer {
    ($($t:ty => $what:literal),*) => {$(
        impl Number for $t {
            const EXPECTING: &'static str = $what;
            fn from_i64(v: i64) -> Option<Self> {
                v.try_into().ok()
            }
            fn from_u64(v: u64) -> Option<Self> {
                v.try_into().ok()
            }
            fn from_f64(v: f64) -> Option<Self> {
                whole(v).and_then(|v| v.try_into().ok())
            }
            fn from_text(s: &str) -> Option<Self> {
                s.parse::<$t>()
                    .ok()
                    .or_else(|| s.parse::<f64>().ok().and_then(Self::from_f64))
            }
        }
    )*};
}

integer!(
    i64 => "an integer or a string holding one",
    u64 => "a non-negative integer or a string holding one",
    u32 => "an integer from 0 to 4294967295 or a string holding one",
    u16 => "an integer from 0 to 65535 or a string holding one"
);

impl Number for f64 {
    const EXPECTING: &'static str = "a number or a string holding one";
    fn from_i64(v: i64) -> Option<Self> {
        Some(v as f64)
    }
    fn from_u64(v: u64) -> Option<Self> {
        Some(v as f64)
    }
    fn from_f64(v: f64) -> Option<Self> {
        v.is_finite().then_some(v)
    }
    fn from_text(s: &str) -> Option<Self> {
        s.parse::<f64>().ok().and_then(Self::from_f64)
    }
}

/// Reads a number; `OPTIONAL` decides whether null, `""` and placeholders mean `None`
/// or are an error.
struct NumberVisitor<T, const OPTIONAL: bool>(PhantomData<T>);

impl<T, const OPTIONAL: bool> NumberVisitor<T, OPTIONAL> {
    fn new() -> Self {
        NumberVisitor(PhantomData)
    }

    fn absent<E: de::Error>(self, unexpected: Unexpected<'_>) -> Result<Option<T>, E>
    where
        T: Number,
    {
        if OPTIONAL {
            Ok(None)
        } else {
            Err(E::invalid_type(unexpected, &self))
        }
    }
}

impl<'de, T: Number, const OPTIONAL: bool> Visitor<'de> for NumberVisitor<T, OPTIONAL> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::from_i64(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::from_u64(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::from_f64(v)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let s = v.trim();
        if is_placeholder(s) {
            return self.absent(Unexpected::Str(v));
        }
        T::from_text(s)
            .map(Some)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.absent(Unexpected::Option)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.absent(Unexpected::Unit)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// A number that must be present, for list items.
struct Required<T>(T);

impl<'de, T: Number> de::Deserialize<'de> for Required<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = d.deserialize_any(NumberVisitor::<T, false>::new())?;
        value
            .map(Required)
            .ok_or_else(|| de::Error::custom("a number is missing"))
    }
}

/// An optional number: a JSON number, a numeric string, or null, missing, `""`, `"None"`,
/// `"null"`, `"n/a"` for `None`. Use with `#[serde(default)]`.
pub(crate) fn opt_number<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Number,
{
    d.deserialize_any(NumberVisitor::<T, true>::new())
}

/// A list of integers whose items may be numbers or numeric strings; null reads as empty.
pub(crate) fn int_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i64>, D::Error> {
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of integers")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
            while let Some(Required(v)) = seq.next_element::<Required<i64>>()? {
                out.push(v);
            }
            Ok(out)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(ListVisitor)
}

/// A list of strings; null reads as empty and null items are skipped.
pub(crate) fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    // A visitor rather than `Option<Vec<Option<String>>>` and a copy: records carry
    // several of these lists, and the copy was a second allocation for each.
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Option<String>>()? {
                out.extend(item);
            }
            Ok(out)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
    }

    d.deserialize_option(ListVisitor)
}

/// A map key, borrowed from the input when it has no escapes (serde's own `Cow` always
/// copies), so matching a record's keys allocates nothing.
pub(crate) struct Key<'de>(pub(crate) Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }

        d.deserialize_str(KeyVisitor)
    }
}

/// One field read the lenient way, for hand-written visitors that read a record's map
/// directly (`map.next_value::<Text>()?.0`) rather than through `deserialize_with`.
macro_rules! field_reader {
    ($($(#[$doc:meta])* $name:ident $(<$t:ident: $bound:path>)? ($out:ty) = $read:path;)*) => {$(
        $(#[$doc])*
        pub(crate) struct $name$(<$t>)?(pub(crate) $out);

        impl<'de $(, $t: $bound)?> de::Deserialize<'de> for $name$(<$t>)? {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $read(d).map($name)
            }
        }
    )*};
}

field_reader! {
    /// See [`string`].
    Text(String) = string;
    /// See [`opt_text`].
    OptText(Option<String>) = opt_text;
    /// See [`string_list`].
    StringList(Vec<String>) = string_list;
    /// See [`opt_number`].
    OptNumber<T: Number>(Option<T>) = opt_number;
    /// Any type that reads itself.
    Plain<T: de::DeserializeOwned>(T) = T::deserialize;
}

/// A string; null reads as empty.
pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let s: Option<String> = de::Deserialize::deserialize(d)?;
    Ok(s.unwrap_or_default())
}

/// An optional text value that may also arrive as a number or a boolean, which are kept
/// in their JSON spelling. Null reads as `None`; strings are kept as sent.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct TextVisitor;

    impl<'de> Visitor<'de> for TextVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a number or a boolean")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(TextVisitor)
}

/// A comma-separated list that may also arrive as a JSON array; entries are trimmed and
/// empty ones skipped, so both spellings give the same list.
pub(crate) fn comma_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct CommaVisitor;

    impl<'de> Visitor<'de> for CommaVisitor {
        type Value = Vec<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a comma-separated string or a list of strings")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(split_commas(v).map(str::to_owned).collect())
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element::<Option<String>>()? {
                out.extend(item.as_deref().and_then(|s| {
                    let s = s.trim();
                    (!s.is_empty()).then(|| s.to_owned())
                }));
            }
            Ok(out)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(CommaVisitor)
}

/// The trimmed, non-empty entries of a comma-separated string.
pub(crate) fn split_commas(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').map(str::trim).filter(|s| !s.is_empty())
}

/// A comma-separated string that may also arrive as a JSON array, which is joined with
/// commas so the field keeps the documented string form.
pub(crate) fn opt_joined<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct JoinVisitor;

    impl<'de> Visitor<'de> for JoinVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a comma-separated string or a list of strings")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut parts = Vec::new();
            while let Some(item) = seq.next_element::<Option<String>>()? {
                parts.extend(item);
            }
            Ok(Some(parts.join(",")))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(self)
        }
    }

    d.deserialize_any(JoinVisitor)
}

/// Implements `Serialize` and `Deserialize` for an enum of wire words with an
/// `Other(String)` fallback. Matching is case-insensitive and ignores surrounding spaces;
/// null, a missing value and `""` read as the given default variant. JSON booleans read
/// as the words `true` and `false`.
macro_rules! wire_enum {
    ($ty:ident, default = $default:ident, expecting = $what:literal, { $($word:literal => $variant:ident),+ $(,)? }) => {
        impl $ty {
            /// The value as the API writes it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($ty::$variant => $word,)+
                    $ty::Other(s) => s,
                }
            }

            fn from_wire(s: &str) -> Self {
                let t = s.trim();
                if t.is_empty() {
                    return $ty::$default;
                }
                $(if t.eq_ignore_ascii_case($word) {
                    return $ty::$variant;
                })+
                $ty::Other(s.to_owned())
            }
        }

        impl Default for $ty {
            fn default() -> Self {
                $ty::$default
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = std::convert::Infallible;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from_wire(s))
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct WordVisitor;

                impl<'de> serde::de::Visitor<'de> for WordVisitor {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str($what)
                    }

                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$ty, E> {
                        Ok($ty::from_wire(v))
                    }

                    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<$ty, E> {
                        Ok($ty::from_wire(if v { "true" } else { "false" }))
                    }

                    fn visit_none<E: serde::de::Error>(self) -> Result<$ty, E> {
                        Ok($ty::$default)
                    }

                    fn visit_unit<E: serde::de::Error>(self) -> Result<$ty, E> {
                        Ok($ty::$default)
                    }

                    fn visit_some<D: serde::Deserializer<'de>>(
                        self,
                        d: D,
                    ) -> Result<$ty, D::Error> {
                        d.deserialize_any(self)
                    }
                }

                d.deserialize_any(WordVisitor)
            }
        }
    };
}

pub(crate) use wire_enum;

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "super::opt_number")]
        int: Option<i64>,
        #[serde(default, deserialize_with = "super::opt_number")]
        float: Option<f64>,
        #[serde(default, deserialize_with = "super::opt_number")]
        port: Option<u16>,
        #[serde(default, deserialize_with = "super::int_list")]
        list: Vec<i64>,
    }

    fn probe(json: &str) -> Result<Probe, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn numbers_read_from_numbers_strings_and_whole_floats() {
        let p = probe(r#"{"int":" 6 ","float":"76.8","port":443.0,"list":[1,"2",3.0]}"#).unwrap();
        assert_eq!(p.int, Some(6));
        assert_eq!(p.float, Some(76.8));
        assert_eq!(p.port, Some(443));
        assert_eq!(p.list, vec![1, 2, 3]);
        assert_eq!(probe(r#"{"float":1}"#).unwrap().float, Some(1.0));
        assert_eq!(probe(r#"{"int":"1.0"}"#).unwrap().int, Some(1));
    }

    #[test]
    fn placeholders_and_null_read_as_absent() {
        for word in [
            r#""""#,
            r#""None""#,
            r#""none""#,
            r#""null""#,
            r#""n/a""#,
            "null",
        ] {
            let p = probe(&format!(r#"{{"int":{word},"float":{word},"port":{word}}}"#)).unwrap();
            assert_eq!((p.int, p.float, p.port), (None, None, None), "{word}");
        }
        assert_eq!(probe(r#"{"list":null}"#).unwrap().list, Vec::<i64>::new());
    }

    #[test]
    fn bad_numbers_are_errors_not_zero() {
        assert!(probe(r#"{"int":"ten"}"#).is_err());
        assert!(probe(r#"{"int":1.5}"#).is_err());
        assert!(probe(r#"{"port":70000}"#).is_err());
        assert!(probe(r#"{"port":-1}"#).is_err());
        assert!(probe(r#"{"float":"NaN"}"#).is_err());
        assert!(probe(r#"{"int":true}"#).is_err());
        assert!(probe(r#"{"list":["None"]}"#).is_err());
        assert!(probe(r#"{"list":[null]}"#).is_err());
    }
}
