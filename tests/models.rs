//! The typed models read every sample the repository holds, and the record faults seen
//! in the wild.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use rstcloud::Feed;
use rstcloud::models::{
    AuthCheck, DomainRecord, FeedRecord, FpAlarm, HashRecord, HaveData, IndicatorRecord,
    IndicatorType, IpRecord, ParsedUrl, Submission, UrlRecord, Whois,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use time::macros::datetime;

fn read(relative: &str) -> String {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every non-blank line of an NDJSON file, parsed; a failure names the file and line.
fn records<T: DeserializeOwned>(relative: &str) -> Vec<T> {
    read(relative)
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(n, line)| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{relative} line {}: {e}", n + 1))
        })
        .collect()
}

fn one<T: DeserializeOwned>(relative: &str) -> T {
    serde_json::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The first line of a file as a JSON value, to build variations of a real record.
fn first_line(relative: &str) -> Value {
    let text = read(relative);
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn parse<T: DeserializeOwned>(value: &Value) -> T {
    serde_json::from_value(value.clone()).unwrap()
}

fn round_trips<T>(value: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let written = serde_json::to_string(value).unwrap();
    let read_back: T = serde_json::from_str(&written).unwrap();
    assert_eq!(&read_back, value, "{written}");
}

const IP: &str = "src/sandbox/data/random100_ioc_ip_latest.json";
const DOMAIN: &str = "src/sandbox/data/random100_ioc_domain_latest.json";
const URL: &str = "src/sandbox/data/random100_ioc_url_latest.json";
const HASH: &str = "src/sandbox/data/random100_ioc_hash_latest.json";

fn ips() -> Vec<IpRecord> {
    records(IP)
}

fn domains() -> Vec<DomainRecord> {
    records(DOMAIN)
}

fn urls() -> Vec<UrlRecord> {
    records(URL)
}

fn hashes() -> Vec<HashRecord> {
    records(HASH)
}

fn check_feed<T: FeedRecord>(records: &[T], feed: Feed) {
    assert_eq!(T::FEED, feed);
    assert_eq!(records.len(), 100, "{feed}");
    for record in records {
        assert!(!record.indicator().is_empty(), "{feed}");
        let common = record.common();
        assert_eq!(common.id.len(), 36, "{feed} {}", record.indicator());
        assert!(common.fseen.is_some() && common.lseen.is_some());
        assert_eq!(common.collect, Some(1_682_553_600));
        assert!(common.score_total().is_some());
        assert!(common.fp.is_some());
        assert!(!common.tags.names.is_empty());
        assert_eq!(common.tags.names.len(), common.tags.codes.len());
        assert!(common.extra.is_empty(), "{:?}", common.extra);
    }
}

// Every sample parses.

#[test]
fn every_line_of_the_four_sandbox_snapshots_parses_into_its_record_type() {
    check_feed(&ips(), Feed::Ip);
    check_feed(&domains(), Feed::Domain);
    check_feed(&urls(), Feed::Url);
    check_feed(&hashes(), Feed::Hash);
}

#[test]
fn every_line_of_the_2021_era_files_parses_into_its_record_type() {
    let ips: Vec<IpRecord> = records("tests/data/eras/ip-2021-05.ndjson");
    let domains: Vec<DomainRecord> = records("tests/data/eras/domain-2021-05.ndjson");
    let urls: Vec<UrlRecord> = records("tests/data/eras/url-2021-05-parsed-host.ndjson");
    let hashes: Vec<HashRecord> = records("tests/data/eras/hash-2021-06-descr-null.ndjson");
    assert_eq!(
        (ips.len(), domains.len(), urls.len(), hashes.len()),
        (3, 3, 3, 3)
    );

    // 2021 files predate `src`, `industry` and `ports`.
    assert!(
        ips.iter()
            .all(|r| r.src.is_none() && r.ports.raw().is_empty())
    );
    assert_eq!(ips[0].ip.num, Some(3_484_473_522));
    assert_eq!(
        ips[0].asn.as_ref().unwrap().firstip.num,
        Some(3_484_470_528)
    );
    assert!(urls.iter().all(|r| r.host().is_some()));
    assert!(
        hashes
            .iter()
            .all(|r| r.fp.as_ref().unwrap().descr.is_none())
    );
}

#[test]
fn every_line_of_the_free_short_feeds_parses_although_they_carry_almost_nothing() {
    let ips: Vec<IpRecord> = records("tests/data/short/ioc_ip_20210208_short.head.json");
    let domains: Vec<DomainRecord> =
        records("tests/data/short/ioc_domain_20210208_short.head.json");
    let urls: Vec<UrlRecord> = records("tests/data/short/ioc_url_20210208_short.head.json");
    assert!(!ips.is_empty() && !domains.is_empty() && !urls.is_empty());

    let first = &ips[0];
    assert_eq!(first.ip.v4, "1.0.138.22");
    assert_eq!(first.ip.num, Some(16_812_566));
    assert_eq!(first.address(), Some(Ipv4Addr::new(1, 0, 138, 22)));
    assert_eq!(first.collect, Some(1_612_742_400));
    assert!(first.has_tag("shellprobe"));
    assert_eq!(first.id, "");
    assert_eq!(first.fseen, None);
    assert_eq!(first.score, None);
    assert_eq!(first.fp_alarm(), FpAlarm::False);
    assert!(first.tags.codes.is_empty());

    assert_eq!(domains[0].domain, "00439632890395435423.com");
    assert_eq!(urls[0].url, "http://0007.name/t7kw7bb.zip");
    assert!(urls[0].has_tag("MALWARE"));
}

#[test]
fn every_api_answer_sample_parses_into_its_type() {
    for name in [
        "ioc-lookup-domain-2020.json",
        "ioc-lookup-hash-2022-numbers-as-strings.json",
        "ioc-lookup-ip-2020.json",
        "ioc-lookup-url-2020.json",
    ] {
        let record: IndicatorRecord = one(&format!("tests/data/api/{name}"));
        assert!(!record.ioc_value.is_empty(), "{name}");
        assert_eq!(record.id.len(), 36, "{name}");
        assert!(
            record.common.extra.is_empty(),
            "{name}: {:?}",
            record.common.extra
        );
    }
    let check: AuthCheck = one("tests/data/api/auth-check-shape.json");
    assert!(check.is_valid());
    let submission: Submission = one("tests/data/api/ioc-submit-shape.json");
    assert!(submission.is_submitted());
    assert_eq!(submission.ioc_value.as_deref(), Some("1.1.1.1"));
}

/// Every leaf of a JSON schema, as a dotted path, with an example value built from its
/// declared type.
fn schema_instance(schema: &Value, path: &str, leaves: &mut BTreeSet<String>) -> Value {
    match schema["type"].as_str() {
        Some("object") => {
            let mut object = serde_json::Map::new();
            for (key, property) in schema["properties"].as_object().unwrap() {
                let inner = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                object.insert(key.clone(), schema_instance(property, &inner, leaves));
            }
            Value::Object(object)
        }
        Some("array") => {
            leaves.insert(path.to_owned());
            match schema["items"]["type"].as_str() {
                Some("string") => json!(["10"]),
                _ => json!([]),
            }
        }
        Some("string") => {
            leaves.insert(path.to_owned());
            json!("10")
        }
        // The schema leaves null-valued fields untyped.
        _ => Value::Null,
    }
}

fn leaf_paths(value: &Value, path: &str, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, inner) in object {
                let inner_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                leaf_paths(inner, &inner_path, out);
            }
        }
        _ => {
            out.insert(path.to_owned());
        }
    }
}

