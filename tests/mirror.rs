//! The mirror against the sandbox: fetching, skipping, pruning, locking, past days.

use std::fs::{self, File};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rstcloud::mirror::{INDEX_FILE, LOCK_FILE};
use rstcloud::sandbox::Sandbox;
use rstcloud::{Client, Error, Feed, Format, Mirror, MirrorOutcome, Progress};
use time::macros::date;

fn client(sandbox: &Sandbox) -> Client {
    Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_second_run_downloads_nothing() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::new(client(&sandbox), dir.path());

    let first = mirror.run().await.unwrap();
    assert!(first.is_success(), "{first:?}");
    assert_eq!(first.fetched().count(), 4);
    assert_eq!(first.skipped().count(), 0);
    let fetched: Vec<Feed> = first.fetched().map(|e| e.feed).collect();
    assert_eq!(fetched, Feed::ALL);
    assert_eq!(
        names(&dir.path().join("20230427")),
        [
            "ioc_domain.json.gz",
            "ioc_hash.json.gz",
            "ioc_ip.json.gz",
            "ioc_url.json.gz"
        ]
    );
    for entry in first.fetched() {
        assert_eq!(entry.day, Some(date!(2023 - 04 - 27)));
        let MirrorOutcome::Fetched { bytes } = entry.outcome else {
            unreachable!()
        };
        assert_eq!(fs::metadata(&entry.path).unwrap().len(), bytes);
        assert_eq!(&fs::read(&entry.path).unwrap()[..2], [0x1f, 0x8b]);
    }
    let storage_gets = sandbox.storage_server().received_requests().await.unwrap();
    assert_eq!(storage_gets.len(), 4);

    let second = mirror.run().await.unwrap();
    assert!(second.is_success());
    assert_eq!(second.fetched().count(), 0);
    assert_eq!(second.skipped().count(), 4);
    for entry in second.skipped() {
        assert_eq!(
            entry.reason,
            "up to date (Last-Modified Thu, 27 Apr 2023 01:12:37 GMT)"
        );
    }
    // The second run asked HEAD only: the storage host saw no new request.
    let storage_gets = sandbox.storage_server().received_requests().await.unwrap();
    assert_eq!(storage_gets.len(), 4);
}

#[tokio::test]
async fn a_changed_local_file_is_fetched_again() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::new(client(&sandbox), dir.path()).feeds([Feed::Url]);
    mirror.run().await.unwrap();

    let path = mirror.path_of(date!(2023 - 04 - 27), Feed::Url, Format::Json);
    fs::write(&path, b"damaged").unwrap();
    let report = mirror.run().await.unwrap();
    assert_eq!(report.fetched().count(), 1);
    assert_eq!(&fs::read(&path).unwrap()[..2], [0x1f, 0x8b]);
}

#[tokio::test]
async fn days_older_than_those_kept_are_deleted() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("20230401");
    fs::create_dir_all(&old).unwrap();
    fs::write(old.join("ioc_ip.json.gz"), b"old").unwrap();
    let kept = dir.path().join("20230421");
    fs::create_dir_all(&kept).unwrap();
    fs::write(kept.join("ioc_ip.json.gz"), b"kept").unwrap();
    let foreign = dir.path().join("20230301");
    fs::create_dir_all(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), b"not the mirror's").unwrap();

    let report = Mirror::new(client(&sandbox), dir.path())
        .feeds([Feed::Ip])
        .keep_days(7)
        .run()
        .await
        .unwrap();

    assert!(report.is_success(), "{report:?}");
    let deleted: Vec<_> = report.deleted().map(|e| e.path.clone()).collect();
    assert_eq!(deleted, [old.join("ioc_ip.json.gz")]);
    let entry = report.deleted().next().unwrap();
    assert_eq!(
        (entry.feed, entry.format, entry.day),
        (Feed::Ip, Format::Json, Some(date!(2023 - 04 - 01)))
    );
    assert!(!old.exists());
    // 21 April is the seventh day back from 27 April: kept.
    assert!(kept.join("ioc_ip.json.gz").exists());
    // Files the mirror did not write are never deleted.
    assert!(foreign.join("notes.txt").exists());
}

