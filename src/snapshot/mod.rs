//! Snapshot bodies as streams: typed NDJSON records and CSV rows.
//!
//! A snapshot is decompressed and split into batches of lines on one blocking thread;
//! the batches are dealt in turn to parser threads (one per core, up to four), and the
//! stream takes the typed records back in the same turn, so file order is kept while
//! inflating and parsing run side by side. The caller's task only receives records.
//! Every channel is bounded: a slow consumer holds back the download instead of piling
//! up memory.

mod decode;

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures_core::Stream;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use crate::error::{Error, SnapshotError};
use crate::progress::ProgressHook;

pub use decode::RecordReader;
pub(crate) use decode::{Carried, classify_io, open_gzip};
use decode::{LineReader, parse_line};

/// The default limit on the length of one snapshot line: 16 MiB.
///
/// Real records are a few kilobytes at most; the limit only stops a damaged or hostile
/// body from exhausting memory. It can be changed with
/// [`ClientBuilder::max_line_length`](crate::ClientBuilder::max_line_length).
pub const DEFAULT_MAX_LINE_LENGTH: usize = 16 * 1024 * 1024;

/// Compressed chunks waiting for the inflater.
const BODY_CHANNEL: usize = 16;
/// Batches waiting for the stream, per parser thread.
const BATCH_CHANNEL: usize = 3;
/// Batches of lines waiting for each parser thread.
const PARSER_CHANNEL: usize = 2;
/// The size a batch of lines grows to before it is handed to the parser.
const BATCH_BYTES: usize = 256 * 1024;
/// Batches of CSV rows waiting for the stream.
const CSV_CHANNEL: usize = 4;
/// CSV rows in one batch.
const CSV_BATCH_ROWS: usize = 512;

/// A snapshot body as it arrives from the network.
pub(crate) type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, Error>> + Send>>;

/// How far a snapshot download has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Compressed bytes received so far.
    pub bytes: u64,
    /// The compressed size, when the storage host announced it.
    pub total_bytes: Option<u64>,
    /// Records (or CSV rows) handed to the caller so far, errors not counted.
    pub records: u64,
}

/// Counters shared between the download, the decoder and the stream.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    bytes: AtomicU64,
    total: AtomicU64,
    records: AtomicU64,
    hook: Option<ProgressHook>,
}

impl Counters {
    /// Counters that report every change to `hook`, starting with the empty progress.
    pub(crate) fn with_hook(total: Option<u64>, hook: Option<ProgressHook>) -> Arc<Counters> {
        let counters = Counters {
            hook,
            ..Counters::default()
        };
        counters
            .total
            .store(total.unwrap_or(u64::MAX), Ordering::Relaxed);
        counters.notify();
        Arc::new(counters)
    }

    pub(crate) fn add_bytes(&self, n: usize) {
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        self.notify();
    }

    pub(crate) fn add_records(&self, n: u64) {
        if n > 0 {
            self.records.fetch_add(n, Ordering::Relaxed);
            self.notify();
        }
    }

    fn notify(&self) {
        if let Some(hook) = &self.hook {
            hook.call(self.snapshot());
        }
    }

    pub(crate) fn snapshot(&self) -> Progress {
        let total = self.total.load(Ordering::Relaxed);
        Progress {
            bytes: self.bytes.load(Ordering::Relaxed),
            total_bytes: (total != u64::MAX).then_some(total),
            records: self.records.load(Ordering::Relaxed),
        }
    }
}

/// What the decoder thread sends to the stream.
enum Message<T> {
    Batch(T),
    /// A problem with one part of the body; reading goes on.
    Skipped(Error),
    /// A problem that stops the body; nothing follows.
    Failed(Error),
    /// The body was read to its end; without this, a closed channel is a failure.
    End,
}

/// Feeds body chunks from an async stream to the blocking decoder.
///
/// An error from the body comes out of `read` as an I/O error carrying it, which
/// [`classify_io`] turns back into the crate error.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Result<Bytes, Error>>,
    current: Bytes,
    received: u64,
}

