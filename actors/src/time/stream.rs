//! One camera's time keeping as its session loop uses it: the [`Timeline`] that makes PTS continuous
//! across sessions and the [`ClockMap`] that gives each frame its wall time, kept together so a
//! re-base of the one resets the other, and sender reports are placed on the same timeline as frames.
//!
//! The camera owns one [`StreamClock`] for its whole life (it survives reconnects). Per session it
//! calls [`StreamClock::start_session`], then [`StreamClock::on_unit`] for every access unit with the
//! session-local PTS the source gave, and [`StreamClock::on_sender_report`] for every RTCP sender
//! report of the video stream (RTP time in the same session-local units).

use super::Pts;
use super::clock_map::{ClockMap, ClockMapConfig, ClockStatus, WallEstimate};
use super::timeline::{Rebase, Timeline, TimelineConfig, TimelineStats};
use serde::Serialize;

/// An RTCP sender report: the camera's NTP time of a session-local RTP time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderReport {
    /// Session-local, like the session's access units.
    pub rtp: Pts,
    pub ntp_unix_ns: i64,
}

/// A frame's place in time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stamped {
    /// On the camera's continuous timeline.
    pub pts: Pts,
    pub wall: WallEstimate,
    /// Set when this frame started a new timeline segment.
    pub rebase: Option<Rebase>,
}

/// The camera's clock, for `/api/cameras/{id}/status` (`clock`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StreamClockStatus {
    #[serde(flatten)]
    pub map: ClockStatus,
    pub timeline: TimelineStats,
}

/// Sender reports kept while a session has no frame yet (cameras often send one first).
const MAX_PENDING_REPORTS: usize = 8;

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct StreamClock {
    timeline_cfg: TimelineConfig,
    timeline: Option<Timeline>,
    map: ClockMap,
    pending: Vec<SenderReport>,
    session_has_frames: bool,
    /// Where the timeline ended in an earlier run, until the timeline exists.
    resume: Option<Pts>,
}

impl Default for StreamClock {
    fn default() -> Self {
        Self::new(TimelineConfig::default(), ClockMapConfig::default())
    }
}

impl StreamClock {
    pub fn new(timeline: TimelineConfig, map: ClockMapConfig) -> Self {
        Self {
            timeline_cfg: timeline,
            timeline: None,
            map: ClockMap::new(map),
            pending: Vec::new(),
            session_has_frames: false,
            resume: None,
        }
    }

    /// Continue after `end` (the timeline's end in an earlier run of the process, from the store): the first
    /// frame is placed after it instead of at 0, so PTS never repeat across restarts.
    pub fn resume_after(&mut self, end: Pts) {
        match &mut self.timeline {
            Some(t) => t.resume_after(end),
            None => self.resume = Some(end),
        }
    }

    /// A new session starts: its timestamps have a new origin.
    pub fn start_session(&mut self) {
        if let Some(t) = &mut self.timeline {
            t.start_session();
        }
        self.pending.clear();
        self.session_has_frames = false;
    }

    /// Session-local ticks at the timeline's rate.
    fn ticks(timeline: &Timeline, pts: Pts) -> i64 {
        if pts.clock_rate() == timeline.clock_rate() {
            pts.ticks()
        } else {
            (i128::from(pts.ticks()) * i128::from(timeline.clock_rate()) / i128::from(pts.clock_rate())) as i64
        }
    }

    /// An access unit at session-local `pts` arrived at `arrival_ns` (Unix ns): its timeline PTS and
    /// wall time.
    pub fn on_unit(&mut self, pts: Pts, arrival_ns: i64) -> Stamped {
        let (cfg, resume) = (self.timeline_cfg, self.resume.take());
        let timeline = self.timeline.get_or_insert_with(|| {
            let mut t = Timeline::new(pts.clock_rate(), cfg);
            if let Some(end) = resume {
                t.resume_after(end);
            }
            t
        });
        let placed = timeline.push(Self::ticks(timeline, pts), Some(arrival_ns));
        if placed.rebase.is_some() {
            self.map.rebase();
        }
        if !self.session_has_frames {
            self.session_has_frames = true;
            for sr in std::mem::take(&mut self.pending) {
                self.place_report(sr);
            }
        }
        let wall = self.map.on_frame(placed.pts, arrival_ns);
        Stamped { pts: placed.pts, wall, rebase: placed.rebase }
    }

