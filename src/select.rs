//! Picking records out of a snapshot: the filters integrators apply every day.
//!
//! A [`Selection`] is a set of conditions that a record must all meet: a minimum total
//! score, a highest false-positive alarm, new or updated in this snapshot, a tag, a
//! threat name. It tests one record with [`Selection::matches`], and a whole record
//! stream with [`RecordStreamExt::select`], which keeps every error item.
//!
//! ```no_run
//! # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
//! use futures_util::StreamExt;
//! use rstcloud::{FpAlarm, IpRecord, RecordStreamExt, Selection, SnapshotDate};
//!
//! let selection = Selection::new()
//!     .min_score(50)
//!     .max_fp_alarm(FpAlarm::False)
//!     .new_only();
//! let mut records = client
//!     .records::<IpRecord>(SnapshotDate::Latest)
//!     .await?
//!     .select(selection);
//! while let Some(record) = records.next().await {
//!     println!("block {}", record?.ip.v4);
//! }
//! # Ok(()) }
//! ```

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::error::Error;
use crate::models::{FeedRecord, FpAlarm};

/// Conditions a record must all meet to be selected. The empty selection keeps every
/// record.
///
/// ```
/// use rstcloud::Selection;
///
/// // Phishing or malware sites first seen on the snapshot's day, scored 40 or more.
/// let selection = Selection::new()
///     .min_score(40)
///     .new_only()
///     .any_tag(["phishing", "malware"]);
/// assert!(!selection.is_empty());
/// assert!(Selection::new().is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    min_score: Option<i64>,
    max_fp_alarm: Option<FpAlarm>,
    new_only: bool,
    updated_only: bool,
    tags: Vec<String>,
    threats: Vec<String>,
}

impl Selection {
    /// The empty selection, which keeps every record.
    pub fn new() -> Self {
        Selection::default()
    }

    /// Keeps records whose total score is at least `score`. A record without a total
    /// score is dropped.
    pub fn min_score(mut self, score: i64) -> Self {
        self.min_score = Some(score);
        self
    }

    /// Keeps records whose false-positive alarm is at most `level`, in the order
    /// `false` < `possible` < `true`: [`FpAlarm::False`] keeps only records with no
    /// alarm, [`FpAlarm::Possible`] drops only the sure false positives. A value the
    /// crate does not know ([`FpAlarm::Other`]) counts as raised, and is kept only when
    /// `level` is [`FpAlarm::True`] or that same value.
    pub fn max_fp_alarm(mut self, level: FpAlarm) -> Self {
        self.max_fp_alarm = Some(level);
        self
    }

    /// Keeps records first seen on the snapshot's day (`fseen` on the day starting at
    /// `collect`): the indicators new in this snapshot.
    pub fn new_only(mut self) -> Self {
        self.new_only = true;
        self
    }

    /// Keeps records last seen on the snapshot's day (`lseen` on the day starting at
    /// `collect`): the indicators updated in this snapshot, new ones included.
    pub fn updated_only(mut self) -> Self {
        self.updated_only = true;
        self
    }

    /// Keeps records carrying the tag `name` (case-insensitive). Several calls, or
    /// [`Selection::any_tag`], keep records with any of the tags.
    pub fn tag(mut self, name: impl Into<String>) -> Self {
        self.tags.push(name.into());
        self
    }

    /// Keeps records carrying any of the tags.
    pub fn any_tag<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.tags.extend(names.into_iter().map(Into::into));
        self
    }

    /// Keeps records naming the threat `name` (case-insensitive). Several calls, or
    /// [`Selection::any_threat`], keep records with any of the threats.
    pub fn threat(mut self, name: impl Into<String>) -> Self {
        self.threats.push(name.into());
        self
    }

    /// Keeps records naming any of the threats.
    pub fn any_threat<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Self {
        self.threats.extend(names.into_iter().map(Into::into));
        self
    }

    /// Whether no condition is set, so that the selection keeps every record.
    pub fn is_empty(&self) -> bool {
        *self == Selection::default()
    }

    /// Whether `record` meets every condition.
    ///
    /// ```
    /// use rstcloud::sandbox::Sandbox;
    /// use rstcloud::{Feed, IpRecord, Selection};
    ///
    /// let records: Vec<IpRecord> = Sandbox::records(Feed::Ip)
    ///     .lines()
    ///     .map(|line| serde_json::from_str(line).unwrap())
    ///     .collect();
    /// let high = Selection::new().min_score(50);
    /// assert!(records.iter().filter(|r| high.matches(*r)).all(|r| r.score_total() >= Some(50)));
    /// ```
    pub fn matches<R: FeedRecord>(&self, record: &R) -> bool {
        let common = record.common();
        if let Some(min) = self.min_score
            && common.score_total().is_none_or(|score| score < min)
        {
            return false;
        }
        if let Some(level) = &self.max_fp_alarm
            && !alarm_within(&common.fp_alarm(), level)
        {
            return false;
        }
        if self.new_only && !common.is_new() {
            return false;
        }
        if self.updated_only && !common.is_updated() {
            return false;
        }
        if !self.tags.is_empty() && !self.tags.iter().any(|tag| common.has_tag(tag)) {
            return false;
        }
        if !self.threats.is_empty() && !self.threats.iter().any(|t| common.has_threat(t)) {
            return false;
        }
        true
    }
}

/// Whether an alarm is at most `level`.
fn alarm_within(alarm: &FpAlarm, level: &FpAlarm) -> bool {
    fn rank(alarm: &FpAlarm) -> u8 {
        match alarm {
            FpAlarm::False => 0,
            FpAlarm::Possible => 1,
            FpAlarm::True | FpAlarm::Other(_) => 2,
        }
    }
    match (alarm, level) {
        (FpAlarm::Other(_), _) => alarm == level || *level == FpAlarm::True,
        _ => rank(alarm) <= rank(level),
    }
}

/// Selection on streams of records, such as [`Records`](crate::Records).
pub trait RecordStreamExt<T>: Stream<Item = Result<T, Error>> + Sized {
    /// Keeps the records that `selection` matches, and every error item: an error is
    /// never dropped by a selection.
    ///
    /// The stream must be `Unpin`, as [`Records`](crate::Records) is; pin any other
    /// with `Box::pin` first.
    ///
    /// ```no_run
    /// # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
    /// use futures_util::StreamExt;
    /// use rstcloud::{HashRecord, RecordStreamExt, Selection, SnapshotDate};
    ///
    /// let emotet = client
    ///     .records::<HashRecord>(SnapshotDate::Latest)
    ///     .await?
    ///     .select(Selection::new().threat("emotet").updated_only());
    /// let hashes: Vec<_> = emotet.collect().await;
    /// # Ok(()) }
    /// ```
    fn select(self, selection: Selection) -> Selected<Self> {
        Selected {
            inner: self,
            selection,
        }
    }
}

impl<T: FeedRecord, S: Stream<Item = Result<T, Error>>> RecordStreamExt<T> for S {}

/// A record stream filtered by a [`Selection`]; see [`RecordStreamExt::select`].
#[derive(Debug)]
pub struct Selected<S> {
    inner: S,
    selection: Selection,
}

impl<S> Selected<S> {
    /// The selection applied.
    pub fn selection(&self) -> &Selection {
        &self.selection
    }

    /// The stream being filtered.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<T, S> Stream for Selected<S>
where
    T: FeedRecord,
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(record))) if !this.selection.matches(&record) => continue,
                other => return other,
            }
        }
    }
}
