//! A local mirror of the feeds' daily snapshots, for a cron job.
//!
//! A [`Mirror`] keeps a directory up to date with the newest snapshot of the chosen
//! feeds and formats. Each run asks `HEAD /{feed}` first ([`Client::snapshot_info`]) and
//! downloads only what is newer than the local copy, by `Last-Modified` and, where the
//! server gives it, size. Files are laid out by day:
//!
//! ```text
//! DIR/
//!   .rstcloud-mirror.json       what was fetched: Last-Modified, size and day per file
//!   .rstcloud-mirror.lock       held while a run works on DIR
//!   20230426/ioc_ip.json.gz
//!   20230427/ioc_ip.json.gz     the gzip file exactly as served
//!   20230427/ioc_domain.csv.gz
//! ```
//!
//! The day of a snapshot is the UTC date of its `Last-Modified` (today, when the server
//! sends none), or the day asked for with [`Mirror::run_day`].
//!
//! Every file is written through a temporary file renamed into place (see
//! [`Download::save`](crate::Download::save)), so a reader never sees half a file, and
//! the index is replaced the same way. A run holds an advisory lock on
//! `.rstcloud-mirror.lock`: a second run on the same directory at the same time fails
//! with [`Error::MirrorLocked`] and changes nothing. Day directories older than the
//! days kept are removed at the end of each run; only the files a mirror writes are
//! deleted from them, and a directory left with other files in it stays.
//!
//! ```no_run
//! # async fn run() -> rstcloud::Result<()> {
//! use rstcloud::{Client, Feed, Format, Mirror};
//!
//! let client = Client::from_env()?;
//! let report = Mirror::new(client, "/var/lib/rstcloud")
//!     .feeds([Feed::Ip, Feed::Domain])
//!     .formats([Format::Json])
//!     .keep_days(14)
//!     .run()
//!     .await?;
//! for entry in &report.entries {
//!     println!("{entry}");
//! }
//! assert!(report.is_success());
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};

use crate::client::Client;
use crate::download::{SaveAs, SnapshotInfo};
use crate::error::{Error, Result};
use crate::feed::{Feed, Format, SnapshotDate};
use crate::snapshot::Progress;

/// The index of the files a mirror holds, in the mirror directory.
pub const INDEX_FILE: &str = ".rstcloud-mirror.json";

/// The lock file a run holds, in the mirror directory.
pub const LOCK_FILE: &str = ".rstcloud-mirror.lock";

/// How many days a mirror keeps unless told otherwise.
pub const DEFAULT_KEEP_DAYS: u32 = 7;

type MirrorHook = Arc<dyn Fn(Feed, Format, Progress) + Send + Sync>;

/// Keeps a directory up to date with the newest snapshots of chosen feeds and formats.
///
/// Built with [`Mirror::new`] and the setters, run with [`Mirror::run`] (the newest
/// snapshots) or [`Mirror::run_day`] (a past day). See the [module](self) for the layout
/// and the guarantees.
#[derive(Clone)]
pub struct Mirror {
    client: Client,
    dir: PathBuf,
    feeds: Vec<Feed>,
    formats: Vec<Format>,
    keep_days: u32,
    progress: Option<MirrorHook>,
}

impl fmt::Debug for Mirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mirror")
            .field("dir", &self.dir)
            .field("feeds", &self.feeds)
            .field("formats", &self.formats)
            .field("keep_days", &self.keep_days)
            .finish_non_exhaustive()
    }
}

/// What a run did with one file.
///
/// ```no_run
/// # fn show(entry: &rstcloud::MirrorEntry) {
/// use rstcloud::MirrorOutcome;
///
/// match &entry.outcome {
///     MirrorOutcome::Fetched { bytes } => println!("{}: {bytes} bytes", entry.path.display()),
///     MirrorOutcome::Failed(error) => eprintln!("{}: {error}", entry.path.display()),
///     _ => println!("{entry}"),
/// }
/// # }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum MirrorOutcome {
    /// The snapshot was downloaded and written.
    Fetched {
        /// The bytes written.
        bytes: u64,
    },
    /// The local copy is up to date, or the day is outside the days kept.
    Skipped,
    /// The file was older than the days kept and was deleted.
    Deleted,
    /// The file could not be checked, fetched or deleted; other files went on.
    Failed(Error),
}