    /// A sender report of the current session.
    pub fn on_sender_report(&mut self, sr: SenderReport) {
        if self.session_has_frames {
            self.place_report(sr);
        } else if self.pending.len() < MAX_PENDING_REPORTS {
            self.pending.push(sr);
        }
    }

    fn place_report(&mut self, sr: SenderReport) {
        let Some(timeline) = &self.timeline else { return };
        if let Some(pts) = timeline.peek(Self::ticks(timeline, sr.rtp)) {
            self.map.on_sender_report(pts, sr.ntp_unix_ns);
        }
    }

    pub fn status(&self) -> StreamClockStatus {
        StreamClockStatus {
            map: self.map.status(),
            timeline: self.timeline.as_ref().map(Timeline::stats).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::clock_map::MappingSource;
    use crate::time::sim::{Delay, Errors, rng};
    use rand::Rng;

    #[test]
    fn a_camera_reconnecting_with_new_random_timestamps_keeps_one_timeline_and_exact_wall_times() {
        // True time t (s); the camera's media clock runs 30 ppm fast; its NTP clock is exact.
        let drift = 30e-6;
        let unix0: i64 = 1_750_000_000_000_000_000;
        let ns = |t: f64| unix0 + (t * 1e9).round() as i64;
        let net = Delay::Uniform { max_s: 0.040 };
        let mut r = rng(42);
        let mut clock = StreamClock::default();
        let mut all_pts = Vec::new();
        let mut err = Errors::default();
        let mut t = 0.0;
        for session in 0..4 {
            clock.start_session();
            let rtp0: u32 = r.random();
            let t_start = t;
            let rtp = |t: f64| rtp0.wrapping_add((((t - t_start) * (1.0 + drift)) * 90_000.0).round() as i64 as u32);
            let mut unwrap = crate::time::RtpUnwrapper::default();
            let mut session_ticks = |t: f64| unwrap.unwrap(rtp(t)) - i64::from(rtp0);
            // The first sender report comes before the first frame.
            clock.on_sender_report(SenderReport {
                rtp: Pts::new(session_ticks(t + 0.01), 90_000),
                ntp_unix_ns: ns(t + 0.01),
            });
            let end = t + 300.0;
            let mut next_sr = t + 5.01;
            let mut first = true;
            while t < end {
                if t >= next_sr {
                    let sr_ticks = session_ticks(next_sr);
                    clock.on_sender_report(SenderReport { rtp: Pts::new(sr_ticks, 90_000), ntp_unix_ns: ns(next_sr) });
                    next_sr += 5.0;
                }
                let s = clock.on_unit(Pts::new(session_ticks(t), 90_000), ns(t + net.sample(&mut r)));
                assert_eq!(s.rebase.is_some(), first, "session {session} at {t}");
                first = false;
                all_pts.push(s.pts.ticks());
                assert_eq!(s.wall.source, MappingSource::Rtcp, "session {session} at {t}");
                // From the second session the drift is known: every frame maps within 1 ms at once.
                if session > 0 || t - t_start > 60.0 {
                    err.push((s.wall.unix_ns - ns(t)) as f64 / 1e9);
                }
                t += 0.04;
            }
            t += 7.0 + session as f64; // outage before the next session
        }
        println!("stream clock across 4 sessions: {}", err.summary_ms());
        assert!(err.max() < 1e-3, "{}", err.summary_ms());
        for w in all_pts.windows(2) {
            assert!(w[1] > w[0], "the timeline went back: {} then {}", w[0], w[1]);
        }
        let st = clock.status();
        assert_eq!(st.timeline.sessions, 4);
        assert_eq!(st.timeline.gaps, 3, "{st:?}");
        assert!((st.map.drift_ppm.unwrap() - 30.0).abs() < 0.5, "{st:?}");
        // The timeline's holes match the outages (arrival jitter blurs them by up to 40 ms each).
        assert!((st.timeline.gap_secs - (7.0 + 8.0 + 9.0)).abs() < 0.15, "{st:?}");
    }

    #[test]
    fn a_file_source_at_another_clock_rate_is_rescaled() {
        let mut clock = StreamClock::default();
        clock.start_session();
        let a = clock.on_unit(Pts::new(0, 90_000), 1_000_000_000);
        let b = clock.on_unit(Pts::new(40, 1_000), 1_040_000_000);
        assert_eq!((a.pts.ticks(), b.pts.ticks()), (0, 3_600));
        assert_eq!(b.wall.source, MappingSource::Arrival);
        assert!((b.wall.unix_ns - 1_040_000_000).abs() < 1_000_000);
    }
}
