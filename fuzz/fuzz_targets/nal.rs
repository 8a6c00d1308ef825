//! A camera's parameter sets and NAL units as the decoder takes them (`camera::nal`): the configuration record
//! (avcC/hvcC or Annex B) and length-prefixed units rewritten to Annex B. Refused or converted, never a panic;
//! a conversion that succeeds starts each NAL with a start code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panoptes_actors::camera::nal::{START_CODE, framing, length_prefixed_to_annex_b};
use panoptes_actors::media::VideoCodec;

fuzz_target!(|bytes: &[u8]| {
    let Some((&first, rest)) = bytes.split_first() else { return };
    let codec = if first & 1 == 0 { VideoCodec::H264 } else { VideoCodec::H265 };
    let split = usize::from(first >> 1).min(rest.len());
    let (extradata, unit) = rest.split_at(split);
    if let Ok(f) = framing(codec, extradata) {
        if let Some(length_size) = f.length_size {
            let mut out = Vec::new();
            if length_prefixed_to_annex_b(unit, length_size, &mut out).is_ok() && !unit.is_empty() {
                assert!(out.is_empty() || out.starts_with(&START_CODE));
            }
        }
    }
});
