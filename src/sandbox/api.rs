//! The API host: checks the key, counts the quota and answers every `/v1` endpoint.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

use super::Sandbox;
use super::catalog::{Catalog, LAST_MODIFIED, PARTIALS, PUBLISHED_AT, SAMPLE_DAY, object_key};
use super::storage::presigned_url;
use crate::{Feed, Format, SnapshotDate};

/// The daily request quota the sandbox reports.
const DAILY_LIMIT: u64 = 1000;

/// Answers every request to the API host.
pub(super) struct ApiResponder {
    pub(super) catalog: &'static Catalog,
    pub(super) storage_url: String,
    /// Authenticated requests served so far.
    pub(super) used: Arc<AtomicU64>,
}

impl Respond for ApiResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorized = request
            .headers
            .get_all("x-api-key")
            .iter()
            .any(|value| value.as_bytes() == Sandbox::API_KEY.as_bytes());
        if !authorized {
            return json_answer(503, json!({"message": "Forbidden"}));
        }
        let used = self.used.fetch_add(1, Ordering::SeqCst) + 1;

        let Some(route) = request.url.path().strip_prefix("/v1/") else {
            return not_found();
        };
        let segments: Vec<&str> = route.split('/').collect();
        let method = request.method.as_str();

        if let [segment] = segments.as_slice()
            && let Some(feed) = feed_named(segment)
        {
            return match method {
                "GET" => self.snapshot_redirect(request, feed),
                "HEAD" => self.snapshot_head(request, feed),
                _ => not_found(),
            };
        }

        match (method, segments.as_slice()) {
            ("GET" | "HEAD", ["auth", "check"]) => auth_check(used),
            ("GET" | "HEAD", ["ioc"]) => self.lookup(request),
            ("POST" | "PUT", ["ioc"]) => submit(request),
            ("GET" | "HEAD", ["whois", domain] | ["whois", "full", domain]) => {
                self.whois(domain, false)
            }
            ("GET" | "HEAD", ["whois", "raw", domain] | ["whois", "full", "raw", domain]) => {
                self.whois(domain, true)
            }
            _ => not_found(),
        }
    }
}

impl ApiResponder {
    /// `GET /{feed}`: a 302 to the presigned storage URL of the snapshot.
    fn snapshot_redirect(&self, request: &Request, feed: Feed) -> ResponseTemplate {
        let Some(format) = format_param(request) else {
            return bad_request();
        };
        let date = query(request, "date").unwrap_or_else(|| "latest".to_owned());
        let key = if date == "latest" {
            object_key(feed, format, SAMPLE_DAY, "")
        } else if let Some((_, suffix)) = PARTIALS.iter().find(|(name, _)| *name == date) {
            object_key(feed, format, SAMPLE_DAY, suffix)
        } else if is_calendar_day(&date) {
            // Any real day gets a URL; the storage host answers NoSuchKey for days the
            // sandbox holds no snapshot of, as S3 does.
            object_key(feed, format, &date, "")
        } else {
            return bad_request();
        };

        ResponseTemplate::new(302)
            .insert_header("Location", presigned_url(&self.storage_url, &key))
            .set_body_raw(Vec::new(), "application/json")
    }

    /// `HEAD /{feed}`: when the newest snapshot was published and how big it is.
    fn snapshot_head(&self, request: &Request, feed: Feed) -> ResponseTemplate {
        let Some(format) = format_param(request) else {
            return bad_request();
        };
        // The body is dropped for HEAD; it is set so that Content-Length is its size.
        ResponseTemplate::new(200)
            .insert_header("Last-Modified", LAST_MODIFIED)
            .insert_header("Timestamp", PUBLISHED_AT.to_string())
            .set_body_raw(
                self.catalog.snapshot(feed, format).to_vec(),
                "application/json",
            )
    }

    /// `GET /ioc?value=…`: the record of an indicator, reshaped as the lookup answers it.
    fn lookup(&self, request: &Request) -> ResponseTemplate {
        let value = query(request, "value").unwrap_or_default();
        if value.trim().is_empty() {
            return json_answer(400, json!({"ioc_value": "", "status": "Bad Request"}));
        }

        let Some((record, ioc_type)) = self.catalog.lookup(&value) else {
            return json_answer(200, json!({"ioc_value": value, "error": "Not Found"}));
        };
        let mut answer = record.clone();
        let indicator = indicator_value(record, ioc_type);
        if let Some(fields) = answer.as_object_mut() {
            for key in ["ip", "domain", "url"] {
                fields.remove(key);
            }
            fields.insert("ioc_value".to_owned(), Value::String(indicator));
            fields.insert("ioc_type".to_owned(), Value::String(ioc_type.to_owned()));
        }
        json_answer(200, answer)
    }

