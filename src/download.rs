//! Snapshot downloads: the metadata of the newest snapshot, a download under way, and
//! writing one to disk whole or not at all, resuming a broken body where the storage
//! host allows it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::{StreamExt, TryStreamExt};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Response, StatusCode};
use time::OffsetDateTime;
use url::Url;

use crate::client::Client;
use crate::error::{Error, Result, TimeoutKind};
use crate::feed::{Feed, Format};
use crate::models::FeedRecord;
use crate::progress::{ProgressHook, counted};
use crate::snapshot::{
    BodyStream, ChannelReader, Counters, CsvRows, Progress, Records, classify_io, open_gzip,
};

/// The metadata of a feed's newest snapshot, from `HEAD /{feed}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The feed asked about.
    pub feed: Feed,
    /// The format asked about.
    pub format: Format,
    /// When the snapshot was last written (`Last-Modified`).
    pub last_modified: Option<OffsetDateTime>,
    /// The size of the gzip'd snapshot in bytes (`Content-Length`).
    pub content_length: Option<u64>,
    /// The `Timestamp` header, as sent.
    pub timestamp: Option<String>,
    /// The `Content-Type` header.
    pub content_type: Option<String>,
}

impl SnapshotInfo {
    /// The `Timestamp` header read as a time: unix seconds, RFC 3339 or an HTTP date.
    pub fn timestamp(&self) -> Option<OffsetDateTime> {
        let raw = self.timestamp.as_deref()?.trim();
        if let Ok(seconds) = raw.parse::<i64>() {
            return OffsetDateTime::from_unix_timestamp(seconds).ok();
        }
        if let Ok(at) = OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
            return Some(at);
        }
        httpdate::parse_http_date(raw)
            .ok()
            .map(OffsetDateTime::from)
    }
}

/// How [`Client::download_to_file`] writes a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaveAs {
    /// The gzip file exactly as served.
    #[default]
    Compressed,
    /// The decompressed NDJSON or CSV text.
    Decompressed,
}

/// A snapshot written to disk by [`Client::download_to_file`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedSnapshot {
    /// Where the snapshot was written.
    pub path: PathBuf,
    /// The bytes written to the file.
    pub bytes_written: u64,
    /// The compressed bytes downloaded.
    pub bytes_downloaded: u64,
}

/// A snapshot download under way: the storage host has answered and its body is ready
/// to be read, as typed records, CSV rows, raw bytes, or into a file.
pub struct Download {
    feed: Feed,
    format: Format,
    response: Response,
    max_line: usize,
    read_timeout: Duration,
    attempts: u32,
    progress: Option<ProgressHook>,
    /// The client that fetched the storage URL, to ask it again for the rest of a body.
    client: Client,
}

impl Download {
    /// A download whose storage answer has arrived, its body not read yet.
    pub(crate) fn new(
        client: &Client,
        feed: Feed,
        format: Format,
        response: Response,
        attempts: u32,
    ) -> Self {
        Download {
            feed,
            format,
            response,
            max_line: client.inner.max_line,
            read_timeout: client.inner.read_timeout,
            attempts,
            progress: None,
            client: client.clone(),
        }
    }
}

impl fmt::Debug for Download {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Download")
            .field("feed", &self.feed)
            .field("format", &self.format)
            .field("storage", &redact(self.response.url()))
            .field("content_length", &self.content_length())
            .finish_non_exhaustive()
    }
}

impl Download {
    /// The feed being downloaded.
    pub fn feed(&self) -> Feed {
        self.feed
    }

