//! Every endpoint and every response code of the API, against local mock servers: the
//! whole request is asserted (method, path, query, the key header) and the typed result.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use futures_util::StreamExt;
use rstcloud::{
    Client, DomainRecord, Error, Feed, Format, HashRecord, IpRecord, Lookup, RetryPolicy,
    SnapshotDate, UrlRecord,
};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "test-key-7f3a";

const IP_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_ip_latest.json");
const DOMAIN_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_domain_latest.json");
const URL_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_url_latest.json");
const HASH_RECORDS: &str = include_str!("../src/sandbox/data/random100_ioc_hash_latest.json");

struct Servers {
    api: MockServer,
    storage: MockServer,
    client: Client,
}

async fn setup() -> Servers {
    let api = MockServer::start().await;
    let storage = MockServer::start().await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(format!("{}/v1/", api.uri()))
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    Servers {
        api,
        storage,
        client,
    }
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(text.as_bytes()).unwrap();
    encoder.finish().unwrap()
}

fn json(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

fn status_json(status: u16, body: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), "application/json")
}

/// No request reaching the storage server carried the key, in any spelling.
async fn assert_storage_got_no_key(storage: &MockServer) {
    let requests = storage.received_requests().await.unwrap();
    assert!(!requests.is_empty(), "the storage server was never asked");
    for request in requests {
        assert_no_credentials(&request);
    }
}

fn assert_no_credentials(request: &Request) {
    for (name, value) in request.headers.iter() {
        assert_ne!(name.as_str(), "x-api-key");
        assert_ne!(name.as_str(), "authorization");
        assert!(
            !value.to_str().unwrap_or("").contains(KEY),
            "{name} carried the key"
        );
    }
    assert!(!request.url.as_str().contains(KEY));
}

async fn mount_snapshot(servers: &Servers, feed: &str, date: &str, kind: &str, body: Vec<u8>) {
    let object = format!("/bucket/{feed}.{kind}.gz");
    Mock::given(method("GET"))
        .and(path(format!("/v1/{feed}")))
        .and(query_param("date", date))
        .and(query_param("type", kind))
        .and(header("x-api-key", KEY))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}{object}?X-Amz-Signature=abc123", servers.storage.uri()).as_str(),
        ))
        .expect(1)
        .mount(&servers.api)
        .await;
    Mock::given(method("GET"))
        .and(path(object))
        .and(query_param("X-Amz-Signature", "abc123"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "binary/octet-stream"))
        .expect(1)
        .mount(&servers.storage)
        .await;
}

#[tokio::test]
async fn auth_check_reads_the_status_and_quota() {
    let servers = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/check"))
        .and(header("x-api-key", KEY))
        .and(header("accept", "application/json"))
        .respond_with(json(include_str!("data/api/auth-check-shape.json")))
        .expect(1)
        .mount(&servers.api)
        .await;

    let check = servers.client.auth_check().await.unwrap();

    assert!(check.is_valid());
    let quota = check.quota.unwrap();
    assert_eq!(quota.used, Some(1));
    assert_eq!(quota.limit, Some(1000));
    assert_eq!(quota.remaining, Some(999));
    assert_eq!(quota.period.as_deref(), Some("DAY"));
}

