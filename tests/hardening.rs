//! The failure cases real networks, storage hosts and feed data produce, one test (or
//! more) per case, named after it: redirects and secrets (R), gzip and the snapshot body
//! (G), records (D), requests (Q) and error bodies (E). Then retries, timeouts, resumed
//! downloads and input checks. Everything runs against servers on 127.0.0.1.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rstcloud::{
    Client, DomainRecord, Error, Feed, Format, FpAlarm, HashRecord, Indicator, IndicatorKind,
    IpRecord, Lookup, RetryPolicy, SaveAs, SnapshotDate, SnapshotError, TimeoutKind, UrlRecord,
};
use support::{
    IP_RECORDS, end_chunks, gzip, gzip_with, ip_records_text, raw_server, write_chunk, write_head,
};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "test-key-7f3a-SECRET";
const SIGNATURE: &str = "abcdef0123456789SIGNATURE";

struct Servers {
    api: MockServer,
    storage: MockServer,
    client: Client,
}

async fn setup() -> Servers {
    setup_with(RetryPolicy::none()).await
}

async fn setup_with(retry: RetryPolicy) -> Servers {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    let client = client_for(&api.uri(), retry);
    Servers {
        api,
        storage,
        client,
    }
}

fn client_for(api: &str, retry: RetryPolicy) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(format!("{api}/v1"))
        .retry(retry)
        .build()
        .unwrap()
}

/// A policy with many attempts and waits short enough for tests.
fn quick_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(5))
        .max_delay(Duration::from_millis(20))
}

fn first_lines(n: usize) -> String {
    IP_RECORDS
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn sample(text: &str, n: usize) -> serde_json::Value {
    serde_json::from_str(text.lines().nth(n).unwrap()).unwrap()
}

/// The API redirects `GET /v1/ip` to `location` with `code`.
async fn redirect_ip(api: &MockServer, code: u16, location: &str) {
    Mock::given(method("GET"))
        .and(path("/v1/ip"))
        .and(query_param("date", "latest"))
        .and(query_param("type", "json"))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(code).insert_header("Location", location))
        .mount(api)
        .await;
}

fn presigned(base: &str, object: &str) -> String {
    format!(
        "{base}{object}?X-Amz-Credential=AKIA%2F20260101&X-Amz-Date=20260101T000000Z\
         &X-Amz-Expires=3600&X-Amz-Signature={SIGNATURE}"
    )
}

async fn serve_object(storage: &MockServer, object: &str, body: Vec<u8>, content_type: &str) {
    Mock::given(method("GET"))
        .and(path(object))
        .and(query_param("X-Amz-Signature", SIGNATURE))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, content_type))
        .mount(storage)
        .await;
}

/// Every item of the IP snapshot stream, errors included.
async fn ip_items(client: &Client) -> Vec<Result<IpRecord, Error>> {
    client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap()
        .collect()
        .await
}

/// Serves `body` as the IP snapshot with `content_type` and returns every item.
async fn snapshot_items(body: Vec<u8>, content_type: &str) -> Vec<Result<IpRecord, Error>> {
    let s = setup().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    serve_object(&s.storage, "/bkt/ip.json.gz", body, content_type).await;
    ip_items(&s.client).await
}

fn ips(items: &[Result<IpRecord, Error>]) -> Vec<String> {
    items
        .iter()
        .map(|r| r.as_ref().unwrap().ip.v4.clone())
        .collect()
}

