//! The client: configuration, the one request path every endpoint goes through, and one
//! method per endpoint.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tracing::Instrument;
use url::Url;

use crate::download::{Download, SaveAs, SavedSnapshot, SnapshotInfo, redact};
use crate::error::{ApiErrorBody, Error, Result, TimeoutKind, snippet};
use crate::feed::{Feed, Format, SnapshotDate};
use crate::indicator::Indicator;
use crate::models::{AuthCheck, FeedRecord, Lookup, LookupReply, Submission, Whois};
use crate::retry::{RetryPolicy, is_retryable_status};
use crate::snapshot::{CsvRows, DEFAULT_MAX_LINE_LENGTH, Records};

/// The API's public address.
pub const DEFAULT_BASE_URL: &str = "https://api.rstcloud.net/v1";

/// The header the API key travels in.
const API_KEY_HEADER: &str = "x-api-key";

/// The largest error body read from the API or the storage host.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The largest answer read from a short API call.
const MAX_ANSWER_BODY: usize = 16 * 1024 * 1024;

/// A client of the RST Cloud Threat Feed API.
///
/// Cheap to clone: clones share one connection pool. Build one with [`Client::builder`]
/// or [`Client::from_env`].
///
/// The API key is sent in the `x-api-key` header to the API host only. Snapshot
/// downloads are redirected to a storage host; the client follows that redirect itself,
/// with a separate connection pool that never carries the key.
///
/// ```no_run
/// # async fn run() -> rstcloud::Result<()> {
/// use rstcloud::Client;
///
/// let client = Client::builder().api_key("my-key").build()?;
/// let check = client.auth_check().await?;
/// println!("key valid: {}", check.is_valid());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

/// What clones of a client share.
pub(crate) struct Inner {
    pub(crate) api: reqwest::Client,
    pub(crate) storage: reqwest::Client,
    pub(crate) base: Url,
    pub(crate) key_header: HeaderValue,
    pub(crate) retry: RetryPolicy,
    pub(crate) read_timeout: Duration,
    pub(crate) max_line: usize,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base.as_str())
            .field("api_key", &"[redacted]")
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`]. Every setting but the API key has a default.
#[derive(Clone)]
pub struct ClientBuilder {
    key: Option<SecretString>,
    base_url: String,
    connect_timeout: Duration,
    request_timeout: Duration,
    read_timeout: Duration,
    user_agent: String,
    retry: RetryPolicy,
    max_line: usize,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.key.as_ref().map(|_| "[redacted]"))
            .field("base_url", &self.base_url)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("user_agent", &self.user_agent)
            .field("retry", &self.retry)
            .field("max_line_length", &self.max_line)
            .finish()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            user_agent: concat!("rstcloud-rust/", env!("CARGO_PKG_VERSION")).to_owned(),
            retry: RetryPolicy::default(),
            max_line: DEFAULT_MAX_LINE_LENGTH,
        }
    }
}

impl ClientBuilder {
    /// The API key. Required.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(SecretString::from(key.into()));
        self
    }

    /// The API's base URL, with or without a trailing slash. Defaults to
    /// [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// How long setting up a connection may take. Defaults to 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a short API call (everything but a snapshot body) may take in all.
    /// Defaults to 30 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How long a snapshot download may wait for its next bytes. A slow body that keeps
    /// moving never times out; a stalled one does. Defaults to 120 s.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// The `User-Agent` header. Defaults to `rstcloud-rust/<version>`.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// How idempotent calls are retried. See [`RetryPolicy`].
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// The longest line a snapshot may have, in bytes. Defaults to
    /// [`DEFAULT_MAX_LINE_LENGTH`](crate::snapshot::DEFAULT_MAX_LINE_LENGTH).
    pub fn max_line_length(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when no API key was given, the key is not a valid header
    /// value, or the base URL is not an `http` or `https` URL without query or fragment;
    /// [`Error::Transport`] when the TLS backend cannot be set up.
    pub fn build(self) -> Result<Client> {
        let key = self
            .key
            .ok_or_else(|| Error::invalid_input("API key", "no API key was given"))?;
        let trimmed = key.expose_secret().trim();
        if trimmed.is_empty() {
            return Err(Error::invalid_input("API key", "the API key is empty"));
        }
        let mut key_header = HeaderValue::from_str(trimmed).map_err(|_| {
            Error::invalid_input(
                "API key",
                "the API key has characters a header cannot carry",
            )
        })?;
        key_header.set_sensitive(true);

        let base = parse_base_url(&self.base_url)?;
        let user_agent = HeaderValue::from_str(&self.user_agent)
            .map_err(|_| Error::invalid_input("user agent", "not a valid header value"))?;

        let builder = |timeout: Option<Duration>| {
            let mut builder = reqwest::Client::builder()
                .connect_timeout(self.connect_timeout)
                .user_agent(user_agent.clone())
                // Snapshots are gzip files, not gzip transfer encodings: the crate
                // inflates them itself, so the HTTP layer must never do it as well.
                .no_gzip()
                .no_brotli()
                .no_deflate()
                .no_zstd();
            if let Some(timeout) = timeout {
                builder = builder.timeout(timeout);
            }
            builder
        };
        // Redirects from the API are followed by hand, so the key never leaves with them.
        let api = builder(Some(self.request_timeout))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| Error::Transport {
                endpoint: "client setup".into(),
                attempts: 0,
                source: source.without_url(),
            })?;
        let storage = builder(None)
            .read_timeout(self.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|source| Error::Transport {
                endpoint: "client setup".into(),
                attempts: 0,
                source: source.without_url(),
            })?;

        Ok(Client {
            inner: Arc::new(Inner {
                api,
                storage,
                base,
                key_header,
                retry: self.retry,
                read_timeout: self.read_timeout,
                max_line: self.max_line,
            }),
        })
    }
}

fn parse_base_url(raw: &str) -> Result<Url> {
    let invalid = |reason: &str| Error::invalid_input("base URL", format!("{raw:?}: {reason}"));
    let mut url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a base URL has no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("credentials belong in the API key, not the URL"));
    }
    // Normalise `/v1/` and `/v1` alike, so that joining segments never yields `//`.
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