    /// `GET /whois/{domain}` and its `raw`/`full` variants.
    fn whois(&self, domain: &str, raw: bool) -> ResponseTemplate {
        if !is_plausible_domain(domain) {
            return json_answer(400, json!("Bad Request"));
        }
        let Some(record) = self.catalog.domain_record(domain) else {
            return no_registration_data();
        };
        let whois = &record["resolved"]["whois"];
        if whois["havedata"] != "true" {
            return no_registration_data();
        }

        let text = |key: &str| whois[key].as_str().unwrap_or_default().to_owned();
        let name = record["domain"].as_str().unwrap_or(domain).to_owned();
        let mut answer = json!({
            "domain": name,
            "registrar": text("registrar"),
            "registrant": text("registrant"),
            "created_on": text("created"),
            "updated_on": text("updated"),
            "expires_on": text("expires"),
            "age": whois["age"].clone(),
            "nameservers": "",
            "status": "registered",
            "registered?": "true",
        });
        if raw {
            let raw_text = raw_whois(&name, &text);
            answer["raw"] = Value::String(raw_text);
        }
        json_answer(200, answer)
    }
}

/// `GET /auth/check`: the key is valid; `used` counts this request too.
fn auth_check(used: u64) -> ResponseTemplate {
    json_answer(
        200,
        json!({
            "check": {"name": "CheckApiKey", "status": "valid"},
            "quota": {
                "used": used,
                "limit": DAILY_LIMIT,
                "remaining": DAILY_LIMIT.saturating_sub(used),
                "period": "DAY",
            },
        }),
    )
}

/// `POST /ioc` (submission) and `PUT /ioc` (false positive).
fn submit(request: &Request) -> ResponseTemplate {
    let body: Option<Value> = serde_json::from_slice(&request.body).ok();
    let value = body
        .as_ref()
        .and_then(|body| body.get("ioc_value"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if value.trim().is_empty() {
        return json_answer(400, json!({"ioc_value": value, "status": "Bad Request"}));
    }
    json_answer(200, json!({"ioc_value": value, "status": "submitted"}))
}

/// The indicator value of a record, for the lookup's `ioc_value`.
fn indicator_value(record: &Value, ioc_type: &str) -> String {
    let pointer = match ioc_type {
        "ipv4" => "/ip/v4".to_owned(),
        other => format!("/{other}"),
    };
    record
        .pointer(&pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A WHOIS text built from the record's fields, laid out like a registry's answer.
fn raw_whois(domain: &str, text: &dyn Fn(&str) -> String) -> String {
    let stamp = |key: &str| format!("{}Z", text(key).replacen(' ', "T", 1));
    format!(
        "Domain Name: {}\nRegistrar: {}\nUpdated Date: {}\nCreation Date: {}\n\
         Registry Expiry Date: {}\nRegistrant Organization: {}\n\
         >>> Last update of WHOIS database: 2023-04-27T00:00:00Z <<<\n",
        domain.to_ascii_uppercase(),
        text("registrar"),
        stamp("updated"),
        stamp("created"),
        stamp("expires"),
        text("registrant"),
    )
}

fn no_registration_data() -> ResponseTemplate {
    json_answer(200, json!({"dataError": "No registration data found"}))
}

/// The feed whose path segment is exactly `segment`.
fn feed_named(segment: &str) -> Option<Feed> {
    Feed::ALL.into_iter().find(|feed| feed.as_str() == segment)
}

/// The `type` parameter: `json` when absent, `None` when it is neither `json` nor `csv`.
fn format_param(request: &Request) -> Option<Format> {
    match query(request, "type").as_deref() {
        None | Some("json") => Some(Format::Json),
        Some("csv") => Some(Format::Csv),
        Some(_) => None,
    }
}

/// A day of the calendar written as `YYYYMMDD`.
fn is_calendar_day(date: &str) -> bool {
    date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && date.parse::<SnapshotDate>().is_ok()
}

/// Whether a path segment looks like a domain name: two or more labels of letters,
/// digits, `-` or `_`, and a top-level label that is not numeric.
fn is_plausible_domain(domain: &str) -> bool {
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let top_ok = labels
        .last()
        .is_some_and(|top| top.bytes().all(|b| b.is_ascii_alphabetic()) || top.starts_with("xn--"));
    domain.len() <= 253 && labels.len() >= 2 && labels.iter().all(label_ok) && top_ok
}

fn query(request: &Request, name: &str) -> Option<String> {
    request
        .url
        .query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn json_answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(body)
}

fn bad_request() -> ResponseTemplate {
    json_answer(400, json!({"error": "Bad Request"}))
}

fn not_found() -> ResponseTemplate {
    json_answer(404, json!({"message": "Not Found"}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plausible_domains_are_told_from_other_segments() {
        assert!(is_plausible_domain("app-gps.cloud"));
        assert!(is_plausible_domain("xn--80ak6aa92e.xn--p1ai"));
        assert!(!is_plausible_domain("localhost"));
        assert!(!is_plausible_domain("192.0.2.1"));
        assert!(!is_plausible_domain("bad domain.com"));
        assert!(!is_plausible_domain("-x.com"));
    }

    #[test]
    fn only_real_days_are_calendar_days() {
        assert!(is_calendar_day("20230427"));
        assert!(!is_calendar_day("20230230"));
        assert!(!is_calendar_day("2023-04-27"));
        assert!(!is_calendar_day("yesterday"));
    }
}