    /// The format being downloaded.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The size of the gzip'd body, when the storage host announced it.
    pub fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }

    /// The storage URL the body comes from, without its query string (which holds the
    /// presigned signature).
    pub fn storage_url(&self) -> String {
        redact(self.response.url())
    }

    /// Reports how far the download has come to `hook`, whichever way the body is then
    /// read: bytes received, the total when announced, and records or rows parsed.
    /// See [`progress`](crate::progress) for when the hook is called.
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// use futures_util::StreamExt;
    /// use rstcloud::{DomainRecord, Feed, Format, SnapshotDate};
    ///
    /// let mut records = client
    ///     .download(Feed::Domain, SnapshotDate::Latest, Format::Json)
    ///     .await?
    ///     .on_progress(|p| eprintln!("{} bytes, {} records", p.bytes, p.records))
    ///     .records::<DomainRecord>()?;
    /// while let Some(record) = records.next().await {
    ///     println!("{}", record?.domain);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn on_progress(mut self, hook: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.progress = Some(ProgressHook::new(hook));
        self
    }

    /// The compressed body as it arrives, chunk by chunk.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
        let total = self.content_length();
        let hook = self.progress.clone();
        let body: BodyStream =
            Box::pin(body_stream(self.response, self.read_timeout, self.attempts));
        match hook {
            Some(hook) => counted(body, Counters::with_hook(total, Some(hook))),
            None => body,
        }
    }

    /// The body without progress counting, for readers that count it themselves.
    fn raw_body(self) -> (BodyStream, Arc<Counters>) {
        let counters = Counters::with_hook(self.content_length(), self.progress);
        let body = body_stream(self.response, self.read_timeout, self.attempts);
        (Box::pin(body), counters)
    }

    /// The body as typed records of the feed's type.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `T` is not the record type of this download's feed
    /// or the download is not JSON.
    pub fn records<T: FeedRecord>(self) -> Result<Records<T>> {
        if T::FEED != self.feed || self.format != Format::Json {
            return Err(Error::invalid_input(
                "record type",
                format!(
                    "{} records cannot be read from the {} {} snapshot",
                    T::FEED,
                    self.feed,
                    self.format
                ),
            ));
        }
        let what = record_name(self.feed);
        let max_line = self.max_line;
        let (body, counters) = self.raw_body();
        Ok(Records::spawn(body, counters, max_line, what))
    }

    /// The body as CSV rows keyed by the header row.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the download is not CSV.
    pub fn csv_rows(self) -> Result<CsvRows> {
        if self.format != Format::Csv {
            return Err(Error::invalid_input(
                "format",
                "CSV rows can only be read from a CSV snapshot",
            ));
        }
        let (body, counters) = self.raw_body();
        Ok(CsvRows::spawn(body, counters))
    }

    /// Writes the body to `path`, through a temporary file in the same directory that
    /// is renamed into place only once the whole body has arrived and, when
    /// decompressing, inflated without error. A failed download leaves no file at
    /// `path` (an older file there stays as it was).
    ///
    /// When the connection breaks or stalls mid-body and the storage host accepts byte
    /// ranges (`Accept-Ranges: bytes`), the rest is asked for with `Range: bytes=N-`
    /// from the same storage URL, up to the retry policy's number of attempts, and
    /// appended: the file is the same as from an unbroken download. An answer that is
    /// not the requested range (the object changed, or the host ignored the range)
    /// ends the download with the original error instead of splicing two bodies.
    ///
    /// # Errors
    ///
    /// The body's errors ([`Error::Transport`], [`Error::Timeout`], [`Error::Snapshot`])
    /// and [`Error::Io`] for the file.
    pub async fn save(self, path: impl AsRef<Path>, save_as: SaveAs) -> Result<SavedSnapshot> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let resume = Resume::from_response(&self);
        let body = self.bytes_stream();
        save_body(Box::pin(body), resume, dir, path, save_as).await
    }
}

fn record_name(feed: Feed) -> &'static str {
    match feed {
        Feed::Ip => "ip record",
        Feed::Domain => "domain record",
        Feed::Url => "url record",
        Feed::Hash => "hash record",
    }
}

/// What is needed to ask the storage host for the rest of a broken body.
struct Resume {
    client: Client,
    url: Url,
    /// The `ETag` or `Last-Modified` of the first answer, sent as `If-Range` so that a
    /// changed object is never appended to the start of the old one.
    validator: Option<HeaderValue>,
    attempt: u32,
}

