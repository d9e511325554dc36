//! The sandbox answers like the RST Cloud API and its storage host.
#![cfg(feature = "sandbox")]

use std::io::Read;

use flate2::read::MultiGzDecoder;
use reqwest::StatusCode;
use rstcloud::Feed;
use rstcloud::sandbox::Sandbox;
use serde_json::{Value, json};

/// A client that does not follow redirects, so the 302 itself can be checked.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a plain client builds")
}

async fn get_json(sandbox: &Sandbox, path: &str) -> (StatusCode, Value) {
    let response = client()
        .get(format!("{}{path}", sandbox.base_url()))
        .header("X-Api-Key", sandbox.api_key())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, json_body(response).await)
}

/// The body of an answer as JSON.
async fn json_body(response: reqwest::Response) -> Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).expect("a JSON body")
}

/// The `Location` of a snapshot request.
async fn snapshot_location(sandbox: &Sandbox, feed: &str, query: &str) -> String {
    let response = client()
        .get(format!("{}/{feed}?{query}", sandbox.base_url()))
        .header("x-api-key", sandbox.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    MultiGzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("the snapshot is gzip'd text");
    text
}

#[tokio::test]
async fn auth_check_reports_the_quota_used_so_far() {
    let sandbox = Sandbox::start().await;

    let (status, first) = get_json(&sandbox, "/auth/check").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        first,
        json!({
            "check": {"name": "CheckApiKey", "status": "valid"},
            "quota": {"used": 1, "limit": 1000, "remaining": 999, "period": "DAY"},
        })
    );

    let (_, second) = get_json(&sandbox, "/auth/check").await;
    assert_eq!(second["quota"]["used"], 2);
    assert_eq!(second["quota"]["remaining"], 998);
}

#[tokio::test]
async fn requests_without_the_key_are_forbidden_and_not_counted() {
    let sandbox = Sandbox::start().await;

    for key in [None, Some("wrong-key")] {
        let mut request = client().get(format!("{}/auth/check", sandbox.base_url()));
        if let Some(key) = key {
            request = request.header("x-api-key", key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "application/json"
        );
        assert_eq!(response.text().await.unwrap(), r#"{"message":"Forbidden"}"#);
    }

    let (_, check) = get_json(&sandbox, "/auth/check").await;
    assert_eq!(check["quota"]["used"], 1);
}

#[tokio::test]
async fn a_snapshot_request_redirects_to_a_presigned_storage_url() {
    let sandbox = Sandbox::start().await;

    let location = snapshot_location(&sandbox, "ip", "date=latest&type=json").await;

    let expected = format!(
        "{}/rst-feeds/20230427/ioc_ip_20230427.json.gz?X-Amz-Algorithm=AWS4-HMAC-SHA256&",
        sandbox.storage_url()
    );
    assert!(location.starts_with(&expected), "{location}");
    assert!(location.contains("&X-Amz-Date=20230427T000000Z&"));
    assert!(location.contains("&X-Amz-Expires=300&"));
    let signature = location.split("X-Amz-Signature=").nth(1).unwrap();
    assert_eq!(signature.len(), 64);
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[tokio::test]
async fn the_presigned_url_serves_the_gzipd_records_to_a_client_without_a_key() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "ip", "type=json").await;

    let response = client().get(&location).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "binary/octet-stream"
    );
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), length);
    let text = gunzip(&body);
    assert_eq!(text.lines().count(), 100);
    assert_eq!(
        text.lines().next(),
        Sandbox::records(Feed::Ip).lines().next()
    );
    assert_eq!(text, Sandbox::records(Feed::Ip));
}

#[tokio::test]
async fn the_storage_host_refuses_a_request_that_carries_the_api_key() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "domain", "type=json").await;

    let response = client()
        .get(&location)
        .header("X-Api-Key", sandbox.api_key())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/xml"
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("<?xml"), "{body}");
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
}