/// One file of a [`MirrorReport`].
#[derive(Debug)]
pub struct MirrorEntry {
    /// The feed of the file.
    pub feed: Feed,
    /// The format of the file.
    pub format: Format,
    /// The snapshot's day, when known (a failed `HEAD` leaves it unknown).
    pub day: Option<Date>,
    /// The file, or the mirror directory when the file was not known yet.
    pub path: PathBuf,
    /// What was done.
    pub outcome: MirrorOutcome,
    /// Why, in words.
    pub reason: String,
}

impl fmt::Display for MirrorEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match &self.outcome {
            MirrorOutcome::Fetched { .. } => "fetched",
            MirrorOutcome::Skipped => "skipped",
            MirrorOutcome::Deleted => "deleted",
            MirrorOutcome::Failed(_) => "failed",
        };
        write!(
            f,
            "{what} {} {} {}: {}",
            self.feed,
            self.format,
            self.path.display(),
            self.reason
        )
    }
}

/// What a run did, file by file.
///
/// ```no_run
/// # async fn run(mirror: rstcloud::Mirror) -> rstcloud::Result<()> {
/// use rstcloud::MirrorOutcome;
///
/// let report = mirror.run().await?;
/// for entry in report.failed() {
///     if let MirrorOutcome::Failed(error) = &entry.outcome {
///         eprintln!("{} {}: {error}", entry.feed, entry.format);
///     }
/// }
/// if !report.is_success() {
///     std::process::exit(1);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct MirrorReport {
    /// One entry per file checked, fetched or deleted, in the order handled.
    pub entries: Vec<MirrorEntry>,
}

impl MirrorReport {
    /// The files downloaded.
    pub fn fetched(&self) -> impl Iterator<Item = &MirrorEntry> {
        self.with(|o| matches!(o, MirrorOutcome::Fetched { .. }))
    }

    /// The files left as they were.
    pub fn skipped(&self) -> impl Iterator<Item = &MirrorEntry> {
        self.with(|o| matches!(o, MirrorOutcome::Skipped))
    }

    /// The files deleted as too old.
    pub fn deleted(&self) -> impl Iterator<Item = &MirrorEntry> {
        self.with(|o| matches!(o, MirrorOutcome::Deleted))
    }

    /// The files that failed.
    pub fn failed(&self) -> impl Iterator<Item = &MirrorEntry> {
        self.with(|o| matches!(o, MirrorOutcome::Failed(_)))
    }

    /// Whether nothing failed.
    pub fn is_success(&self) -> bool {
        self.failed().next().is_none()
    }

    fn with(&self, keep: fn(&MirrorOutcome) -> bool) -> impl Iterator<Item = &MirrorEntry> {
        self.entries.iter().filter(move |e| keep(&e.outcome))
    }
}

/// The mirror's index: what was fetched, keyed by the path relative to the directory.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    files: BTreeMap<String, FileMeta>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FileMeta {
    feed: String,
    format: String,
    /// The snapshot's day as `YYYYMMDD`.
    day: String,
    /// `Last-Modified` in unix seconds, when the server sent it.
    last_modified: Option<i64>,
    /// The bytes of the file.
    size: u64,
}

impl Mirror {
    /// A mirror of all four feeds as JSON into `dir`, keeping
    /// [`DEFAULT_KEEP_DAYS`] days.
    ///
    /// ```
    /// use rstcloud::{Client, Feed, Format, Mirror};
    ///
    /// # fn main() -> rstcloud::Result<()> {
    /// let client = Client::builder().api_key("my-key").build()?;
    /// let mirror = Mirror::new(client, "/var/lib/rstcloud")
    ///     .feeds([Feed::Hash])
    ///     .formats([Format::Json, Format::Csv])
    ///     .keep_days(30);
    /// assert_eq!(mirror.feed_list(), &[Feed::Hash]);
    /// # Ok(()) }
    /// ```
    pub fn new(client: Client, dir: impl Into<PathBuf>) -> Self {
        Mirror {
            client,
            dir: dir.into(),
            feeds: Feed::ALL.to_vec(),
            formats: vec![Format::Json],
            keep_days: DEFAULT_KEEP_DAYS,
            progress: None,
        }
    }

    /// The feeds to mirror. Defaults to all four.
    pub fn feeds(mut self, feeds: impl IntoIterator<Item = Feed>) -> Self {
        self.feeds = dedup(feeds);
        self
    }

    /// The formats to mirror each feed in. Defaults to JSON.
    pub fn formats(mut self, formats: impl IntoIterator<Item = Format>) -> Self {
        self.formats = dedup(formats);
        self
    }