impl Resume {
    /// `None` when the storage host did not announce byte ranges.
    fn from_response(download: &Download) -> Option<Resume> {
        let headers = download.response.headers();
        let ranges = headers
            .get(header::ACCEPT_RANGES)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("bytes"));
        if !ranges {
            return None;
        }
        let etag = headers
            .get(header::ETAG)
            .filter(|v| !v.as_bytes().starts_with(b"W/"));
        let validator = etag.or_else(|| headers.get(header::LAST_MODIFIED)).cloned();
        Some(Resume {
            client: download.client.clone(),
            url: download.response.url().clone(),
            validator,
            attempt: 1,
        })
    }

    /// Asks for the body from byte `from` on, waiting between tries as the retry policy
    /// says; `None` once its attempts are spent or the host answers anything but that
    /// range.
    async fn reopen(&mut self, from: u64) -> Option<BodyStream> {
        let policy = self.client.inner.retry;
        while self.attempt < policy.attempts() {
            tokio::time::sleep(policy.backoff(self.attempt)).await;
            self.attempt += 1;
            tracing::debug!(from, attempt = self.attempt, "resuming the snapshot body");
            let mut request = self
                .client
                .inner
                .storage
                .get(self.url.clone())
                .header(header::RANGE, format!("bytes={from}-"));
            if let Some(validator) = &self.validator {
                request = request.header(header::IF_RANGE, validator.clone());
            }
            let response = match request.send().await {
                Ok(response) => response,
                Err(_) => continue,
            };
            if response.status() != StatusCode::PARTIAL_CONTENT
                || range_start(response.headers()) != Some(from)
            {
                return None;
            }
            let read_timeout = self.client.inner.read_timeout;
            return Some(Box::pin(body_stream(response, read_timeout, self.attempt)));
        }
        None
    }
}

/// The first byte of a `Content-Range: bytes N-M/T` answer.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let range = value.trim().strip_prefix("bytes ")?;
    range.split_once('-')?.0.trim().parse().ok()
}

/// Streams a storage body into a temporary file, then renames it into place.
async fn save_body(
    mut body: BodyStream,
    mut resume: Option<Resume>,
    dir: PathBuf,
    path: PathBuf,
    save_as: SaveAs,
) -> Result<SavedSnapshot> {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(16);
    // The file is written on a blocking thread: inflating and disk writes are both
    // blocking work.
    let writer = tokio::task::spawn_blocking(move || -> Result<SavedSnapshot> {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".rstcloud-").suffix(".partial");
        // A snapshot is no secret: readable by others as a plainly created file is,
        // not private as temporary files are by default.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let mut file = builder.tempfile_in(&dir)?;
        let mut reader = ChannelReader::new(rx);
        let written = match save_as {
            SaveAs::Compressed => {
                // The bytes are saved as served, but inflated on the way too, so that a
                // cut, corrupt or non-gzip body is refused exactly as the record readers
                // refuse it, instead of being saved as if it were a snapshot.
                let mut tee = Tee {
                    inner: &mut reader,
                    file: file.as_file_mut(),
                    written: 0,
                };
                let mut text = open_gzip(&mut tee)?;
                std::io::copy(&mut text, &mut std::io::sink()).map_err(classify_io)?;
                drop(text);
                tee.written
            }
            SaveAs::Decompressed => {
                let mut text = open_gzip(&mut reader)?;
                std::io::copy(&mut text, &mut file).map_err(classify_io)?
            }
        };
        file.as_file_mut().sync_all()?;
        let downloaded = reader.received();
        file.persist(&path).map_err(|e| Error::Io(e.error))?;
        Ok(SavedSnapshot {
            path,
            bytes_written: written,
            bytes_downloaded: downloaded,
        })
    });
    let mut received = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                Ok(chunk)
            }
            Err(error) => {
                let next = match resume.as_mut() {
                    Some(resume) if error.is_retryable() => resume.reopen(received).await,
                    _ => None,
                };
                match next {
                    Some(next) => {
                        body = next;
                        continue;
                    }
                    None => Err(error),
                }
            }
        };
        let failed = chunk.is_err();
        if tx.send(chunk).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    writer
        .await
        .map_err(|e| Error::Io(std::io::Error::other(e.to_string())))?
}

/// A reader that writes everything it reads to a file as well.
struct Tee<'a, R> {
    inner: R,
    file: &'a mut std::fs::File,
    written: u64,
}

impl<R: std::io::Read> std::io::Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::io::Write;
        let n = self.inner.read(buf)?;
        self.file.write_all(&buf[..n])?;
        self.written += n as u64;
        Ok(n)
    }
}

fn body_stream(
    response: Response,
    read_timeout: Duration,
    attempts: u32,
) -> impl Stream<Item = Result<Bytes>> + Send + 'static {
    response.bytes_stream().map_err(move |e| {
        if e.is_timeout() {
            Error::Timeout {
                endpoint: "snapshot body".into(),
                kind: TimeoutKind::Read(read_timeout),
                attempts,
            }
        } else {
            Error::Transport {
                endpoint: "snapshot body".into(),
                attempts,
                source: e.without_url(),
            }
        }
    })
}

/// A URL as it may be shown: scheme, host, port and path, no query string.
pub(crate) fn redact(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.to_string()
}