fn sample_ips(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            sample(IP_RECORDS, i)["ip"]["v4"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn assert_no_credentials(request: &Request) {
    for (name, value) in request.headers.iter() {
        let name = name.as_str().to_ascii_lowercase();
        assert!(
            ![
                "x-api-key",
                "authorization",
                "proxy-authorization",
                "cookie"
            ]
            .contains(&name.as_str()),
            "storage received {name}"
        );
        assert!(
            !value.to_str().unwrap_or("").contains(KEY),
            "{name} carried the key"
        );
    }
    assert!(!request.url.as_str().contains(KEY));
}

async fn assert_storage_got_no_credentials(storage: &MockServer) -> usize {
    let requests = storage.received_requests().await.unwrap();
    assert!(!requests.is_empty(), "the storage server was never asked");
    for request in &requests {
        assert_no_credentials(request);
    }
    requests.len()
}

// ---------------------------------------------------------------------------------------
// Redirects and secrets

#[tokio::test]
async fn r1_storage_never_receives_the_key_for_any_redirect_code() {
    for code in [301, 302, 303, 307, 308] {
        let s = setup().await;
        redirect_ip(
            &s.api,
            code,
            &presigned(&s.storage.uri(), "/bkt/ip.json.gz"),
        )
        .await;
        serve_object(
            &s.storage,
            "/bkt/ip.json.gz",
            gzip(IP_RECORDS.as_bytes()),
            "application/gzip",
        )
        .await;

        let items = ip_items(&s.client).await;

        assert_eq!(ips(&items), sample_ips(100), "redirect {code}");
        assert_eq!(assert_storage_got_no_credentials(&s.storage).await, 1);
    }
}

#[tokio::test]
async fn r1_storage_never_receives_the_key_on_head_for_any_redirect_code() {
    for code in [301, 302, 303, 307, 308] {
        let s = setup().await;
        Mock::given(method("HEAD"))
            .and(path("/v1/ip"))
            .and(header("x-api-key", KEY))
            .respond_with(ResponseTemplate::new(code).insert_header(
                "Location",
                presigned(&s.storage.uri(), "/bkt/ip.json.gz").as_str(),
            ))
            .mount(&s.api)
            .await;
        Mock::given(method("HEAD"))
            .and(path("/bkt/ip.json.gz"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("Last-Modified", "Wed, 12 Feb 2025 01:02:03 GMT"),
            )
            .mount(&s.storage)
            .await;

        let info = s
            .client
            .snapshot_info(Feed::Ip, Format::Json)
            .await
            .unwrap();

        assert_eq!(
            info.last_modified.unwrap().unix_timestamp(),
            1_739_322_123,
            "redirect {code}"
        );
        assert_eq!(assert_storage_got_no_credentials(&s.storage).await, 1);
    }
}

#[tokio::test]
async fn r1_a_further_redirect_on_the_storage_side_carries_no_key_either() {
    let s = setup().await;
    let second = MockServer::start().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    Mock::given(method("GET"))
        .and(path("/bkt/ip.json.gz"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "Location",
            presigned(&second.uri(), "/regional/ip.json.gz").as_str(),
        ))
        .mount(&s.storage)
        .await;
    serve_object(
        &second,
        "/regional/ip.json.gz",
        gzip(IP_RECORDS.as_bytes()),
        "application/gzip",
    )
    .await;

    let items = ip_items(&s.client).await;

    assert_eq!(items.len(), 100);
    assert_storage_got_no_credentials(&s.storage).await;
    assert_storage_got_no_credentials(&second).await;
}

/// Answers like S3 does when a request carries credentials it did not sign.
struct S3Like {
    body: Vec<u8>,
}

impl Respond for S3Like {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let credentialed = request.headers.contains_key("x-api-key")
            || request.headers.contains_key("authorization");
        if credentialed {
            ResponseTemplate::new(403).set_body_raw(
                "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we \
                 calculated does not match</Message></Error>",
                "application/xml",
            )
        } else {
            ResponseTemplate::new(200).set_body_raw(self.body.clone(), "application/gzip")
        }
    }
}

#[tokio::test]
async fn r2_a_storage_host_that_refuses_credentials_serves_the_snapshot() {
    let s = setup().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    Mock::given(method("GET"))
        .and(path("/bkt/ip.json.gz"))
        .respond_with(S3Like {
            body: gzip(IP_RECORDS.as_bytes()),
        })
        .mount(&s.storage)
        .await;

    let items = ip_items(&s.client).await;

    assert_eq!(ips(&items), sample_ips(100));
}

#[tokio::test]
async fn r2_a_storage_403_is_a_typed_storage_error_not_a_bad_key_and_not_retried() {
    let s = setup_with(quick_retries(4)).await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    Mock::given(method("GET"))
        .and(path("/bkt/ip.json.gz"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>\
             <Message>Request has expired</Message></Error>",
            "application/xml",
        ))
        .mount(&s.storage)
        .await;

    let error = s
        .client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap_err();

    match &error {
        Error::Storage {
            status,
            code,
            message,
            ..
        } => {
            assert_eq!(status.as_u16(), 403);
            assert_eq!(code.as_deref(), Some("AccessDenied"));
            assert_eq!(message.as_deref(), Some("Request has expired"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!error.is_auth());
    assert!(!error.is_retryable());
    assert_eq!(s.storage.received_requests().await.unwrap().len(), 1);
    assert_eq!(s.api.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn r3_a_redirect_to_the_api_host_itself_carries_no_key() {
    for absolute in [true, false] {
        let api = MockServer::start().await;
        let client = client_for(&api.uri(), RetryPolicy::none());
        let base = if absolute { api.uri() } else { String::new() };
        redirect_ip(&api, 302, &presigned(&base, "/storage/ip.json.gz")).await;
        serve_object(
            &api,
            "/storage/ip.json.gz",
            gzip(IP_RECORDS.as_bytes()),
            "application/gzip",
        )
        .await;

        let items = ip_items(&client).await;

        assert_eq!(items.len(), 100);
        let requests = api.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].url.path(), "/v1/ip");
        assert_eq!(requests[0].headers["x-api-key"], KEY);
        assert_eq!(requests[1].url.path(), "/storage/ip.json.gz");
        assert_no_credentials(&requests[1]);
    }
}

/// A tracing writer that keeps every line in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn assert_no_secret(text: &str) {
    assert!(!text.contains(KEY), "the key leaked: {text}");
    assert!(!text.contains(SIGNATURE), "the signature leaked: {text}");
}

fn assert_error_shows_no_secret(error: &Error) {
    assert_no_secret(&format!("{error}"));
    assert_no_secret(&format!("{error:?}"));
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        assert_no_secret(&format!("{cause} {cause:?}"));
        source = cause.source();
    }
}

#[test]
fn r4_the_client_and_its_builder_never_show_the_key() {
    let builder = Client::builder().api_key(KEY);
    assert_no_secret(&format!("{builder:?}"));
    let client = builder.build().unwrap();
    assert_no_secret(&format!("{client:?}"));
}

#[tokio::test]
async fn r4_api_errors_never_show_the_key_even_when_the_server_echoes_it() {
    let s = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/check"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            format!(r#"{{"error":"Invalid API key {KEY}"}}"#),
            "application/json",
        ))
        .mount(&s.api)
        .await;

    let error = s.client.auth_check().await.unwrap_err();

    assert_eq!(error.status().map(|s| s.as_u16()), Some(401));
    assert!(error.is_auth());
    assert!(error.to_string().contains("Invalid API key"), "{error}");
    assert_error_shows_no_secret(&error);
}

#[tokio::test]
async fn r4_storage_errors_never_show_the_signature() {
    let s = setup().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    // S3 repeats the signature it was given in its SignatureDoesNotMatch body.
    Mock::given(method("GET"))
        .and(path("/bkt/ip.json.gz"))
        .respond_with(ResponseTemplate::new(403).set_body_raw(
            format!(
                "<Error><Code>SignatureDoesNotMatch</Code><Message>signature \
                 {SIGNATURE} does not match</Message><SignatureProvided>{SIGNATURE}\
                 </SignatureProvided></Error>"
            ),
            "application/xml",
        ))
        .mount(&s.storage)
        .await;

    let error = s
        .client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap_err();

    assert!(
        matches!(&error, Error::Storage { code, .. } if code.as_deref() == Some("SignatureDoesNotMatch")),
        "{error:?}"
    );
    assert_error_shows_no_secret(&error);
}

#[tokio::test]
async fn r4_transport_errors_from_a_presigned_url_never_show_the_signature() {
    let s = setup().await;
    // A port nobody listens on: the connection to storage is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    redirect_ip(&s.api, 302, &presigned(&dead, "/bkt/ip.json.gz")).await;

    let error = s
        .client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_error_shows_no_secret(&error);
}

#[test]
fn r4_log_lines_never_show_the_key_or_the_signature() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let s = setup_with(quick_retries(2)).await;
            redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
            serve_object(
                &s.storage,
                "/bkt/ip.json.gz",
                gzip(IP_RECORDS.as_bytes()),
                "application/gzip",
            )
            .await;
            Mock::given(method("GET"))
                .and(path("/v1/ioc"))
                .respond_with(ResponseTemplate::new(502).set_body_raw(
                    format!(r#"{{"message":"bad gateway for key {KEY}"}}"#),
                    "application/json",
                ))
                .mount(&s.api)
                .await;

            assert_eq!(ip_items(&s.client).await.len(), 100);
            let error = s.client.lookup("1.1.1.1").await.unwrap_err();
            assert_eq!(error.status().map(|s| s.as_u16()), Some(502));
        })
    });

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("retrying"), "{logs}");
    assert!(logs.contains("following the snapshot redirect"), "{logs}");
    assert_no_secret(&logs);
}

// ---------------------------------------------------------------------------------------
// Gzip and the snapshot body