#[test]
fn every_field_of_the_2024_lookup_schemas_is_modelled() {
    let schemas: Value = one("tests/data/api/ioc-lookup-schema-from-real-payload-2024.json");
    let schemas = schemas.as_object().unwrap();
    assert_eq!(schemas.len(), 4);

    for (name, schema) in schemas {
        let mut leaves = BTreeSet::new();
        let instance = schema_instance(schema, "", &mut leaves);
        let record: IndicatorRecord =
            serde_json::from_value(instance).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            record.common.extra.is_empty(),
            "{name}: {:?}",
            record.common.extra
        );

        // Known fields survive a write; unknown nested ones would be dropped.
        let mut written = BTreeSet::new();
        leaf_paths(&serde_json::to_value(&record).unwrap(), "", &mut written);
        let missing: Vec<_> = leaves.difference(&written).collect();
        assert!(missing.is_empty(), "{name}: not modelled: {missing:?}");
        assert_eq!(record.score_total(), Some(10), "{name}");
    }
}

// Real values from the samples.

#[test]
fn an_ip_record_gives_its_address_asn_country_and_ports() {
    let ips = ips();
    let first = &ips[0];
    assert_eq!(first.address(), Some(Ipv4Addr::new(45, 83, 122, 166)));
    assert_eq!(first.ip.num, Some(760_445_606));
    assert_eq!(first.ports.known(), vec![8080]);

    let asn = first.asn.as_ref().unwrap();
    assert_eq!(asn.num, Some(200_313));
    assert_eq!(asn.firstip.address(), Some(Ipv4Addr::new(45, 83, 120, 0)));
    assert_eq!(asn.lastip.num, Some(760_445_951));
    assert_eq!(asn.domains, Some(2362));
    assert_eq!(asn.isp(), Some("INTERNETIT"));
    assert_eq!((asn.cloud(), asn.org()), (None, None));

    let geo = first.geo.as_ref().unwrap();
    assert_eq!(geo.country(), Some("British Virgin Islands"));
    assert_eq!((geo.city(), geo.region()), (None, None));

    assert_eq!(first.score_total(), Some(32));
    assert_eq!(first.score.as_ref().unwrap().src, Some(68.19));
    assert!(first.has_threat("Cobalt_Strike"));
    assert_eq!(first.references(), ["https://github.com/stamparm/maltrail"]);
    assert_eq!(first.first_seen(), Some(datetime!(2023-03-17 00:00:00 UTC)));
    assert_eq!(first.collected(), Some(datetime!(2023-04-27 00:00:00 UTC)));
    assert!(!first.is_new());
    assert!(!first.is_updated());
}

