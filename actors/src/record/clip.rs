//! An event's clip: the init segment and the recorded fragments around the event, as one fMP4 that plays
//! from byte 0, re-based so the clip's timeline starts at 0.
//!
//! The clip starts at the latest fragment that begins with a key frame at or before `event − pre` (or the
//! earliest one before the event when less was recorded), and takes fragments until `event + post`. Every
//! `tfdt` is shifted by the first fragment's decode time, so the triggering picture is presented at exactly
//! `offset = event − start` (seconds = ticks / timescale): a player seeking to it shows that picture.

use super::mp4::{self, Fragment};

/// The assembled clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clip {
    pub bytes: Vec<u8>,
    /// Where the clip's time 0 lies on the camera timeline (ticks).
    pub start_ticks: i64,
    /// Just after the clip's last picture, on the camera timeline.
    pub end_ticks: i64,
    /// The event's picture inside the clip, in ticks from its start.
    pub offset_ticks: i64,
}

/// Why no clip can be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClipError {
    #[error("no recorded key frame at or before the event's PTS {event}; the recording starts later")]
    NotCovered { event: i64 },
    #[error("recorded segment {path}: {source}")]
    BadSegment { path: String, source: mp4::Mp4Error },
}

/// Build the clip from the segments (file path, bytes) covering the window, in timeline order. Times are
/// ticks at the segments' timescale.
pub fn build(files: &[(String, Vec<u8>)], event: i64, pre: i64, post: i64) -> Result<Clip, ClipError> {
    // (init bytes, fragment, file) in order; runs of one init only.
    let mut frags: Vec<(&[u8], Fragment, usize)> = Vec::new();
    for (i, (path, bytes)) in files.iter().enumerate() {
        let parsed = mp4::parse_file(bytes).map_err(|source| ClipError::BadSegment { path: path.clone(), source })?;
        let init = &bytes[parsed.init.clone()];
        for f in parsed.fragments {
            frags.push((init, f, i));
        }
    }
    // The event's run: fragments sharing the init segment of the fragment that holds the event.
    let holder = frags
        .iter()
        .rposition(|(_, f, _)| f.base_decode_time as i64 <= event)
        .ok_or(ClipError::NotCovered { event })?;
    let init = frags[holder].0;
    let run_start = frags[..=holder].iter().rposition(|(i, _, _)| *i != init).map_or(0, |p| p + 1);
    let run_end = frags[holder..].iter().position(|(i, _, _)| *i != init).map_or(frags.len(), |p| holder + p);
    let run = &frags[run_start..run_end];
    let holder = holder - run_start;
    let keyed: Vec<usize> = (0..=holder).filter(|&k| run[k].1.starts_with_sync()).collect();
    let first = keyed
        .iter()
        .rev()
        .find(|&&k| run[k].1.base_decode_time as i64 <= event - pre)
        .or_else(|| keyed.first())
        .copied()
        .ok_or(ClipError::NotCovered { event })?;
    let start = run[first].1.base_decode_time;
    let mut out = init.to_vec();
    let mut end = start;
    for (_, f, file) in run[first..].iter() {
        if f.base_decode_time as i64 >= event + post && f.base_decode_time as i64 > event {
            break;
        }
        let bytes = &files[*file].1;
        let at = out.len();
        out.extend_from_slice(&bytes[f.start..f.end]);
        let tfdt = at + (f.tfdt_at - f.start);
        out[tfdt..tfdt + 8].copy_from_slice(&(f.base_decode_time - start).to_be_bytes());
        end = f.end_decode_time();
    }
    Ok(Clip { bytes: out, start_ticks: start as i64, end_ticks: end as i64, offset_ticks: event - start as i64 })
}

#[cfg(test)]
mod tests {
    use super::super::mp4::{SampleInfo, TrackInfo, init_segment, media_segment, parse_file};
    use super::*;
    use crate::media::VideoCodec;

    fn init(sps_byte: u8) -> Vec<u8> {
        let record = vec![1, 0x64, 0x00, 0x28, 0xff, 0xe1, 0, 2, 0x67, sps_byte, 1, 0, 1, 0x68];
        init_segment(&TrackInfo {
            codec: VideoCodec::H264,
            config_record: record,
            width: 8,
            height: 8,
            timescale: 90_000,
        })
        .unwrap()
    }

    /// A file of one-second fragments of 10 pictures starting at `start` ticks; `keys` says which fragments
    /// start with a key frame.
    fn file(init: &[u8], start: u64, keys: &[bool]) -> Vec<u8> {
        let mut out = init.to_vec();
        for (i, key) in keys.iter().enumerate() {
            let samples: Vec<SampleInfo> = (0..10)
                .map(|j| SampleInfo { duration: 9_000, size: 1, sync: j == 0 && *key, composition_offset: 0 })
                .collect();
            out.extend(media_segment(i as u32 + 1, start + i as u64 * 90_000, &samples, &[7; 10]));
        }
        out
    }

    #[test]
    fn the_clip_starts_at_a_key_frame_before_the_window_and_is_rebased_to_zero() {
        let a = init(1);
        let files = vec![
            ("a".to_string(), file(&a, 900_000, &[true, false, true])), // 10 s .. 13 s
            ("b".to_string(), file(&a, 1_170_000, &[true, false, false, true])), // 13 s .. 17 s
        ];
        // Event at 14.3 s, 2 s before and 1.5 s after: window 12.3 .. 15.8 s.
        let clip = build(&files, 1_287_000, 180_000, 135_000).unwrap();
        // Latest key fragment at or before 12.3 s: the one at 12 s.
        assert_eq!(clip.start_ticks, 1_080_000);
        assert_eq!(clip.offset_ticks, 207_000, "14.3 s - 12 s");
        let parsed = parse_file(&clip.bytes).unwrap();
        let starts: Vec<u64> = parsed.fragments.iter().map(|f| f.base_decode_time).collect();
        // 12 s, 13 s, 14 s, 15 s; the fragment at 16 s starts after the window.
        assert_eq!(starts, [0, 90_000, 180_000, 270_000]);
        assert_eq!(clip.end_ticks, 1_440_000);
        assert!(parsed.fragments[0].starts_with_sync());
        assert_eq!(&clip.bytes[parsed.init.clone()], &a[..]);
    }

    #[test]
    fn a_short_recording_starts_at_its_first_key_frame_and_a_new_init_splits_runs() {
        let (a, b) = (init(1), init(2));
        let files = vec![
            ("a".to_string(), file(&a, 0, &[false, true, false])),
            ("b".to_string(), file(&b, 270_000, &[true, false])),
        ];
        let clip = build(&files, 200_000, 900_000, 900_000).unwrap();
        assert_eq!(clip.start_ticks, 90_000, "the first key frame; nothing before it decodes");
        let parsed = parse_file(&clip.bytes).unwrap();
        assert_eq!(parsed.fragments.len(), 2, "the segment with other parameters is left out");
        let clip = build(&files, 300_000, 900_000, 0).unwrap();
        assert_eq!(&clip.bytes[..b.len()], &b[..]);
        assert_eq!(clip.offset_ticks, 30_000);
        assert_eq!(build(&files, 80_000, 0, 0).unwrap_err(), ClipError::NotCovered { event: 80_000 });
    }
}