#[tokio::test]
async fn g1_a_content_encoding_gzip_header_never_inflates_twice_or_not_at_all() {
    let body = gzip(IP_RECORDS.as_bytes());
    let plain = snapshot_items(body.clone(), "application/gzip").await;

    let s = setup().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    Mock::given(method("GET"))
        .and(path("/bkt/ip.json.gz"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(body, "application/gzip")
                .insert_header("Content-Encoding", "gzip"),
        )
        .mount(&s.storage)
        .await;
    let encoded = ip_items(&s.client).await;

    assert_eq!(ips(&encoded), sample_ips(100));
    let plain: Vec<IpRecord> = plain.into_iter().map(Result::unwrap).collect();
    let encoded: Vec<IpRecord> = encoded.into_iter().map(Result::unwrap).collect();
    assert_eq!(plain, encoded);
}

#[tokio::test]
async fn g2_gzip_is_recognised_by_its_magic_bytes_whatever_the_content_type() {
    let body = gzip(IP_RECORDS.as_bytes());
    for content_type in [
        "application/gzip",
        "application/x-gzip",
        "binary/octet-stream",
        "application/json",
    ] {
        let items = snapshot_items(body.clone(), content_type).await;
        assert_eq!(ips(&items), sample_ips(100), "{content_type}");
    }
}

#[tokio::test]
async fn g3_every_gzip_member_is_read() {
    let mut body = gzip(first_lines(1).as_bytes());
    body.extend(gzip(IP_RECORDS.lines().nth(1).unwrap().as_bytes()));

    let items = snapshot_items(body, "application/gzip").await;

    assert_eq!(ips(&items), sample_ips(2));
}

#[tokio::test]
async fn g3_a_truncated_last_member_ends_with_a_truncation_error() {
    let mut body = gzip(first_lines(1).as_bytes());
    let second = gzip(format!("{}\n", IP_RECORDS.lines().nth(1).unwrap()).as_bytes());
    body.extend_from_slice(&second[..second.len() / 2]);

    let items = snapshot_items(body, "application/gzip").await;

    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].as_ref().unwrap().ip.v4, sample_ips(1)[0]);
    assert!(
        matches!(items[1], Err(Error::Snapshot(SnapshotError::Truncated))),
        "{items:?}"
    );
}

#[tokio::test]
async fn g3_bytes_after_the_last_member_are_a_corruption_error() {
    let mut body = gzip(first_lines(2).as_bytes());
    body.extend_from_slice(b"<html>proxy says hello</html>");

    let items = snapshot_items(body, "application/gzip").await;

    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        ips(&items[..2]),
        sample_ips(2),
        "the records before the junk are kept"
    );
    assert!(
        matches!(items[2], Err(Error::Snapshot(SnapshotError::Corrupt(_)))),
        "{items:?}"
    );
}

#[tokio::test]
async fn g3_an_empty_body_is_an_empty_snapshot_error() {
    let items = snapshot_items(Vec::new(), "application/gzip").await;

    assert!(
        matches!(&items[..], [Err(Error::Snapshot(SnapshotError::Empty))]),
        "{items:?}"
    );
}