#[test]
fn an_ip_record_with_many_ports_keeps_their_order() {
    let ips = ips();
    let record = ips.iter().find(|r| r.ip.v4 == "5.188.86.194").unwrap();
    assert_eq!(record.ports.known(), vec![88, 8080, 81, 445, 443, 8088]);
}

#[test]
fn a_cloud_address_carries_its_provider_and_a_raised_false_positive_alarm() {
    let ips = ips();
    let record = ips.iter().find(|r| r.ip.v4 == "137.184.198.239").unwrap();
    assert_eq!(record.asn.as_ref().unwrap().cloud(), Some("digitalocean"));
    assert_eq!(record.fp_alarm(), FpAlarm::True);
    assert!(record.fp_alarm().is_raised());
    assert_eq!(record.fp_description(), Some("Cloud provider IP"));
}

#[test]
fn a_domain_record_gives_its_a_records_and_registration() {
    let domains = domains();
    let first = &domains[0];
    assert_eq!(first.domain, "app-gps.cloud");
    assert_eq!(first.a_records(), ["75.2.81.212"]);
    assert!(first.ports.known().is_empty());
    assert!(first.is_new());
    assert!(first.is_updated());

    let whois = first.whois().unwrap();
    assert_eq!(whois.registrar(), Some("Savcom LLC"));
    assert_eq!(whois.registrant(), Some("Privacy Protection"));
    assert_eq!(whois.created(), Some(datetime!(2023-04-26 22:31:36)));
    assert_eq!(whois.updated(), Some(datetime!(2023-04-26 22:32:20)));
    assert_eq!(whois.expires(), Some(datetime!(2024-04-26 22:31:36)));
    assert_eq!(whois.age(), Some(1));
    assert_eq!(whois.havedata, HaveData::True);

    let second = &domains[1];
    assert_eq!(
        second.resolved.as_ref().unwrap().ip.cname,
        ["16-6.sh.apigwtencent.com"]
    );
    assert_eq!(second.whois().unwrap().registrant(), None);
}

#[test]
fn a_domain_without_registration_data_reads_as_unknown_throughout() {
    let domains = domains();
    let record = domains
        .iter()
        .find(|r| r.domain == "t23bendarron.top")
        .unwrap();
    let whois = record.whois().unwrap();
    assert_eq!(whois.havedata, HaveData::False);
    assert_eq!(
        (whois.created(), whois.updated(), whois.expires()),
        (None, None, None)
    );
    assert_eq!(
        (whois.age(), whois.registrar(), whois.registrant()),
        (None, None, None)
    );
    assert_eq!(whois.created.as_deref(), Some("1970-01-01 00:00:00"));
}

