//! The sandbox's data: the embedded records, their lookup index and the gzip'd snapshots.
//!
//! Built once per process, on the first [`Catalog::get`], and shared by every sandbox.
//! A snapshot is compressed on its first request rather than at start: compressing all
//! eight takes most of a second in an unoptimised build.

use std::collections::HashMap;
use std::io::Write;
use std::sync::OnceLock;

use flate2::{Compression, GzBuilder};
use serde_json::Value;

use super::csv_flat;
use crate::{Feed, Format};

/// The day of the embedded snapshot, as the API writes it in a `date` parameter.
pub(super) const SAMPLE_DAY: &str = "20230427";

/// When the embedded snapshot was published: unix seconds of `LAST_MODIFIED`.
pub(super) const PUBLISHED_AT: u64 = 1_682_557_957;

/// When the embedded snapshot was published, as an HTTP date.
pub(super) const LAST_MODIFIED: &str = "Thu, 27 Apr 2023 01:12:37 GMT";

/// The partial snapshots the API offers besides the daily one, with the suffix their
/// storage keys carry. The sandbox serves the same records for each.
pub(super) const PARTIALS: [(&str, &str); 3] = [
    ("1h_latest", "_1h"),
    ("4h_latest", "_4h"),
    ("12h_latest", "_12h"),
];

const IP_RECORDS: &str = include_str!("data/random100_ioc_ip_latest.json");
const DOMAIN_RECORDS: &str = include_str!("data/random100_ioc_domain_latest.json");
const URL_RECORDS: &str = include_str!("data/random100_ioc_url_latest.json");
const HASH_RECORDS: &str = include_str!("data/random100_ioc_hash_latest.json");

/// The embedded NDJSON of one feed.
pub(super) const fn records(feed: Feed) -> &'static str {
    match feed {
        Feed::Ip => IP_RECORDS,
        Feed::Domain => DOMAIN_RECORDS,
        Feed::Url => URL_RECORDS,
        Feed::Hash => HASH_RECORDS,
    }
}

/// Where an indicator sits in the records.
struct Hit {
    feed: Feed,
    row: usize,
    ioc_type: &'static str,
}

/// One feed's parsed records and its two gzip'd snapshots, compressed on first use.
struct FeedData {
    ndjson: &'static str,
    records: Vec<Value>,
    json_gz: OnceLock<Vec<u8>>,
    csv_gz: OnceLock<Vec<u8>>,
}

/// Everything the sandbox serves, built from the embedded records.
pub(super) struct Catalog {
    feeds: Vec<FeedData>,
    /// Indicator value → record. IPs and URLs are keyed as written, domains and hashes
    /// lower-cased.
    indicators: HashMap<String, Hit>,
    /// Storage object key → the snapshot it holds.
    objects: HashMap<String, (Feed, Format)>,
}

impl Catalog {
    /// The process-wide catalog, built on first use.
    pub(super) fn get() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(Catalog::build)
    }

    fn build() -> Catalog {
        let mut feeds = Vec::with_capacity(Feed::ALL.len());
        let mut indicators = HashMap::new();
        let mut objects = HashMap::new();

        for feed in Feed::ALL {
            let ndjson = records(feed);
            let records: Vec<Value> = ndjson
                .lines()
                .filter(|line| !line.trim().is_empty())
                .map(|line| serde_json::from_str(line).expect("embedded records are valid JSON"))
                .collect();

            for (row, record) in records.iter().enumerate() {
                for (value, ioc_type) in indicators_of(feed, record) {
                    indicators.entry(value).or_insert(Hit {
                        feed,
                        row,
                        ioc_type,
                    });
                }
            }

            feeds.push(FeedData {
                ndjson,
                records,
                json_gz: OnceLock::new(),
                csv_gz: OnceLock::new(),
            });

            for format in [Format::Json, Format::Csv] {
                objects.insert(object_key(feed, format, SAMPLE_DAY, ""), (feed, format));
                for (_, suffix) in PARTIALS {
                    objects.insert(object_key(feed, format, SAMPLE_DAY, suffix), (feed, format));
                }
            }
        }

        Catalog {
            feeds,
            indicators,
            objects,
        }
    }

    /// The gzip'd snapshot of a feed in a format.
    pub(super) fn snapshot(&self, feed: Feed, format: Format) -> &[u8] {
        let data = &self.feeds[position(feed)];
        let name = file_name(feed, format);
        match format {
            Format::Json => data
                .json_gz
                .get_or_init(|| gzip(data.ndjson.as_bytes(), &name)),
            Format::Csv => data
                .csv_gz
                .get_or_init(|| gzip(&csv_flat::to_csv(data.ndjson), &name)),
        }
    }

    /// The snapshot stored under a storage object key, if any.
    pub(super) fn object(&self, key: &str) -> Option<&[u8]> {
        let (feed, format) = self.objects.get(key)?;
        Some(self.snapshot(*feed, *format))
    }

    /// The record of an indicator and its lookup type (`ipv4`, `domain`, `url`, `md5`,
    /// `sha1`, `sha256`). Domains and hashes compare case-insensitively.
    pub(super) fn lookup(&self, value: &str) -> Option<(&Value, &'static str)> {
        let value = value.trim();
        let hit = self
            .indicators
            .get(value)
            .or_else(|| self.indicators.get(&value.to_ascii_lowercase()))?;
        Some((
            &self.feeds[position(hit.feed)].records[hit.row],
            hit.ioc_type,
        ))
    }

    /// The domain record of a domain, or of its closest parent domain in the records.
    pub(super) fn domain_record(&self, domain: &str) -> Option<&Value> {
        let mut name = domain.trim_end_matches('.').to_ascii_lowercase();
        loop {
            if let Some(hit) = self.indicators.get(&name)
                && hit.feed == Feed::Domain
            {
                return Some(&self.feeds[position(hit.feed)].records[hit.row]);
            }
            let (_, parent) = name.split_once('.')?;
            if !parent.contains('.') {
                return None;
            }
            name = parent.to_owned();
        }
    }
}

