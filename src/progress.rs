//! Progress hooks for long downloads.
//!
//! A hook is a callback that receives a [`Progress`] each time a snapshot download moves:
//! once at the start (nothing received yet, the total when announced), after every
//! chunk of the compressed body, and after every record or CSV row parsed. It runs on
//! the task or thread doing the work, so it should be quick: update a progress bar,
//! store the numbers, or send them on a channel.
//!
//! ```no_run
//! # async fn run(client: rstcloud::Client) -> rstcloud::Result<()> {
//! use rstcloud::{Feed, Format, SaveAs, SnapshotDate};
//!
//! let saved = client
//!     .download(Feed::Ip, SnapshotDate::Latest, Format::Json)
//!     .await?
//!     .on_progress(|p| eprintln!("{} of {:?} bytes", p.bytes, p.total_bytes))
//!     .save("ip.json.gz", SaveAs::Compressed)
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;

use crate::error::Error;
use crate::snapshot::{BodyStream, Counters, Progress};

/// A shared progress callback.
#[derive(Clone)]
pub(crate) struct ProgressHook(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressHook {
    pub(crate) fn new(hook: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        ProgressHook(Arc::new(hook))
    }

    pub(crate) fn call(&self, progress: Progress) {
        (self.0)(progress);
    }
}

impl fmt::Debug for ProgressHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressHook")
    }
}

/// Counts the bytes of a body that no decoder counts, such as one written to a file.
pub(crate) fn counted(body: BodyStream, counters: Arc<Counters>) -> BodyStream {
    Box::pin(Counted { body, counters })
}

struct Counted {
    body: BodyStream,
    counters: Arc<Counters>,
}

impl Stream for Counted {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.body.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Ok(chunk))) = &polled {
            self.counters.add_bytes(chunk.len());
        }
        polled
    }
}