impl ChannelReader {
    pub(crate) fn new(rx: mpsc::Receiver<Result<Bytes, Error>>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
            received: 0,
        }
    }

    /// The bytes read so far.
    pub(crate) fn received(&self) -> u64 {
        self.received
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(Carried::into_io(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        self.received += n as u64;
        Ok(n)
    }
}

/// Starts pumping `body` into a reader that a blocking thread runs `work` on.
fn spawn_decoder<F>(mut body: BodyStream, counters: Arc<Counters>, work: F)
where
    F: FnOnce(ChannelReader) + Send + 'static,
{
    let (body_tx, body_rx) = mpsc::channel(BODY_CHANNEL);

    tokio::spawn(async move {
        while let Some(chunk) = body.next().await {
            let failed = chunk.is_err();
            if let Ok(bytes) = &chunk {
                counters.add_bytes(bytes.len());
            }
            // A closed channel means the caller dropped the stream: stop downloading.
            if body_tx.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });

    tokio::task::spawn_blocking(move || work(ChannelReader::new(body_rx)));
}

/// Lines of decompressed text, stored back to back in one buffer.
struct LineBatch {
    text: Vec<u8>,
    lines: Vec<(u64, usize, usize)>,
}

impl LineBatch {
    fn new() -> Self {
        LineBatch {
            text: Vec::with_capacity(BATCH_BYTES + 4096),
            lines: Vec::with_capacity(512),
        }
    }
}

/// Batches the parsers are done with, handed back to the decoder so that it does not
/// allocate (and fault in) a fresh quarter-megabyte buffer for every batch.
struct BatchPool {
    returned: std::sync::mpsc::Receiver<LineBatch>,
}

impl BatchPool {
    fn take(&self) -> LineBatch {
        match self.returned.try_recv() {
            Ok(mut batch) => {
                batch.text.clear();
                batch.lines.clear();
                batch
            }
            Err(_) => LineBatch::new(),
        }
    }
}

/// Gives a batch back to the pool, unless a very long line made it grow: that memory
/// would otherwise stay held for the rest of the snapshot.
fn give_back(pool: &std::sync::mpsc::Sender<LineBatch>, batch: LineBatch) {
    if batch.text.capacity() <= 2 * BATCH_BYTES {
        let _ = pool.send(batch);
    }
}

fn line_worker(
    reader: ChannelReader,
    mut send: impl FnMut(Message<LineBatch>) -> bool,
    max_line: usize,
    pool: BatchPool,
) {
    let text = match open_gzip(reader) {
        Ok(text) => text,
        Err(e) => {
            send(Message::Failed(e));
            return;
        }
    };
    let mut lines = LineReader::new(text, max_line);
    let mut batch = pool.take();
    loop {
        let start = batch.text.len();
        match lines.next_line(&mut batch.text) {
            Ok(Some(line)) => {
                batch.lines.push((line, start, batch.text.len()));
                if batch.text.len() >= BATCH_BYTES
                    && !send(Message::Batch(std::mem::replace(&mut batch, pool.take())))
                {
                    return;
                }
            }
            Ok(None) => {
                if !batch.lines.is_empty() && !send(Message::Batch(batch)) {
                    return;
                }
                send(Message::End);
                return;
            }
            Err(e) => {
                batch.text.truncate(start);
                let go_on = matches!(e, Error::Snapshot(SnapshotError::LineTooLong { .. }));
                if !batch.lines.is_empty()
                    && !send(Message::Batch(std::mem::replace(&mut batch, pool.take())))
                {
                    return;
                }
                let message = if go_on {
                    Message::Skipped(e)
                } else {
                    Message::Failed(e)
                };
                if !send(message) || !go_on {
                    return;
                }
            }
        }
    }
}

/// How many threads parse records: one per core, up to four. Parsing costs several
/// times more than inflating, so it is what gets spread.
fn parser_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// Typed records parsed from one batch of lines.
type RecordBatch<T> = Vec<Result<T, Error>>;

/// Parses the batches one parser thread is given, in the order given.
fn parse_worker<T: DeserializeOwned>(
    mut lines: mpsc::Receiver<Message<LineBatch>>,
    out: mpsc::Sender<Message<RecordBatch<T>>>,
    pool: std::sync::mpsc::Sender<LineBatch>,
    what: &'static str,
) {
    while let Some(message) = lines.blocking_recv() {
        let message = match message {
            Message::Batch(batch) => {
                let mut records = Vec::with_capacity(batch.lines.len());
                for &(line, start, end) in &batch.lines {
                    parse_line(&batch.text[start..end], line, what, &mut records);
                }
                give_back(&pool, batch);
                Message::Batch(records)
            }
            Message::Skipped(e) => Message::Skipped(e),
            Message::Failed(e) => Message::Failed(e),
            Message::End => Message::End,
        };
        if out.blocking_send(message).is_err() {
            return;
        }
    }
}

/// The records of a JSON snapshot, as a [`Stream`] of `Result<T>`.
///
/// Items come in file order. A record that fails to parse is an
/// [`Error::Decode`] item naming its line and field, and the stream goes on with the next
/// one. A line over the length limit is an [`SnapshotError::LineTooLong`] item, and the
/// stream goes on too. Anything that stops the body (a network failure, a timeout, a
/// truncated or corrupt gzip stream, a body that is not gzip) is the last item: the
/// stream never ends cleanly on a body that did not end cleanly.
pub struct Records<T> {
    /// One channel per parser thread. The decoder deals its messages to the parsers in
    /// turn, and they are taken back in the same turn, so the file order is kept.
    parsed: Vec<mpsc::Receiver<Message<RecordBatch<T>>>>,
    turn: usize,
    batch: std::vec::IntoIter<Result<T, Error>>,
    what: &'static str,
    counters: Arc<Counters>,
    finished: bool,
}

impl<T: DeserializeOwned + Send + 'static> Records<T> {
    pub(crate) fn spawn(
        body: BodyStream,
        counters: Arc<Counters>,
        max_line: usize,
        what: &'static str,
    ) -> Self {
        let (pool_tx, pool_rx) = std::sync::mpsc::channel();
        let mut to_parsers = Vec::new();
        let mut parsed = Vec::new();
        for _ in 0..parser_count() {
            let (lines_tx, lines_rx) = mpsc::channel(PARSER_CHANNEL);
            let (out_tx, out_rx) = mpsc::channel(BATCH_CHANNEL);
            let pool = pool_tx.clone();
            tokio::task::spawn_blocking(move || parse_worker::<T>(lines_rx, out_tx, pool, what));
            to_parsers.push(lines_tx);
            parsed.push(out_rx);
        }
        drop(pool_tx);

        spawn_decoder(body, counters.clone(), move |reader| {
            let mut turn = 0;
            let send = |message| {
                let sent = to_parsers[turn].blocking_send(message).is_ok();
                turn = (turn + 1) % to_parsers.len();
                sent
            };
            line_worker(reader, send, max_line, BatchPool { returned: pool_rx })
        });
        Records {
            parsed,
            turn: 0,
            batch: Vec::new().into_iter(),
            what,
            counters,
            finished: false,
        }
    }
}

impl<T> Records<T> {
    /// How far the download has come.
    pub fn progress(&self) -> Progress {
        self.counters.snapshot()
    }
}

impl<T: DeserializeOwned> Stream for Records<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.batch.next() {
                if item.is_ok() {
                    this.counters.add_records(1);
                }
                return Poll::Ready(Some(item));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let message = match this.parsed[this.turn].poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(message) => message,
            };
            this.turn = (this.turn + 1) % this.parsed.len();
            match message {
                Some(Message::Batch(batch)) => this.batch = batch.into_iter(),
                Some(Message::Skipped(e)) => return Poll::Ready(Some(Err(e))),
                Some(Message::Failed(e)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Some(Message::End) => this.finished = true,
                None => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(decoder_stopped())));
                }
            }
        }
    }
}

