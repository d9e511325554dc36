//! The answer of a WHOIS query (`GET /whois/{domain}` and its variants).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::PrimitiveDateTime;

use super::de as lenient;
use super::records::whois_date;

/// A domain's registration data, as the WHOIS endpoints answer.
///
/// Every field is optional and keeps the value as sent; the methods of the same names
/// read the placeholders the API writes for unknown values (`unknown`, `none`, `null`,
/// `n/a`, `""`) as `None`. Fields this crate does not know, such as those of the
/// extended variant, are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Whois {
    /// The registrable domain the data belongs to (a subdomain's query answers for its
    /// parent).
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub domain: Option<String>,
    /// The registrar.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrar: Option<String>,
    /// The registrant's name.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrant: Option<String>,
    /// The registrant's organisation.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrant_org: Option<String>,
    /// The registrant's e-mail address.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registrant_email: Option<String>,
    /// When the domain was registered, such as `2022-01-01 00:00:00`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_on: Option<String>,
    /// When the registration was last updated.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_on: Option<String>,
    /// When the registration expires.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub expires_on: Option<String>,
    /// The name servers as one comma-separated string (a list is joined with commas).
    #[serde(
        default,
        deserialize_with = "lenient::opt_joined",
        skip_serializing_if = "Option::is_none"
    )]
    pub nameservers: Option<String>,
    /// The age of the domain in days.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub age: Option<i64>,
    /// The registration status, such as `registered`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Whether the domain is registered, as sent (`"true"` or `"false"`).
    #[serde(
        default,
        rename = "registered?",
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub registered: Option<String>,
    /// Why no registration data could be given; present instead of the data.
    #[serde(default, rename = "dataError", skip_serializing_if = "Option::is_none")]
    pub data_error: Option<Value>,
    /// The raw WHOIS or RDAP text of the `raw` variants.
    #[serde(
        default,
        alias = "raw_text",
        alias = "whois_raw",
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub raw: Option<String>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Whois {
    /// Whether the answer carries registration data rather than a `dataError`.
    pub fn has_data(&self) -> bool {
        self.data_error.is_none()
    }

    /// Why no registration data could be given, as text.
    pub fn data_error(&self) -> Option<String> {
        match self.data_error.as_ref()? {
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The registrable domain, when known.
    pub fn domain(&self) -> Option<&str> {
        lenient::known_text(self.domain.as_deref())
    }

    /// The registrar, when known.
    pub fn registrar(&self) -> Option<&str> {
        lenient::known_text(self.registrar.as_deref())
    }

    /// The registrant's name, when known.
    pub fn registrant(&self) -> Option<&str> {
        lenient::known_text(self.registrant.as_deref())
    }

    /// The registrant's organisation, when known.
    pub fn registrant_org(&self) -> Option<&str> {
        lenient::known_text(self.registrant_org.as_deref())
    }

    /// The registrant's e-mail address, when known.
    pub fn registrant_email(&self) -> Option<&str> {
        lenient::known_text(self.registrant_email.as_deref())
    }

    /// When the domain was registered, when known and written as
    /// `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DD`.
    pub fn created_on(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.created_on.as_deref())
    }

    /// When the registration was last updated, when known.
    pub fn updated_on(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.updated_on.as_deref())
    }

    /// When the registration expires, when known.
    pub fn expires_on(&self) -> Option<PrimitiveDateTime> {
        whois_date(self.expires_on.as_deref())
    }

    /// The name servers, trimmed, without empty entries or placeholders.
    pub fn nameservers(&self) -> Vec<&str> {
        self.nameservers
            .as_deref()
            .map(|s| {
                lenient::split_commas(s)
                    .filter(|n| !lenient::is_placeholder(n))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The age of the domain in days, when known.
    pub fn age(&self) -> Option<i64> {
        self.age.filter(|&days| days > 0)
    }

    /// The registration status, when known.
    pub fn status(&self) -> Option<&str> {
        lenient::known_text(self.status.as_deref())
    }

    /// Whether the domain is registered, when the answer says `true` or `false`.
    pub fn registered(&self) -> Option<bool> {
        match lenient::known_text(self.registered.as_deref())? {
            s if s.eq_ignore_ascii_case("true") => Some(true),
            s if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// The raw WHOIS or RDAP text, when the answer has it.
    pub fn raw(&self) -> Option<&str> {
        self.raw.as_deref().filter(|s| !s.trim().is_empty())
    }
}