#[test]
fn a_url_record_gives_its_host_port_and_status() {
    let urls = urls();
    let first = &urls[0];
    assert_eq!(first.url, "http://113.88.100.28:40506/i");
    let parsed = first.parsed.as_ref().unwrap();
    assert_eq!(parsed.scheme(), Some("http"));
    assert_eq!(parsed.host(), Some("113.88.100.28"));
    assert_eq!(parsed.port(), Some(40506));
    assert_eq!(parsed.path(), Some("/i"));
    assert_eq!((parsed.query(), parsed.fragment()), (None, None));
    assert_eq!(first.status(), Some(503));
    assert_eq!(first.fp_description(), Some("Resource unavailable"));

    let url = first.parsed_url().unwrap();
    assert_eq!(url.host_str(), Some("113.88.100.28"));
    assert_eq!(url.port(), Some(40506));
}

#[test]
fn a_hash_record_gives_its_three_digests_and_file_names() {
    let hashes = hashes();
    let record = hashes
        .iter()
        .find(|r| r.id == "9c7bf329-237b-36c1-bf79-db25c8f3d306")
        .unwrap();
    assert_eq!(record.md5(), Some("b734afdd8e03ba28718c10dee9ed2b0c"));
    assert_eq!(
        record.sha1(),
        Some("f924e10f4c82759a20f2e0683fe55f4bb321e56c")
    );
    assert_eq!(
        record.sha256(),
        Some("2834cfeb660413fad1cd516023cc6563d06233d0ec802370c70842f3bd9691e5")
    );
    assert_eq!(record.indicator(), record.sha256().unwrap());
    assert_eq!(
        record.filename,
        ["securiteinfo.com.win32.pwsx-gen.13822.29104"]
    );

    let two_references = &hashes[0];
    assert_eq!(
        two_references.references(),
        [
            "https://www.elastic.co/security-labs/elastic-security-labs-discovers-lobshot-malware",
            "https://1275.ru/ioc/1833/lobshot-malware-iocs/?from=rss",
        ]
    );
}

#[test]
fn a_hash_record_with_only_a_sha1_is_named_by_it() {
    let hashes = hashes();
    let record = hashes
        .iter()
        .find(|r| r.id == "58a2c445-58e6-3696-b006-b0b7b9e37a11")
        .unwrap();
    assert_eq!((record.md5(), record.sha256()), (None, None));
    assert_eq!(
        record.indicator(),
        "32f9a887ee3918600b473a4b458877fd6664868d"
    );
}

#[test]
fn a_hash_first_seen_later_on_the_snapshot_day_counts_as_new() {
    let hashes: Vec<HashRecord> = records("tests/data/eras/hash-2021-06-descr-null.ndjson");
    let record = &hashes[0];
    assert_eq!(record.fseen, Some(1_624_926_923));
    assert_eq!(record.collect, Some(1_624_924_800));
    assert!(record.is_new());
    assert!(record.is_updated());
    assert!(!hashes[1].is_new());
}

#[test]
fn a_hash_lookup_with_numbers_as_strings_gives_real_numbers() {
    let record: IndicatorRecord =
        one("tests/data/api/ioc-lookup-hash-2022-numbers-as-strings.json");
    assert_eq!(record.ioc_type, Some(IndicatorType::Sha256));
    assert_eq!(record.score_total(), Some(6));
    let score = record.score.as_ref().unwrap();
    assert_eq!(score.src, Some(76.8));
    assert_eq!(score.tags, Some(0.89));
    assert_eq!(score.frequency, Some(0.1));
    assert_eq!(record.tags.codes, vec![10]);
    assert_eq!(record.fseen, Some(1_620_691_200));
    assert_eq!(record.lseen, Some(1_644_537_600));
    assert_eq!(record.collect, Some(1_644_624_000));
    assert_eq!((record.md5(), record.sha1()), (None, None));
    assert_eq!(record.sha256(), Some(record.indicator()));
    assert!(record.filename.is_empty());
    assert_eq!(
        record.references(),
        ["https: //www.threatfabric.com/blogs/partners-in-crime-medusa-cabassous.html"]
    );
}

