//! Selections over the real sample records, and the records' serialisation.

use futures_util::StreamExt;
use rstcloud::sandbox::Sandbox;
use rstcloud::{
    Client, DomainRecord, Error, Feed, FeedRecord, FpAlarm, HashRecord, IpRecord, RecordStreamExt,
    Selection, SnapshotDate, UrlRecord,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

const DAY: i64 = 86_400;

fn raw(feed: Feed) -> Vec<Value> {
    Sandbox::records(feed)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn typed<T: DeserializeOwned>(feed: Feed) -> Vec<T> {
    Sandbox::records(feed)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The indicators of the raw records that `keep` accepts, as integrators compute them.
fn expected(feed: Feed, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let key = match feed {
        Feed::Ip => "/ip/v4",
        Feed::Domain => "/domain",
        Feed::Url => "/url",
        _ => panic!("the hash feed has several indicator keys"),
    };
    raw(feed)
        .iter()
        .filter(|r| keep(r))
        .map(|r| r.pointer(key).unwrap().as_str().unwrap().to_owned())
        .collect()
}

fn selected<T: FeedRecord>(feed: Feed, selection: &Selection) -> Vec<String> {
    typed::<T>(feed)
        .iter()
        .filter(|r| selection.matches(*r))
        .map(|r| r.indicator().to_owned())
        .collect()
}

fn on_day(record: &Value, field: &str) -> bool {
    let collect = record["collect"].as_i64().unwrap();
    let at = record[field].as_i64().unwrap();
    at >= collect && at - collect < DAY
}

fn has(record: &Value, list: &str, name: &str) -> bool {
    record
        .pointer(list)
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|i| i.as_str() == Some(name)))
}

#[test]
fn a_minimum_score_keeps_the_records_scored_at_or_above_it() {
    let want = expected(Feed::Ip, |r| r["score"]["total"].as_i64().unwrap() >= 50);
    assert!(!want.is_empty() && want.len() < 100);
    assert_eq!(
        selected::<IpRecord>(Feed::Ip, &Selection::new().min_score(50)),
        want
    );
}

#[test]
fn new_and_updated_follow_the_collect_day() {
    for feed in [Feed::Domain, Feed::Url] {
        let (new, updated) = (Selection::new().new_only(), Selection::new().updated_only());
        let (got_new, got_updated) = match feed {
            Feed::Domain => (
                selected::<DomainRecord>(feed, &new),
                selected::<DomainRecord>(feed, &updated),
            ),
            _ => (
                selected::<UrlRecord>(feed, &new),
                selected::<UrlRecord>(feed, &updated),
            ),
        };
        assert_eq!(got_new, expected(feed, |r| on_day(r, "fseen")));
        assert_eq!(got_updated, expected(feed, |r| on_day(r, "lseen")));
        // The samples hold a few of each: the selection is neither empty nor everything.
        assert!((1..100).contains(&got_new.len()));
        assert!((1..100).contains(&got_updated.len()));
    }
}

#[test]
fn tags_and_threats_match_any_of_the_names_given() {
    let want = expected(Feed::Domain, |r| {
        has(r, "/tags/str", "phishing") || has(r, "/tags/str", "malware")
    });
    assert!(!want.is_empty());
    let got = selected::<DomainRecord>(
        Feed::Domain,
        &Selection::new().any_tag(["Phishing", "malware"]),
    );
    assert_eq!(got, want);

    let want = expected(Feed::Ip, |r| has(r, "/threat", "cobalt_strike"));
    assert!(!want.is_empty());
    assert_eq!(
        selected::<IpRecord>(Feed::Ip, &Selection::new().threat("cobalt_strike")),
        want
    );
}

#[test]
fn the_false_positive_level_orders_false_possible_true() {
    let alarm = |r: &Value| r["fp"]["alarm"].as_str().unwrap_or("false").to_owned();
    for (level, allowed) in [
        (FpAlarm::False, &["false"][..]),
        (FpAlarm::Possible, &["false", "possible"][..]),
        (FpAlarm::True, &["false", "possible", "true"][..]),
    ] {
        let want = expected(Feed::Ip, |r| allowed.contains(&alarm(r).as_str()));
        let got = selected::<IpRecord>(Feed::Ip, &Selection::new().max_fp_alarm(level));
        assert_eq!(got, want);
    }
}

#[test]
fn conditions_combine_and_the_empty_selection_keeps_everything() {
    let all = Selection::new();
    assert_eq!(selected::<HashRecord>(Feed::Hash, &all).len(), 100);
    let want = expected(Feed::Ip, |r| {
        r["score"]["total"].as_i64().unwrap() >= 30 && on_day(r, "lseen")
    });
    let got = selected::<IpRecord>(Feed::Ip, &Selection::new().min_score(30).updated_only());
    assert_eq!(got, want);
}

#[tokio::test]
async fn selecting_a_record_stream_keeps_its_errors() {
    let good: Vec<Result<IpRecord, Error>> =
        typed::<IpRecord>(Feed::Ip).into_iter().map(Ok).collect();
    let mut items = vec![Err(Error::InvalidInput {
        what: "test item",
        reason: "an error in the stream".into(),
    })];
    items.extend(good);
    let selection = Selection::new().min_score(50);
    let out: Vec<_> = futures_util::stream::iter(items)
        .select(selection.clone())
        .collect()
        .await;
    assert!(matches!(out[0], Err(Error::InvalidInput { .. })));
    let kept: Vec<String> = out[1..]
        .iter()
        .map(|r| r.as_ref().unwrap().ip.v4.clone())
        .collect();
    assert_eq!(
        kept,
        expected(Feed::Ip, |r| r["score"]["total"].as_i64().unwrap() >= 50)
    );
}

#[tokio::test]
async fn a_snapshot_from_the_sandbox_can_be_selected_as_it_streams() {
    let sandbox = Sandbox::start().await;
    let client = Client::builder()
        .api_key(sandbox.api_key())
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    let selection = Selection::new().new_only();
    let got: Vec<String> = client
        .records::<UrlRecord>(SnapshotDate::Latest)
        .await
        .unwrap()
        .select(selection)
        .map(|r| r.unwrap().url)
        .collect()
        .await;
    assert_eq!(got, expected(Feed::Url, |r| on_day(r, "fseen")));
}

fn round_trips<T>(feed: Feed)
where
    T: DeserializeOwned + Serialize + PartialEq + std::fmt::Debug,
{
    for (line, text) in Sandbox::records(feed).lines().enumerate() {
        let record: T = serde_json::from_str(text).unwrap();
        let written = serde_json::to_string(&record).unwrap();
        let back: T = serde_json::from_str(&written)
            .unwrap_or_else(|e| panic!("{feed} line {}: {e}\n{written}", line + 1));
        assert_eq!(back, record, "{feed} line {}", line + 1);
    }
}

#[test]
fn every_sample_record_serialises_and_reads_back_equal() {
    round_trips::<IpRecord>(Feed::Ip);
    round_trips::<DomainRecord>(Feed::Domain);
    round_trips::<UrlRecord>(Feed::Url);
    round_trips::<HashRecord>(Feed::Hash);
}