/// The storage object key of a snapshot: `rst-feeds/{day}/ioc_{feed}_{day}{suffix}.{format}.gz`.
pub(super) fn object_key(feed: Feed, format: Format, day: &str, suffix: &str) -> String {
    format!("rst-feeds/{day}/ioc_{feed}_{day}{suffix}.{format}.gz")
}

/// The name of the decompressed snapshot, written into the gzip header.
fn file_name(feed: Feed, format: Format) -> String {
    format!("ioc_{feed}_{SAMPLE_DAY}.{format}")
}

fn position(feed: Feed) -> usize {
    match feed {
        Feed::Ip => 0,
        Feed::Domain => 1,
        Feed::Url => 2,
        Feed::Hash => 3,
    }
}

/// The indicator values a record can be looked up by, with their lookup type.
fn indicators_of(feed: Feed, record: &Value) -> Vec<(String, &'static str)> {
    let text = |pointer: &str| {
        record
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|value| !value.is_empty())
    };
    match feed {
        Feed::Ip => text("/ip/v4")
            .map(|v| vec![(v.to_owned(), "ipv4")])
            .unwrap_or_default(),
        Feed::Domain => text("/domain")
            .map(|v| vec![(v.to_ascii_lowercase(), "domain")])
            .unwrap_or_default(),
        Feed::Url => text("/url")
            .map(|v| vec![(v.to_owned(), "url")])
            .unwrap_or_default(),
        Feed::Hash => ["md5", "sha1", "sha256"]
            .into_iter()
            .filter_map(|kind| text(&format!("/{kind}")).map(|v| (v.to_ascii_lowercase(), kind)))
            .collect(),
    }
}

fn gzip(bytes: &[u8], name: &str) -> Vec<u8> {
    let mut encoder = GzBuilder::new()
        .filename(name)
        .mtime(PUBLISHED_AT as u32)
        .write(Vec::with_capacity(bytes.len() / 4), Compression::default());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_feed_has_a_hundred_records_and_every_record_an_indicator() {
        let catalog = Catalog::get();
        for feed in Feed::ALL {
            let data = &catalog.feeds[position(feed)];
            assert_eq!(data.records.len(), 100, "{feed}");
            for record in &data.records {
                assert!(!indicators_of(feed, record).is_empty(), "{feed}: {record}");
            }
        }
    }

    #[test]
    fn hashes_and_domains_are_found_whatever_their_case() {
        let catalog = Catalog::get();
        let (_, kind) = catalog
            .lookup("A032D380ABDC0E9BF260F10BCC11DC76")
            .expect("md5 of the first hash record");
        assert_eq!(kind, "md5");
        let (_, kind) = catalog.lookup("APP-GPS.cloud").expect("a domain record");
        assert_eq!(kind, "domain");
    }

    #[test]
    fn a_subdomain_falls_back_to_its_parent_domain_record() {
        let catalog = Catalog::get();
        let record = catalog.domain_record("www.app-gps.cloud").expect("parent");
        assert_eq!(record["domain"], "app-gps.cloud");
        assert!(catalog.domain_record("cloud").is_none());
    }
}
