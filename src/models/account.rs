//! Answers about the API key and about submitted indicators.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::de as lenient;

/// The answer of the key check (`GET /auth/check`).
///
/// Every part is optional and fields this crate does not know are kept, because the
/// answer's shape is only loosely documented.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AuthCheck {
    /// The result of the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<KeyCheck>,
    /// The key's request quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AuthCheck {
    /// Whether the API calls the key valid.
    pub fn is_valid(&self) -> bool {
        self.check.as_ref().is_some_and(KeyCheck::is_valid)
    }
}

/// The result of a key check.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KeyCheck {
    /// The name of the check, such as `CheckApiKey`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<String>,
    /// The verdict, such as `valid`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl KeyCheck {
    /// Whether the verdict is `valid` (in any case).
    pub fn is_valid(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("valid"))
    }
}

/// A key's request quota.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Quota {
    /// Requests used in the current period.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub used: Option<u64>,
    /// Requests allowed per period; absent when the plan sets none.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub limit: Option<u64>,
    /// Requests left in the current period, as sent.
    #[serde(
        default,
        deserialize_with = "lenient::opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    pub remaining: Option<u64>,
    /// The quota period, such as `DAY`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<String>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Quota {
    /// Requests left in the current period: `remaining` when sent, otherwise worked out
    /// from `limit` and `used`.
    pub fn requests_left(&self) -> Option<u64> {
        self.remaining
            .or_else(|| Some(self.limit?.saturating_sub(self.used?)))
    }
}

/// The answer to submitting an indicator or reporting a false positive (`POST` and
/// `PUT /ioc`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Submission {
    /// The indicator, as echoed back.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ioc_value: Option<String>,
    /// The outcome, such as `submitted`.
    #[serde(
        default,
        deserialize_with = "lenient::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Fields this crate does not know yet, kept as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Submission {
    /// Whether the API says `submitted` (in any case).
    pub fn is_submitted(&self) -> bool {
        self.status
            .as_deref()
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("submitted"))
    }
}