impl<T> Unpin for Records<T> {}

impl<T> std::fmt::Debug for Records<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Records")
            .field("what", &self.what)
            .field("progress", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

/// The decoder thread went away without saying the body ended; say so rather than end
/// the stream as if the snapshot were complete.
fn decoder_stopped() -> Error {
    Error::Io(io::Error::other(
        "the snapshot decoder stopped before the end of the body",
    ))
}

/// One row of a CSV snapshot, its values keyed by the header row.
///
/// No layout of the CSV snapshots is published, so rows are not typed: read the columns
/// you need by name. Lists are written the way Python writes them (`['c2', 'malware']`);
/// [`CsvRow::list`] reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvRow {
    headers: Arc<csv::StringRecord>,
    values: csv::StringRecord,
    line: u64,
}

impl CsvRow {
    /// The value of `column`, or `None` when the header has no such column.
    pub fn get(&self, column: &str) -> Option<&str> {
        let index = self.headers.iter().position(|h| h == column)?;
        self.values.get(index)
    }

    /// The value of `column` read as a list written like `['a', 'b']`; a plain value is
    /// a list of one, an empty value or `[]` an empty list.
    pub fn list(&self, column: &str) -> Option<Vec<String>> {
        self.get(column).map(parse_python_list)
    }

    /// The column names, in file order.
    pub fn headers(&self) -> impl Iterator<Item = &str> {
        self.headers.iter()
    }