impl Client {
    /// A builder with every default set but the API key.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// A client with the key from `RST_API_KEY` and, when set, the base URL from
    /// `RST_API_URL`: the variables the provider's own tools read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `RST_API_KEY` is unset or empty, or a setting is
    /// invalid (see [`ClientBuilder::build`]).
    pub fn from_env() -> Result<Client> {
        Client::builder_from_env()?.build()
    }

    /// A builder preset from `RST_API_KEY` and `RST_API_URL`, for changing other
    /// settings before building.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `RST_API_KEY` is unset or empty.
    pub fn builder_from_env() -> Result<ClientBuilder> {
        let key = std::env::var("RST_API_KEY")
            .ok()
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Error::invalid_input("API key", "the environment variable RST_API_KEY is not set")
            })?;
        let mut builder = Client::builder().api_key(key);
        if let Some(url) = std::env::var("RST_API_URL")
            .ok()
            .filter(|u| !u.trim().is_empty())
        {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }

    /// The base URL requests go to, normalised (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.inner.base.as_str()
    }

    fn endpoint_url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base.clone();
        url.path_segments_mut()
            .expect("an http(s) URL has path segments")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// Sends one API request, retrying idempotent ones, and returns an answer with a
    /// success or redirect status; error statuses become [`Error::Api`].
    async fn send(
        &self,
        endpoint: &str,
        idempotent: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<(Response, u32)> {
        let policy = if idempotent {
            self.inner.retry
        } else {
            RetryPolicy::none()
        };
        let mut attempt = 0;
        let first_sent = Instant::now();
        loop {
            attempt += 1;
            tracing::Span::current().record("attempt", attempt);
            let started = Instant::now();
            let request =
                build(&self.inner.api).header(API_KEY_HEADER, self.inner.key_header.clone());
            let outcome = request.send().await;
            let (error, wait) = match outcome {
                Ok(response) => {
                    let status = response.status();
                    // The span times the whole call, retries included; the event one attempt.
                    tracing::Span::current()
                        .record("status", status.as_u16())
                        .record("elapsed_ms", first_sent.elapsed().as_millis() as u64);
                    tracing::debug!(
                        endpoint,
                        attempt,
                        status = status.as_u16(),
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "answer"
                    );
                    if status.is_success() || status.is_redirection() {
                        return Ok((response, attempt));
                    }
                    let retry_after = policy.retry_after(response.headers());
                    let retryable = is_retryable_status(status);
                    let body = read_capped(response, MAX_ERROR_BODY)
                        .await
                        .unwrap_or_default();
                    let error = Error::Api {
                        endpoint: endpoint.to_owned(),
                        status,
                        body: Box::new(self.api_error_body(&body)),
                        attempts: attempt,
                    };
                    if !retryable {
                        return Err(error);
                    }
                    (error, retry_after)
                }
                Err(e) => (self.transport_error(endpoint, e, attempt), None),
            };
            if attempt >= policy.attempts() {
                return Err(error);
            }
            let wait = wait.unwrap_or_else(|| policy.backoff(attempt));
            tracing::debug!(endpoint, attempt, wait_ms = wait.as_millis() as u64, error = %error, "retrying");
            tokio::time::sleep(wait).await;
        }
    }

    /// Parses an API error body with the key taken out, should the server echo it.
    fn api_error_body(&self, body: &[u8]) -> ApiErrorBody {
        let key = self.inner.key_header.to_str().unwrap_or_default();
        ApiErrorBody::parse(&scrub(body, &[key]))
    }

    fn transport_error(&self, endpoint: &str, e: reqwest::Error, attempts: u32) -> Error {
        if e.is_timeout() {
            let kind = if e.is_connect() {
                TimeoutKind::Connect
            } else {
                TimeoutKind::Request
            };
            Error::Timeout {
                endpoint: endpoint.to_owned(),
                kind,
                attempts,
            }
        } else {
            Error::Transport {
                endpoint: endpoint.to_owned(),
                attempts,
                source: e.without_url(),
            }
        }
    }

    /// Sends a request and decodes its JSON answer.
    async fn json<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        idempotent: bool,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<T> {
        let span = request_span(endpoint);
        async {
            let (response, attempts) = self.send(endpoint, idempotent, build).await?;
            let status = response.status();
            let body = read_capped(response, MAX_ANSWER_BODY)
                .await
                .map_err(|e| self.transport_error(endpoint, e, attempts))?;
            tracing::Span::current().record("bytes", body.len() as u64);
            if status.is_redirection() {
                return Err(Error::Api {
                    endpoint: endpoint.to_owned(),
                    status,
                    body: Box::new(self.api_error_body(&body)),
                    attempts,
                });
            }
            decode(endpoint, &body)
        }
        .instrument(span)
        .await
    }

    /// Checks the API key and reads its quota: `GET /auth/check`.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] with [`Error::is_auth`] true when the key is refused; transport
    /// and decode errors as for every call.
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// let check = client.auth_check().await?;
    /// if let Some(quota) = &check.quota {
    ///     println!("{:?} of {:?} calls left today", quota.remaining, quota.limit);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn auth_check(&self) -> Result<AuthCheck> {
        let url = self.endpoint_url(&["auth", "check"]);
        self.json("GET /auth/check", true, |http| {
            http.get(url.clone())
                .header(header::ACCEPT, "application/json")
        })
        .await
    }

    /// Reads the metadata of a feed's newest snapshot: `HEAD /{feed}`.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] for an error status (a `HEAD` answer has no body, so only the
    /// status is known); transport errors as for every call.
    pub async fn snapshot_info(&self, feed: Feed, format: Format) -> Result<SnapshotInfo> {
        let endpoint = format!("HEAD /{feed}");
        let mut url = self.endpoint_url(&[feed.as_str()]);
        url.query_pairs_mut().append_pair("type", format.as_str());
        let span = request_span(&endpoint);
        async {
            let (mut response, attempts) = self
                .send(&endpoint, true, |http| {
                    http.head(url.clone()).header(header::ACCEPT, "*/*")
                })
                .await?;
            if response.status().is_redirection() {
                // Metadata behind a redirect is read from the storage host, without the key.
                let location = redirect_target(&response, &endpoint, attempts)?;
                tracing::debug!(storage = %redact(&location), "following the metadata redirect");
                response = self
                    .storage_request(Method::HEAD, location, &endpoint)
                    .await?;
            }
            let info = snapshot_info(feed, format, response.headers());
            if let Some(bytes) = info.content_length {
                tracing::Span::current().record("bytes", bytes);
            }
            Ok(info)
        }
        .instrument(span)
        .await
    }

    /// Starts downloading a snapshot: `GET /{feed}?date=..&type=..`, then the storage
    /// URL the API redirects to, fetched without the API key.
    ///
    /// The returned [`Download`] has the storage host's answer; its body has not been
    /// read yet.
    ///
    /// # Errors
    ///
    /// [`Error::Api`] when the API refuses the request, [`Error::Storage`] when the
    /// storage host does (an expired link, a missing day), transport errors and
    /// timeouts.
    pub async fn download(
        &self,
        feed: Feed,
        date: SnapshotDate,
        format: Format,
    ) -> Result<Download> {
        let endpoint = format!("GET /{feed}");
        let mut url = self.endpoint_url(&[feed.as_str()]);
        url.query_pairs_mut()
            .append_pair("date", &date.to_query_value())
            .append_pair("type", format.as_str());
        let span = tracing::debug_span!(
            "rstcloud.request",
            endpoint = %endpoint,
            method = "GET",
            date = %date,
            format = %format,
            status = tracing::field::Empty,
            attempt = tracing::field::Empty,
            bytes = tracing::field::Empty,
            elapsed_ms = tracing::field::Empty,
        );
        async {
            let (response, attempts) = self
                .send(&endpoint, true, |http| {
                    http.get(url.clone()).header(header::ACCEPT, "*/*")
                })
                .await?;
            let response = if response.status().is_redirection() {
                let location = redirect_target(&response, &endpoint, attempts)?;
                tracing::debug!(storage = %redact(&location), "following the snapshot redirect");
                self.storage_request(Method::GET, location, &endpoint)
                    .await?
            } else {
                response
            };
            // The body is read after this span closes: the size is the announced one.
            if let Some(bytes) = response.content_length() {
                tracing::Span::current().record("bytes", bytes);
            }
            Ok(Download::new(self, feed, format, response, attempts))
        }
        .instrument(span)
        .await
    }

    /// Streams a JSON snapshot as typed records; the feed follows from the record type.
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// use futures_util::StreamExt;
    /// use rstcloud::{IpRecord, SnapshotDate};
    ///
    /// let mut records = client.records::<IpRecord>(SnapshotDate::Latest).await?;
    /// while let Some(record) = records.next().await {
    ///     match record {
    ///         Ok(ip) => println!("{} {:?}", ip.ip.v4, ip.score_total()),
    ///         Err(e) => eprintln!("skipped: {e}"),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Client::download`]; errors in the body come as stream items.
    pub async fn records<T: FeedRecord>(&self, date: SnapshotDate) -> Result<Records<T>> {
        self.download(T::FEED, date, Format::Json).await?.records()
    }

    /// Streams a CSV snapshot as rows keyed by its header.
    ///
    /// # Errors
    ///
    /// As for [`Client::download`]; errors in the body come as stream items.
    pub async fn csv_rows(&self, feed: Feed, date: SnapshotDate) -> Result<CsvRows> {
        self.download(feed, date, Format::Csv).await?.csv_rows()
    }

    /// Downloads a snapshot into a file, compressed as served or decompressed, written
    /// whole or not at all (see [`Download::save`]).
    ///
    /// # Errors
    ///
    /// As for [`Client::download`] and [`Download::save`].
    pub async fn download_to_file(
        &self,
        feed: Feed,
        date: SnapshotDate,
        format: Format,
        path: impl AsRef<Path>,
        save_as: SaveAs,
    ) -> Result<SavedSnapshot> {
        self.download(feed, date, format)
            .await?
            .save(path, save_as)
            .await
    }

    /// Fetches a storage URL with the storage client, which never carries the API key.
    async fn storage_request(&self, method: Method, url: Url, endpoint: &str) -> Result<Response> {
        let policy = self.inner.retry;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = self
                .inner
                .storage
                .request(method.clone(), url.clone())
                .send()
                .await;
            if let Ok(response) = &outcome {
                tracing::debug!(
                    endpoint,
                    attempt,
                    status = response.status().as_u16(),
                    storage = %redact(response.url()),
                    "storage answer"
                );
            }
            let (error, wait) = match outcome {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = policy.retry_after(response.headers());
                    let body = read_capped(response, MAX_ERROR_BODY)
                        .await
                        .unwrap_or_default();
                    let error = storage_error(status, &body, &url);
                    if !error.is_retryable() {
                        return Err(error);
                    }
                    (error, retry_after)
                }
                Err(e) => {
                    let error = if e.is_timeout() {
                        Error::Timeout {
                            endpoint: format!("{endpoint} (storage)"),
                            kind: if e.is_connect() {
                                TimeoutKind::Connect
                            } else {
                                TimeoutKind::Read(self.inner.read_timeout)
                            },
                            attempts: attempt,
                        }
                    } else {
                        Error::Transport {
                            endpoint: format!("{endpoint} (storage)"),
                            attempts: attempt,
                            source: e.without_url(),
                        }
                    };
                    (error, None)
                }
            };
            if attempt >= policy.attempts() {
                return Err(error);
            }
            let wait = wait.unwrap_or_else(|| policy.backoff(attempt));
            tracing::debug!(
                endpoint,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "retrying storage"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// Looks up one indicator: `GET /ioc?value=..`.
    ///
    /// The value is checked first (see [`Indicator`]); a malformed one costs no request.
    /// An unknown indicator is not an error: the API answers it with `200` and
    /// `"error": "Not Found"`, which this returns as [`Lookup::NotFound`].
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// use rstcloud::Lookup;
    ///
    /// match client.lookup("45.83.122.166").await? {
    ///     Lookup::Found(record) => println!("score {:?}", record.score_total()),
    ///     Lookup::NotFound { value } => println!("{value} is not known"),
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed value; [`Error::Api`] when the API answers
    /// with an error, including a `200` whose `error` is not "Not Found".
    pub async fn lookup(&self, value: impl AsRef<str>) -> Result<Lookup> {
        let indicator: Indicator = value.as_ref().parse()?;
        self.lookup_indicator(&indicator).await
    }

    /// Looks up an indicator that was already checked.
    ///
    /// # Errors
    ///
    /// As for [`Client::lookup`].
    pub async fn lookup_indicator(&self, indicator: &Indicator) -> Result<Lookup> {
        const ENDPOINT: &str = "GET /ioc";
        let mut url = self.endpoint_url(&["ioc"]);
        url.query_pairs_mut()
            .append_pair("value", indicator.as_str());
        let span = request_span(ENDPOINT);
        async {
            let outcome = self
                .send(ENDPOINT, true, |http| {
                    http.get(url.clone())
                        .header(header::ACCEPT, "application/json")
                })
                .await;
            let (status, body, attempts) = match outcome {
                Ok((response, attempts)) => {
                    let status = response.status();
                    let body = read_capped(response, MAX_ANSWER_BODY)
                        .await
                        .map_err(|e| self.transport_error(ENDPOINT, e, attempts))?;
                    tracing::Span::current().record("bytes", body.len() as u64);
                    (status, body, attempts)
                }
                // A 404 carrying the not-found body means the same as the usual 200.
                Err(Error::Api {
                    status: StatusCode::NOT_FOUND,
                    body,
                    ..
                }) if body
                    .error
                    .as_deref()
                    .is_some_and(|e| e.eq_ignore_ascii_case("not found")) =>
                {
                    return Ok(Lookup::NotFound {
                        value: body
                            .ioc_value
                            .unwrap_or_else(|| indicator.as_str().to_owned()),
                    });
                }
                Err(e) => return Err(e),
            };
            if status.is_redirection() {
                return Err(Error::Api {
                    endpoint: ENDPOINT.to_owned(),
                    status,
                    body: Box::new(ApiErrorBody::parse(&body)),
                    attempts,
                });
            }
            match LookupReply::from_slice(&body).map_err(|e| decode_error(ENDPOINT, &body, e))? {
                LookupReply::Found(record) => Ok(Lookup::Found(record)),
                LookupReply::NotFound { value } => Ok(Lookup::NotFound { value }),
                LookupReply::Error { .. } => Err(Error::Api {
                    endpoint: ENDPOINT.to_owned(),
                    status,
                    body: Box::new(self.api_error_body(&body)),
                    attempts,
                }),
            }
        }
        .instrument(span)
        .await
    }

    /// Looks up many indicators at once, at most `concurrency` at a time over the
    /// client's shared connections, and returns one outcome per input, in input order.
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// let values = ["45.83.122.166", "app-gps.cloud", "192.0.2.1"];
    /// for (value, outcome) in values.iter().zip(client.lookup_many(values, 16).await) {
    ///     println!("{value}: {:?}", outcome.map(|l| l.is_found()));
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn lookup_many<I>(&self, values: I, concurrency: usize) -> Vec<Result<Lookup>>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let values: Vec<String> = values.into_iter().map(|v| v.as_ref().to_owned()).collect();
        futures_util::stream::iter(values)
            .map(|value| async move { self.lookup(value).await })
            .buffered(concurrency.max(1))
            .collect()
            .await
    }

    /// Submits an indicator for inclusion in the feeds: `POST /ioc`.
    ///
    /// Sent once and never retried, so a submission reaches the server at most once
    /// per call.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed value; [`Error::Api`] when the API refuses
    /// it.
    pub async fn submit(&self, value: impl AsRef<str>, description: &str) -> Result<Submission> {
        self.send_indicator(Method::POST, "POST /ioc", value.as_ref(), description)
            .await
    }

    /// Reports an indicator as a false positive, asking for its removal: `PUT /ioc`.
    ///
    /// Like [`Client::submit`], sent once and never retried.
    ///
    /// # Errors
    ///
    /// As for [`Client::submit`].
    pub async fn report_false_positive(
        &self,
        value: impl AsRef<str>,
        description: &str,
    ) -> Result<Submission> {
        self.send_indicator(Method::PUT, "PUT /ioc", value.as_ref(), description)
            .await
    }

    async fn send_indicator(
        &self,
        method: Method,
        endpoint: &str,
        value: &str,
        description: &str,
    ) -> Result<Submission> {
        let indicator: Indicator = value.parse()?;
        let body = serde_json::to_vec(&serde_json::json!({
            "ioc_value": indicator.as_str(),
            "description": description,
        }))
        .expect("a map of strings always serialises");
        let url = self.endpoint_url(&["ioc"]);
        self.json(endpoint, false, |http| {
            http.request(method.clone(), url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/json")
                .body(body.clone())
        })
        .await
    }

    /// Reads the WHOIS record of a domain: `GET /whois/{domain}`.
    ///
    /// The domain is checked first: anything but a domain name (a path, an IP address)
    /// is refused before a request is made.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a value that is not a domain; [`Error::Api`] when the
    /// API refuses it.
    pub async fn whois(&self, domain: &str) -> Result<Whois> {
        let domain = Indicator::domain(domain)?;
        let url = self.endpoint_url(&["whois", domain.as_str()]);
        self.json("GET /whois", true, |http| {
            http.get(url.clone())
                .header(header::ACCEPT, "application/json")
        })
        .await
    }

    /// Reads the WHOIS record of a domain with the raw WHOIS or RDAP text:
    /// `GET /whois/raw/{domain}`.
    ///
    /// # Errors
    ///
    /// As for [`Client::whois`].
    pub async fn whois_raw(&self, domain: &str) -> Result<Whois> {
        let domain = Indicator::domain(domain)?;
        let url = self.endpoint_url(&["whois", "raw", domain.as_str()]);
        self.json("GET /whois/raw", true, |http| {
            http.get(url.clone())
                .header(header::ACCEPT, "application/json")
        })
        .await
    }
}

