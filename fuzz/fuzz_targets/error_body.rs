//! Any error body parses leniently into something displayable, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = rstcloud::ApiErrorBody::parse(data);
    let _ = body.text();
    let _ = format!("{body:?}");
});
