//! The crate's one error type.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

/// A specialised `Result` whose error is this crate's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong when talking to the RST Cloud API.
///
/// Split by where the call failed: the API answered with an error ([`Error::Api`]), the
/// storage host that snapshot downloads are redirected to answered with an error
/// ([`Error::Storage`]), the connection failed ([`Error::Transport`], [`Error::Timeout`]),
/// an answer or a record did not decode ([`Error::Decode`]), a snapshot body was
/// damaged ([`Error::Snapshot`]), local I/O failed ([`Error::Io`]) or an argument was
/// refused before any request was sent ([`Error::InvalidInput`]).
///
/// No variant ever carries the API key, and URLs are shown without their query string,
/// so the signature of a presigned storage URL never appears either.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The API answered with an error status.
    #[error("{endpoint}: the API answered {status}{}", .body.summary())]
    Api {
        /// The endpoint, such as `GET /ioc`.
        endpoint: String,
        /// The HTTP status of the answer.
        status: StatusCode,
        /// The error body, parsed where it is JSON.
        body: Box<ApiErrorBody>,
        /// How many attempts were made, retries included.
        attempts: u32,
    },

    /// The storage host that a snapshot download was redirected to answered with an error.
    #[error("snapshot storage answered {status}{}", storage_summary(.code, .message))]
    Storage {
        /// The HTTP status of the storage host's answer.
        status: StatusCode,
        /// The storage error code, such as `AccessDenied` or `NoSuchKey`, when the body
        /// carried one.
        code: Option<String>,
        /// The storage error message, when the body carried one.
        message: Option<String>,
        /// The start of the body, for bodies with neither code nor message.
        snippet: String,
    },

    /// The request could not be sent or its answer could not be read.
    #[error("{endpoint}: the connection failed after {attempts} attempt(s)")]
    Transport {
        /// The endpoint, such as `GET /auth/check`.
        endpoint: String,
        /// How many attempts were made, retries included.
        attempts: u32,
        /// The underlying HTTP client error, with the URL's query string removed.
        #[source]
        source: reqwest::Error,
    },

    /// A connect, read or total timeout expired.
    #[error("{endpoint}: timed out ({kind}) after {attempts} attempt(s)")]
    Timeout {
        /// The endpoint, such as `GET /ip`.
        endpoint: String,
        /// Which timeout expired.
        kind: TimeoutKind,
        /// How many attempts were made, retries included.
        attempts: u32,
    },

    /// An answer or a snapshot record could not be decoded into its type.
    #[error("could not decode {what}{}: {message}", field_suffix(.path))]
    Decode {
        /// What was being decoded, such as `ip record at line 12` or `GET /auth/check answer`.
        what: String,
        /// The path of the field that failed, such as `score.total`, when known.
        path: Option<String>,
        /// The decoder's message.
        message: String,
        /// The line of the snapshot, counted from 1, for snapshot records.
        line: Option<u64>,
    },

    /// A snapshot body was not a complete gzip'd snapshot.
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),

    /// A local file operation failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Another [`Mirror`](crate::mirror::Mirror) run holds the lock on the mirror
    /// directory; this run changed nothing.
    #[error("the mirror at {} is being updated by another run (locked: {})", .dir.display(), .lock.display())]
    MirrorLocked {
        /// The mirror directory.
        dir: std::path::PathBuf,
        /// The lock file held by the other run.
        lock: std::path::PathBuf,
    },

    /// An argument was refused before any request was sent; no quota was spent.
    #[error("invalid {what}: {reason}")]
    InvalidInput {
        /// What was refused, such as `indicator`, `domain` or `base URL`.
        what: &'static str,
        /// Why it was refused.
        reason: String,
    },
}

/// Which of the client's timeouts expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// The connection could not be set up in time.
    Connect,
    /// No byte of a snapshot body arrived within the per-read timeout.
    Read(Duration),
    /// A short API call took longer than the total request timeout.
    Request,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutKind::Connect => f.write_str("connect"),
            TimeoutKind::Read(d) => write!(f, "no data for {d:?}"),
            TimeoutKind::Request => f.write_str("request"),
        }
    }
}

