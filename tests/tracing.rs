//! What the client logs: a span per request with its outcome, and never a secret.
//!
//! Everything is captured at TRACE level for every target, the HTTP stack's `log`
//! records included, while every endpoint is called against the sandbox.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use rstcloud::sandbox::Sandbox;
use rstcloud::{
    Client, DomainRecord, Feed, Format, HashRecord, IpRecord, Lookup, RetryPolicy, SnapshotDate,
    UrlRecord,
};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

/// A writer into a buffer shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The signature of a presigned URL the sandbox hands out, read without the client.
async fn presigned_signature(sandbox: &Sandbox) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = http
        .get(format!("{}/ip?date=latest&type=json", sandbox.base_url()))
        .header("x-api-key", sandbox.api_key())
        .send()
        .await
        .unwrap();
    let location = answer.headers()["location"].to_str().unwrap().to_owned();
    let url = url::Url::parse(&location).unwrap();
    let (_, signature) = url
        .query_pairs()
        .find(|(name, _)| name == "X-Amz-Signature")
        .expect("a presigned URL has a signature");
    signature.into_owned()
}

async fn stream_all<T: rstcloud::FeedRecord>(client: &Client) -> usize {
    let records = client.records::<T>(SnapshotDate::Latest).await.unwrap();
    records.map(|r| r.unwrap()).count().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_logs_its_outcome_and_no_secret() {
    let sandbox = Sandbox::start().await;
    // Read before the capture starts, so that the test's own request is not in it.
    let signature = presigned_signature(&sandbox).await;
    assert!(signature.len() >= 16);

    let captured = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .try_init()
        .expect("the only subscriber of this test binary");

    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap();

    assert!(client.auth_check().await.unwrap().is_valid());
    for feed in Feed::ALL {
        let info = client.snapshot_info(feed, Format::Json).await.unwrap();
        assert!(info.last_modified.is_some());
    }
    assert_eq!(stream_all::<IpRecord>(&client).await, 100);
    assert_eq!(stream_all::<DomainRecord>(&client).await, 100);
    assert_eq!(stream_all::<UrlRecord>(&client).await, 100);
    assert_eq!(stream_all::<HashRecord>(&client).await, 100);
    assert!(matches!(
        client.lookup("45.83.122.166").await.unwrap(),
        Lookup::Found(_)
    ));
    assert!(matches!(
        client.lookup("192.0.2.1").await.unwrap(),
        Lookup::NotFound { .. }
    ));
    client
        .submit("evil.example", "seen in a phish")
        .await
        .unwrap();
    client
        .report_false_positive("45.83.122.166", "our own scanner")
        .await
        .unwrap();
    client.whois("app-gps.cloud").await.unwrap();
    client.whois_raw("app-gps.cloud").await.unwrap();

    let text = captured.text();
    // The HTTP stack's own records were captured too, so the checks below cover them.
    assert!(text.contains("reqwest::connect"), "{text}");
    assert!(text.contains("hyper_util::client"), "{text}");
    assert!(!text.contains(Sandbox::API_KEY), "the key was logged");
    assert!(
        !text.contains(&signature),
        "a presigned signature was logged"
    );
    assert!(!text.contains("X-Amz-Signature"));

    // One closed span per API call, carrying its outcome.
    let closed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("rstcloud.request{") && l.ends_with_close())
        .collect();
    assert_eq!(closed.len(), 1 + 4 + 4 + 2 + 2 + 2, "{text}");
    for span in &closed {
        assert!(span.contains("attempt=1"), "{span}");
        assert!(span.contains("elapsed_ms="), "{span}");
        assert!(span.contains("method="), "{span}");
    }
    let with = |needle: &str| closed.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(with("method=\"HEAD\""), 4);
    assert_eq!(with("status=302"), 4);
    assert_eq!(with("status=200"), 1 + 4 + 2 + 2 + 2);
    assert_eq!(with("endpoint=\"GET /whois/raw\""), 1);
    assert_eq!(with("bytes="), closed.len());
    assert!(text.contains("following the snapshot redirect"));
    assert!(text.contains("storage answer"));

    // A retried call: one span, the retry an event in it, the last attempt recorded.
    Mock::given(method("GET"))
        .and(path("/v1/auth/check"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .mount(sandbox.api_server())
        .await;
    let retrying = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .retry(RetryPolicy::default().base_delay(Duration::from_millis(1)))
        .build()
        .unwrap();
    let before = captured.text().len();
    assert!(retrying.auth_check().await.unwrap().is_valid());
    let text = captured.text()[before..].to_owned();
    let retry = text
        .lines()
        .find(|l| l.contains("retrying"))
        .expect("a retry event");
    assert!(
        retry.contains("rstcloud.request{endpoint=\"GET /auth/check\""),
        "{retry}"
    );
    assert!(retry.contains("status=502"), "{retry}");
    let close = text.lines().find(|l| l.contains(": close ")).unwrap();
    // The fmt layer appends each recorded value, so the last attempt's come last.
    assert!(close.contains("attempt=1 status=502"), "{close}");
    assert!(close.contains("attempt=2 status=200"), "{close}");
    assert!(!text.contains(Sandbox::API_KEY));
}

trait CloseLine {
    fn ends_with_close(&self) -> bool;
}

impl CloseLine for &str {
    fn ends_with_close(&self) -> bool {
        self.contains(": close ")
    }
}