#[tokio::test]
async fn a_run_on_a_locked_directory_fails_with_a_typed_error() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join(LOCK_FILE);
    let held = File::create(&lock_path).unwrap();
    held.try_lock().unwrap();

    let error = Mirror::new(client(&sandbox), dir.path())
        .run()
        .await
        .unwrap_err();
    match error {
        Error::MirrorLocked { dir: locked, lock } => {
            assert_eq!(locked, dir.path());
            assert_eq!(lock, lock_path);
        }
        other => panic!("expected MirrorLocked, got {other:?}"),
    }
    assert_eq!(names(dir.path()), [LOCK_FILE]);
    assert!(
        sandbox
            .api_server()
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );

    drop(held);
    let report = Mirror::new(client(&sandbox), dir.path())
        .feeds([Feed::Hash])
        .run()
        .await
        .unwrap();
    assert_eq!(report.fetched().count(), 1);
}

#[tokio::test]
async fn two_runs_at_once_never_both_work_on_the_directory() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::new(client(&sandbox), dir.path());

    let (a, b) = tokio::join!(mirror.run(), mirror.run());
    let results = [a, b];
    let locked = results
        .iter()
        .filter(|r| matches!(r, Err(Error::MirrorLocked { .. })))
        .count();
    let fetched: usize = results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .map(|r| r.fetched().count())
        .sum();
    // Either the runs overlapped (one refused) or ran one after the other (the second
    // found everything up to date): never two downloads of one file.
    assert!(locked <= 1);
    assert_eq!(fetched, 4);
    assert!(dir.path().join(INDEX_FILE).exists());
}

#[tokio::test]
async fn a_past_day_is_fetched_by_date_and_a_missing_one_fails() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mirror = Mirror::new(client(&sandbox), dir.path())
        .feeds([Feed::Domain])
        .formats([Format::Json, Format::Csv]);

    let report = mirror.run_day(date!(2023 - 04 - 27)).await.unwrap();
    assert_eq!(report.fetched().count(), 2);
    assert_eq!(
        names(&dir.path().join("20230427")),
        ["ioc_domain.csv.gz", "ioc_domain.json.gz"]
    );
    let again = mirror.run_day(date!(2023 - 04 - 27)).await.unwrap();
    assert_eq!(again.skipped().count(), 2);
    assert!(again.skipped().all(|e| e.reason == "already mirrored"));

    let missing = mirror.run_day(date!(2023 - 04 - 26)).await.unwrap();
    assert!(!missing.is_success());
    assert_eq!(missing.failed().count(), 2);
    for entry in missing.failed() {
        match &entry.outcome {
            MirrorOutcome::Failed(Error::Storage { status, code, .. }) => {
                assert_eq!(status.as_u16(), 404);
                assert_eq!(code.as_deref(), Some("NoSuchKey"));
            }
            other => panic!("{other:?}"),
        }
    }
    // The failed day left nothing behind.
    assert!(!dir.path().join("20230426").exists());

    let stale = mirror.run_day(date!(2023 - 01 - 01)).await.unwrap();
    assert_eq!(stale.skipped().count(), 2);
    assert!(
        stale
            .skipped()
            .all(|e| e.reason == "older than the 7 days kept")
    );
}

#[tokio::test]
async fn the_mirror_reports_download_progress() {
    let sandbox = Sandbox::start().await;
    let dir = tempfile::tempdir().unwrap();
    let seen: Arc<Mutex<Vec<(Feed, Progress)>>> = Arc::default();
    let sink = seen.clone();
    let report = Mirror::new(client(&sandbox), dir.path())
        .feeds([Feed::Ip])
        .on_progress(move |feed, _, p| sink.lock().unwrap().push((feed, p)))
        .run()
        .await
        .unwrap();

    let MirrorOutcome::Fetched { bytes } = report.entries[0].outcome else {
        panic!("{report:?}")
    };
    let seen = seen.lock().unwrap();
    assert_eq!(seen.first().unwrap().1.bytes, 0);
    let last = seen.last().unwrap().1;
    assert_eq!(last.bytes, bytes);
    assert_eq!(last.total_bytes, Some(bytes));
    assert!(seen.iter().all(|(feed, _)| *feed == Feed::Ip));
}