#[test]
fn an_ip_lookup_from_2020_gives_its_asn_with_bounds_sent_as_strings() {
    let record: IndicatorRecord = one("tests/data/api/ioc-lookup-ip-2020.json");
    assert_eq!(record.indicator(), "118.243.83.70");
    assert_eq!(record.ioc_type, None);
    let asn = record.asn.as_ref().unwrap();
    assert_eq!(asn.num, Some(4685));
    assert_eq!(asn.firstip.num, Some(1_995_636_736));
    assert_eq!(asn.lastip.num, Some(1_995_702_271));
    assert_eq!(asn.org(), Some("Asahi Net"));
    assert_eq!(record.geo.as_ref().unwrap().country(), Some("Japan"));
    assert_eq!(record.tags.codes, vec![0, 8]);
}

#[test]
fn a_domain_lookup_gives_its_resolution_and_registration() {
    let record: IndicatorRecord = one("tests/data/api/ioc-lookup-domain-2020.json");
    let resolved = record.resolved.as_ref().unwrap();
    assert_eq!(resolved.ip.as_ref().unwrap().a, ["193.161.193.99"]);
    let whois = record.whois().unwrap();
    assert_eq!(whois.registrar(), Some("NameCheap Inc"));
    assert_eq!(whois.registrant(), None);
    assert_eq!(whois.age(), Some(1414));
    assert_eq!(record.status(), None);
}

#[test]
fn a_url_lookup_gives_its_status() {
    let record: IndicatorRecord = one("tests/data/api/ioc-lookup-url-2020.json");
    assert_eq!(record.status(), Some(200));
    assert!(record.whois().is_none());
    assert!(record.has_threat("emotet"));
}

#[test]
fn the_key_check_gives_the_quota() {
    let check: AuthCheck = one("tests/data/api/auth-check-shape.json");
    let key = check.check.as_ref().unwrap();
    assert_eq!(key.name.as_deref(), Some("CheckApiKey"));
    let quota = check.quota.as_ref().unwrap();
    assert_eq!(quota.used, Some(1));
    assert_eq!(quota.limit, Some(1000));
    assert_eq!(quota.remaining, Some(999));
    assert_eq!(quota.period.as_deref(), Some("DAY"));
    assert_eq!(quota.requests_left(), Some(999));
}

#[test]
fn a_key_check_with_strings_and_unknown_fields_still_reads() {
    let check: AuthCheck = serde_json::from_value(json!({
        "check": {"name": "CheckApiKey", "status": "VALID", "plan": "pro"},
        "quota": {"used": "10", "limit": null, "period": "DAY", "burst": 5},
        "version": 2
    }))
    .unwrap();
    assert!(check.is_valid());
    let quota = check.quota.as_ref().unwrap();
    assert_eq!(
        (quota.used, quota.limit, quota.requests_left()),
        (Some(10), None, None)
    );
    assert_eq!(quota.extra["burst"], json!(5));
    assert_eq!(check.check.as_ref().unwrap().extra["plan"], json!("pro"));
    assert_eq!(check.extra["version"], json!(2));

    let invalid: AuthCheck = serde_json::from_value(json!({"message": "Forbidden"})).unwrap();
    assert!(!invalid.is_valid());
}

#[test]
fn a_whois_answer_gives_typed_dates_name_servers_and_registration() {
    let whois: Whois = serde_json::from_value(json!({
        "domain": "domain.com",
        "age": "365",
        "created_on": "2022-01-01 00:00:00",
        "updated_on": "1970-01-01 00:00:00",
        "expires_on": "2023-01-01 00:00:00",
        "nameservers": "ns1.domain.com, ns2.domain.com,",
        "registered?": "true",
        "registrant": "unknown",
        "registrant_org": "n/a",
        "registrant_email": "",
        "registrar": "Registrar Name",
        "status": "registered",
        "whois_raw": "Domain Name: DOMAIN.COM",
        "dnssec": "unsigned"
    }))
    .unwrap();
    assert!(whois.has_data());
    assert_eq!(whois.domain(), Some("domain.com"));
    assert_eq!(whois.age(), Some(365));
    assert_eq!(whois.created_on(), Some(datetime!(2022-01-01 00:00:00)));
    assert_eq!(whois.updated_on(), None);
    assert_eq!(whois.expires_on(), Some(datetime!(2023-01-01 00:00:00)));
    assert_eq!(whois.nameservers(), ["ns1.domain.com", "ns2.domain.com"]);
    assert_eq!(whois.registered(), Some(true));
    assert_eq!(
        (
            whois.registrant(),
            whois.registrant_org(),
            whois.registrant_email()
        ),
        (None, None, None)
    );
    assert_eq!(whois.registrar(), Some("Registrar Name"));
    assert_eq!(whois.status(), Some("registered"));
    assert_eq!(whois.raw(), Some("Domain Name: DOMAIN.COM"));
    assert_eq!(whois.extra["dnssec"], json!("unsigned"));
    round_trips(&whois);
}