#[tokio::test]
async fn g3_an_xml_or_json_error_page_with_status_200_is_not_gzip() {
    for (body, content_type, expected) in [
        (
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>",
            "application/xml",
            "NoSuchKey",
        ),
        (
            r#"{"error":"Snapshot not ready"}"#,
            "application/json",
            "Snapshot not ready",
        ),
    ] {
        let items = snapshot_items(body.as_bytes().to_vec(), content_type).await;

        match &items[..] {
            [Err(Error::Snapshot(SnapshotError::NotGzip { snippet }))] => {
                assert!(snippet.contains(expected), "{snippet}")
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn g4_a_body_cut_short_with_a_matching_content_length_is_truncated() {
    let body = gzip(first_lines(2).as_bytes());
    // Cutting 10 bytes takes the trailer and the end of the deflate data; cutting more
    // reaches into record 2. Whatever the cut, the whole records before it arrive, then
    // a truncation error: never a clean end, never half a record.
    for cut in [10, 9, 12, 40, 200] {
        let short = body[..body.len() - cut].to_vec();

        // wiremock announces the length of the cut body, so HTTP sees a complete answer.
        let items = snapshot_items(short, "application/gzip").await;

        let (last, records) = items.split_last().unwrap();
        assert!(
            matches!(last, Err(Error::Snapshot(SnapshotError::Truncated))),
            "cut {cut}: {items:?}"
        );
        assert!(!records.is_empty(), "cut {cut}: record 1 is whole");
        assert_eq!(ips(records), sample_ips(records.len()), "cut {cut}");
        if cut > 20 {
            assert_eq!(records.len(), 1, "cut {cut}: record 2 is cut");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g5_a_chunked_body_of_200000_records_arrives_whole_with_progress_in_bytes() {
    const COUNT: usize = 200_000;
    let body = Arc::new(gzip_with(
        &ip_records_text(COUNT),
        flate2::Compression::fast(),
    ));
    let served = body.clone();
    let storage = raw_server(move |_, _, mut stream| {
        let body = served.clone();
        async move {
            write_head(
                &mut stream,
                "200 OK",
                &[
                    "Content-Type: binary/octet-stream".into(),
                    "Transfer-Encoding: chunked".into(),
                ],
            )
            .await;
            for chunk in body.chunks(64 * 1024) {
                if !write_chunk(&mut stream, chunk).await {
                    return;
                }
            }
            end_chunks(&mut stream).await;
        }
    })
    .await;
    let api = MockServer::start().await;
    redirect_ip(&api, 302, &presigned(&storage.url(""), "/bkt/ip.json.gz")).await;
    let client = client_for(&api.uri(), RetryPolicy::none());

    let mut records = client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap();
    let mut count = 0;
    let mut midway = None;
    while let Some(record) = records.next().await {
        let record = record.unwrap();
        assert_eq!(record.common.id, format!("rec-{count}"));
        count += 1;
        if count == COUNT / 2 {
            midway = Some(records.progress());
        }
    }

    assert_eq!(count, COUNT);
    let midway = midway.unwrap();
    assert!(
        midway.bytes > 0 && midway.bytes <= body.len() as u64,
        "{midway:?}"
    );
    let end = records.progress();
    assert_eq!(end.bytes, body.len() as u64);
    assert_eq!(end.total_bytes, None);
    assert_eq!(end.records, COUNT as u64);
}

#[tokio::test]
async fn g6_a_64_mib_line_is_a_record_too_long_error_at_the_configured_limit() {
    let line = vec![b'x'; 64 << 20];
    let body = gzip_with(&line, flate2::Compression::fast());
    drop(line);
    let s = setup().await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    serve_object(&s.storage, "/bkt/ip.json.gz", body, "application/gzip").await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", s.api.uri()))
        .retry(RetryPolicy::none())
        .max_line_length(1 << 20)
        .build()
        .unwrap();

    let items = ip_items(&client).await;

    assert!(
        matches!(
            &items[..],
            [Err(Error::Snapshot(SnapshotError::LineTooLong {
                line: 1,
                limit: 1_048_576
            }))]
        ),
        "{items:?}"
    );
}

/// A storage server that sends `body` as a chunked answer, `piece` bytes at a time with
/// `pause` between pieces, and stops (holding the connection open) after `stop_after`
/// bytes when given.
async fn paced_storage(
    body: Vec<u8>,
    piece: usize,
    pause: Duration,
    stop_after: Option<usize>,
) -> support::RawServer {
    let body = Arc::new(body);
    raw_server(move |_, _, mut stream| {
        let body = body.clone();
        async move {
            write_head(
                &mut stream,
                "200 OK",
                &["Transfer-Encoding: chunked".into()],
            )
            .await;
            let mut sent = 0;
            for chunk in body.chunks(piece) {
                if stop_after.is_some_and(|limit| sent >= limit) {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    return;
                }
                if !write_chunk(&mut stream, chunk).await {
                    return;
                }
                let _ = stream.flush().await;
                sent += chunk.len();
                tokio::time::sleep(pause).await;
            }
            end_chunks(&mut stream).await;
        }
    })
    .await
}

#[tokio::test]
async fn g7_a_stalled_body_is_a_read_timeout_after_about_the_limit() {
    let body = gzip(IP_RECORDS.as_bytes());
    let storage = paced_storage(body, 1024, Duration::ZERO, Some(1024)).await;
    let api = MockServer::start().await;
    redirect_ip(&api, 302, &presigned(&storage.url(""), "/bkt/ip.json.gz")).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", api.uri()))
        .retry(RetryPolicy::none())
        .read_timeout(Duration::from_secs(1))
        .build()
        .unwrap();

    let started = Instant::now();
    let items = ip_items(&client).await;
    let elapsed = started.elapsed();

    let last = items.last().unwrap();
    assert!(
        matches!(
            last,
            Err(Error::Timeout {
                kind: TimeoutKind::Read(d),
                ..
            }) if *d == Duration::from_secs(1)
        ),
        "{last:?}"
    );
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));
    assert!(
        elapsed >= Duration::from_millis(900) && elapsed < Duration::from_millis(3500),
        "{elapsed:?}"
    );
    assert_error_shows_no_secret(last.as_ref().unwrap_err());
}

#[tokio::test]
async fn g7_a_body_that_trickles_for_longer_than_the_read_timeout_is_not_a_timeout() {
    let body = gzip(IP_RECORDS.as_bytes());
    // 15 pieces 200 ms apart: three seconds in all, three times the read timeout.
    let piece = body.len().div_ceil(15);
    let storage = paced_storage(body, piece, Duration::from_millis(200), None).await;
    let api = MockServer::start().await;
    redirect_ip(&api, 302, &presigned(&storage.url(""), "/bkt/ip.json.gz")).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", api.uri()))
        .retry(RetryPolicy::none())
        .read_timeout(Duration::from_secs(1))
        .build()
        .unwrap();

    let started = Instant::now();
    let items = ip_items(&client).await;

    assert!(started.elapsed() >= Duration::from_millis(2800));
    assert_eq!(ips(&items), sample_ips(100));
}

// ---------------------------------------------------------------------------------------
// Records

fn ip_record(value: serde_json::Value) -> IpRecord {
    serde_json::from_value(value).unwrap()
}

#[test]
fn d1_an_unknown_false_positive_alarm_is_kept_and_readable() {
    let mut value = sample(IP_RECORDS, 0);
    value["fp"] = serde_json::json!({"alarm": "likely", "descr": ""});

    let record = ip_record(value);

    assert_eq!(record.common.fp_alarm(), FpAlarm::Other("likely".into()));
    assert_eq!(record.common.fp_description(), None);
    let written = serde_json::to_value(&record).unwrap();
    assert_eq!(written["fp"]["alarm"], "likely");
}

#[test]
fn d2_new_fields_parse_and_change_nothing_else() {
    let original = ip_record(sample(IP_RECORDS, 0));
    let mut value = sample(IP_RECORDS, 0);
    value["newfield"] = serde_json::json!({"a": 1});
    value["score"]["extra"] = 3.into();

    let mut record = ip_record(value);

    assert_eq!(
        record.common.extra.remove("newfield"),
        Some(serde_json::json!({"a": 1}))
    );
    assert_eq!(record, original);
}

#[test]
fn d3_numbers_sent_as_strings_read_as_the_same_numbers() {
    let mut numbers = sample(IP_RECORDS, 0);
    numbers["score"] =
        serde_json::json!({"total": 85, "src": 70.5, "tags": 0.89, "frequency": 1.0});
    numbers["tags"]["codes"] = serde_json::json!([10]);
    numbers["ports"] = serde_json::json!([443]);
    numbers["fseen"] = 1_620_691_200.into();
    let mut strings = numbers.clone();
    strings["score"] =
        serde_json::json!({"total": "85", "src": "70.5", "tags": "0.89", "frequency": "1.0"});
    strings["tags"]["codes"] = serde_json::json!(["10"]);
    strings["ports"] = serde_json::json!(["443"]);
    strings["fseen"] = "1620691200".into();

    let typed = ip_record(strings);

    assert_eq!(typed, ip_record(numbers));
    let score = typed.common.score.as_ref().unwrap();
    assert_eq!(score.total, Some(85));
    assert_eq!(score.src, Some(70.5));
    assert_eq!(score.frequency, Some(1.0));
    assert_eq!(typed.common.tags.codes, vec![10]);
    assert_eq!(typed.ports.known(), vec![443]);
    assert_eq!(typed.common.fseen, Some(1_620_691_200));
}

const DOMAIN_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_domain_latest.json");
const URL_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_url_latest.json");
const HASH_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_hash_latest.json");

#[test]
fn d4_whois_sentinels_read_as_unknown_and_the_raw_values_stay() {
    let mut value = sample(DOMAIN_RECORDS, 0);
    value["resolved"]["whois"] = serde_json::json!({
        "created": "1970-01-01 00:00:00", "updated": "", "expires": "2027-01-01 00:00:00",
        "age": 0, "registrar": "unknown"
    });

    let record: DomainRecord = serde_json::from_value(value).unwrap();

    let whois = record.whois().unwrap();
    assert_eq!(whois.created(), None);
    assert_eq!(whois.updated(), None);
    assert_eq!(whois.age(), None);
    assert_eq!(whois.registrar(), None);
    let expires = whois.expires().unwrap();
    assert_eq!(
        (expires.year(), u8::from(expires.month()), expires.day()),
        (2027, 1, 1)
    );
    assert_eq!(whois.created.as_deref(), Some("1970-01-01 00:00:00"));
    assert_eq!(whois.age, Some(0));
    assert_eq!(whois.registrar.as_deref(), Some("unknown"));
}

#[test]
fn d5_sentinel_values_read_as_absent() {
    let mut ip = sample(IP_RECORDS, 0);
    ip["ports"] = serde_json::json!([-1]);
    ip["fp"] = serde_json::json!({"alarm": "false", "descr": null});
    let ip = ip_record(ip);
    assert!(ip.ports.known().is_empty());
    assert_eq!(ip.ports.raw(), &[-1]);
    assert_eq!(ip.common.fp_description(), None);

    let mut url = sample(URL_RECORDS, 0);
    url["resolved"] = serde_json::json!({"status": 0});
    url["parsed"]["port"] = "None".into();
    let url: UrlRecord = serde_json::from_value(url).unwrap();
    assert_eq!(url.status(), None);
    assert_eq!(url.parsed.as_ref().unwrap().port(), None);

    let mut hash = sample(HASH_RECORDS, 0);
    hash["md5"] = "".into();
    let hash: HashRecord = serde_json::from_value(hash).unwrap();
    assert_eq!(hash.md5(), None);
    assert!(hash.sha256().is_some());
}

#[test]
fn d6_the_parsed_host_of_a_2021_url_record_is_found_under_either_key() {
    let old = include_str!("data/eras/url-2021-05-parsed-host.ndjson");
    let record: UrlRecord = serde_json::from_str(old.lines().next().unwrap()).unwrap();
    let host = record
        .host()
        .expect("the 2021 record names its host")
        .to_owned();
    assert!(!host.is_empty());

    let mut renamed: serde_json::Value = serde_json::from_str(old.lines().next().unwrap()).unwrap();
    let parsed = renamed["parsed"].as_object_mut().unwrap();
    let moved = parsed.remove("host").unwrap();
    parsed.insert("domain".into(), moved);
    let record: UrlRecord = serde_json::from_value(renamed).unwrap();

    assert_eq!(record.host(), Some(host.as_str()));
}

#[test]
fn d7_a_report_string_with_commas_and_a_report_list_give_the_same_references() {
    let mut joined = sample(IP_RECORDS, 0);
    joined["src"]["report"] = "https://a/x,https://b/y".into();
    let mut list = sample(IP_RECORDS, 0);
    list["src"]["report"] = serde_json::json!(["https://a/x", "https://b/y"]);

    let joined = ip_record(joined);
    let list = ip_record(list);

    assert_eq!(joined.common.references(), ["https://a/x", "https://b/y"]);
    assert_eq!(list.common.references(), joined.common.references());
}

#[tokio::test]
async fn d8_blank_lines_and_records_run_together_all_arrive_through_the_stream() {
    let lines: Vec<&str> = IP_RECORDS.lines().take(5).collect();
    let text = format!(
        "{}\n{} {}\n{}{}\n\n\n",
        lines[0], lines[1], lines[2], lines[3], lines[4]
    );

    let items = snapshot_items(gzip(text.as_bytes()), "application/gzip").await;

    assert_eq!(ips(&items), sample_ips(5));
}

// ---------------------------------------------------------------------------------------
// Requests

async fn lookup_answering_not_found(api: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/v1/ioc"))
        .respond_with(|request: &Request| {
            let value = request
                .url
                .query_pairs()
                .find(|(k, _)| k == "value")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"ioc_value": value, "error": "Not Found"}))
        })
        .mount(api)
        .await;
}

async fn received_values(api: &MockServer) -> Vec<String> {
    api.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let pairs: Vec<_> = r.url.query_pairs().collect();
            assert_eq!(pairs.len(), 1, "{}", r.url);
            assert_eq!(pairs[0].0, "value");
            pairs[0].1.clone().into_owned()
        })
        .collect()
}

