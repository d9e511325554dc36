//! Any byte string read as a gzip'd NDJSON snapshot yields records and errors and then
//! ends, never a panic or an endless stream.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let reader = rstcloud::RecordReader::<serde_json::Value, _>::new(Cursor::new(data.to_vec()), 1 << 20);
    for item in reader {
        let _ = item.map_err(|e| e.to_string());
    }
});