    /// How many days to keep, counted back from the newest day in the mirror, that day
    /// included. `0` keeps every day. Defaults to [`DEFAULT_KEEP_DAYS`].
    pub fn keep_days(mut self, days: u32) -> Self {
        self.keep_days = days;
        self
    }

    /// Reports each download's progress to `hook`, with its feed and format. See
    /// [`Download::on_progress`](crate::Download::on_progress).
    ///
    /// ```no_run
    /// # async fn run(mirror: rstcloud::Mirror) -> rstcloud::Result<()> {
    /// let report = mirror
    ///     .on_progress(|feed, format, p| eprintln!("{feed} {format}: {} bytes", p.bytes))
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn on_progress(
        mut self,
        hook: impl Fn(Feed, Format, Progress) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(hook));
        self
    }

    /// The mirror directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The feeds mirrored.
    pub fn feed_list(&self) -> &[Feed] {
        &self.feeds
    }

    /// The formats mirrored.
    pub fn format_list(&self) -> &[Format] {
        &self.formats
    }

    /// Where the snapshot of `feed` in `format` for `day` is kept:
    /// `DIR/YYYYMMDD/ioc_{feed}.{format}.gz`.
    pub fn path_of(&self, day: Date, feed: Feed, format: Format) -> PathBuf {
        self.dir.join(relative_path(day, feed, format))
    }

    /// Brings the mirror up to date with the newest snapshots, then deletes the days
    /// older than those kept.
    ///
    /// A file that fails does not stop the others: it is a
    /// [`MirrorOutcome::Failed`] entry of the report.
    ///
    /// # Errors
    ///
    /// [`Error::MirrorLocked`] when another run holds the directory; [`Error::Io`] when
    /// the directory, its lock or its index cannot be written.
    pub async fn run(&self) -> Result<MirrorReport> {
        self.run_with(None).await
    }

    /// Fetches the snapshots of a past day that the mirror does not hold yet, to fill a
    /// gap, then deletes the days older than those kept. A day older than the days kept
    /// is skipped.
    ///
    /// ```no_run
    /// # async fn run(mirror: rstcloud::Mirror) -> rstcloud::Result<()> {
    /// use time::macros::date;
    ///
    /// let report = mirror.run_day(date!(2023 - 04 - 26)).await?;
    /// println!("{} files fetched", report.fetched().count());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`Mirror::run`].
    pub async fn run_day(&self, day: Date) -> Result<MirrorReport> {
        self.run_with(Some(day)).await
    }

    async fn run_with(&self, day: Option<Date>) -> Result<MirrorReport> {
        fs::create_dir_all(&self.dir)?;
        let _lock = self.lock()?;
        let mut index = self.load_index();
        let mut report = MirrorReport::default();

        for &feed in &self.feeds {
            for &format in &self.formats {
                let entry = match day {
                    None => self.fetch_latest(feed, format, &mut index).await,
                    Some(day) => self.fetch_day(day, feed, format, &mut index).await,
                };
                if matches!(entry.outcome, MirrorOutcome::Fetched { .. }) {
                    // Saved after each file, so an interrupted run loses nothing fetched.
                    self.save_index(&index)?;
                }
                tracing::info!(target: "rstcloud::mirror", "{entry}");
                report.entries.push(entry);
            }
        }

        let before = report.entries.len();
        self.prune(&mut index, &mut report);
        if report.entries.len() > before {
            self.save_index(&index)?;
        }
        Ok(report)
    }

    /// Takes the directory's lock, held until the returned file is dropped.
    fn lock(&self) -> Result<File> {
        let path = self.dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(TryLockError::WouldBlock) => Err(Error::MirrorLocked {
                dir: self.dir.clone(),
                lock: path,
            }),
            Err(TryLockError::Error(e)) => Err(Error::Io(e)),
        }
    }

    fn load_index(&self) -> Index {
        let path = self.dir.join(INDEX_FILE);
        match fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                // Losing the index costs downloads, never data: every file is fetched again.
                tracing::warn!(target: "rstcloud::mirror", error = %e, "unreadable mirror index, starting afresh");
                Index::default()
            }),
            Err(_) => Index::default(),
        }
    }

    fn save_index(&self, index: &Index) -> Result<()> {
        let mut file = tempfile::Builder::new()
            .prefix(".rstcloud-")
            .suffix(".partial")
            .tempfile_in(&self.dir)?;
        let json = serde_json::to_vec_pretty(index).expect("the index always serialises");
        file.write_all(&json)?;
        file.as_file_mut().sync_all()?;
        file.persist(self.dir.join(INDEX_FILE))
            .map_err(|e| Error::Io(e.error))?;
        Ok(())
    }

    async fn fetch_latest(&self, feed: Feed, format: Format, index: &mut Index) -> MirrorEntry {
        let info = match self.client.snapshot_info(feed, format).await {
            Ok(info) => info,
            Err(error) => {
                return MirrorEntry {
                    feed,
                    format,
                    day: None,
                    path: self.dir.clone(),
                    reason: format!("HEAD failed: {error}"),
                    outcome: MirrorOutcome::Failed(error),
                };
            }
        };
        let day = info
            .last_modified
            .map_or_else(|| OffsetDateTime::now_utc().date(), |at| at.date());
        let path = self.path_of(day, feed, format);

        if let Some(reason) = self.up_to_date(index, feed, format, day, &info) {
            return entry(feed, format, day, path, MirrorOutcome::Skipped, reason);
        }
        let last_modified = info.last_modified.map(OffsetDateTime::unix_timestamp);
        self.fetch(
            SnapshotDate::Latest,
            day,
            feed,
            format,
            last_modified,
            index,
        )
        .await
    }

    async fn fetch_day(
        &self,
        day: Date,
        feed: Feed,
        format: Format,
        index: &mut Index,
    ) -> MirrorEntry {
        let path = self.path_of(day, feed, format);
        if let Some(cutoff) = self.cutoff(index, day)
            && day < cutoff
        {
            let reason = format!("older than the {} days kept", self.keep_days);
            return entry(feed, format, day, path, MirrorOutcome::Skipped, reason);
        }
        let held = index
            .files
            .get(&relative_path(day, feed, format))
            .is_some_and(|meta| file_size(&path) == Some(meta.size));
        if held {
            let reason = "already mirrored".to_owned();
            return entry(feed, format, day, path, MirrorOutcome::Skipped, reason);
        }
        self.fetch(SnapshotDate::Day(day), day, feed, format, None, index)
            .await
    }

    /// Why the local copy needs no download, or `None` when it does.
    fn up_to_date(
        &self,
        index: &Index,
        feed: Feed,
        format: Format,
        day: Date,
        info: &SnapshotInfo,
    ) -> Option<String> {
        let (name, local) = index
            .files
            .iter()
            .filter(|(_, m)| m.feed == feed.as_str() && m.format == format.as_str())
            .max_by_key(|(_, m)| (m.day.clone(), m.last_modified))?;
        // A file changed or removed behind the mirror's back is fetched again.
        if file_size(&self.dir.join(name)) != Some(local.size) {
            return None;
        }
        if info.content_length.is_some_and(|size| size != local.size) {
            return None;
        }
        match (local.last_modified, info.last_modified) {
            (Some(local_at), Some(remote_at)) if local_at >= remote_at.unix_timestamp() => Some(
                format!("up to date (Last-Modified {})", http_date(local_at)),
            ),
            // Without Last-Modified, a file of the same day and size is taken as current.
            (_, None) if local.day == day_name(day) => {
                Some("up to date (same day and size)".to_owned())
            }
            _ => None,
        }
    }

    async fn fetch(
        &self,
        date: SnapshotDate,
        day: Date,
        feed: Feed,
        format: Format,
        last_modified: Option<i64>,
        index: &mut Index,
    ) -> MirrorEntry {
        let path = self.path_of(day, feed, format);
        let saved = async {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let mut download = self.client.download(feed, date, format).await?;
            if let Some(hook) = self.progress.clone() {
                download = download.on_progress(move |p| hook(feed, format, p));
            }
            download.save(&path, SaveAs::Compressed).await
        }
        .await;
        match saved {
            Ok(saved) => {
                index.files.insert(
                    relative_path(day, feed, format),
                    FileMeta {
                        feed: feed.as_str().to_owned(),
                        format: format.as_str().to_owned(),
                        day: day_name(day),
                        last_modified,
                        size: saved.bytes_written,
                    },
                );
                let reason = match last_modified {
                    Some(at) => format!(
                        "{} bytes, Last-Modified {}",
                        saved.bytes_written,
                        http_date(at)
                    ),
                    None => format!("{} bytes", saved.bytes_written),
                };
                let outcome = MirrorOutcome::Fetched {
                    bytes: saved.bytes_written,
                };
                entry(feed, format, day, path, outcome, reason)
            }
            Err(error) => {
                // Only succeeds when this download made an empty day directory.
                if let Some(parent) = path.parent() {
                    let _ = fs::remove_dir(parent);
                }
                let reason = format!("download failed: {error}");
                entry(
                    feed,
                    format,
                    day,
                    path,
                    MirrorOutcome::Failed(error),
                    reason,
                )
            }
        }
    }

    /// The first day kept, given the days held and `extra` (a day being fetched).
    fn cutoff(&self, index: &Index, extra: Date) -> Option<Date> {
        if self.keep_days == 0 {
            return None;
        }
        let newest = self
            .day_dirs()
            .into_iter()
            .map(|(day, _)| day)
            .chain(index.files.values().filter_map(|m| parse_day(&m.day)))
            .chain([extra])
            .max()?;
        newest.checked_sub(Duration::days(i64::from(self.keep_days) - 1))
    }

    /// The day directories in the mirror.
    fn day_dirs(&self) -> Vec<(Date, PathBuf)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| Some((parse_day(e.file_name().to_str()?)?, e.path())))
            .collect()
    }

    /// Deletes the mirror's files in day directories older than the days kept.
    fn prune(&self, index: &mut Index, report: &mut MirrorReport) {
        let dirs = self.day_dirs();
        let Some(newest) = dirs.iter().map(|(day, _)| *day).max() else {
            return;
        };
        let Some(cutoff) = self.cutoff(index, newest) else {
            return;
        };
        for (day, dir) in dirs.into_iter().filter(|(day, _)| *day < cutoff) {
            let Ok(files) = fs::read_dir(&dir) else {
                continue;
            };
            for file in files.filter_map(|f| f.ok()) {
                let name = file.file_name().to_string_lossy().into_owned();
                let path = file.path();
                let Some((feed, format)) = parse_file_name(&name) else {
                    // A temporary file left by an interrupted download.
                    if name.starts_with(".rstcloud-") && name.ends_with(".partial") {
                        let _ = fs::remove_file(&path);
                    }
                    continue;
                };
                let (outcome, reason) = match fs::remove_file(&path) {
                    Ok(()) => {
                        index.files.remove(&relative_path(day, feed, format));
                        let reason = format!("older than the {} days kept", self.keep_days);
                        (MirrorOutcome::Deleted, reason)
                    }
                    Err(e) => {
                        let reason = format!("could not delete: {e}");
                        (MirrorOutcome::Failed(Error::Io(e)), reason)
                    }
                };
                report
                    .entries
                    .push(entry(feed, format, day, path, outcome, reason));
            }
            // Fails, and leaves the directory, when it holds files the mirror did not write.
            let _ = fs::remove_dir(&dir);
        }
    }
}

