//! Progress reports of snapshot downloads, read every way a body can be read.

use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use rstcloud::sandbox::Sandbox;
use rstcloud::{Client, Feed, Format, Progress, SaveAs, SnapshotDate, UrlRecord};

fn client(sandbox: &Sandbox) -> Client {
    Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap()
}

fn recorder() -> (
    Arc<Mutex<Vec<Progress>>>,
    impl Fn(Progress) + Send + Sync + 'static,
) {
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let sink = seen.clone();
    (seen, move |p| sink.lock().unwrap().push(p))
}

#[tokio::test]
async fn records_report_bytes_total_and_every_record() {
    let sandbox = Sandbox::start().await;
    let (seen, hook) = recorder();
    let download = client(&sandbox)
        .download(Feed::Url, SnapshotDate::Latest, Format::Json)
        .await
        .unwrap();
    let total = download.content_length().unwrap();
    let records = download.on_progress(hook).records::<UrlRecord>().unwrap();
    let count = records.map(|r| r.unwrap()).count().await;
    assert_eq!(count, 100);

    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0],
        Progress {
            bytes: 0,
            total_bytes: Some(total),
            records: 0
        }
    );
    assert_eq!(
        *seen.last().unwrap(),
        Progress {
            bytes: total,
            total_bytes: Some(total),
            records: 100
        }
    );
    // Reports only ever move forward.
    assert!(
        seen.windows(2)
            .all(|w| w[0].bytes <= w[1].bytes && w[0].records <= w[1].records)
    );
}

#[tokio::test]
async fn a_saved_download_reports_every_byte_written() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (seen, hook) = recorder();
    let saved = client(&sandbox)
        .download(Feed::Hash, SnapshotDate::Latest, Format::Csv)
        .await
        .unwrap()
        .on_progress(hook)
        .save(dir.path().join("hash.csv.gz"), SaveAs::Compressed)
        .await
        .unwrap();

    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(last.bytes, saved.bytes_downloaded);
    assert_eq!(last.total_bytes, Some(saved.bytes_written));
    assert_eq!(last.records, 0);
}

#[tokio::test]
async fn csv_rows_are_counted_as_records() {
    let sandbox = Sandbox::start().await;
    let (seen, hook) = recorder();
    let rows = client(&sandbox)
        .download(Feed::Domain, SnapshotDate::Latest, Format::Csv)
        .await
        .unwrap()
        .on_progress(hook)
        .csv_rows()
        .unwrap();
    assert_eq!(rows.map(|r| r.unwrap()).count().await, 100);
    assert_eq!(seen.lock().unwrap().last().unwrap().records, 100);
}