#[tokio::test]
async fn q1_every_reserved_character_of_a_url_arrives_intact() {
    let s = setup().await;
    lookup_answering_not_found(&s.api).await;
    let value = "http://198.51.100.7/a?b=1&c=2#f 100%+";

    let outcome = s.client.lookup(value).await.unwrap();

    assert_eq!(received_values(&s.api).await, vec![value.to_owned()]);
    assert_eq!(
        outcome,
        Lookup::NotFound {
            value: value.into()
        }
    );
}

#[tokio::test]
async fn q2_ipv6_arrives_intact_and_an_idn_domain_as_punycode() {
    let s = setup().await;
    lookup_answering_not_found(&s.api).await;

    s.client.lookup("2001:db8::1").await.unwrap();
    s.client.lookup("bücher.example").await.unwrap();

    assert_eq!(
        received_values(&s.api).await,
        vec!["2001:db8::1".to_owned(), "xn--bcher-kva.example".to_owned()]
    );
}

#[tokio::test]
async fn q3_a_whois_domain_can_never_reach_another_path() {
    let s = setup().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
        .mount(&s.api)
        .await;
    for domain in [
        "evil.example/../../auth/check",
        "evil.example/..%2F..%2Fauth%2Fcheck",
        "evil.example\\..\\auth\\check",
        "..",
        "../auth/check",
        "%2e%2e",
        "evil.example?x=1",
        "evil.example#x",
        "evil.example/",
        "evil.example@auth",
        "evil.example:443",
        "evil example",
        "1.2.3.4",
    ] {
        for raw in [false, true] {
            let outcome = if raw {
                s.client.whois_raw(domain).await
            } else {
                s.client.whois(domain).await
            };
            assert!(
                matches!(outcome, Err(Error::InvalidInput { what: "domain", .. })),
                "{domain:?}: {outcome:?}"
            );
        }
    }

    assert!(s.api.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn q4_base_urls_with_and_without_a_trailing_slash_reach_the_same_paths() {
    for suffix in ["/v1", "/v1/"] {
        let api = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({})))
            .mount(&api)
            .await;
        let client = Client::builder()
            .api_key(KEY)
            .base_url(format!("{}{suffix}", api.uri()))
            .retry(RetryPolicy::none())
            .build()
            .unwrap();

        let _ = client.records::<IpRecord>(SnapshotDate::Latest).await;
        let _ = client.whois("a.example").await;
        let _ = client.auth_check().await;

        let paths: Vec<String> = api
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| r.url.path().to_owned())
            .collect();
        assert_eq!(
            paths,
            ["/v1/ip", "/v1/whois/a.example", "/v1/auth/check"],
            "{suffix}"
        );
    }
}

