//! Properties of the snapshot reader and the input checks, over generated inputs.

mod support;

use std::io::{Cursor, Read};

use proptest::prelude::*;
use rstcloud::{Error, Indicator, IpRecord, RecordReader, SnapshotError};
use support::{IP_RECORDS, gzip};

/// A reader that hands its data out in the chunk sizes it is given, in turn.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.data.len() - self.pos;
        let size = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = size.min(buf.len()).min(left);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

const RECORDS: usize = 30;

fn text() -> String {
    IP_RECORDS
        .lines()
        .take(RECORDS)
        .map(|l| format!("{l}\n"))
        .collect()
}

fn expected() -> Vec<IpRecord> {
    text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The records as several gzip members, split after the given line counts.
fn members(splits: &[usize]) -> Vec<u8> {
    let lines: Vec<String> = text().lines().map(|l| format!("{l}\n")).collect();
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (RECORDS + 1)).collect();
    cuts.push(0);
    cuts.push(RECORDS);
    cuts.sort_unstable();
    cuts.dedup();
    let mut body = Vec::new();
    for pair in cuts.windows(2) {
        body.extend(gzip(lines[pair[0]..pair[1]].concat().as_bytes()));
    }
    body
}

fn read_all(reader: impl Read + Send + 'static) -> Vec<Result<IpRecord, Error>> {
    RecordReader::new(reader, 1 << 20).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn chunk_boundaries_never_change_the_records(
        sizes in prop::collection::vec(1usize..4096, 1..16),
        splits in prop::collection::vec(0usize..64, 0..4),
    ) {
        let body = members(&splits);
        let reader = Chunked { data: body, pos: 0, sizes, turn: 0 };

        let got: Vec<IpRecord> = read_all(reader).into_iter().map(Result::unwrap).collect();

        prop_assert_eq!(got, expected());
    }

    #[test]
    fn a_prefix_yields_the_whole_records_it_holds_then_an_error(cut in 0usize..100_000) {
        // One member: a multi-member body cut exactly between members is a complete gzip
        // stream, which no reader can tell from the whole (only HTTP framing can).
        let body = gzip(text().as_bytes());
        let cut = cut % body.len();
        let prefix = body[..cut].to_vec();

        let items = read_all(Cursor::new(prefix));

        let (last, records) = items.split_last().expect("at least an error");
        prop_assert!(
            matches!(
                last,
                Err(Error::Snapshot(
                    SnapshotError::Truncated
                        | SnapshotError::Corrupt(_)
                        | SnapshotError::Empty
                        | SnapshotError::NotGzip { .. }
                ))
            ),
            "cut {}: {:?}", cut, last
        );
        let records: Vec<IpRecord> = records
            .iter()
            .map(|r| r.as_ref().cloned().map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("cut {cut}: {e}")))?;
        // A cut inside the gzip trailer leaves every record whole: they all arrive, and
        // the missing checksum still ends the stream with an error, never a clean end.
        prop_assert!(records.len() <= RECORDS);
        prop_assert_eq!(&records[..], &expected()[..records.len()]);
    }

    #[test]
    fn a_whois_domain_is_one_plain_path_segment_or_refused(value in "[a-z0-9./\\\\?#%@:ü -]{0,24}") {
        if let Ok(domain) = Indicator::domain(&value) {
            let text = domain.as_str();
            prop_assert!(
                text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'),
                "{:?} -> {:?}", value, text
            );
            prop_assert!(text.contains('.') && !text.starts_with('.') && !text.contains(".."));
        }
    }

    #[test]
    fn a_checked_indicator_checks_again_to_itself(value in "\\PC{0,40}") {
        if let Ok(indicator) = value.parse::<Indicator>() {
            let again: Indicator = indicator.as_str().parse().unwrap();
            prop_assert_eq!(again, indicator);
        }
    }
}

#[test]
fn the_whole_body_in_any_chunking_yields_every_record() {
    let body = gzip(text().as_bytes());
    for size in [1, 2, 7, 4096, body.len()] {
        let reader = Chunked {
            data: body.clone(),
            pos: 0,
            sizes: vec![size],
            turn: 0,
        };
        let got: Vec<IpRecord> = read_all(reader).into_iter().map(Result::unwrap).collect();
        assert_eq!(got, expected(), "chunks of {size}");
    }
}