/// The span of one API call; `send` and the readers fill in the empty fields.
fn request_span(endpoint: &str) -> tracing::Span {
    let method = endpoint
        .split_once(' ')
        .map_or(endpoint, |(method, _)| method);
    tracing::debug_span!(
        "rstcloud.request",
        endpoint,
        method,
        status = tracing::field::Empty,
        attempt = tracing::field::Empty,
        bytes = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    )
}

fn redirect_target(response: &Response, endpoint: &str, attempts: u32) -> Result<Url> {
    let location = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Error::Api {
            endpoint: endpoint.to_owned(),
            status: response.status(),
            body: Box::new(ApiErrorBody {
                message: Some("a redirect without a Location header".into()),
                ..ApiErrorBody::default()
            }),
            attempts,
        })?;
    let target = response.url().join(location).map_err(|_| Error::Api {
        endpoint: endpoint.to_owned(),
        status: response.status(),
        body: Box::new(ApiErrorBody {
            message: Some("a redirect to an unreadable Location".into()),
            ..ApiErrorBody::default()
        }),
        attempts,
    })?;
    if !matches!(target.scheme(), "http" | "https") {
        return Err(Error::Api {
            endpoint: endpoint.to_owned(),
            status: response.status(),
            body: Box::new(ApiErrorBody {
                message: Some(format!("a redirect to a {} URL", target.scheme())),
                ..ApiErrorBody::default()
            }),
            attempts,
        });
    }
    Ok(target)
}