#[test]
fn a_whois_answer_with_a_data_error_has_no_data() {
    let whois: Whois =
        serde_json::from_value(json!({"dataError": "MISSING_WHOIS_DATA", "registered?": false}))
            .unwrap();
    assert!(!whois.has_data());
    assert_eq!(whois.data_error().as_deref(), Some("MISSING_WHOIS_DATA"));
    assert_eq!(whois.registered(), Some(false));
    assert!(whois.nameservers().is_empty());

    let listed: Whois = serde_json::from_value(json!({"nameservers": ["a.ns", "b.ns"]})).unwrap();
    assert_eq!(listed.nameservers(), ["a.ns", "b.ns"]);
}

// The record faults seen in the wild.

#[test]
fn d1_an_unknown_false_positive_alarm_is_kept_and_readable() {
    let mut line = first_line(IP);
    line["fp"] = json!({"alarm": "likely", "descr": ""});
    let record: IpRecord = parse(&line);
    assert_eq!(record.fp_alarm(), FpAlarm::Other("likely".into()));
    assert_eq!(record.fp_alarm().as_str(), "likely");
    assert!(!record.fp_alarm().is_raised());
    assert_eq!(record.fp_description(), None);
    assert_eq!(
        serde_json::to_value(&record).unwrap()["fp"]["alarm"],
        json!("likely")
    );

    line["fp"] = json!({"alarm": "False", "descr": ""});
    assert_eq!(parse::<IpRecord>(&line).fp_alarm(), FpAlarm::False);
    line["fp"] = json!({"alarm": "POSSIBLE"});
    assert_eq!(parse::<IpRecord>(&line).fp_alarm(), FpAlarm::Possible);
}

#[test]
fn d2_new_fields_at_the_top_and_in_the_score_change_nothing_else() {
    let base = first_line(IP);
    let mut changed = base.clone();
    changed["newfield"] = json!({"a": 1});
    changed["score"]["extra"] = json!(3);

    let before: IpRecord = parse(&base);
    let mut after: IpRecord = parse(&changed);
    assert_eq!(after.common.extra.get("newfield"), Some(&json!({"a": 1})));
    assert_eq!(after.score, before.score);

    after.common.extra.remove("newfield");
    assert_eq!(after, before);
}

#[test]
fn d3_numbers_sent_as_strings_read_the_same_as_numbers() {
    let mut numbers = first_line(IP);
    numbers["score"] = json!({"total": 85, "src": 70.5, "tags": 0.89, "frequency": 1.0});
    numbers["tags"]["codes"] = json!([10]);
    numbers["ports"] = json!([443]);
    numbers["fseen"] = json!(1_620_691_200);

    let mut strings = numbers.clone();
    strings["score"] = json!({"total": "85", "src": "70.5", "tags": "0.89", "frequency": "1.0"});
    strings["tags"]["codes"] = json!(["10"]);
    strings["ports"] = json!(["443"]);
    strings["fseen"] = json!("1620691200");
    strings["ip"]["num"] = json!("760445606");
    strings["asn"]["num"] = json!(" 200313 ");

    let from_numbers: IpRecord = parse(&numbers);
    let from_strings: IpRecord = parse(&strings);
    assert_eq!(from_strings, from_numbers);
    assert_eq!(from_strings.score_total(), Some(85));
    assert_eq!(from_strings.score.as_ref().unwrap().frequency, Some(1.0));
    assert_eq!(from_strings.ports.known(), vec![443]);
}

/// Turns every string that holds a number back into a JSON number.
fn numbers_unquoted(value: &Value) -> Value {
    match value {
        Value::String(s) => s
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| s.parse::<f64>().map(Value::from))
            .unwrap_or_else(|_| value.clone()),
        Value::Array(items) => items.iter().map(numbers_unquoted).collect(),
        Value::Object(object) => object
            .iter()
            .map(|(k, v)| (k.clone(), numbers_unquoted(v)))
            .collect(),
        other => other.clone(),
    }
}

