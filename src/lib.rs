//! A typed async client for the [RST Cloud] Threat Feed API v1.
//!
//! The crate covers every endpoint of the API: the daily snapshots of the four feeds
//! (IP addresses, domains, URLs, file hashes) streamed as typed records, real-time
//! indicator lookups, submissions and false-positive reports, WHOIS, and the key check.
//!
//! [RST Cloud]: https://www.rstcloud.com
//!
//! # Quick start
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use rstcloud::{Client, IpRecord, Lookup, SnapshotDate};
//!
//! # async fn run() -> rstcloud::Result<()> {
//! // Reads RST_API_KEY (and RST_API_URL, when set).
//! let client = Client::from_env()?;
//!
//! let check = client.auth_check().await?;
//! println!("key is valid: {}", check.is_valid());
//!
//! // Today's IP feed, record by record: never held in memory as a whole.
//! let mut records = client.records::<IpRecord>(SnapshotDate::Latest).await?;
//! while let Some(record) = records.next().await {
//!     let record = record?;
//!     if record.score_total() >= Some(50) {
//!         println!("block {}", record.ip.v4);
//!     }
//! }
//!
//! match client.lookup("45.83.122.166").await? {
//!     Lookup::Found(found) => println!("known, score {:?}", found.score_total()),
//!     Lookup::NotFound { value } => println!("{value} is not in the feeds"),
//! }
//! # Ok(()) }
//! ```
//!
//! # Snapshots
//!
//! [`Client::records`] fetches a feed's snapshot and yields its records as a
//! [`futures_core::Stream`] of `Result<T>`, where `T` is one of [`IpRecord`],
//! [`DomainRecord`], [`UrlRecord`] and [`HashRecord`]. The API redirects the download
//! to a storage host: the client follows that redirect itself and never sends the API
//! key there. The body is inflated as it arrives (every gzip member, recognised by its
//! magic bytes whatever the headers say) on a blocking thread, while the records are
//! parsed on the caller's task.
//!
//! A record that cannot be parsed is an error item naming its line and field, and the
//! stream goes on; a body that is cut short or corrupt ends with an error item, never
//! as if it were complete. CSV snapshots are read with [`Client::csv_rows`], and any
//! snapshot can be written to disk with [`Client::download_to_file`], whole or not at
//! all. [`Client::snapshot_info`] reads the newest snapshot's metadata without
//! downloading it.
//!
//! # Selection
//!
//! [`Selection`] holds the filters integrators apply to a snapshot every day: a minimum
//! score, a highest false-positive alarm, new or updated on the snapshot's day (`fseen`
//! or `lseen` on the day starting at `collect`), a tag, a threat. It tests one record
//! with [`Selection::matches`], or filters a record stream with
//! [`RecordStreamExt::select`], which passes every error item through.
//!
//! ```no_run
//! # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
//! use futures_util::StreamExt;
//! use rstcloud::{DomainRecord, RecordStreamExt, Selection, SnapshotDate};
//!
//! let phishing = Selection::new().tag("phishing").min_score(40).new_only();
//! let mut new_phish = client
//!     .records::<DomainRecord>(SnapshotDate::Latest)
//!     .await?
//!     .select(phishing);
//! while let Some(record) = new_phish.next().await {
//!     println!("{}", record?.domain);
//! }
//! # Ok(()) }
//! ```
//!
//! # Progress
//!
//! [`Download::on_progress`] reports bytes received, the total when announced and the
//! records parsed so far to a callback, whichever way the body is read; the
//! [`progress`] module says when it is called.
//!
//! ```no_run
//! # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
//! use rstcloud::{Feed, Format, SaveAs, SnapshotDate};
//!
//! client
//!     .download(Feed::Hash, SnapshotDate::Latest, Format::Json)
//!     .await?
//!     .on_progress(|p| eprintln!("{} / {:?} bytes", p.bytes, p.total_bytes))
//!     .save("hash.json.gz", SaveAs::Compressed)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! # A local mirror
//!
//! [`Mirror`] keeps a directory up to date with the newest snapshots of chosen feeds and
//! formats, for a cron job: it asks `HEAD` first and downloads only what is newer than
//! the local copy, writes each file whole or not at all, keeps a number of days, can
//! fetch a past day, refuses to run twice at once on one directory
//! ([`Error::MirrorLocked`]) and returns a [`MirrorReport`] of what it did, file by file.
//! The [`mirror`] module describes the layout.
//!
//! ```no_run
//! # async fn run() -> rstcloud::Result<()> {
//! use rstcloud::{Client, Mirror};
//!
//! let report = Mirror::new(Client::from_env()?, "/var/lib/rstcloud")
//!     .keep_days(14)
//!     .run()
//!     .await?;
//! println!("{} fetched, {} up to date", report.fetched().count(), report.skipped().count());
//! # Ok(()) }
//! ```
//!
//! # Lookups, submissions, WHOIS
//!
//! [`Client::lookup`] returns [`Lookup::Found`] or [`Lookup::NotFound`]: the API answers
//! an unknown indicator with `200` and an error field, which is an outcome, not an
//! error. [`Client::lookup_many`] looks up many at once over shared connections.
//! Values are checked before any request ([`Indicator`]), so a typo spends no quota.
//! [`Client::submit`] and [`Client::report_false_positive`] send one indicator each and
//! are never retried. [`Client::whois`] and [`Client::whois_raw`] read WHOIS records.
//!
//! # Logging
//!
//! Every API call is a `tracing` span named `rstcloud.request` at debug level, with the
//! endpoint, method, status, attempt, bytes and elapsed milliseconds; redirects, storage
//! answers and retries are debug events inside it. Nothing logged carries the API key, a
//! body, or the query string of a presigned storage URL. Install any `tracing`
//! subscriber to see them, such as `tracing-subscriber` filtered by
//! `RUST_LOG=rstcloud=debug`.
//!
//! # Errors
//!
//! Every call returns this crate's [`enum@Error`], split by where the call failed; see its
//! documentation. [`Error::is_auth`], [`Error::is_not_found`], [`Error::is_retryable`]
//! and [`Error::status`] answer the usual questions. The API key never appears in any
//! error, `Debug` output or log line.
//!
//! # Retries and timeouts
//!
//! Idempotent calls are retried on throttling, gateway errors, failed connections and
//! timeouts, with capped exponential backoff and `Retry-After` honoured; see
//! [`RetryPolicy`]. Short calls have a total timeout; snapshot bodies have a per-read
//! timeout instead, so a long but moving download never times out.
//!
//! # The sandbox
//!
//! With the `sandbox` feature, [`sandbox::Sandbox::start`] runs a local server that
//! speaks this API (every endpoint, the redirect to a storage host, its S3-style errors)
//! and serves 100 real published records of each feed. Point a client at it to test
//! code built on this crate without a key or a network:
//!
//! ```
//! # #[cfg(feature = "sandbox")]
//! # #[tokio::main]
//! # async fn main() -> rstcloud::Result<()> {
//! use futures_util::StreamExt;
//! use rstcloud::sandbox::Sandbox;
//! use rstcloud::{Client, IpRecord, SnapshotDate};
//!
//! let sandbox = Sandbox::start().await;
//! let client = Client::builder()
//!     .api_key(sandbox.api_key())
//!     .base_url(sandbox.base_url())
//!     .build()?;
//! let records = client.records::<IpRecord>(SnapshotDate::Latest).await?;
//! assert_eq!(records.count().await, 100);
//! # Ok(()) }
//! # #[cfg(not(feature = "sandbox"))]
//! # fn main() {}
//! ```
//!
//! # Feature flags
//!
//! - `rustls` (default): TLS through rustls.
//! - `native-tls`: TLS through the platform's library.
//! - `sandbox`: [`sandbox::Sandbox`], a local server that speaks this API and serves
//!   real published feed records, for testing code built on this crate.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod download;
pub mod error;
pub mod feed;
mod indicator;
pub mod mirror;
pub mod models;
pub mod progress;
mod retry;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod select;
pub mod snapshot;

pub use client::{Client, ClientBuilder, DEFAULT_BASE_URL};
pub use download::{Download, SaveAs, SavedSnapshot, SnapshotInfo};
pub use error::{ApiErrorBody, Error, Result, SnapshotError, TimeoutKind};
pub use feed::{Feed, Format, SnapshotDate};
pub use indicator::{Indicator, IndicatorKind};
pub use mirror::{Mirror, MirrorEntry, MirrorOutcome, MirrorReport};
pub use models::{
    AuthCheck, CommonFields, DomainRecord, FeedRecord, FpAlarm, HashRecord, HaveData,
    IndicatorRecord, IndicatorType, IpRecord, Lookup, Ports, Submission, UrlRecord, Whois,
};
pub use retry::RetryPolicy;
pub use select::{RecordStreamExt, Selected, Selection};
pub use snapshot::{CsvRow, CsvRows, Progress, RecordReader, Records};

/// The README's code samples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
