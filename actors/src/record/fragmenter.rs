//! Access units → fMP4 fragments: the pure core shared by the recorder (fragments of up to a second) and the
//! live stream (a fragment per picture).
//!
//! A fragment always starts at a key frame or continues the one before it; units before the first key
//! frame are skipped. A sample's duration is only known when the next unit arrives, so a fragment is
//! closed by the unit after it ([`Fragmenter::push`]) or, at the end, with the typical frame interval
//! ([`Fragmenter::finish`]).
//!
//! # Decode times
//! Sources give presentation times only. Without B-frames decode time = presentation time, so the `tfdt`
//! of a fragment is exactly the PTS of its first picture on the camera timeline. When a stream reorders
//! (a PTS lower than the one before it, in decode order), decode times are the fragment's sorted PTS
//! shifted back by the largest reorder delay seen so far, samples carry composition offsets, and
//! fragments then close only at key frames (so a fragment holds whole reordered groups).
use crate::time::WallTime;

/// A step between pictures longer than this many frame intervals is a hole, not a long picture.
pub const HOLE_INTERVALS: i64 = 4;

/// One sample waiting for its duration.
#[derive(Clone, Debug)]
struct Pending {
    pts: i64,
    wall_ms: WallTime,
    key: bool,
    data: Vec<u8>,
}

/// A closed fragment, ready to be written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Built {
    /// `moof` + `mdat`.
    pub bytes: Vec<u8>,
    pub sequence: u32,
    /// Decode time of the first sample (the `tfdt`).
    pub base_decode_time: i64,
    /// PTS of the first sample in decode order (a key frame).
    pub first_pts: i64,
    /// Earliest presentation time in the fragment, and just after the latest one ends.
    pub min_pts: i64,
    pub end_pts: i64,
    pub first_wall_ms: WallTime,
    pub end_wall_ms: WallTime,
    pub samples: usize,
    pub starts_with_key: bool,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Fragmenter {
    clock_rate: u32,
    /// Close a fragment once it spans this many ticks (0: after every sample), without reordering.
    max_ticks: i64,
    pending: Vec<Pending>,
    /// A key frame has been taken since the start (or the last reset).
    synced: bool,
    last_pts: Option<i64>,
    reorders: bool,
    /// Decode delay in ticks (0 without B-frames).
    delay: i64,
    /// Typical sample duration (the latest one known).
    interval: i64,
    sequence: u32,
}

impl Fragmenter {
    /// Fragments of at most `max_ticks` (at `clock_rate`) when the stream does not reorder.
    pub fn new(clock_rate: u32, max_ticks: i64) -> Self {
        Self {
            clock_rate,
            max_ticks,
            pending: Vec::new(),
            synced: false,
            last_pts: None,
            reorders: false,
            delay: 0,
            interval: i64::from(clock_rate) / 10,
            sequence: 0,
        }
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Whether the stream has shown reordered (B-frame) pictures.
    pub fn reorders(&self) -> bool {
        self.reorders
    }

    /// Take one unit (decode order); returns the fragment it closed, if any.
    pub fn push(&mut self, pts: i64, wall_ms: WallTime, key: bool, data: &[u8]) -> Option<Built> {
        if self.last_pts.is_some_and(|last| pts < last) {
            self.reorders = true;
        }
        self.last_pts = Some(pts);
        let closed = match self.pending.first() {
            Some(first) if key || (!self.reorders && pts.saturating_sub(first.pts) >= self.max_ticks) => {
                self.close(Some(pts))
            }
            _ => None,
        };
        self.synced |= key;
        if !self.synced {
            return closed; // waiting for the first key frame
        }
        self.pending.push(Pending { pts, wall_ms, key, data: data.to_vec() });
        closed
    }

    /// Close what is pending (the last duration is the typical interval).
    pub fn finish(&mut self) -> Option<Built> {
        if self.pending.is_empty() { None } else { self.close(None) }
    }

    /// Drop what is pending (the stream changed codec parameters) and wait for a key frame.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.synced = false;
        self.last_pts = None;
    }

