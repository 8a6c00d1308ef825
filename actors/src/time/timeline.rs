//! One camera's continuous presentation timeline, across RTSP sessions, clock jumps and lost frames.
//!
//! A camera's RTP timestamps start at a random value in every session (RFC 3550), or at 0 on some
//! cameras, wrap at 2³², and may jump when the camera's clock is set. [`Timeline`] turns them into one
//! 64-bit PTS that starts at 0 with the camera's first frame and never steps backwards between
//! sessions or segments:
//!
//! - **Within a segment** the PTS is the (unwrapped) input plus a fixed offset, so media durations are
//!   exact. Small backward steps (B-frame reordering, up to `max_backward_secs`) pass through.
//! - **Re-basing** starts a new segment: at a new session ([`Timeline::start_session`]), at a forward
//!   jump of more than `max_forward_secs`, or at a backward jump of more than `max_backward_secs`. The
//!   first frame of the new segment is placed at `last PTS + one frame interval + gap`, where `gap` is
//!   the wall-clock time between the last frame before and the first frame after the break, minus that
//!   one frame interval (so an instant reconnect continues the cadence, and an outage of 30 s leaves a
//!   30 s hole in the timeline), or 0 when arrival times are unknown.
//! - **Gaps** (lost frames): the PTS advance past the largest PTS so far is compared with the stream's
//!   typical advance (the median of the recent ones, which is one frame interval, or a mini-GOP for
//!   B-frame streams); an advance above 1.5 times it counts one gap of `advance − typical` seconds.
//!   Re-base holes count too. Lost B-frames that do not advance the maximum go unseen.
//!
//! The frame interval used for re-basing is the median spacing of the recent PTS values sorted
//! (correct with B-frames), or `nominal_fps` until a few frames have been seen.

use super::{NS_PER_SEC, Pts, RtpUnwrapper};
use serde::Serialize;
use std::collections::VecDeque;

/// How the timeline treats jumps.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimelineConfig {
    /// A forward step larger than this (seconds) is a discontinuity, not a gap.
    pub max_forward_secs: f64,
    /// A backward step larger than this (seconds) is a discontinuity; smaller ones are reordering.
    pub max_backward_secs: f64,
    /// Frame rate assumed before the stream's own interval is known.
    pub nominal_fps: f64,
}

impl Default for TimelineConfig {
    fn default() -> Self {
        Self { max_forward_secs: 10.0, max_backward_secs: 1.0, nominal_fps: 25.0 }
    }
}

/// Why a segment started.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rebase {
    /// The first frame of a session (or of the camera).
    Session,
    /// The input stepped forward by `secs` (more than `max_forward_secs`).
    ForwardJump { secs: f64 },
    /// The input stepped backward by `secs` (more than `max_backward_secs`).
    BackwardJump { secs: f64 },
}

/// A frame placed on the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub pts: Pts,
    /// Set when this frame started a new segment.
    pub rebase: Option<Rebase>,
}

/// What happened to the timeline so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct TimelineStats {
    pub frames: u64,
    /// Sessions seen (each started a segment).
    pub sessions: u64,
    pub forward_jumps: u64,
    pub backward_jumps: u64,
    /// Holes in the timeline: lost frames within a segment, and the wall-clock gap of each re-base.
    pub gaps: u64,
    pub gap_secs: f64,
    /// The frame interval in use, seconds.
    pub frame_interval_secs: f64,
}

const RECENT: usize = 16;

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct Timeline {
    cfg: TimelineConfig,
    clock_rate: u32,
    unwrapper: RtpUnwrapper,
    /// Timeline PTS = input ticks + offset; `None`: the next frame re-bases.
    offset: Option<i64>,
    pending: Rebase,
    /// Largest input ticks of the current segment.
    max_in: i64,
    /// Largest PTS placed so far (all segments).
    max_pts: Option<i64>,
    last_arrival_ns: Option<i64>,
    recent_pts: VecDeque<i64>,
    recent_advances: VecDeque<i64>,
    stats: TimelineStats,
}

