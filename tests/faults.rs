//! Fault injection: many lookups against a server that throttles, fails and dawdles at
//! random, and large snapshots from a server that stalls and drops connections. Every
//! call must end in exactly one typed outcome, and a snapshot is either whole or ends
//! with an error, never silently short.

mod support;

use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use rstcloud::{Client, Error, IpRecord, Lookup, RetryPolicy, SnapshotDate};
use support::{
    end_chunks, gzip, ip_for, raw_server, small_ip_records_text, write_chunk, write_head,
};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const KEY: &str = "fault-key";

/// Answers a lookup by echoing its value, after a short random delay; about 5% of
/// answers are a 429 or a 502 instead. Values ending in `.7` are refused with 400.
struct Flaky {
    rng: Mutex<fastrand::Rng>,
}

impl Respond for Flaky {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let value = request
            .url
            .query_pairs()
            .find(|(k, _)| k == "value")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let (roll, delay) = {
            let mut rng = self.rng.lock().unwrap();
            (rng.u32(0..100), rng.u64(0..3))
        };
        let delay = Duration::from_millis(delay);
        if roll < 3 {
            return ResponseTemplate::new(429).set_delay(delay);
        }
        if roll < 5 {
            return ResponseTemplate::new(502)
                .set_body_raw("<html>502 Bad Gateway</html>", "text/html")
                .set_delay(delay);
        }
        if value.ends_with(".7") {
            return ResponseTemplate::new(400)
                .set_body_json(serde_json::json!({"ioc_value": value, "status": "Bad Request"}))
                .set_delay(delay);
        }
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"ioc_value": value, "error": "Not Found"}))
            .set_delay(delay)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_lookups_under_random_faults_each_end_in_their_own_outcome() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/ioc"))
        .respond_with(Flaky {
            rng: Mutex::new(fastrand::Rng::with_seed(7)),
        })
        .mount(&api)
        .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", api.uri()))
        .retry(
            RetryPolicy::default()
                .max_attempts(12)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(5)),
        )
        .build()
        .unwrap();
    let values: Vec<String> = (0..10_000).map(ip_for).collect();

    let outcomes = client.lookup_many(&values, 64).await;

    assert_eq!(outcomes.len(), values.len());
    let mut refused = 0;
    for (value, outcome) in values.iter().zip(&outcomes) {
        if value.ends_with(".7") {
            refused += 1;
            match outcome {
                Err(Error::Api { status, body, .. }) => {
                    assert_eq!(status.as_u16(), 400, "{value}");
                    assert_eq!(body.ioc_value.as_deref(), Some(value.as_str()));
                }
                other => panic!("{value}: {other:?}"),
            }
        } else {
            match outcome {
                Ok(Lookup::NotFound { value: echoed }) => assert_eq!(echoed, value),
                other => panic!("{value}: {other:?}"),
            }
        }
    }
    assert_eq!(refused, 40);
    let requests = api.received_requests().await.unwrap();
    assert!(requests.len() > values.len(), "some answers were faults");
}

/// How the snapshot server misbehaves for one seed.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Serves everything, in random chunks with random short stalls.
    None,
    /// Announces the length, then drops the connection part way.
    DropWithLength(usize),
    /// Chunked, then drops the connection part way, without the last chunk.
    DropChunked(usize),
    /// Neither length nor chunks (the end of the body is the end of the connection),
    /// and drops the connection part way: only the gzip stream can tell.
    DropUnframed(usize),
    /// Stops sending, longer than the read timeout, part way.
    Stall(usize),
}

const READ_TIMEOUT: Duration = Duration::from_millis(400);

async fn run_fault(seed: u64, body: std::sync::Arc<Vec<u8>>, count: usize) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let at = rng.usize(1..body.len() - 1);
    let fault = match seed % 5 {
        0 => Fault::None,
        1 => Fault::DropWithLength(at),
        2 => Fault::DropChunked(at),
        3 => Fault::DropUnframed(at),
        _ => Fault::Stall(at),
    };
    let served = body.clone();
    let storage = raw_server(move |_, _, mut stream| {
        let body = served.clone();
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
        async move {
            let (framing, stop) = match fault {
                Fault::None => ("Transfer-Encoding: chunked".to_owned(), None),
                Fault::DropWithLength(at) => (format!("Content-Length: {}", body.len()), Some(at)),
                Fault::DropChunked(at) | Fault::Stall(at) => {
                    ("Transfer-Encoding: chunked".to_owned(), Some(at))
                }
                Fault::DropUnframed(at) => ("X-Framing: none".to_owned(), Some(at)),
            };
            let chunked = framing.starts_with("Transfer-Encoding");
            write_head(&mut stream, "200 OK", &[framing]).await;
            let mut sent = 0;
            while sent < body.len() {
                let mut end = (sent + rng.usize(1..64 * 1024)).min(body.len());
                if let Some(stop) = stop.filter(|&s| s > sent) {
                    end = end.min(stop);
                }
                let piece = &body[sent..end];
                let ok = if chunked {
                    write_chunk(&mut stream, piece).await
                } else {
                    stream.write_all(piece).await.is_ok()
                };
                if !ok {
                    return;
                }
                sent = end;
                if rng.u32(0..20) == 0 {
                    tokio::time::sleep(Duration::from_millis(rng.u64(1..50))).await;
                }
                if stop == Some(sent) {
                    if matches!(fault, Fault::Stall(_)) {
                        let _ = stream.flush().await;
                        tokio::time::sleep(READ_TIMEOUT * 5).await;
                    }
                    // Dropping the stream breaks the body here.
                    return;
                }
            }
            if chunked {
                end_chunks(&mut stream).await;
            }
        }
    })
    .await;
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/ip"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            storage.url("/bkt/ip.json.gz?X-Amz-Signature=s").as_str(),
        ))
        .mount(&api)
        .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1", api.uri()))
        .retry(RetryPolicy::none())
        .read_timeout(READ_TIMEOUT)
        .build()
        .unwrap();

    let mut records = client
        .records::<IpRecord>(SnapshotDate::Latest)
        .await
        .unwrap();
    let mut got = 0;
    let mut error = None;
    while let Some(item) = records.next().await {
        assert!(
            error.is_none(),
            "seed {seed}: an item after the error {error:?}"
        );
        match item {
            Ok(record) => {
                assert_eq!(record.common.id, format!("rec-{got}"), "seed {seed}");
                got += 1;
            }
            Err(e) => error = Some(e),
        }
    }

    match (fault, error) {
        (Fault::None, None) => assert_eq!(got, count, "seed {seed}"),
        (_, None) => panic!("seed {seed}: {fault:?} ended clean after {got} records"),
        (fault, Some(error)) => {
            assert!(got < count, "seed {seed}: {fault:?}");
            let typed = match fault {
                Fault::Stall(_) => matches!(error, Error::Timeout { .. }),
                Fault::DropUnframed(_) => {
                    matches!(error, Error::Snapshot(rstcloud::SnapshotError::Truncated))
                }
                _ => matches!(error, Error::Transport { .. }),
            };
            assert!(typed, "seed {seed}: {fault:?} ended with {error:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_under_stalls_and_drops_is_whole_or_ends_with_a_typed_error() {
    const COUNT: usize = 100_000;
    let body = std::sync::Arc::new(gzip(&small_ip_records_text(COUNT)));
    for seed in 0..10 {
        run_fault(seed, body.clone(), COUNT).await;
    }
}