#[test]
fn d3_the_lookup_with_numbers_as_strings_equals_its_numeric_twin() {
    let sample: Value = one("tests/data/api/ioc-lookup-hash-2022-numbers-as-strings.json");
    let twin = numbers_unquoted(&sample);
    assert_eq!(twin["score"]["src"], json!(76.8));
    assert_eq!(
        parse::<IndicatorRecord>(&sample),
        parse::<IndicatorRecord>(&twin)
    );
}

#[test]
fn d4_whois_placeholders_read_as_unknown_and_the_raw_values_stay() {
    let mut line = first_line(DOMAIN);
    line["resolved"]["whois"] = json!({
        "created": "1970-01-01 00:00:00",
        "updated": "",
        "expires": "2027-01-01 00:00:00",
        "age": 0,
        "registrar": "unknown"
    });
    let record: DomainRecord = parse(&line);
    let whois = record.whois().unwrap();
    assert_eq!(whois.created(), None);
    assert_eq!(whois.updated(), None);
    assert_eq!(whois.expires(), Some(datetime!(2027-01-01 00:00:00)));
    assert_eq!(whois.age(), None);
    assert_eq!(whois.registrar(), None);
    assert_eq!(whois.havedata, HaveData::Unknown);

    assert_eq!(whois.created.as_deref(), Some("1970-01-01 00:00:00"));
    assert_eq!(whois.updated.as_deref(), Some(""));
    assert_eq!(whois.age, Some(0));
    assert_eq!(whois.registrar.as_deref(), Some("unknown"));
}

#[test]
fn d5_sentinel_values_read_as_absent_in_the_typed_view() {
    let mut ip = first_line(IP);
    ip["ports"] = json!([-1]);
    let ip: IpRecord = parse(&ip);
    assert!(ip.ports.known().is_empty());
    assert_eq!(ip.ports.raw(), [-1]);

    let mut url = first_line(URL);
    url["resolved"] = json!({"status": 0});
    let url: UrlRecord = parse(&url);
    assert_eq!(url.status(), None);
    assert_eq!(url.resolved.as_ref().unwrap().status, Some(0));

    let mut hash = first_line(HASH);
    hash["md5"] = json!("");
    hash["fp"] = json!({"alarm": "false", "descr": null});
    let hash: HashRecord = parse(&hash);
    assert_eq!(hash.md5(), None);
    assert_eq!(hash.md5, "");
    assert!(hash.sha256().is_some());
    assert_eq!(hash.fp_description(), None);

    let parsed: ParsedUrl = serde_json::from_value(
        json!({"schema": "http", "domain": "a.example", "port": "None",
            "path": "None", "params": null, "anchor": null}),
    )
    .unwrap();
    assert_eq!(parsed.port, None);
    assert_eq!(parsed.path(), None);
    assert_eq!(parsed.host(), Some("a.example"));

    let lookup: IndicatorRecord = serde_json::from_value(json!({
        "ioc_value": "http://a.example/", "id": "x",
        "parsed": {"port": "None"}, "resolved": {"status": "0"}, "ports": ["-1"]
    }))
    .unwrap();
    assert_eq!(lookup.parsed.as_ref().unwrap().port(), None);
    assert_eq!(lookup.status(), None);
    assert!(lookup.ports.known().is_empty());
}

#[test]
fn d5_repeated_ports_are_listed_once() {
    let mut line = first_line(IP);
    line["ports"] = json!([443, -1, "443", 80]);
    let record: IpRecord = parse(&line);
    assert_eq!(record.ports.known(), vec![443, 80]);
}

#[test]
fn d6_the_parsed_host_is_found_under_both_key_spellings() {
    let old: Vec<UrlRecord> = records("tests/data/eras/url-2021-05-parsed-host.ndjson");
    assert_eq!(old[0].host(), Some("login-live-nl.org"));
    assert_eq!(old[0].parsed.as_ref().unwrap().port(), Some(80));
    assert_eq!(old[2].host(), Some("45.32.48.250"));
    assert_eq!(old[2].status(), Some(404));

    let new = &urls()[0];
    assert_eq!(new.host(), Some("113.88.100.28"));

    // Written back with the current spelling.
    let written = serde_json::to_value(&old[0]).unwrap();
    assert_eq!(written["parsed"]["domain"], json!("login-live-nl.org"));
    assert!(written["parsed"].get("host").is_none());
}