    /// Pairs of column name and value, in file order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().zip(self.values.iter())
    }

    /// The row as an owned map from column name to value.
    pub fn to_map(&self) -> HashMap<String, String> {
        self.iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// The line of the file the row starts on, counted from 1 (the header is line 1).
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// Reads a list written the way Python prints one: `['generic', 'phishing']`.
fn parse_python_list(value: &str) -> Vec<String> {
    let value = value.trim();
    let inner = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    inner
        .split(',')
        .map(|item| {
            item.trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .to_owned()
        })
        .filter(|item| !item.is_empty())
        .collect()
}

fn csv_worker(reader: ChannelReader, out: &mpsc::Sender<Message<Vec<Result<CsvRow, Error>>>>) {
    let send = |message| out.blocking_send(message).is_ok();
    let text = match open_gzip(reader) {
        Ok(text) => text,
        Err(e) => {
            send(Message::Failed(e));
            return;
        }
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text);
    let headers = match reader.headers() {
        Ok(headers) => Arc::new(headers.clone()),
        Err(e) => {
            send(Message::Failed(csv_error(e).0));
            return;
        }
    };
    let mut batch = Vec::with_capacity(CSV_BATCH_ROWS);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => batch.push(Ok(CsvRow {
                headers: headers.clone(),
                values: record.clone(),
                line: record.position().map_or(0, |p| p.line()),
            })),
            Ok(false) => {
                if !batch.is_empty() && !send(Message::Batch(batch)) {
                    return;
                }
                send(Message::End);
                return;
            }
            Err(e) => {
                let (error, fatal) = csv_error(e);
                if fatal {
                    if send(Message::Batch(batch)) {
                        send(Message::Failed(error));
                    }
                    return;
                }
                batch.push(Err(error));
            }
        }
        if batch.len() >= CSV_BATCH_ROWS
            && !send(Message::Batch(std::mem::replace(
                &mut batch,
                Vec::with_capacity(CSV_BATCH_ROWS),
            )))
        {
            return;
        }
    }
}

/// Sorts a CSV error into a crate error and whether reading can go on.
fn csv_error(error: csv::Error) -> (Error, bool) {
    let line = error.position().map(|p| p.line());
    match error.into_kind() {
        csv::ErrorKind::Io(e) => (classify_io(e), true),
        kind => {
            let message = match line {
                Some(line) => format!("line {line}: {kind:?}"),
                None => format!("{kind:?}"),
            };
            (SnapshotError::Csv(message).into(), false)
        }
    }
}

/// The rows of a CSV snapshot, as a [`Stream`] of `Result<CsvRow>`.
///
/// A malformed row is an error item and the stream goes on; anything that stops the body
/// is the last item, as for [`Records`].
pub struct CsvRows {
    rx: mpsc::Receiver<Message<Vec<Result<CsvRow, Error>>>>,
    pending: VecDeque<Result<CsvRow, Error>>,
    counters: Arc<Counters>,
    finished: bool,
}

impl CsvRows {
    pub(crate) fn spawn(body: BodyStream, counters: Arc<Counters>) -> Self {
        let (tx, rx) = mpsc::channel(CSV_CHANNEL);
        spawn_decoder(body, counters.clone(), move |reader| {
            csv_worker(reader, &tx)
        });
        CsvRows {
            rx,
            pending: VecDeque::new(),
            counters,
            finished: false,
        }
    }

    /// How far the download has come.
    pub fn progress(&self) -> Progress {
        self.counters.snapshot()
    }
}

impl Stream for CsvRows {
    type Item = Result<CsvRow, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.pending.pop_front() {
                if item.is_ok() {
                    this.counters.add_records(1);
                }
                return Poll::Ready(Some(item));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            match this.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Message::Batch(rows))) => this.pending.extend(rows),
                Poll::Ready(Some(Message::Skipped(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Message::Failed(e))) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Some(Message::End)) => this.finished = true,
                Poll::Ready(None) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(decoder_stopped())));
                }
            }
        }
    }
}

impl std::fmt::Debug for CsvRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows")
            .field("progress", &self.counters.snapshot())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_keep_file_order_across_parser_threads() {
        // Lines of about 1 KiB, so the body spans many batches and every parser thread.
        let padding = "x".repeat(1000);
        let mut text = String::new();
        for n in 0..4000 {
            if n == 2500 {
                text.push_str(&"y".repeat(5000));
                text.push('\n');
            }
            text.push_str(&format!("{{\"n\":{n},\"pad\":\"{padding}\"}}\n"));
        }
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text.as_bytes()).unwrap();
        let body = Bytes::from(gz.finish().unwrap());
        let chunks: Vec<Result<Bytes, Error>> = body
            .chunks(16 * 1024)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let stream: BodyStream = Box::pin(futures_util::stream::iter(chunks));

        let records = Records::<serde_json::Value>::spawn(
            stream,
            Counters::with_hook(None, None),
            4096,
            "record",
        );
        let items: Vec<_> = records.collect().await;

        assert_eq!(items.len(), 4001);
        assert!(matches!(
            items[2500],
            Err(Error::Snapshot(SnapshotError::LineTooLong {
                line: 2501,
                ..
            }))
        ));
        let numbers: Vec<u64> = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .map(|v| v["n"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (0..4000).collect::<Vec<u64>>());
    }

    #[test]
    fn python_lists_read_as_lists() {
        assert_eq!(
            parse_python_list("['generic', 'phishing']"),
            vec!["generic", "phishing"]
        );
        assert_eq!(parse_python_list("[]"), Vec::<String>::new());
        assert_eq!(parse_python_list("spam"), vec!["spam"]);
    }
}