fn snapshot_info(feed: Feed, format: Format, headers: &HeaderMap) -> SnapshotInfo {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    };
    SnapshotInfo {
        feed,
        format,
        last_modified: text("last-modified")
            .and_then(|v| httpdate::parse_http_date(&v).ok())
            .map(OffsetDateTime::from),
        content_length: text("content-length").and_then(|v| v.parse().ok()),
        timestamp: text("timestamp"),
        content_type: text("content-type"),
    }
}

/// Reads a storage error: S3-style XML with `<Code>` and `<Message>`, or anything else.
///
/// S3 repeats the signature it was given in some errors, so every value of the presigned
/// URL's query string is taken out of the body first.
fn storage_error(status: StatusCode, body: &[u8], url: &Url) -> Error {
    let values: Vec<String> = url.query_pairs().map(|(_, v)| v.into_owned()).collect();
    let raw: Vec<&str> = url
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('=').map(|(_, v)| v))
        .collect();
    let secrets: Vec<&str> = values
        .iter()
        .map(String::as_str)
        .chain(raw)
        .filter(|v| v.len() >= 8)
        .collect();
    let body = scrub(body, &secrets);
    let text = String::from_utf8_lossy(&body);
    let tag = |name: &str| {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = start + text[start..].find(&close)?;
        Some(text[start..end].trim().to_owned())
    };
    Error::Storage {
        status,
        code: tag("Code"),
        message: tag("Message").map(|m| redact_signatures(&m)),
        snippet: redact_signatures(&snippet(&body)),
    }
}

