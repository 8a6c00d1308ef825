//! Recorded segment files as read back (clips, the index's reconciliation): any bytes parse or are refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes_actors::record::mp4;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(parsed) = mp4::parse_file(bytes) {
        assert!(parsed.init.end <= bytes.len());
    }
});
