//! Any line parses into each record type or fails with an error, never a panic; the
//! typed accessors never panic on whatever did parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rstcloud::{DomainRecord, HashRecord, Indicator, IpRecord, UrlRecord};

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = serde_json::from_slice::<IpRecord>(data) {
        let _ = record.score_total();
        let _ = format!("{record:?}");
    }
    if let Ok(record) = serde_json::from_slice::<DomainRecord>(data) {
        let _ = record.score_total();
        let _ = format!("{record:?}");
    }
    if let Ok(record) = serde_json::from_slice::<UrlRecord>(data) {
        let _ = record.score_total();
        let _ = format!("{record:?}");
    }
    if let Ok(record) = serde_json::from_slice::<HashRecord>(data) {
        let _ = record.score_total();
        let _ = format!("{record:?}");
    }
    // The lookup classifier: a value is either an indicator of one kind or refused.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(indicator) = text.parse::<Indicator>() {
            let _ = indicator.kind();
            let _ = indicator.as_str().parse::<Indicator>();
        }
        let _ = Indicator::domain(text);
    }
});