#[test]
fn d7_references_read_the_same_from_a_string_and_from_a_list() {
    let mut from_string = first_line(HASH);
    from_string["src"]["report"] = json!("https://a/x,https://b/y");
    let mut from_list = from_string.clone();
    from_list["src"]["report"] = json!(["https://a/x", "https://b/y"]);

    let a: HashRecord = parse(&from_string);
    let b: HashRecord = parse(&from_list);
    assert_eq!(a.references(), ["https://a/x", "https://b/y"]);
    assert_eq!(a, b);

    from_string["src"]["report"] = json!(" https://a/x , ,https://b/y, ");
    assert_eq!(parse::<HashRecord>(&from_string), b);
}

#[test]
fn d8_records_glued_together_or_followed_by_blank_lines_read_one_by_one() {
    let text = read(IP);
    let lines: Vec<&str> = text.lines().take(3).collect();
    let glued = format!("{}{} {}\n\n", lines[0], lines[1], lines[2]);

    let read: Vec<IpRecord> = serde_json::Deserializer::from_str(&glued)
        .into_iter::<IpRecord>()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(read, ips()[..3]);
}

// Errors and round trips.

#[test]
fn a_bad_number_is_a_decode_error_naming_the_problem() {
    let mut line = first_line(IP);
    line["score"]["total"] = json!("high");
    let error = serde_json::from_value::<IpRecord>(line).unwrap_err();
    assert!(error.to_string().contains("high"), "{error}");

    let mut line = first_line(IP);
    line["tags"]["codes"] = json!([1.5]);
    assert!(serde_json::from_value::<IpRecord>(line).is_err());

    let mut line = first_line(URL);
    line["parsed"]["port"] = json!(70_000);
    assert!(serde_json::from_value::<UrlRecord>(line).is_err());
}

#[test]
fn a_record_without_its_indicator_is_refused() {
    let mut line = first_line(DOMAIN);
    line.as_object_mut().unwrap().remove("domain");
    assert!(serde_json::from_value::<DomainRecord>(line).is_err());
}

#[test]
fn every_sample_reads_back_equal_after_being_written() {
    ips().iter().for_each(round_trips);
    domains().iter().for_each(round_trips);
    urls().iter().for_each(round_trips);
    hashes().iter().for_each(round_trips);
    records::<IpRecord>("tests/data/eras/ip-2021-05.ndjson")
        .iter()
        .for_each(round_trips);
    records::<DomainRecord>("tests/data/eras/domain-2021-05.ndjson")
        .iter()
        .for_each(round_trips);
    records::<UrlRecord>("tests/data/eras/url-2021-05-parsed-host.ndjson")
        .iter()
        .for_each(round_trips);
    records::<HashRecord>("tests/data/eras/hash-2021-06-descr-null.ndjson")
        .iter()
        .for_each(round_trips);
    records::<IpRecord>("tests/data/short/ioc_ip_20210208_short.head.json")
        .iter()
        .for_each(round_trips);
    for name in [
        "ioc-lookup-domain-2020.json",
        "ioc-lookup-hash-2022-numbers-as-strings.json",
        "ioc-lookup-ip-2020.json",
        "ioc-lookup-url-2020.json",
    ] {
        round_trips(&one::<IndicatorRecord>(&format!("tests/data/api/{name}")));
    }
    round_trips(&one::<AuthCheck>("tests/data/api/auth-check-shape.json"));
    round_trips(&one::<Submission>("tests/data/api/ioc-submit-shape.json"));

    let mut unusual = first_line(IP);
    unusual["fp"] = json!({"alarm": "Likely", "descr": null});
    unusual["newfield"] = json!({"a": [1, 2]});
    round_trips(&parse::<IpRecord>(&unusual));
}

#[test]
fn indicator_types_read_in_any_case_and_keep_unknown_kinds() {
    let kind = |s: &str| serde_json::from_value::<IndicatorType>(json!(s)).unwrap();
    assert_eq!(kind("IPv4"), IndicatorType::Ipv4);
    assert_eq!(kind("sha256"), IndicatorType::Sha256);
    assert_eq!(kind("email"), IndicatorType::Other("email".into()));
    assert!(kind("md5").is_hash());
    assert_eq!(IndicatorType::Ipv6.to_string(), "ipv6");
}