/// Why a snapshot body was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// The body does not start with the gzip magic bytes `1f 8b`; its start is kept.
    #[error("the snapshot body is not gzip (it starts with {snippet:?})")]
    NotGzip {
        /// The start of the body, as text.
        snippet: String,
    },
    /// The body is empty.
    #[error("the snapshot body is empty")]
    Empty,
    /// The body ended inside a gzip member: the download was cut short.
    #[error("the snapshot is truncated: the gzip stream ended early")]
    Truncated,
    /// The gzip stream is damaged (a bad checksum, bad deflate data, or bytes after the
    /// last member that are not another member).
    #[error("the snapshot's gzip stream is corrupt: {0}")]
    Corrupt(String),
    /// One line of the snapshot is longer than the configured limit.
    #[error("line {line} of the snapshot is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The line, counted from 1.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The CSV snapshot is malformed.
    #[error("the CSV snapshot is malformed: {0}")]
    Csv(String),
}

/// The body of an error answer from the API.
///
/// The API uses several shapes: `{"error": "..."}` (`RST400`, `RST500`, lookups),
/// `{"message": "..."}` (`RST503`, `RSTERROR`), `{"ioc_value": "...", "status": "..."}`
/// (`RSTIOC400`, `RSTIOCSubmit500`) and a bare JSON string (`RSTWHOIS400`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// The `error` field.
    pub error: Option<String>,
    /// The `message` field.
    pub message: Option<String>,
    /// The `status` field, as in `{"status": "Bad Request"}`.
    pub status: Option<String>,
    /// The `ioc_value` field of indicator errors.
    pub ioc_value: Option<String>,
    /// The text of a body that is a bare JSON string, such as `"Bad Request"`.
    pub text: Option<String>,
    /// The start of the body when it is not JSON (an HTML proxy page, for instance).
    pub snippet: Option<String>,
}

/// How much of a non-JSON body an error keeps.
const SNIPPET_CHARS: usize = 200;

impl ApiErrorBody {
    /// Parses an error body leniently: any JSON shape, or a snippet of anything else.
    pub fn parse(bytes: &[u8]) -> ApiErrorBody {
        #[derive(Deserialize)]
        struct Fields {
            error: Option<serde_json::Value>,
            message: Option<serde_json::Value>,
            status: Option<serde_json::Value>,
            ioc_value: Option<serde_json::Value>,
        }

        if let Ok(text) = serde_json::from_slice::<String>(bytes) {
            return ApiErrorBody {
                text: Some(text),
                ..ApiErrorBody::default()
            };
        }
        if let Ok(fields) = serde_json::from_slice::<Fields>(bytes) {
            return ApiErrorBody {
                error: fields.error.map(value_text),
                message: fields.message.map(value_text),
                status: fields.status.map(value_text),
                ioc_value: fields.ioc_value.map(value_text),
                ..ApiErrorBody::default()
            };
        }
        let snippet = snippet(bytes);
        ApiErrorBody {
            snippet: (!snippet.is_empty()).then_some(snippet),
            ..ApiErrorBody::default()
        }
    }

    /// The server's own words: the first of `error`, `message`, `status`, the bare text
    /// and the snippet that is present.
    pub fn text(&self) -> Option<&str> {
        self.error
            .as_deref()
            .or(self.message.as_deref())
            .or(self.status.as_deref())
            .or(self.text.as_deref())
            .or(self.snippet.as_deref())
    }

    fn summary(&self) -> String {
        match self.text() {
            Some(text) => format!(": {text}"),
            None => String::new(),
        }
    }
}

fn value_text(value: serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}

/// The start of a body as lossy UTF-8, cut at a character boundary.
pub(crate) fn snippet(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(SNIPPET_CHARS * 4)]);
    let text = text.trim();
    match text.char_indices().nth(SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn storage_summary(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(code), Some(message)) => format!(": {code}: {message}"),
        (Some(code), None) => format!(": {code}"),
        (None, Some(message)) => format!(": {message}"),
        (None, None) => String::new(),
    }
}