#[tokio::test]
async fn the_storage_host_refuses_a_missing_or_edited_signature() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "url", "type=json").await;
    let unsigned = location
        .split("&X-Amz-Signature=")
        .next()
        .unwrap()
        .to_owned();
    let edited = location
        .replace("ioc_url_", "ioc_hash_")
        .replace("/url", "/hash");

    for url in [unsigned, edited] {
        let response = client().get(&url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = response.text().await.unwrap();
        assert!(
            body.contains("<Code>SignatureDoesNotMatch</Code>"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_day_without_a_snapshot_leads_to_no_such_key() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "hash", "date=20230101").await;
    assert!(location.contains("/rst-feeds/20230101/ioc_hash_20230101.json.gz?"));

    let response = client().get(&location).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = response.text().await.unwrap();
    assert!(body.contains("<Code>NoSuchKey</Code>"), "{body}");
    assert!(body.contains("<Message>The specified key does not exist.</Message>"));
}

#[tokio::test]
async fn the_sample_day_and_the_partial_snapshots_hold_the_sample_records() {
    let sandbox = Sandbox::start().await;

    for date in ["20230427", "1h_latest", "4h_latest", "12h_latest"] {
        let location = snapshot_location(&sandbox, "hash", &format!("date={date}")).await;
        let body = client().get(&location).send().await.unwrap();
        assert_eq!(body.status(), StatusCode::OK, "{date}");
        assert_eq!(
            gunzip(&body.bytes().await.unwrap()),
            Sandbox::records(Feed::Hash)
        );
    }
}

#[tokio::test]
async fn a_malformed_date_or_type_is_a_bad_request() {
    let sandbox = Sandbox::start().await;

    for query in [
        "date=2023-04-27",
        "date=20230230",
        "date=yesterday",
        "type=xml",
    ] {
        let (status, body) = get_json(&sandbox, &format!("/ip?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(body, json!({"error": "Bad Request"}));
    }
}

#[tokio::test]
async fn the_csv_snapshot_flattens_nested_keys_and_quotes_every_value() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "ip", "type=csv").await;
    assert!(location.contains("/ioc_ip_20230427.csv.gz?"));

    let body = client().get(&location).send().await.unwrap();
    let text = gunzip(&body.bytes().await.unwrap());
    let mut lines = text.lines();

    let header = lines.next().unwrap();
    assert!(
        header.starts_with(r#""ip_v4","ip_num","ports","#),
        "{header}"
    );
    for column in ["asn_num", "score_total", "fp_alarm", "tags_str"] {
        assert!(header.contains(&format!("\"{column}\"")), "{column}");
    }
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(r#""45.83.122.166","760445606","[8080]","#),
        "{first}"
    );
    assert!(first.contains(r#""['cobalt_strike', 'reflectiveloader', 'metasploit_tool']""#));
    assert_eq!(lines.count(), 99);
}

#[tokio::test]
async fn head_tells_when_the_snapshot_was_published_and_its_size() {
    let sandbox = Sandbox::start().await;
    let location = snapshot_location(&sandbox, "domain", "type=json").await;
    let size = client()
        .get(&location)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .len();

    let response = client()
        .head(format!("{}/domain?type=json", sandbox.base_url()))
        .header("x-api-key", sandbox.api_key())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("last-modified"), "Thu, 27 Apr 2023 01:12:37 GMT");
    assert_eq!(header("timestamp"), "1682557957");
    assert_eq!(header("content-type"), "application/json");
    assert_eq!(header("content-length"), size.to_string());
    assert!(response.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn looking_up_a_known_ip_answers_its_record_as_the_lookup_does() {
    let sandbox = Sandbox::start().await;

    let (status, record) = get_json(&sandbox, "/ioc?value=45.83.122.166").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["ioc_value"], "45.83.122.166");
    assert_eq!(record["ioc_type"], "ipv4");
    assert_eq!(record["asn"]["num"], 200313);
    assert_eq!(record["id"], "ad0523f6-958c-35b3-a61d-73fd050b9f04");
    assert!(record.get("ip").is_none());
}

#[tokio::test]
async fn hashes_and_domains_are_looked_up_case_insensitively() {
    let sandbox = Sandbox::start().await;

    let (_, hash) = get_json(
        &sandbox,
        "/ioc?value=B616A88B26AD9AA2B6B5D4B80AD5A887C7691EF7",
    )
    .await;
    assert_eq!(hash["ioc_type"], "sha1");
    assert_eq!(
        hash["ioc_value"],
        "b616a88b26ad9aa2b6b5d4b80ad5a887c7691ef7"
    );
    assert_eq!(hash["threat"], json!(["lobshot"]));

    let (_, domain) = get_json(&sandbox, "/ioc?value=App-GPS.Cloud").await;
    assert_eq!(domain["ioc_type"], "domain");
    assert_eq!(domain["ioc_value"], "app-gps.cloud");
    assert!(domain.get("domain").is_none());
}

#[tokio::test]
async fn looking_up_an_unknown_value_answers_not_found_with_status_200() {
    let sandbox = Sandbox::start().await;

    let (status, body) = get_json(&sandbox, "/ioc?value=192.0.2.1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"ioc_value": "192.0.2.1", "error": "Not Found"})
    );

    let (status, body) = get_json(&sandbox, "/ioc?value=").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!({"ioc_value": "", "status": "Bad Request"}));
}

#[tokio::test]
async fn submissions_and_false_positives_are_accepted() {
    let sandbox = Sandbox::start().await;
    let url = format!("{}/ioc", sandbox.base_url());

    for method in [reqwest::Method::POST, reqwest::Method::PUT] {
        let response = client()
            .request(method.clone(), &url)
            .header("x-api-key", sandbox.api_key())
            .header("content-type", "application/json")
            .body(r#"{"ioc_value": "evil.example", "description": "manual submission"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let body = json_body(response).await;
        assert_eq!(
            body,
            json!({"ioc_value": "evil.example", "status": "submitted"})
        );
    }

    let response = client()
        .post(&url)
        .header("x-api-key", sandbox.api_key())
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = json_body(response).await;
    assert_eq!(body, json!({"ioc_value": "", "status": "Bad Request"}));
}

#[tokio::test]
async fn whois_answers_the_registration_fields_of_a_domain_record() {
    let sandbox = Sandbox::start().await;

    let (status, whois) = get_json(&sandbox, "/whois/app-gps.cloud").await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        whois,
        json!({
            "domain": "app-gps.cloud",
            "registrar": "Savcom LLC",
            "registrant": "Privacy Protection",
            "created_on": "2023-04-26 22:31:36",
            "updated_on": "2023-04-26 22:32:20",
            "expires_on": "2024-04-26 22:31:36",
            "age": 1,
            "nameservers": "",
            "status": "registered",
            "registered?": "true",
        })
    );

    let (_, raw) = get_json(&sandbox, "/whois/raw/app-gps.cloud").await;
    assert_eq!(raw["registrar"], "Savcom LLC");
    let text = raw["raw"].as_str().unwrap();
    assert!(text.contains("Domain Name: APP-GPS.CLOUD\n"), "{text}");
    assert!(
        text.contains("Creation Date: 2023-04-26T22:31:36Z\n"),
        "{text}"
    );
}

#[tokio::test]
async fn whois_of_an_unknown_domain_or_a_non_domain() {
    let sandbox = Sandbox::start().await;

    let (status, body) = get_json(&sandbox, "/whois/example.org").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("dataError").is_some(), "{body}");
    assert!(body.get("domain").is_none());

    let (status, body) = get_json(&sandbox, "/whois/192.0.2.1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, json!("Bad Request"));
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let sandbox = Sandbox::start().await;

    let (status, body) = get_json(&sandbox, "/feeds").await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({"message": "Not Found"}));
}

#[tokio::test]
async fn a_mock_mounted_by_the_user_takes_precedence_and_requests_are_recorded() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let sandbox = Sandbox::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/auth/check"))
        .respond_with(
            ResponseTemplate::new(429).set_body_json(json!({"message": "Limit Exceeded"})),
        )
        .expect(1)
        .mount(sandbox.api_server())
        .await;

    let (status, body) = get_json(&sandbox, "/auth/check").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["message"], "Limit Exceeded");

    let (status, _) = get_json(&sandbox, "/ioc?value=45.83.122.166").await;
    assert_eq!(status, StatusCode::OK);
    let received = sandbox.api_server().received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].url.query(), Some("value=45.83.122.166"));
}