    fn close(&mut self, next_pts: Option<i64>) -> Option<Built> {
        let pending = std::mem::take(&mut self.pending);
        let mut sorted: Vec<i64> = pending.iter().map(|p| p.pts).collect();
        sorted.sort_unstable();
        if self.reorders {
            let need = pending.iter().zip(&sorted).map(|(p, q)| q.saturating_sub(p.pts)).max().unwrap_or(0);
            self.delay = self.delay.max(need);
        }
        let n = pending.len();
        // Saturating: the times come from cameras and other nodes, any value included.
        let dts: Vec<i64> = sorted.iter().map(|q| q.saturating_sub(self.delay)).collect();
        if n >= 2 {
            self.interval = sorted[n - 1].saturating_sub(sorted[n - 2]).max(1);
        }
        let last_duration = match next_pts {
            // A step of more than HOLE_INTERVALS frames is a hole in the timeline (an outage, a re-base): the
            // picture keeps its usual duration and the next fragment's tfdt jumps.
            Some(next)
                if !self.reorders
                    && next > sorted[n - 1]
                    && next.saturating_sub(sorted[n - 1]) <= HOLE_INTERVALS.saturating_mul(self.interval) =>
            {
                next.saturating_sub(sorted[n - 1])
            }
            _ => self.interval,
        };
        self.interval = last_duration.max(1);
        if dts[0] < 0 {
            return None; // only possible in the first reordered frames of a timeline starting at 0
        }
        let mut samples = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(pending.iter().map(|p| p.data.len()).sum());
        for (i, p) in pending.iter().enumerate() {
            let duration = if i + 1 < n { dts[i + 1].saturating_sub(dts[i]) } else { last_duration };
            samples.push(super::mp4::SampleInfo {
                duration: duration.clamp(0, i64::from(u32::MAX)) as u32,
                size: p.data.len() as u32,
                sync: p.key,
                composition_offset: p.pts.saturating_sub(dts[i]).clamp(0, i64::from(u32::MAX)) as u32,
            });
            data.extend_from_slice(&p.data);
        }
        self.sequence += 1;
        let end_pts = sorted[n - 1].saturating_add(last_duration);
        let span_ms =
            end_pts.saturating_sub(pending[n - 1].pts).saturating_mul(1000) / i64::from(self.clock_rate.max(1));
        Some(Built {
            bytes: super::mp4::media_segment(self.sequence, dts[0] as u64, &samples, &data),
            sequence: self.sequence,
            base_decode_time: dts[0],
            first_pts: pending[0].pts,
            min_pts: sorted[0],
            end_pts,
            first_wall_ms: pending[0].wall_ms,
            end_wall_ms: pending[n - 1].wall_ms.plus_ms(span_ms.max(0)),
            samples: n,
            starts_with_key: pending[0].key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::mp4::{Fragment, boxes};
    use super::*;

    fn parse(b: &Built) -> Fragment {
        let top = boxes(&b.bytes, 0, b.bytes.len()).unwrap();
        Fragment::parse(&b.bytes, &top[0], &top[1]).unwrap()
    }

    /// Found by the `units` fuzz target: times at the ends of i64 (a camera's or another node's) overflowed.
    #[test]
    fn extreme_times_make_fragments_without_overflow() {
        let wall = crate::time::WallTime::from_unix_ms(0);
        let mut f = Fragmenter::new(90_000, 0);
        let mut built = Vec::new();
        for (pts, key) in [(i64::MIN, true), (i64::MAX, false), (i64::MIN + 5, true), (0, false), (i64::MAX, true)] {
            built.extend(f.push(pts, wall, key, b"x"));
        }
        built.extend(f.finish());
        assert!(!built.is_empty());
        for b in &built {
            parse(b);
        }
    }

    #[test]
    fn without_reordering_tfdt_is_the_pts_and_durations_are_the_pts_steps() {
        let mut f = Fragmenter::new(90_000, 0);
        assert!(f.push(100, crate::time::WallTime::from_unix_ms(0), false, b"skip").is_none(), "no key frame yet");
        assert!(f.push(9_000, crate::time::WallTime::from_unix_ms(1_000), true, b"I0").is_none());
        let a = f
            .push(12_000, crate::time::WallTime::from_unix_ms(1_033), false, b"P1")
            .expect("each sample is a fragment");
        assert_eq!((a.base_decode_time, a.first_pts, a.end_pts, a.sequence), (9_000, 9_000, 12_000, 1));
        let pa = parse(&a);
        assert_eq!(pa.base_decode_time, 9_000);
        assert_eq!(pa.samples.len(), 1);
        assert!(pa.samples[0].sync && pa.samples[0].duration == 3_000 && pa.samples[0].composition_offset == 0);
        let b = f.push(15_003, crate::time::WallTime::from_unix_ms(1_067), false, b"P2").unwrap();
        assert!(!b.starts_with_key && !parse(&b).samples[0].sync);
        assert_eq!(parse(&b).samples[0].duration, 3_003);
        // A hole (an outage): the picture before it keeps its usual duration, the next fragment starts later.
        let hole = f.push(90_000, crate::time::WallTime::from_unix_ms(2_000), false, b"P3").unwrap();
        assert_eq!((hole.base_decode_time, hole.end_pts), (15_003, 18_006));
        assert_eq!(
            f.push(93_000, crate::time::WallTime::from_unix_ms(2_033), false, b"P4").unwrap().base_decode_time,
            90_000
        );
        // The last one takes the latest interval.
        let c = f.finish().unwrap();
        assert_eq!((c.base_decode_time, c.end_pts), (93_000, 96_000));
    }

    #[test]
    fn long_fragments_close_at_key_frames_or_when_full() {
        let mut f = Fragmenter::new(90_000, 9_000);
        let mut out = Vec::new();
        for i in 0..10i64 {
            // A key frame every 4 pictures, 3 000 ticks apart: fragments of 3 (full), 1 (key), 3, 1, ...
            out.extend(f.push(i * 3_000, crate::time::WallTime::from_unix_ms(i), i % 4 == 0, &[i as u8]));
        }
        out.extend(f.finish());
        let sizes: Vec<usize> = out.iter().map(|b| b.samples).collect();
        assert_eq!(sizes, [3, 1, 3, 1, 2]);
        assert_eq!(out.iter().map(|b| b.starts_with_key).collect::<Vec<_>>(), [true, false, true, false, true]);
        let starts: Vec<i64> = out.iter().map(|b| b.base_decode_time).collect();
        assert_eq!(starts, [0, 9_000, 12_000, 21_000, 24_000]);
        // Contiguous: each fragment ends where the next starts.
        assert!(out.windows(2).all(|w| w[0].end_pts == w[1].base_decode_time));
    }

    #[test]
    fn b_frames_get_decode_times_and_composition_offsets() {
        // Decode order I0 P3 B1 B2 | I4 P7 B5 B6 (PTS in frames of 1 000 ticks), fragments of up to 1 s.
        let mut f = Fragmenter::new(90_000, 90_000);
        let mut out = Vec::new();
        let units =
            [(10, true), (13, false), (11, false), (12, false), (14, true), (17, false), (15, false), (16, false)];
        for (pts, key) in units {
            out.extend(f.push(pts * 1_000, crate::time::WallTime::from_unix_ms(0), key, b"x"));
        }
        out.extend(f.finish());
        assert!(f.reorders());
        assert_eq!(out.len(), 2, "fragments close at key frames once the stream reorders");
        let first = parse(&out[0]);
        assert_eq!(first.base_decode_time, 9_000, "decode times run one picture ahead of presentation");
        let mut dts = first.base_decode_time as i64;
        for (s, pts) in first.samples.iter().zip([10_000, 13_000, 11_000, 12_000]) {
            assert!(dts <= pts);
            assert_eq!(dts + i64::from(s.composition_offset), pts, "presentation time is the PTS");
            dts += i64::from(s.duration);
        }
        assert_eq!(dts, parse(&out[1]).base_decode_time as i64, "decode times continue across fragments");
        assert_eq!((out[0].min_pts, out[0].first_pts, out[0].end_pts), (10_000, 10_000, 14_000));
        assert_eq!(out[1].first_pts, 14_000);
    }
}
