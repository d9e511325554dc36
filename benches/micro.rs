//! Micro-benchmarks of the hot paths of snapshot reading, so that regressions show up:
//! typed parsing of each feed's records, and decompression into lines.
//!
//! Run with `cargo bench --bench micro`.

use std::hint::black_box;
use std::io::{Cursor, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rstcloud::{DomainRecord, FeedRecord, HashRecord, IpRecord, RecordReader, UrlRecord};

const IP: &str = include_str!("../src/sandbox/data/random100_ioc_ip_latest.json");
const DOMAIN: &str = include_str!("../src/sandbox/data/random100_ioc_domain_latest.json");
const URL: &str = include_str!("../src/sandbox/data/random100_ioc_url_latest.json");
const HASH: &str = include_str!("../src/sandbox/data/random100_ioc_hash_latest.json");

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.trim().is_empty()).collect()
}

fn parse_feed<T: FeedRecord>(c: &mut Criterion, name: &str, text: &str) {
    let lines = lines(text);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function(name, |b| {
        b.iter(|| {
            for line in &lines {
                black_box(serde_json::from_str::<T>(line).expect("sample record"));
            }
        })
    });
    group.finish();
}

fn parse(c: &mut Criterion) {
    parse_feed::<IpRecord>(c, "ip", IP);
    parse_feed::<DomainRecord>(c, "domain", DOMAIN);
    parse_feed::<UrlRecord>(c, "url", URL);
    parse_feed::<HashRecord>(c, "hash", HASH);
}

/// Inflating a gzip'd snapshot and splitting it into lines, without typed parsing:
/// `IgnoredAny` only checks each line is JSON.
fn decompress(c: &mut Criterion) {
    let text = IP.repeat(20);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).expect("in memory");
    let body = gz.finish().expect("in memory");

    let mut group = c.benchmark_group("decompress");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("gzip_to_lines", |b| {
        b.iter(|| {
            let reader = RecordReader::<serde::de::IgnoredAny, _>::new(
                Cursor::new(body.clone()),
                rstcloud::snapshot::DEFAULT_MAX_LINE_LENGTH,
            );
            black_box(reader.count())
        })
    });
    group.bench_function("gzip_to_typed_ip_records", |b| {
        b.iter(|| {
            let reader = RecordReader::<IpRecord, _>::new(
                Cursor::new(body.clone()),
                rstcloud::snapshot::DEFAULT_MAX_LINE_LENGTH,
            );
            black_box(reader.count())
        })
    });
    group.finish();
}

criterion_group!(benches, parse, decompress);
criterion_main!(benches);