/// Blanks out what a storage error body may echo of the presigned URL's credentials:
/// `X-Amz-Signature=...` values and the elements S3 uses to show the signature it got.
fn redact_signatures(text: &str) -> String {
    let mut out = text.to_owned();
    for element in [
        "SignatureProvided",
        "StringToSign",
        "StringToSignBytes",
        "CanonicalRequest",
        "CanonicalRequestBytes",
    ] {
        let open = format!("<{element}>");
        let close = format!("</{element}>");
        let mut from = 0;
        while let Some(start) = out[from..].find(&open).map(|i| from + i + open.len()) {
            let end = out[start..].find(&close).map_or(out.len(), |i| start + i);
            out.replace_range(start..end, "[redacted]");
            from = start + "[redacted]".len();
        }
    }
    let mut from = 0;
    while let Some(start) = out[from..]
        .find("X-Amz-Signature=")
        .map(|i| from + i + "X-Amz-Signature=".len())
    {
        let end = out[start..]
            .find(|c: char| matches!(c, '&' | '<' | '"' | '\'' | ' ') || c.is_whitespace())
            .map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "[redacted]");
        from = start + "[redacted]".len();
    }
    out
}

/// Replaces every occurrence of each secret in `body` with `[redacted]`. Secrets shorter
/// than four bytes are left alone: they would match ordinary text.
fn scrub(body: &[u8], secrets: &[&str]) -> Vec<u8> {
    let mut out = body.to_vec();
    for secret in secrets
        .iter()
        .map(|s| s.as_bytes())
        .filter(|s| s.len() >= 4)
    {
        if !out.windows(secret.len()).any(|w| w == secret) {
            continue;
        }
        let mut scrubbed = Vec::with_capacity(out.len());
        let mut rest = &out[..];
        while !rest.is_empty() {
            if rest.starts_with(secret) {
                scrubbed.extend_from_slice(b"[redacted]");
                rest = &rest[secret.len()..];
            } else {
                scrubbed.push(rest[0]);
                rest = &rest[1..];
            }
        }
        out = scrubbed;
    }
    out
}