fn median_i64(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

impl Timeline {
    /// An empty timeline counting `clock_rate` ticks per second.
    pub fn new(clock_rate: u32, cfg: TimelineConfig) -> Self {
        assert!(clock_rate > 0, "a clock rate is never zero");
        Self {
            cfg,
            clock_rate,
            unwrapper: RtpUnwrapper::default(),
            offset: None,
            pending: Rebase::Session,
            max_in: 0,
            max_pts: None,
            last_arrival_ns: None,
            recent_pts: VecDeque::new(),
            recent_advances: VecDeque::new(),
            stats: TimelineStats::default(),
        }
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    pub fn stats(&self) -> TimelineStats {
        TimelineStats { frame_interval_secs: self.interval_ticks() as f64 / f64::from(self.clock_rate), ..self.stats }
    }

    /// Continue after `end` (an earlier run's timeline end): unless the timeline is already past it, the next
    /// re-base places its frame one frame interval after `end`.
    pub fn resume_after(&mut self, end: Pts) {
        let ticks = end.ticks_at(self.clock_rate);
        self.max_pts = Some(self.max_pts.map_or(ticks, |m| m.max(ticks)));
    }

    /// The next frame belongs to a new session: its timestamps have a new, unrelated origin.
    pub fn start_session(&mut self) {
        self.offset = None;
        self.pending = Rebase::Session;
        self.unwrapper.reset();
    }

    /// Place a frame given its raw 32-bit RTP timestamp (unwrapped here; reset per session).
    pub fn push_rtp(&mut self, rtp: u32, arrival_ns: Option<i64>) -> Placed {
        let ticks = self.unwrapper.unwrap(rtp);
        self.push(ticks, arrival_ns)
    }

    /// Place a frame given its session-local 64-bit ticks (already unwrapped, at this timeline's clock
    /// rate) and, when known, its arrival time in Unix ns.
    pub fn push(&mut self, ticks: i64, arrival_ns: Option<i64>) -> Placed {
        let secs = |t: i64| t as f64 / f64::from(self.clock_rate);
        let mut rebase = None;
        if let Some(offset) = self.offset {
            let step = ticks - self.max_in;
            if secs(step) > self.cfg.max_forward_secs {
                rebase = Some(Rebase::ForwardJump { secs: secs(step) });
            } else if secs(-step) > self.cfg.max_backward_secs {
                rebase = Some(Rebase::BackwardJump { secs: secs(-step) });
            } else {
                self.max_in = self.max_in.max(ticks);
                let pts = ticks + offset;
                self.note(pts, arrival_ns, false);
                return Placed { pts: Pts::new(pts, self.clock_rate), rebase: None };
            }
        }
        let why = rebase.unwrap_or(self.pending);
        match why {
            Rebase::Session => self.stats.sessions += 1,
            Rebase::ForwardJump { .. } => self.stats.forward_jumps += 1,
            Rebase::BackwardJump { .. } => self.stats.backward_jumps += 1,
        }
        let start = match self.max_pts {
            None => 0,
            Some(last) => {
                let interval = self.interval_ticks();
                let gap = match (arrival_ns, self.last_arrival_ns) {
                    (Some(now), Some(before)) => {
                        let wall = (now - before) as f64 / NS_PER_SEC - secs(interval);
                        (wall.max(0.0) * f64::from(self.clock_rate)).round() as i64
                    }
                    _ => 0,
                };
                if gap > 0 {
                    self.stats.gaps += 1;
                    self.stats.gap_secs += secs(gap);
                }
                last + interval + gap
            }
        };
        self.offset = Some(start - ticks);
        self.max_in = ticks;
        // The advance across a re-base is not a stream property: keep it out of the typical advance.
        self.note(start, arrival_ns, true);
        Placed { pts: Pts::new(start, self.clock_rate), rebase: Some(why) }
    }

    /// The timeline PTS that session-local `ticks` would get now, without placing a frame (for RTCP
    /// sender reports). `None` before the session's first frame.
    pub fn peek(&self, ticks: i64) -> Option<Pts> {
        self.offset.map(|o| Pts::new(ticks + o, self.clock_rate))
    }

    fn interval_ticks(&self) -> i64 {
        let mut sorted: Vec<i64> = self.recent_pts.iter().copied().collect();
        sorted.sort_unstable();
        let spacings: Vec<i64> = sorted.windows(2).map(|w| w[1] - w[0]).filter(|&d| d > 0).collect();
        match spacings.len() {
            n if n >= 3 => median_i64(spacings).unwrap_or(1),
            _ => (f64::from(self.clock_rate) / self.cfg.nominal_fps.max(1e-3)).round().max(1.0) as i64,
        }
    }

    fn note(&mut self, pts: i64, arrival_ns: Option<i64>, rebased: bool) {
        self.stats.frames += 1;
        if let Some(a) = arrival_ns {
            self.last_arrival_ns = Some(self.last_arrival_ns.map_or(a, |b| b.max(a)));
        }
        if rebased {
            self.recent_pts.clear();
        }
        self.recent_pts.push_back(pts);
        if self.recent_pts.len() > RECENT {
            self.recent_pts.pop_front();
        }
        let Some(max) = self.max_pts else {
            self.max_pts = Some(pts);
            return;
        };
        if pts <= max {
            return;
        }
        self.max_pts = Some(pts);
        if rebased {
            return;
        }
        let advance = pts - max;
        if self.recent_advances.len() >= 3
            && let Some(typical) = median_i64(self.recent_advances.iter().copied().collect())
            && advance * 2 > typical * 3
        {
            self.stats.gaps += 1;
            self.stats.gap_secs += (advance - typical) as f64 / f64::from(self.clock_rate);
            return; // a hole is not a typical advance
        }
        self.recent_advances.push_back(advance);
        if self.recent_advances.len() > RECENT {
            self.recent_advances.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::sim::rng;
    use rand::Rng;

    const RATE: u32 = 90_000;
    const FRAME: i64 = 3_600; // 25 fps
    const FRAME_NS: i64 = 40_000_000;

    fn timeline() -> Timeline {
        Timeline::new(RATE, TimelineConfig::default())
    }

    /// Feed `n` frames of a 25 fps session starting at RTP `rtp0` and wall time `t0_ns`; returns PTS.
    fn session(tl: &mut Timeline, rtp0: u32, t0_ns: i64, n: usize) -> Vec<i64> {
        tl.start_session();
        (0..n)
            .map(|i| {
                let rtp = rtp0.wrapping_add((i as i64 * FRAME) as u32);
                tl.push_rtp(rtp, Some(t0_ns + i as i64 * FRAME_NS)).pts.ticks()
            })
            .collect()
    }

    fn assert_cadence(pts: &[i64]) {
        for w in pts.windows(2) {
            assert_eq!(w[1] - w[0], FRAME, "cadence broken: {pts:?}");
        }
    }

    #[test]
    fn a_resumed_timeline_starts_after_the_previous_runs_end() {
        let mut tl = timeline();
        // The earlier run ended at 100 s (given at 1 kHz); the default nominal rate gives the first interval.
        tl.resume_after(Pts::new(100_000, 1_000));
        let pts = session(&mut tl, 12_345, 0, 5);
        let interval = (f64::from(RATE) / TimelineConfig::default().nominal_fps).round() as i64;
        assert_eq!(pts[0], 100 * i64::from(RATE) + interval);
        assert_cadence(&pts);
        // Resuming never moves a timeline back.
        tl.resume_after(Pts::new(0, RATE));
        let again = session(&mut tl, 0, 10 * FRAME_NS, 1);
        assert!(again[0] > pts[4]);
    }

    #[test]
    fn rtp_wraparound_is_continuous() {
        let mut tl = timeline();
        let pts = session(&mut tl, u32::MAX - 10 * FRAME as u32, 0, 40);
        assert_eq!(pts[0], 0);
        assert_cadence(&pts);
        let s = tl.stats();
        assert_eq!((s.sessions, s.forward_jumps, s.backward_jumps, s.gaps), (1, 0, 0, 0), "{s:?}");
        assert!((s.frame_interval_secs - 0.04).abs() < 1e-9);
    }

    #[test]
    fn reconnect_with_timestamps_reset_to_zero_continues_after_the_outage() {
        let mut tl = timeline();
        let a = session(&mut tl, 0, 0, 50);
        // Reconnected 3 s after the last frame; the camera starts again at RTP 0.
        let last_arrival = 49 * FRAME_NS;
        let b = session(&mut tl, 0, last_arrival + 3_000_000_000, 50);
        assert_cadence(&a);
        assert_cadence(&b);
        // last + one interval + (3 s − one interval) = last + 3 s exactly.
        assert_eq!(b[0], a[49] + 3 * i64::from(RATE));
        let s = tl.stats();
        assert_eq!((s.sessions, s.gaps), (2, 1), "{s:?}");
        assert!((s.gap_secs - 2.96).abs() < 1e-9, "{s:?}");
    }

    #[test]
    fn reconnects_with_random_initial_timestamps_never_go_back_or_overlap() {
        let mut r = rng(11);
        let mut tl = timeline();
        let mut all = Vec::new();
        let mut t_ns = 1_700_000_000_000_000_000i64;
        for _ in 0..20 {
            let n = r.random_range(1..200);
            all.extend(session(&mut tl, r.random(), t_ns, n));
            // An outage of 0..10 s, sometimes none at all (arrival unknown between sessions).
            t_ns += n as i64 * FRAME_NS + r.random_range(0..10_000_000_000i64);
        }
        for w in all.windows(2) {
            assert!(w[1] >= w[0] + FRAME, "timeline went back or overlapped: {} then {}", w[0], w[1]);
        }
        assert_eq!(tl.stats().sessions, 20);
        assert_eq!(tl.stats().forward_jumps + tl.stats().backward_jumps, 0);
    }

    #[test]
    fn a_reconnect_without_arrival_times_adds_one_interval() {
        let mut tl = timeline();
        tl.start_session();
        for i in 0..10 {
            tl.push(1_000 + i * FRAME, None);
        }
        tl.start_session();
        assert_eq!(tl.push(77, None).pts.ticks(), 9 * FRAME + FRAME);
    }

    #[test]
    fn forward_jump_rebases_and_counts() {
        let mut tl = timeline();
        tl.start_session();
        let mut out = Vec::new();
        for i in 0..100i64 {
            // The camera's clock is set one hour forward at frame 50; frames keep flowing.
            let rtp = i * FRAME + if i >= 50 { 3_600 * i64::from(RATE) } else { 0 };
            let p = tl.push_rtp(rtp as u32, Some(i * FRAME_NS));
            if i == 50 {
                assert!(matches!(p.rebase, Some(Rebase::ForwardJump { secs }) if (secs - 3600.04).abs() < 1e-6));
            }
            out.push(p.pts.ticks());
        }
        assert_cadence(&out);
        let s = tl.stats();
        assert_eq!((s.forward_jumps, s.backward_jumps, s.gaps), (1, 0, 0), "{s:?}");
    }

    #[test]
    fn backward_jump_rebases_and_counts_but_reordering_does_not() {
        let mut tl = timeline();
        tl.start_session();
        // I P B B P B B ... (decode order): B-frames step back by up to two intervals.
        let mut out = Vec::new();
        for g in 0..10i64 {
            for k in [0, 3, 1, 2] {
                out.push(tl.push_rtp((5_000 + (g * 3 + k) * FRAME) as u32, Some(0)).pts.ticks());
            }
        }
        assert_eq!(tl.stats().backward_jumps, 0);
        assert!((tl.stats().frame_interval_secs - 0.04).abs() < 1e-9, "{:?}", tl.stats());
        // Now the camera's clock goes back 20 s.
        let before = *out.iter().max().unwrap();
        let p = tl.push_rtp(5_000 + (30 * FRAME - 20 * i64::from(RATE)) as u32, None);
        assert!(matches!(p.rebase, Some(Rebase::BackwardJump { .. })), "{p:?}");
        assert_eq!(p.pts.ticks(), before + FRAME);
        assert_eq!(tl.stats().backward_jumps, 1);
        assert_eq!(tl.stats().gaps, 0, "{:?}", tl.stats());
    }

    #[test]
    fn packet_loss_is_counted_as_gaps() {
        let mut tl = timeline();
        tl.start_session();
        let mut r = rng(3);
        let mut lost = 0u64;
        let mut runs = 0u64;
        let mut i = 0i64;
        let mut prev_lost = false;
        while i < 2_000 {
            // Lose a run of 1..5 frames 2 % of the time (never the first frames).
            if i > 10 && !prev_lost && r.random::<f64>() < 0.02 {
                let n = r.random_range(1..5);
                lost += n as u64;
                runs += 1;
                i += n;
                prev_lost = true;
                continue;
            }
            prev_lost = false;
            tl.push_rtp((123_456 + i * FRAME) as u32, Some(i * FRAME_NS));
            i += 1;
        }
        let s = tl.stats();
        assert_eq!(s.gaps, runs, "{s:?}");
        assert!((s.gap_secs - lost as f64 * 0.04).abs() < 1e-6, "{s:?} lost {lost}");
        assert_eq!((s.forward_jumps, s.backward_jumps), (0, 0));
    }

    #[test]
    fn peek_maps_session_ticks_like_push() {
        let mut tl = timeline();
        tl.start_session();
        assert!(tl.peek(5).is_none());
        let p = tl.push(90_000, None);
        assert_eq!(tl.peek(90_000 + 45_000).unwrap().ticks, p.pts.ticks() + 45_000);
    }
}
