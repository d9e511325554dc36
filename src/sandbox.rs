//! A local server that speaks the RST Cloud API, for testing without an API key.
//!
//! [`Sandbox::start`] starts two local HTTP servers: an API host that answers every
//! endpoint of the API v1 under `/v1`, and a storage host that plays the part of the
//! presigned S3 bucket that snapshot downloads are redirected to. Both serve 100 real
//! records of each feed, published by RST Cloud as samples of the snapshot of
//! 27 April 2023.
//!
//! ```
//! use rstcloud::sandbox::Sandbox;
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start().await;
//!
//! let answer = reqwest::Client::new()
//!     .get(format!("{}/ioc?value=45.83.122.166", sandbox.base_url()))
//!     .header("x-api-key", sandbox.api_key())
//!     .send()
//!     .await?
//!     .bytes()
//!     .await?;
//! let answer: serde_json::Value = serde_json::from_slice(&answer)?;
//! assert_eq!(answer["ioc_type"], "ipv4");
//! # Ok(())
//! # }
//! ```
//!
//! # What it answers
//!
//! Every API request must carry the header `x-api-key: rst-sandbox-key`
//! ([`Sandbox::API_KEY`]); without it the answer is `503 {"message":"Forbidden"}`, as the
//! API documents for a denied key.
//!
//! | Request | Answer |
//! |---|---|
//! | `GET /v1/auth/check` | `200`, with `quota.used` counting the authenticated requests served so far, this one included; the limit of 1000 is reported, never enforced |
//! | `GET /v1/{ip,domain,url,hash}?date=…&type=json\|csv` | `302` to a presigned URL on the storage host. `date` is `latest` (the default), `1h_latest`, `4h_latest`, `12h_latest` or a day as `YYYYMMDD`; the partial snapshots hold the same records as the daily one, and a day other than `20230427` leads to the storage host's `404 NoSuchKey`. Another `date` or `type` gets `400 {"error":"Bad Request"}` |
//! | `HEAD /v1/{feed}?type=json\|csv` | `200` with `Last-Modified`, `Timestamp` (unix seconds) and the snapshot's `Content-Length` |
//! | `GET /v1/ioc?value=…` | the record, without `ip`/`domain`/`url` and with `ioc_value` and `ioc_type`; an unknown value gets `200 {"ioc_value":…,"error":"Not Found"}`, an empty one `400` |
//! | `POST /v1/ioc`, `PUT /v1/ioc` | `{"ioc_value":…,"status":"submitted"}` for a JSON body with a non-empty `ioc_value`, `400` otherwise |
//! | `GET /v1/whois/{domain}` (and `raw/`, `full/`, `full/raw/`) | the WHOIS fields of the domain's record (or its closest parent's); `{"dataError":…}` when there are none; `400 "Bad Request"` for a segment that is not a domain name |
//! | anything else | `404 {"message":"Not Found"}` |
//!
//! The storage host serves the gzip'd snapshots as `binary/octet-stream`. Like S3, it
//! answers with XML errors: `403 AccessDenied` to a request that carries an `x-api-key` or
//! `Authorization` header, `403 SignatureDoesNotMatch` to a URL whose `X-Amz-Signature` is
//! missing or was edited, and `404 NoSuchKey` to a snapshot it does not hold. The URLs do
//! not expire.
//!
//! The lookup answers carry numbers as the snapshot records do, as JSON numbers; the real
//! lookup has been seen sending some of them as numeric strings.
//!
//! # Adding expectations
//!
//! The sandbox's own answers are mounted with the lowest priority, so a
//! [`Mock`] mounted on [`Sandbox::api_server`] or
//! [`Sandbox::storage_server`] with the default priority takes precedence, and
//! [`MockServer::received_requests`] lists what a service under test sent. Calling
//! [`MockServer::reset`] removes the sandbox's answers too.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use wiremock::matchers::any;
use wiremock::{Mock, MockServer};

use crate::Feed;

mod api;
mod catalog;
mod csv_flat;
mod storage;

/// A running pair of local servers that speak the RST Cloud API. They stop when it is
/// dropped.
#[derive(Debug)]
pub struct Sandbox {
    api: MockServer,
    storage: MockServer,
}

impl Sandbox {
    /// The API key the sandbox accepts.
    pub const API_KEY: &'static str = "rst-sandbox-key";

    /// Starts the API and storage servers on free local ports and mounts every endpoint.
    ///
    /// The records are parsed and the snapshots compressed once per process, on the
    /// first start.
    ///
    /// # Panics
    ///
    /// If no local port can be bound, as [`MockServer::start`] does.
    pub async fn start() -> Sandbox {
        let catalog = catalog::Catalog::get();
        let api = MockServer::start().await;
        let storage = MockServer::start().await;

        Mock::given(any())
            .respond_with(storage::StorageResponder { catalog })
            .with_priority(u8::MAX)
            .named("rstcloud sandbox storage")
            .mount(&storage)
            .await;
        Mock::given(any())
            .respond_with(api::ApiResponder {
                catalog,
                storage_url: storage.uri(),
                used: Arc::new(AtomicU64::new(0)),
            })
            .with_priority(u8::MAX)
            .named("rstcloud sandbox API")
            .mount(&api)
            .await;

        Sandbox { api, storage }
    }

    /// The API's base URL, with `/v1`: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("{}/v1", self.api.uri())
    }

    /// The root URL of the storage host that snapshot requests are redirected to.
    pub fn storage_url(&self) -> String {
        self.storage.uri()
    }

    /// The API key the sandbox accepts, [`Sandbox::API_KEY`].
    pub fn api_key(&self) -> &str {
        Self::API_KEY
    }

    /// The API host, to mount more mocks on or to inspect the requests it received.
    pub fn api_server(&self) -> &MockServer {
        &self.api
    }

    /// The storage host, to mount more mocks on or to inspect the requests it received.
    pub fn storage_server(&self) -> &MockServer {
        &self.storage
    }

    /// The embedded snapshot of a feed: 100 records as NDJSON, one JSON object a line.
    ///
    /// This is the exact text that a JSON snapshot download of the feed decompresses to.
    pub fn records(feed: Feed) -> &'static str {
        catalog::records(feed)
    }
}