async fn read_capped(mut response: Response, cap: usize) -> reqwest::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= cap {
            break;
        }
    }
    Ok(body)
}

fn decode<T: DeserializeOwned>(endpoint: &str, body: &[u8]) -> Result<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        decode_error_with_path(endpoint, body, e.into_inner(), path)
    })
}

fn decode_error(endpoint: &str, body: &[u8], error: serde_json::Error) -> Error {
    decode_error_with_path(endpoint, body, error, String::new())
}

fn decode_error_with_path(
    endpoint: &str,
    body: &[u8],
    error: serde_json::Error,
    path: String,
) -> Error {
    Error::Decode {
        what: format!(
            "the {endpoint} answer ({})",
            snippet(&body[..body.len().min(80)])
        ),
        path: (!path.is_empty() && path != ".").then_some(path),
        message: error.to_string(),
        line: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_with_and_without_slash_reach_the_same_endpoints() {
        for base in [
            "https://api.example/v1",
            "https://api.example/v1/",
            "https://api.example/v1//",
        ] {
            let client = Client::builder()
                .api_key("k")
                .base_url(base)
                .build()
                .unwrap();
            assert_eq!(
                client.endpoint_url(&["ip"]).as_str(),
                "https://api.example/v1/ip"
            );
            assert_eq!(
                client.endpoint_url(&["whois", "raw", "a.example"]).as_str(),
                "https://api.example/v1/whois/raw/a.example"
            );
        }
    }

    #[test]
    fn the_key_never_shows_in_debug() {
        let builder = Client::builder().api_key("SECRET-KEY-123");
        assert!(!format!("{builder:?}").contains("SECRET-KEY-123"));
        let client = builder.build().unwrap();
        assert!(!format!("{client:?}").contains("SECRET-KEY-123"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(matches!(
            Client::builder().build(),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            Client::builder().api_key("  ").build(),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            Client::builder()
                .api_key("k")
                .base_url("ftp://x/v1")
                .build(),
            Err(Error::InvalidInput { .. })
        ));
        assert!(matches!(
            Client::builder()
                .api_key("k\n")
                .base_url("https://x/v1?a=b")
                .build(),
            Err(Error::InvalidInput { .. })
        ));
    }

    #[test]
    fn storage_errors_keep_the_xml_code() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        let url = Url::parse("https://s3.example/b/ip.json.gz?X-Amz-Signature=abc").unwrap();
        match storage_error(StatusCode::FORBIDDEN, body, &url) {
            Error::Storage { code, message, .. } => {
                assert_eq!(code.as_deref(), Some("AccessDenied"));
                assert_eq!(message.as_deref(), Some("Request has expired"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn storage_errors_never_echo_the_signature() {
        let body = b"<Error><Code>SignatureDoesNotMatch</Code><Message>bad sig for X-Amz-Signature=abcSIG&x=1</Message><SignatureProvided>abcSIG</SignatureProvided><StringToSign>AWS4 abcSIG</StringToSign></Error>";
        let url = Url::parse("https://s3.example/b/ip.json.gz?X-Amz-Signature=other").unwrap();
        let error = storage_error(StatusCode::FORBIDDEN, body, &url);
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("abcSIG"), "{shown}");
        assert!(shown.contains("SignatureDoesNotMatch"));
        assert!(shown.contains("X-Amz-Signature=[redacted]&x=1"), "{shown}");
    }
}
