//! MOTChallenge detection files (`panoptes track --mot-in`): rows parse or the error names the line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes_actors::tracker::mot::{detections_by_frame, parse_rows};

fuzz_target!(|bytes: &[u8]| {
    if let Ok(rows) = parse_rows(bytes, std::path::Path::new("fuzz.txt")) {
        let _ = detections_by_frame(&rows);
    }
});