#[tokio::test]
async fn a_denied_key_is_an_auth_error_not_an_outage() {
    let servers = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/check"))
        .respond_with(status_json(503, r#"{"message":"Forbidden"}"#))
        .expect(1)
        .mount(&servers.api)
        .await;

    let error = servers.client.auth_check().await.unwrap_err();

    assert!(error.is_auth(), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(error.status().map(|s| s.as_u16()), Some(503));
    match error {
        Error::Api { body, .. } => assert_eq!(body.message.as_deref(), Some("Forbidden")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn each_feed_streams_its_typed_records_through_the_redirect() {
    let servers = setup().await;
    mount_snapshot(&servers, "ip", "latest", "json", gzip(IP_RECORDS)).await;
    mount_snapshot(&servers, "domain", "latest", "json", gzip(DOMAIN_RECORDS)).await;
    mount_snapshot(&servers, "url", "latest", "json", gzip(URL_RECORDS)).await;
    mount_snapshot(&servers, "hash", "latest", "json", gzip(HASH_RECORDS)).await;

    let ips: Vec<IpRecord> =
        collect(servers.client.records(SnapshotDate::Latest).await.unwrap()).await;
    let domains: Vec<DomainRecord> =
        collect(servers.client.records(SnapshotDate::Latest).await.unwrap()).await;
    let urls: Vec<UrlRecord> =
        collect(servers.client.records(SnapshotDate::Latest).await.unwrap()).await;
    let hashes: Vec<HashRecord> =
        collect(servers.client.records(SnapshotDate::Latest).await.unwrap()).await;

    assert_eq!(
        (ips.len(), domains.len(), urls.len(), hashes.len()),
        (100, 100, 100, 100)
    );
    assert_eq!(ips[0].ip.v4, "45.83.122.166");
    assert_eq!(ips[0].asn.as_ref().unwrap().num, Some(200313));
    assert_eq!(domains[0].domain, "app-gps.cloud");
    assert_eq!(urls[0].url, "http://113.88.100.28:40506/i");
    assert_eq!(hashes[0].md5(), Some("a032d380abdc0e9bf260f10bcc11dc76"));
    assert_storage_got_no_key(&servers.storage).await;
}

async fn collect<T>(records: rstcloud::Records<T>) -> Vec<T>
where
    T: serde::de::DeserializeOwned,
{
    records.map(|r| r.unwrap()).collect().await
}

#[tokio::test]
async fn a_calendar_day_is_sent_compact_and_csv_rows_are_keyed_by_header() {
    let servers = setup().await;
    let csv = include_str!("data/eras/domain-short-2021-02-07.csv");
    mount_snapshot(&servers, "domain", "20210207", "csv", gzip(csv)).await;

    let date: SnapshotDate = "2021-02-07".parse().unwrap();
    let rows: Vec<_> = servers
        .client
        .csv_rows(Feed::Domain, date)
        .await
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
        .await;

    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].get("domain"), Some("000turtali4.email"));
    assert_eq!(rows[0].get("collect"), Some("1612656000"));
    assert_eq!(
        rows[1].list("tags_str").unwrap(),
        vec!["generic", "phishing"]
    );
    assert_storage_got_no_key(&servers.storage).await;
}

#[tokio::test]
async fn snapshot_errors_of_the_spec_are_typed() {
    for (status, body, text) in [
        (400, r#"{"error":"Bad Request"}"#, "Bad Request"),
        (
            500,
            r#"{"error":"Unexpected Server Exception"}"#,
            "Unexpected Server Exception",
        ),
        (503, r#"{"message":"Forbidden"}"#, "Forbidden"),
    ] {
        let servers = setup().await;
        Mock::given(method("GET"))
            .and(path("/v1/url"))
            .respond_with(status_json(status, body))
            .expect(1)
            .mount(&servers.api)
            .await;

        let error = servers
            .client
            .download(Feed::Url, SnapshotDate::Latest, Format::Json)
            .await
            .unwrap_err();

        assert_eq!(error.status().unwrap().as_u16(), status);
        match &error {
            Error::Api { body, .. } => assert_eq!(body.text(), Some(text)),
            other => panic!("{other:?}"),
        }
        assert_eq!(error.is_auth(), status == 503);
    }
}

#[tokio::test]
async fn a_missing_snapshot_day_is_a_storage_error_with_its_code() {
    let servers = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/hash"))
        .respond_with(ResponseTemplate::new(302).insert_header(
            "Location",
            format!("{}/bucket/none.gz?X-Amz-Signature=s", servers.storage.uri()).as_str(),
        ))
        .mount(&servers.api)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
            "application/xml",
        ))
        .mount(&servers.storage)
        .await;

    let error = servers
        .client
        .download(Feed::Hash, SnapshotDate::Latest, Format::Json)
        .await
        .unwrap_err();

    match &error {
        Error::Storage { status, code, .. } => {
            assert_eq!(status.as_u16(), 404);
            assert_eq!(code.as_deref(), Some("NoSuchKey"));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_not_found());
    assert!(!error.is_auth());
    assert!(!error.to_string().contains("X-Amz-Signature"));
}

#[tokio::test]
async fn head_reads_the_snapshot_metadata() {
    let servers = setup().await;
    Mock::given(method("HEAD"))
        .and(path("/v1/ip"))
        .and(query_param("type", "json"))
        .and(header("x-api-key", KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Last-Modified", "Thu, 27 Apr 2023 01:12:37 GMT")
                .insert_header("Timestamp", "1682557957")
                .insert_header("Content-Type", "application/json")
                .insert_header("Content-Length", "34567890"),
        )
        .expect(1)
        .mount(&servers.api)
        .await;

    let info = servers
        .client
        .snapshot_info(Feed::Ip, Format::Json)
        .await
        .unwrap();

    assert_eq!(info.last_modified.unwrap().unix_timestamp(), 1682557957);
    assert_eq!(info.timestamp().unwrap().unix_timestamp(), 1682557957);
    assert_eq!(info.content_type.as_deref(), Some("application/json"));
    assert_eq!(info.feed, Feed::Ip);
}

#[tokio::test]
async fn head_errors_of_the_spec_are_typed() {
    for status in [400u16, 500, 503] {
        let servers = setup().await;
        Mock::given(method("HEAD"))
            .and(path("/v1/domain"))
            .respond_with(ResponseTemplate::new(status))
            .expect(1)
            .mount(&servers.api)
            .await;

        let error = servers
            .client
            .snapshot_info(Feed::Domain, Format::Csv)
            .await
            .unwrap_err();

        assert_eq!(error.status().unwrap().as_u16(), status, "{error:?}");
    }
}

#[tokio::test]
async fn a_found_lookup_is_a_typed_record() {
    let servers = setup().await;
    Mock::given(method("GET"))
        .and(path("/v1/ioc"))
        .and(query_param(
            "value",
            "fe3d38316dc38a4ec63eac80e34cb157c9d896460f9b7b3bfbd2cec4e2cb8cdc",
        ))
        .and(header("x-api-key", KEY))
        .respond_with(json(include_str!(
            "data/api/ioc-lookup-hash-2022-numbers-as-strings.json"
        )))
        .expect(1)
        .mount(&servers.api)
        .await;

    let outcome = servers
        .client
        .lookup("FE3D38316DC38A4EC63EAC80E34CB157C9D896460F9B7B3BFBD2CEC4E2CB8CDC")
        .await
        .unwrap();

    let Lookup::Found(record) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(record.score_total(), Some(6));
    assert_eq!(record.threat, vec!["medusa", "flubot"]);
    assert_eq!(record.fseen, Some(1620691200));
}

#[tokio::test]
async fn an_unknown_indicator_is_not_found_whether_200_or_404() {
    for status in [200u16, 404] {
        let servers = setup().await;
        Mock::given(method("GET"))
            .and(path("/v1/ioc"))
            .and(query_param("value", "1.1.1.1"))
            .respond_with(status_json(
                status,
                include_str!("data/api/ioc-lookup-not-found.json"),
            ))
            .expect(1)
            .mount(&servers.api)
            .await;

        let outcome = servers.client.lookup("1.1.1.1").await.unwrap();

        assert_eq!(
            outcome,
            Lookup::NotFound {
                value: "1.1.1.1".into()
            }
        );
    }
}

#[tokio::test]
async fn lookup_errors_of_the_spec_are_typed() {
    for (status, body) in [
        (
            400u16,
            r#"{"ioc_value":"domain.local","status":"Bad Request"}"#,
        ),
        (503, r#"{"message":"Forbidden"}"#),
        (
            200,
            r#"{"ioc_value":"domain.local","error":"Internal lookup failure"}"#,
        ),
    ] {
        let servers = setup().await;
        Mock::given(method("GET"))
            .and(path("/v1/ioc"))
            .respond_with(status_json(status, body))
            .expect(1)
            .mount(&servers.api)
            .await;

        let error = servers.client.lookup("domain.local").await.unwrap_err();

        assert_eq!(error.status().unwrap().as_u16(), status, "{error:?}");
        assert!(matches!(error, Error::Api { .. }));
    }
}

#[tokio::test]
async fn a_malformed_indicator_costs_no_request() {
    let servers = setup().await;

    let error = servers.client.lookup("not an indicator").await.unwrap_err();

    assert!(
        matches!(
            error,
            Error::InvalidInput {
                what: "indicator",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(servers.api.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn submissions_and_false_positives_send_the_value_and_description() {
    for (verb, status) in [("POST", 200u16), ("PUT", 200)] {
        let servers = setup().await;
        Mock::given(method(verb))
            .and(path("/v1/ioc"))
            .and(header("x-api-key", KEY))
            .and(header("content-type", "application/json"))
            .and(body_json(serde_json::json!({
                "ioc_value": "evil.example",
                "description": "seen in a phishing mail"
            })))
            .respond_with(status_json(
                status,
                r#"{"ioc_value":"evil.example","status":"submitted"}"#,
            ))
            .expect(1)
            .mount(&servers.api)
            .await;

        let reply = if verb == "POST" {
            servers
                .client
                .submit("evil.example", "seen in a phishing mail")
                .await
        } else {
            servers
                .client
                .report_false_positive("evil.example", "seen in a phishing mail")
                .await
        }
        .unwrap();

        assert!(reply.is_submitted());
        assert_eq!(reply.ioc_value.as_deref(), Some("evil.example"));
    }
}

#[tokio::test]
async fn submission_errors_of_the_spec_are_typed_and_sent_once() {
    for (status, body, text) in [
        (
            400u16,
            r#"{"ioc_value":"evil.example","status":"Bad Request"}"#,
            "Bad Request",
        ),
        (
            500,
            r#"{"ioc_value":"evil.example","status":"Server Error"}"#,
            "Server Error",
        ),
        (503, r#"{"message":"Forbidden"}"#, "Forbidden"),
    ] {
        let servers = setup().await;
        // Retries are on: a submission must still be sent only once.
        let client = Client::builder()
            .api_key(KEY)
            .base_url(format!("{}/v1", servers.api.uri()))
            .retry(RetryPolicy::default().max_attempts(5))
            .build()
            .unwrap();
        Mock::given(method("POST"))
            .and(path("/v1/ioc"))
            .respond_with(status_json(status, body))
            .expect(1)
            .mount(&servers.api)
            .await;

        let error = client.submit("evil.example", "x").await.unwrap_err();

        assert_eq!(error.status().unwrap().as_u16(), status);
        match error {
            Error::Api { body, attempts, .. } => {
                assert_eq!(body.text(), Some(text));
                assert_eq!(attempts, 1);
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn whois_reads_the_record_and_its_raw_variant() {
    let servers = setup().await;
    let body = r#"{"domain":"app-gps.cloud","registrar":"Savcom LLC","registrant":"Privacy Protection","created_on":"2023-04-26 22:31:36","updated_on":"2023-04-26 22:32:20","expires_on":"2024-04-26 22:31:36","nameservers":"ns1.example.net,ns2.example.net","age":1,"status":"registered","registered?":"true"}"#;
    Mock::given(method("GET"))
        .and(path("/v1/whois/app-gps.cloud"))
        .and(header("x-api-key", KEY))
        .respond_with(json(body))
        .expect(1)
        .mount(&servers.api)
        .await;
    let raw =
        r#"{"domain":"app-gps.cloud","registrar":"Savcom LLC","raw":"Domain Name: app-gps.cloud"}"#;
    Mock::given(method("GET"))
        .and(path("/v1/whois/raw/app-gps.cloud"))
        .respond_with(json(raw))
        .expect(1)
        .mount(&servers.api)
        .await;

    let whois = servers.client.whois("APP-GPS.cloud").await.unwrap();
    let whois_raw = servers.client.whois_raw("app-gps.cloud").await.unwrap();

    assert_eq!(whois.registrar(), Some("Savcom LLC"));
    assert_eq!(
        whois.nameservers(),
        vec!["ns1.example.net", "ns2.example.net"]
    );
    assert_eq!(whois_raw.raw.as_deref(), Some("Domain Name: app-gps.cloud"));
}

#[tokio::test]
async fn whois_errors_of_the_spec_are_typed() {
    for (status, body, text) in [
        (400u16, r#""Bad Request""#, "Bad Request"),
        (503, r#"{"message":"Forbidden"}"#, "Forbidden"),
    ] {
        let servers = setup().await;
        Mock::given(method("GET"))
            .and(path("/v1/whois/evil.example"))
            .respond_with(status_json(status, body))
            .expect(1)
            .mount(&servers.api)
            .await;

        let error = servers.client.whois("evil.example").await.unwrap_err();

        match error {
            Error::Api {
                status: got, body, ..
            } => {
                assert_eq!(got.as_u16(), status);
                assert_eq!(body.text(), Some(text));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[tokio::test]
async fn a_compressed_save_refuses_a_damaged_body_and_keeps_a_whole_one_byte_for_byte() {
    let whole = gzip(IP_RECORDS);
    let dir = std::env::temp_dir().join(format!("rstcloud-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let mut trailing = whole.clone();
    trailing.extend_from_slice(b"<html>oops</html>");
    let mut bad_crc = whole.clone();
    let at = bad_crc.len() - 6;
    bad_crc[at] ^= 0xff;
    for (name, body) in [
        ("cut", whole[..whole.len() - 10].to_vec()),
        ("trailing", trailing),
        ("crc", bad_crc),
    ] {
        let servers = setup().await;
        mount_snapshot(&servers, "ip", "latest", "json", body).await;
        let target = dir.join(format!("{name}.json.gz"));

        let result = servers
            .client
            .download_to_file(
                Feed::Ip,
                SnapshotDate::Latest,
                Format::Json,
                &target,
                rstcloud::SaveAs::Compressed,
            )
            .await;

        assert!(
            matches!(result, Err(Error::Snapshot(_))),
            "{name}: {result:?}"
        );
        assert!(!target.exists(), "{name}: a damaged snapshot was saved");
    }

    let servers = setup().await;
    mount_snapshot(&servers, "ip", "latest", "json", whole.clone()).await;
    let target = dir.join("whole.json.gz");
    let saved = servers
        .client
        .download_to_file(
            Feed::Ip,
            SnapshotDate::Latest,
            Format::Json,
            &target,
            rstcloud::SaveAs::Compressed,
        )
        .await
        .unwrap();
    assert_eq!(saved.bytes_written, whole.len() as u64);
    assert_eq!(std::fs::read(&target).unwrap(), whole);
    std::fs::remove_dir_all(&dir).unwrap();
}