fn field_suffix(path: &Option<String>) -> String {
    match path {
        Some(path) if !path.is_empty() && path != "." => format!(" (field `{path}`)"),
        _ => String::new(),
    }
}

impl Error {
    pub(crate) fn invalid_input(what: &'static str, reason: impl Into<String>) -> Error {
        Error::InvalidInput {
            what,
            reason: reason.into(),
        }
    }

    /// The HTTP status of an API or storage error answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api { status, .. } | Error::Storage { status, .. } => Some(*status),
            Error::Transport { source, .. } => source.status(),
            _ => None,
        }
    }

    /// Whether the API answered "not found" with an error status (404).
    ///
    /// A lookup of an unknown indicator is not an error: it returns
    /// [`Lookup::NotFound`](crate::Lookup::NotFound).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status, .. } if *status == StatusCode::NOT_FOUND)
            || matches!(self, Error::Storage { status, code, .. }
                if *status == StatusCode::NOT_FOUND || code.as_deref() == Some("NoSuchKey"))
    }

    /// Whether the API refused the key: 401, 403, or the 503 "Forbidden" that the API
    /// documents for a denied key. Storage errors are never authentication errors.
    pub fn is_auth(&self) -> bool {
        let Error::Api { status, body, .. } = self else {
            return false;
        };
        match *status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => true,
            StatusCode::SERVICE_UNAVAILABLE => is_access_denied(body),
            _ => false,
        }
    }

    /// Whether the same call may succeed if tried again later: throttling (429), a bad
    /// or unavailable gateway (502, 504), a 503 that is not an access denial, connection
    /// failures and timeouts. Snapshot bodies cut short are retryable too.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Api { status, .. } => {
                matches!(
                    *status,
                    StatusCode::TOO_MANY_REQUESTS
                        | StatusCode::BAD_GATEWAY
                        | StatusCode::GATEWAY_TIMEOUT
                ) || (*status == StatusCode::SERVICE_UNAVAILABLE && !self.is_auth())
            }
            Error::Storage { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            Error::Transport { .. } | Error::Timeout { .. } => true,
            Error::Snapshot(SnapshotError::Truncated) => true,
            _ => false,
        }
    }

    /// Whether a timeout expired.
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }
}

/// The API documents 503 with `{"message": "Forbidden"}` as "access denied".
fn is_access_denied(body: &ApiErrorBody) -> bool {
    body.text().is_some_and(|text| {
        let text = text.to_ascii_lowercase();
        text.contains("forbidden") || text.contains("denied") || text.contains("api key")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_body_shape_of_the_spec_parses() {
        assert_eq!(
            ApiErrorBody::parse(br#"{"error":"Bad Request"}"#).text(),
            Some("Bad Request")
        );
        assert_eq!(
            ApiErrorBody::parse(br#"{"message":"Forbidden"}"#).text(),
            Some("Forbidden")
        );
        let ioc = ApiErrorBody::parse(br#"{"ioc_value":"domain.local","status":"Server Error"}"#);
        assert_eq!(ioc.ioc_value.as_deref(), Some("domain.local"));
        assert_eq!(ioc.text(), Some("Server Error"));
        assert_eq!(
            ApiErrorBody::parse(br#""Bad Request""#).text,
            Some("Bad Request".to_owned())
        );
        let html = ApiErrorBody::parse(b"<html>502 Bad Gateway</html>");
        assert_eq!(
            html.snippet.as_deref(),
            Some("<html>502 Bad Gateway</html>")
        );
    }

    #[test]
    fn a_503_forbidden_is_an_auth_failure_and_not_retryable() {
        let err = Error::Api {
            endpoint: "GET /auth/check".into(),
            status: StatusCode::SERVICE_UNAVAILABLE,
            body: Box::new(ApiErrorBody::parse(br#"{"message":"Forbidden"}"#)),
            attempts: 1,
        };
        assert!(err.is_auth());
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "GET /auth/check: the API answered 503 Service Unavailable: Forbidden"
        );
    }

    #[test]
    fn long_snippets_are_cut() {
        let body = "x".repeat(1000);
        let s = snippet(body.as_bytes());
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
    }
}