fn entry(
    feed: Feed,
    format: Format,
    day: Date,
    path: PathBuf,
    outcome: MirrorOutcome,
    reason: String,
) -> MirrorEntry {
    MirrorEntry {
        feed,
        format,
        day: Some(day),
        path,
        outcome,
        reason,
    }
}

fn dedup<T: PartialEq>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut kept = Vec::new();
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

fn day_name(day: Date) -> String {
    day.format(format_description!("[year][month][day]"))
        .expect("a date always formats")
}

fn parse_day(name: &str) -> Option<Date> {
    if name.len() != 8 {
        return None;
    }
    Date::parse(name, format_description!("[year][month][day]")).ok()
}

fn relative_path(day: Date, feed: Feed, format: Format) -> String {
    format!("{}/{}", day_name(day), file_name(feed, format))
}

fn file_name(feed: Feed, format: Format) -> String {
    format!("ioc_{feed}.{}.gz", format.extension())
}

fn parse_file_name(name: &str) -> Option<(Feed, Format)> {
    let rest = name.strip_prefix("ioc_")?.strip_suffix(".gz")?;
    let (feed, format) = rest.split_once('.')?;
    Some((feed.parse().ok()?, format.parse().ok()?))
}

fn file_size(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.len())
}

fn http_date(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .map(|at| httpdate::fmt_http_date(at.into()))
        .unwrap_or_else(|_| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn file_names_round_trip() {
        let day = date!(2023 - 04 - 27);
        assert_eq!(
            relative_path(day, Feed::Url, Format::Csv),
            "20230427/ioc_url.csv.gz"
        );
        assert_eq!(
            parse_file_name("ioc_hash.json.gz"),
            Some((Feed::Hash, Format::Json))
        );
        assert_eq!(parse_file_name("notes.txt"), None);
        assert_eq!(parse_day("20230427"), Some(day));
        assert_eq!(parse_day("2023-04-27"), None);
    }
}