#[tokio::test]
async fn q5_a_submission_answered_502_is_sent_once_and_typed() {
    for verb in ["POST", "PUT"] {
        let s = setup_with(quick_retries(5)).await;
        Mock::given(method(verb))
            .and(path("/v1/ioc"))
            .respond_with(
                ResponseTemplate::new(502)
                    .set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
            )
            .mount(&s.api)
            .await;

        let error = if verb == "POST" {
            s.client.submit("evil.example", "seen in phishing").await
        } else {
            s.client
                .report_false_positive("evil.example", "our own host")
                .await
        }
        .unwrap_err();

        match error {
            Error::Api {
                status, attempts, ..
            } => {
                assert_eq!(status.as_u16(), 502);
                assert_eq!(attempts, 1);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.api.received_requests().await.unwrap().len(), 1, "{verb}");
    }
}

#[tokio::test]
async fn q5_a_submission_answered_429_is_not_replayed_either() {
    let s = setup_with(quick_retries(5)).await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .mount(&s.api)
        .await;

    let error = s.client.submit("evil.example", "x").await.unwrap_err();

    assert_eq!(error.status().map(|s| s.as_u16()), Some(429));
    assert_eq!(s.api.received_requests().await.unwrap().len(), 1);
}

/// Answers the first `failures` requests with `template`, then not-found.
async fn failing_then_not_found(api: &MockServer, failures: u64, template: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/v1/ioc"))
        .respond_with(template)
        .up_to_n_times(failures)
        .with_priority(1)
        .mount(api)
        .await;
    lookup_answering_not_found(api).await;
}

#[tokio::test]
async fn q6_a_429_with_retry_after_2_waits_about_2_seconds_then_retries() {
    let s = setup_with(RetryPolicy::default().max_attempts(3)).await;
    failing_then_not_found(
        &s.api,
        1,
        ResponseTemplate::new(429)
            .set_body_raw(r#"{"message":"Too Many Requests"}"#, "application/json")
            .insert_header("Retry-After", "2"),
    )
    .await;

    let started = Instant::now();
    let outcome = s.client.lookup("1.1.1.1").await.unwrap();
    let elapsed = started.elapsed();

    assert!(!outcome.is_found());
    assert!(elapsed >= Duration::from_millis(1900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(s.api.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn q6_retry_after_is_capped_by_the_policy() {
    let s = setup_with(quick_retries(3).max_retry_after(Duration::from_millis(100))).await;
    failing_then_not_found(
        &s.api,
        1,
        ResponseTemplate::new(429).insert_header("Retry-After", "3600"),
    )
    .await;

    let started = Instant::now();
    s.client.lookup("1.1.1.1").await.unwrap();

    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(s.api.received_requests().await.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Error bodies

#[tokio::test]
async fn e1_an_html_502_is_a_typed_api_error_with_a_snippet() {
    let s = setup().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(502).set_body_raw("<html>502 Bad Gateway</html>", "text/html"),
        )
        .mount(&s.api)
        .await;

    let error = s.client.lookup("1.1.1.1").await.unwrap_err();

    match &error {
        Error::Api { status, body, .. } => {
            assert_eq!(status.as_u16(), 502);
            assert_eq!(
                body.snippet.as_deref(),
                Some("<html>502 Bad Gateway</html>")
            );
            assert_eq!(body.error, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("502"), "{error}");
}

#[tokio::test]
async fn e2_json_error_bodies_carry_their_status_and_text() {
    for (status, body, text) in [
        (401, r#"{"error":"Invalid API key"}"#, "Invalid API key"),
        (403, r#"{"message":"Forbidden"}"#, "Forbidden"),
        (
            400,
            r#"{"ioc_value":"x","status":"Bad Request"}"#,
            "Bad Request",
        ),
    ] {
        let s = setup().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
            .mount(&s.api)
            .await;

        let error = s.client.auth_check().await.unwrap_err();

        match &error {
            Error::Api {
                status: got, body, ..
            } => {
                assert_eq!(got.as_u16(), status);
                assert_eq!(body.text(), Some(text));
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains(text), "{error}");
    }
}

#[tokio::test]
async fn e3_not_found_is_an_outcome_whether_200_or_404() {
    for status in [200, 404] {
        let s = setup().await;
        Mock::given(method("GET"))
            .and(path("/v1/ioc"))
            .and(query_param("value", "1.1.1.1"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(
                r#"{"ioc_value":"1.1.1.1","error":"Not Found"}"#,
                "application/json",
            ))
            .mount(&s.api)
            .await;

        let outcome = s.client.lookup("1.1.1.1").await.unwrap();

        assert_eq!(
            outcome,
            Lookup::NotFound {
                value: "1.1.1.1".into()
            },
            "{status}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Retries

#[tokio::test]
async fn gets_are_retried_on_429_502_and_504() {
    for status in [429, 502, 504] {
        let s = setup_with(quick_retries(3)).await;
        failing_then_not_found(&s.api, 2, ResponseTemplate::new(status)).await;

        let outcome = s.client.lookup("1.1.1.1").await;

        assert!(
            matches!(outcome, Ok(Lookup::NotFound { .. })),
            "{status}: {outcome:?}"
        );
        assert_eq!(
            s.api.received_requests().await.unwrap().len(),
            3,
            "{status}"
        );
    }
}

#[tokio::test]
async fn a_get_is_retried_after_a_dropped_connection() {
    let api = raw_server(|index, _, mut stream| async move {
        if index == 0 {
            // Close without a byte of answer.
            drop(stream);
            return;
        }
        let body = br#"{"ioc_value":"1.1.1.1","error":"Not Found"}"#;
        write_head(
            &mut stream,
            "200 OK",
            &[
                "Content-Type: application/json".into(),
                format!("Content-Length: {}", body.len()),
            ],
        )
        .await;
        let _ = stream.write_all(body).await;
    })
    .await;
    let client = client_for(&api.url(""), quick_retries(3));

    let outcome = client.lookup("1.1.1.1").await.unwrap();

    assert!(!outcome.is_found());
    assert_eq!(api.seen().len(), 2);
}

#[tokio::test]
async fn a_refused_connection_is_retried_and_counts_its_attempts() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let client = client_for(&dead, quick_retries(3));

    let error = client.lookup("1.1.1.1").await.unwrap_err();

    assert!(
        matches!(error, Error::Transport { attempts: 3, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_503_forbidden_and_other_4xx_are_never_retried() {
    for (status, body) in [
        (503, r#"{"message":"Forbidden"}"#),
        (400, r#"{"error":"Bad Request"}"#),
        (401, r#"{"error":"Invalid API key"}"#),
        (403, r#"{"message":"Forbidden"}"#),
        (404, r#"{"message":"Missing"}"#),
        (409, r#"{"message":"Conflict"}"#),
        (422, r#"{"message":"Unprocessable"}"#),
    ] {
        let s = setup_with(quick_retries(5)).await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body, "application/json"))
            .mount(&s.api)
            .await;

        let error = s.client.lookup("1.1.1.1").await.unwrap_err();

        assert!(
            matches!(&error, Error::Api { status: got, attempts: 1, .. } if got.as_u16() == status),
            "{error:?}"
        );
        assert!(!error.is_retryable(), "{status}");
        assert_eq!(
            s.api.received_requests().await.unwrap().len(),
            1,
            "{status}"
        );
    }
}

#[tokio::test]
async fn the_final_error_counts_every_attempt() {
    let s = setup_with(quick_retries(4)).await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(504))
        .mount(&s.api)
        .await;

    let error = s.client.auth_check().await.unwrap_err();

    assert!(
        matches!(&error, Error::Api { status, attempts: 4, .. } if status.as_u16() == 504),
        "{error:?}"
    );
    assert_eq!(s.api.received_requests().await.unwrap().len(), 4);
    assert!(error.to_string().contains("504"));
}

#[tokio::test]
async fn retry_after_as_an_http_date_is_honoured() {
    let s = setup_with(quick_retries(3)).await;
    let at = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(2));
    failing_then_not_found(
        &s.api,
        1,
        ResponseTemplate::new(429).insert_header("Retry-After", at.as_str()),
    )
    .await;

    let started = Instant::now();
    s.client.lookup("1.1.1.1").await.unwrap();
    let elapsed = started.elapsed();

    // The date has whole seconds, so the wait is between one and two seconds.
    assert!(elapsed >= Duration::from_millis(900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert_eq!(s.api.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreadable_retry_after_falls_back_to_the_backoff() {
    let s = setup_with(quick_retries(3)).await;
    failing_then_not_found(
        &s.api,
        1,
        ResponseTemplate::new(429).insert_header("Retry-After", "in a while"),
    )
    .await;

    let started = Instant::now();
    s.client.lookup("1.1.1.1").await.unwrap();

    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(s.api.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_storage_5xx_is_retried_without_asking_the_api_again() {
    let s = setup_with(quick_retries(3)).await;
    redirect_ip(&s.api, 302, &presigned(&s.storage.uri(), "/bkt/ip.json.gz")).await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_raw("<Error><Code>SlowDown</Code></Error>", "application/xml"),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.storage)
        .await;
    serve_object(
        &s.storage,
        "/bkt/ip.json.gz",
        gzip(IP_RECORDS.as_bytes()),
        "application/gzip",
    )
    .await;

    let items = ip_items(&s.client).await;

    assert_eq!(items.len(), 100);
    assert_eq!(assert_storage_got_no_credentials(&s.storage).await, 2);
    assert_eq!(s.api.received_requests().await.unwrap().len(), 1);
}

// ---------------------------------------------------------------------------------------
// Timeouts

#[tokio::test]
async fn a_short_call_slower_than_the_request_timeout_is_a_request_timeout() {
    let s = setup().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({}))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&s.api)
        .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", s.api.uri()))
        .retry(RetryPolicy::none())
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap();

    let started = Instant::now();
    let error = client.auth_check().await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(
        matches!(
            error,
            Error::Timeout {
                kind: TimeoutKind::Request,
                attempts: 1,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(450) && elapsed < Duration::from_millis(2500),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_request_timeout_on_a_get_is_retried() {
    let s = setup().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s.api)
        .await;
    lookup_answering_not_found(&s.api).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", s.api.uri()))
        .retry(quick_retries(2))
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();

    let outcome = client.lookup("1.1.1.1").await.unwrap();

    assert!(!outcome.is_found());
    assert_eq!(s.api.received_requests().await.unwrap().len(), 2);
}

// ---------------------------------------------------------------------------------------
// Saving to a file, and resuming a broken download

/// A storage host serving `body`. With `ranges`, it announces `Accept-Ranges: bytes` and
/// honours `Range: bytes=N-`. Each request gets at most `cut` more bytes before the
/// connection is dropped, for the first `breaks` requests.
async fn breaking_storage(
    body: Vec<u8>,
    ranges: bool,
    cut: usize,
    breaks: usize,
) -> support::RawServer {
    let body = Arc::new(body);
    raw_server(move |index, request, mut stream| {
        let body = body.clone();
        async move {
            let start = request
                .header("range")
                .filter(|_| ranges)
                .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok())
                .unwrap_or(0usize);
            let rest = &body[start..];
            let mut headers = vec![
                "Content-Type: binary/octet-stream".to_owned(),
                format!("Content-Length: {}", rest.len()),
                "ETag: \"v1\"".to_owned(),
            ];
            if ranges {
                headers.push("Accept-Ranges: bytes".to_owned());
            }
            let status = if start > 0 {
                headers.push(format!(
                    "Content-Range: bytes {start}-{}/{}",
                    body.len() - 1,
                    body.len()
                ));
                "206 Partial Content"
            } else {
                "200 OK"
            };
            write_head(&mut stream, status, &headers).await;
            let send = if index < breaks {
                &rest[..cut.min(rest.len())]
            } else {
                rest
            };
            let _ = stream.write_all(send).await;
            let _ = stream.flush().await;
            // Dropping the stream here ends the answer, short of its Content-Length when
            // cut.
        }
    })
    .await
}

async fn api_redirecting_to(storage: &support::RawServer) -> MockServer {
    let api = MockServer::start().await;
    redirect_ip(&api, 302, &presigned(&storage.url(""), "/bkt/ip.json.gz")).await;
    api
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[tokio::test]
async fn a_download_broken_mid_stream_leaves_no_partial_file() {
    let body = gzip(IP_RECORDS.as_bytes());
    let storage = breaking_storage(body.clone(), false, body.len() / 2, usize::MAX).await;
    let api = api_redirecting_to(&storage).await;
    let client = client_for(&api.uri(), quick_retries(3));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ip.json.gz");
    let older = dir.path().join("older.json.gz");
    std::fs::write(&older, b"yesterday").unwrap();

    for save_as in [SaveAs::Compressed, SaveAs::Decompressed] {
        let error = client
            .download_to_file(
                Feed::Ip,
                SnapshotDate::Latest,
                Format::Json,
                &target,
                save_as,
            )
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
        assert_error_shows_no_secret(&error);

        let error = client
            .download_to_file(
                Feed::Ip,
                SnapshotDate::Latest,
                Format::Json,
                &older,
                save_as,
            )
            .await
            .unwrap_err();
        assert!(error.is_retryable(), "{error:?}");
    }

    assert!(!target.exists());
    assert_eq!(std::fs::read(&older).unwrap(), b"yesterday");
    assert_eq!(leftovers(dir.path()), ["older.json.gz"]);
    // Without range support a broken body is not fetched again piecemeal.
    assert!(storage.seen().iter().all(|r| r.header("range").is_none()));
}

#[tokio::test]
async fn a_broken_download_resumes_with_a_range_request_and_is_byte_identical() {
    let text = ip_records_text(2_000);
    let body = gzip(&text);
    let cut = body.len() / 3;
    // Two breaks: the first answer and the first resumed one are both cut.
    let storage = breaking_storage(body.clone(), true, cut, 2).await;
    let api = api_redirecting_to(&storage).await;
    let client = client_for(&api.uri(), quick_retries(3));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ip.json.gz");

    let saved = client
        .download_to_file(
            Feed::Ip,
            SnapshotDate::Latest,
            Format::Json,
            &target,
            SaveAs::Compressed,
        )
        .await
        .unwrap();

    assert_eq!(std::fs::read(&target).unwrap(), body);
    assert_eq!(saved.bytes_written, body.len() as u64);
    assert_eq!(saved.bytes_downloaded, body.len() as u64);
    let seen = storage.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[0].header("range"), None);
    assert_eq!(seen[1].header("range"), Some(format!("bytes={cut}-")));
    assert_eq!(seen[2].header("range"), Some(format!("bytes={}-", 2 * cut)));
    for request in &seen {
        assert_eq!(request.target(), seen[0].target(), "the same storage URL");
        assert!(request.target().contains(SIGNATURE));
        assert_eq!(request.header("x-api-key"), None);
        assert_eq!(request.header("authorization"), None);
    }
    assert_eq!(api.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_resumed_decompressed_download_is_the_whole_text() {
    let text = ip_records_text(1_000);
    let body = gzip(&text);
    let storage = breaking_storage(body.clone(), true, body.len() / 2, 1).await;
    let api = api_redirecting_to(&storage).await;
    let client = client_for(&api.uri(), quick_retries(2));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ip.json");

    let saved = client
        .download_to_file(
            Feed::Ip,
            SnapshotDate::Latest,
            Format::Json,
            &target,
            SaveAs::Decompressed,
        )
        .await
        .unwrap();

    assert_eq!(std::fs::read(&target).unwrap(), text);
    assert_eq!(saved.bytes_downloaded, body.len() as u64);
    assert_eq!(storage.seen().len(), 2);
}

#[tokio::test]
async fn resuming_stops_at_the_policy_attempts_and_leaves_no_file() {
    let body = gzip(&ip_records_text(1_000));
    let storage = breaking_storage(body.clone(), true, 1000, usize::MAX).await;
    let api = api_redirecting_to(&storage).await;
    let client = client_for(&api.uri(), quick_retries(3));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ip.json.gz");

    let error = client
        .download_to_file(
            Feed::Ip,
            SnapshotDate::Latest,
            Format::Json,
            &target,
            SaveAs::Compressed,
        )
        .await
        .unwrap_err();

    assert!(error.is_retryable(), "{error:?}");
    assert_eq!(storage.seen().len(), 3);
    assert!(!target.exists());
    assert!(leftovers(dir.path()).is_empty());
}

#[tokio::test]
async fn a_resume_answered_with_the_whole_body_again_is_not_spliced() {
    let body = gzip(&ip_records_text(1_000));
    // Announces ranges, then ignores the Range header.
    let shared = Arc::new(body.clone());
    let storage = raw_server(move |index, _, mut stream| {
        let body = shared.clone();
        async move {
            write_head(
                &mut stream,
                "200 OK",
                &[
                    format!("Content-Length: {}", body.len()),
                    "Accept-Ranges: bytes".into(),
                ],
            )
            .await;
            let send = if index == 0 {
                &body[..body.len() / 2]
            } else {
                &body[..]
            };
            let _ = stream.write_all(send).await;
        }
    })
    .await;
    let api = api_redirecting_to(&storage).await;
    let client = client_for(&api.uri(), quick_retries(3));
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("ip.json.gz");

    let outcome = client
        .download_to_file(
            Feed::Ip,
            SnapshotDate::Latest,
            Format::Json,
            &target,
            SaveAs::Compressed,
        )
        .await;

    assert!(outcome.is_err(), "{outcome:?}");
    assert!(!target.exists());
}

// ---------------------------------------------------------------------------------------
// Input checks

fn checked(value: &str) -> Option<(IndicatorKind, String)> {
    value
        .parse::<Indicator>()
        .ok()
        .map(|i| (i.kind(), i.as_str().to_owned()))
}

#[test]
fn ip_addresses_are_put_in_canonical_form_and_malformed_ones_refused() {
    use IndicatorKind::{Ipv4, Ipv6};
    assert_eq!(checked(" 192.0.2.1 "), Some((Ipv4, "192.0.2.1".into())));
    assert_eq!(
        checked("2001:0DB8:0000:0000:0000:0000:0000:0001"),
        Some((Ipv6, "2001:db8::1".into()))
    );
    assert_eq!(checked("[2001:db8::1]"), Some((Ipv6, "2001:db8::1".into())));
    assert_eq!(
        checked("::ffff:192.0.2.1"),
        Some((Ipv6, "::ffff:192.0.2.1".into()))
    );
    for bad in [
        "192.0.2.256",
        "192.0.2",
        "010.0.2.1",
        "0x7f.0.0.1",
        "2001:db8::1::2",
        "2001:db8::g",
        "1.2.3.4.5",
    ] {
        assert_eq!(checked(bad), None, "{bad}");
    }
}

#[test]
fn domains_are_lower_case_and_internationalised_ones_punycode() {
    use IndicatorKind::Domain;
    assert_eq!(
        checked("Bücher.Example"),
        Some((Domain, "xn--bcher-kva.example".into()))
    );
    assert_eq!(
        checked("xn--bcher-kva.example"),
        Some((Domain, "xn--bcher-kva.example".into()))
    );
    assert_eq!(
        checked("WWW.Example.COM."),
        Some((Domain, "www.example.com".into()))
    );
    let long_label = format!("{}.example", "a".repeat(64));
    for bad in [
        "localhost",
        "-bad.example",
        "bad-.example",
        "a..example",
        ".example",
        long_label.as_str(),
        "a b.example",
    ] {
        assert_eq!(checked(bad), None, "{bad}");
    }
}

#[test]
fn urls_are_sent_as_given_and_malformed_ones_refused() {
    let value = "https://evil.example:8443/p a/t?q=1&r=%41#frag";
    assert_eq!(checked(value), Some((IndicatorKind::Url, value.to_owned())));
    for bad in [
        "http://",
        "not a scheme://x",
        "http://exa mple.com/",
        "http://a.example/\u{0}x",
    ] {
        assert_eq!(checked(bad), None, "{bad:?}");
    }
}

#[test]
fn hashes_are_recognised_by_hex_and_length() {
    use IndicatorKind::{Md5, Sha1, Sha256};
    let md5 = "D41D8CD98F00B204E9800998ECF8427E";
    assert_eq!(checked(md5), Some((Md5, md5.to_ascii_lowercase())));
    let sha1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709";
    assert_eq!(checked(sha1), Some((Sha1, sha1.into())));
    let sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    assert_eq!(checked(sha256), Some((Sha256, sha256.into())));
    for bad in [
        &md5[1..],
        &sha1[1..],
        &sha256[1..],
        &format!("{sha256}0")[..],
    ] {
        assert_eq!(checked(bad), None, "{bad}");
    }
    let not_hex = format!("{}g", &md5[1..]);
    assert_eq!(checked(&not_hex), None);
}

#[test]
fn snapshot_dates_are_real_calendar_days() {
    for good in [
        "20240229",
        "2024-02-29",
        "20231231",
        "latest",
        "1h_latest",
        "12h_latest",
    ] {
        assert!(good.parse::<SnapshotDate>().is_ok(), "{good}");
    }
    for bad in [
        "20230229",
        "2023-02-29",
        "20230431",
        "20231301",
        "20230100",
        "2023-4-1",
        "2023 04 27",
        "2023042",
        "202304271",
        "2h_latest",
        "",
    ] {
        assert!(
            matches!(
                bad.parse::<SnapshotDate>(),
                Err(Error::InvalidInput { what: "date", .. })
            ),
            "{bad:?}"
        );
    }
}
