//! Media time → wall time for one camera: from RTCP sender reports when the camera sends them (and its
//! clock is plausible), else from the frames' arrival times, smoothed.
//!
//! Both maps fit `z = wall − media` (seconds) as a straight line in media time `x`: the intercept is the
//! offset, the slope the drift of the camera's media clock against the wall clock. Both use the
//! lower-envelope fit of [`super::fit`]:
//!
//! - **Sender reports** (`rtcp`): each report pairs an RTP time with the camera's NTP time. The fit runs
//!   over the last `sr_window` reports (64 × 5 s ≈ 5 min: short enough that a drift wandering with
//!   temperature stays linear inside it). An exact report (RFC 3550) lies on the line; a sloppy one is
//!   stamped late, above it: when the short window's mean residual shows that (> `sloppy_residual_secs`),
//!   the fit runs over the last `sr_window_sloppy` reports (256 ≈ 21 min), which averages it down.
//! - **Arrivals** (`arrival`): a frame arrives after its capture (encoding, network, socket: delay
//!   ≥ 0), so `arrival − media` is the offset plus a positive delay. Per `arrival_bucket_secs` of media
//!   time the minimum is kept (the least-delayed frame), and the lower envelope of the last
//!   `arrival_window_buckets` minima follows the drift slowly. The result is biased late by the
//!   network's minimum delay, which no one-way method can see. A frame's wall time is never later
//!   than its own arrival.
//!
//! The RTCP map is used while it agrees with the arrival map within `max_sr_skew_secs`: a camera
//! whose clock is hours off would otherwise shift every event (the skew is shown in the status).
//!
//! A timeline re-base (new session, jump) changes the media ↔ wall relation: [`ClockMap::rebase`]
//! drops the points of the old segment but keeps the drift measured so far as the prior slope for
//! the new one, so one report or one second of frames already maps well.

use super::fit::{FitOptions, LowerFit, lower_envelope};
use super::{NS_PER_SEC, Pts};
use serde::Serialize;
use std::collections::VecDeque;

/// Tuning of a [`ClockMap`]; the defaults suit cameras sending a report every few seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockMapConfig {
    /// Sender reports in the fit window of a camera that stamps them exactly (a short window follows
    /// a wandering drift closely).
    pub sr_window: usize,
    /// Sender reports in the fit window when they are stamped sloppily (more points average the
    /// stamping delay down): used when the short window's mean residual exceeds `sloppy_residual_secs`.
    pub sr_window_sloppy: usize,
    pub sloppy_residual_secs: f64,
    /// Media-time width of an arrival bucket (one minimum each), seconds.
    pub arrival_bucket_secs: f64,
    /// Arrival buckets in the fit window.
    pub arrival_window_buckets: usize,
    /// A slope is fitted only over at least this much media time, seconds (else the prior drift).
    pub min_fit_span_secs: f64,
    /// Larger drifts are implausible for a camera clock (crystals are within ±100 ppm).
    pub max_drift_ppm: f64,
    /// Use sender reports only while the camera's clock is within this of the arrival clock, seconds.
    pub max_sr_skew_secs: f64,
}

impl Default for ClockMapConfig {
    fn default() -> Self {
        Self {
            sr_window: 64,
            sr_window_sloppy: 256,
            sloppy_residual_secs: 2e-3,
            arrival_bucket_secs: 1.0,
            arrival_window_buckets: 120,
            min_fit_span_secs: 60.0,
            max_drift_ppm: 200.0,
            max_sr_skew_secs: 5.0,
        }
    }
}

/// Where a wall time came from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingSource {
    /// Nothing seen yet.
    #[default]
    None,
    /// RTCP sender reports.
    Rtcp,
    /// Smoothed arrival times.
    Arrival,
}

/// A frame's wall time as the clock map estimates it, with where it came from and its error bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WallEstimate {
    pub unix_ns: i64,
    pub source: MappingSource,
    /// Estimated error bound of the mapping itself (not counting a camera clock's own error or, for
    /// arrivals, the network's minimum delay).
    pub uncertainty_ns: i64,
}

/// What a camera's clock map knows, for the status API.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClockStatus {
    pub source: MappingSource,
    /// Wall time minus media time at the latest frame, ms (Unix ms of PTS 0 on the timeline).
    pub offset_ms: Option<f64>,
    /// How fast the camera's media clock runs against the wall clock (positive: fast), ppm.
    pub drift_ppm: Option<f64>,
    /// Whether the drift was measured (else it is the prior carried over from an earlier segment, or 0).
    pub drift_measured: bool,
    /// Samples behind the current mapping: sender reports in the window (`rtcp`) or frames in the
    /// segment (`arrival`).
    pub samples: u64,
    pub sender_reports: u64,
    pub arrival_samples: u64,
    pub uncertainty_ms: Option<f64>,
    /// The camera's sender-report clock minus our arrival clock (minus the network's minimum delay), ms.
    pub camera_skew_ms: Option<f64>,
}

#[derive(Clone, Copy, Debug)]
struct Point {
    x: f64,
    z: f64,
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct ClockMap {
    cfg: ClockMapConfig,
    /// `(media ticks, wall ns)` of the segment's origin; `x` and `z` are relative to it.
    origin: Option<(i64, i64)>,
    clock_rate: u32,
    srs: VecDeque<Point>,
    sr_fit: Option<LowerFit>,
    buckets: VecDeque<(i64, Point)>,
    current: Option<(i64, Point)>,
    arrival_fit: Option<LowerFit>,
    prior_slope: f64,
    prior_measured: bool,
    arrival_samples: u64,
    last_x: Option<f64>,
    last_source: MappingSource,
}

fn drift_ppm(slope: f64) -> f64 {
    // wall = media · (1 + slope) ⇒ the media clock runs 1/(1 + slope) − 1 fast.
    (1.0 / (1.0 + slope) - 1.0) * 1e6
}

impl ClockMap {
    pub fn new(cfg: ClockMapConfig) -> Self {
        Self {
            cfg,
            origin: None,
            clock_rate: Pts::VIDEO_CLOCK_RATE,
            srs: VecDeque::new(),
            sr_fit: None,
            buckets: VecDeque::new(),
            current: None,
            arrival_fit: None,
            prior_slope: 0.0,
            prior_measured: false,
            arrival_samples: 0,
            last_x: None,
            last_source: MappingSource::None,
        }
    }

    /// The timeline was re-based: forget the segment's points, keep the drift.
    pub fn rebase(&mut self) {
        self.origin = None;
        self.srs.clear();
        self.sr_fit = None;
        self.buckets.clear();
        self.current = None;
        self.arrival_fit = None;
        self.arrival_samples = 0;
        self.last_x = None;
    }

    fn fit_options(&self) -> FitOptions {
        FitOptions {
            min_span: self.cfg.min_fit_span_secs,
            prior_slope: self.prior_slope,
            max_abs_slope: self.cfg.max_drift_ppm * 1e-6,
            outlier_floor: 1e-3,
        }
    }

    /// `(x, z)` of a media time and a wall time, setting the segment's origin on first use.
    fn point(&mut self, pts: Pts, wall_ns: i64) -> Point {
        if self.origin.is_none() {
            self.clock_rate = pts.clock_rate();
        }
        let (t0, n0) = *self.origin.get_or_insert((self.rescale(pts), wall_ns));
        let x = (self.rescale(pts) - t0) as f64 / f64::from(self.clock_rate);
        Point { x, z: (wall_ns - n0) as f64 / NS_PER_SEC - x }
    }

    fn rescale(&self, pts: Pts) -> i64 {
        if pts.clock_rate() == self.clock_rate {
            pts.ticks()
        } else {
            (i128::from(pts.ticks()) * i128::from(self.clock_rate) / i128::from(pts.clock_rate())) as i64
        }
    }

    fn x_of(&self, pts: Pts) -> Option<f64> {
        self.origin.map(|(t0, _)| (self.rescale(pts) - t0) as f64 / f64::from(self.clock_rate))
    }

    fn learn(&mut self, fit: &LowerFit) {
        if fit.slope_fitted {
            self.prior_slope = fit.line.slope;
            self.prior_measured = true;
        }
    }

    /// A sender report: the camera's NTP time (Unix ns) of a media time on the timeline.
    pub fn on_sender_report(&mut self, pts: Pts, ntp_unix_ns: i64) {
        let p = self.point(pts, ntp_unix_ns);
        self.srs.push_back(p);
        while self.srs.len() > self.cfg.sr_window_sloppy.max(self.cfg.sr_window).max(1) {
            self.srs.pop_front();
        }
        let short = self.cfg.sr_window.max(1).min(self.srs.len());
        let pts_xz: Vec<(f64, f64)> = self.srs.iter().map(|p| (p.x, p.z)).collect();
        let opts = self.fit_options();
        self.sr_fit = lower_envelope(&pts_xz[pts_xz.len() - short..], &opts);
        if let Some(f) = self.sr_fit
            && f.mean_residual > self.cfg.sloppy_residual_secs
            && short < pts_xz.len()
        {
            self.sr_fit = lower_envelope(&pts_xz, &opts);
        }
        if let Some(f) = self.sr_fit {
            self.learn(&f);
        }
    }

    /// A frame at `pts` arrived at `arrival_ns`: learn from it and give its wall time.
    pub fn on_frame(&mut self, pts: Pts, arrival_ns: i64) -> WallEstimate {
        let p = self.point(pts, arrival_ns);
        self.arrival_samples += 1;
        self.last_x = Some(self.last_x.map_or(p.x, |l| l.max(p.x)));
        let idx = (p.x / self.cfg.arrival_bucket_secs.max(1e-3)).floor() as i64;
        match self.current {
            Some((ci, cp)) if idx > ci => {
                self.buckets.push_back((ci, cp));
                while self.buckets.len() > self.cfg.arrival_window_buckets.max(1) {
                    self.buckets.pop_front();
                }
                self.current = Some((idx, p));
                let pts_xz: Vec<(f64, f64)> = self.buckets.iter().map(|(_, p)| (p.x, p.z)).collect();
                self.arrival_fit = lower_envelope(&pts_xz, &self.fit_options());
                if self.sr_fit.is_none()
                    && let Some(f) = self.arrival_fit
                {
                    self.learn(&f);
                }
            }
            Some((ci, cp)) => {
                if p.z < cp.z {
                    self.current = Some((ci, p));
                }
            }
            None => self.current = Some((idx, p)),
        }
        let w = self.wall(pts, Some(arrival_ns)).expect("the origin is set");
        self.last_source = w.source;
        w
    }

    /// The arrival map's `(z, uncertainty)` at `x`.
    fn arrival_z(&self, x: f64) -> Option<(f64, f64)> {
        match (self.arrival_fit, self.current) {
            (Some(f), Some((_, cur))) => {
                // The open bucket may already show the envelope lower (a drift change): take it.
                let from_fit = f.line.at(x);
                let from_cur = cur.z + f.line.slope * (x - cur.x);
                Some((from_fit.min(from_cur), f.uncertainty_at(x)))
            }
            (Some(f), None) => Some((f.line.at(x), f.uncertainty_at(x))),
            (None, Some((_, cur))) => Some((cur.z + self.prior_slope * (x - cur.x), 0.0)),
            (None, None) => None,
        }
    }

    /// The wall time of `pts` as known now; `arrival_ns` (when it is a frame's) bounds the arrival map.
    pub fn wall(&self, pts: Pts, arrival_ns: Option<i64>) -> Option<WallEstimate> {
        let x = self.x_of(pts)?;
        let (_, n0) = self.origin?;
        let to_ns = |z: f64| n0 + ((x + z) * NS_PER_SEC).round() as i64;
        let arrival = self.arrival_z(x);
        let sr = self.sr_fit.map(|f| (f.line.at(x), f.uncertainty_at(x)));
        let trusted = match (sr, arrival) {
            (Some((zs, _)), Some((za, _))) => (zs - za).abs() <= self.cfg.max_sr_skew_secs,
            (Some(_), None) => true,
            _ => false,
        };
        let quantum = NS_PER_SEC / f64::from(self.clock_rate);
        if trusted && let Some((z, u)) = sr {
            return Some(WallEstimate {
                unix_ns: to_ns(z),
                source: MappingSource::Rtcp,
                uncertainty_ns: (u * NS_PER_SEC + quantum).round() as i64,
            });
        }
        let (z, u) = arrival?;
        let mut unix_ns = to_ns(z);
        if let Some(a) = arrival_ns {
            unix_ns = unix_ns.min(a);
        }
        Some(WallEstimate {
            unix_ns,
            source: MappingSource::Arrival,
            uncertainty_ns: (u * NS_PER_SEC + quantum).round() as i64,
        })
    }

    /// The map's state at the latest frame.
    pub fn status(&self) -> ClockStatus {
        let fit = match self.last_source {
            MappingSource::Rtcp => self.sr_fit,
            MappingSource::Arrival => self.arrival_fit,
            MappingSource::None => self.sr_fit.or(self.arrival_fit),
        };
        let mut s = ClockStatus {
            source: self.last_source,
            samples: match self.last_source {
                MappingSource::Rtcp => self.sr_fit.map_or(0, |f| f.used as u64),
                _ => self.arrival_samples,
            },
            sender_reports: self.srs.len() as u64,
            arrival_samples: self.arrival_samples,
            drift_ppm: Some(drift_ppm(fit.map_or(self.prior_slope, |f| f.line.slope))),
            drift_measured: fit.map_or(self.prior_measured, |f| f.slope_fitted || self.prior_measured),
            ..ClockStatus::default()
        };
        let (Some(x), Some((t0, n0))) = (self.last_x, self.origin) else { return s };
        let z = match self.last_source {
            MappingSource::Rtcp => self.sr_fit.map(|f| f.line.at(x)),
            _ => self.arrival_z(x).map(|(z, _)| z),
        };
        if let Some(z) = z {
            let media0_ms = t0 as f64 * 1e3 / f64::from(self.clock_rate);
            s.offset_ms = Some(n0 as f64 / 1e6 - media0_ms + z * 1e3);
        }
        s.uncertainty_ms = fit.map(|f| f.uncertainty_at(x) * 1e3);
        if let (Some(fs), Some((za, _))) = (self.sr_fit, self.arrival_z(x)) {
            s.camera_skew_ms = Some((fs.line.at(x) - za) * 1e3);
        }
        s
    }
}

impl Default for ClockMap {
    fn default() -> Self {
        Self::new(ClockMapConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::sim::{Delay, Errors, rng};
    use std::f64::consts::PI;

    const RATE: f64 = 90_000.0;
    const UNIX0_NS: i64 = 1_750_000_000_000_000_000;
    const DAY: f64 = 86_400.0;

    /// The camera's media clock drift against true time.
    #[derive(Clone, Copy, Debug)]
    enum Drift {
        Constant(f64),
        /// `amp · sin(2π t / period)`: a day's temperature cycle.
        Wander {
            amp: f64,
            period: f64,
        },
    }

    impl Drift {
        /// Media seconds elapsed at true time `t` (seconds).
        fn media_secs(self, t: f64) -> f64 {
            match self {
                Drift::Constant(d) => t * (1.0 + d),
                Drift::Wander { amp, period } => {
                    let w = 2.0 * PI / period;
                    t + amp / w * (1.0 - (w * t).cos())
                }
            }
        }
    }

    struct World {
        drift: Drift,
        /// The camera's NTP clock minus true time, seconds.
        camera_clock_off: f64,
        net: Delay,
        /// Late stamping of a sender report's NTP time (0 for an exact, RFC-conforming camera).
        sr_stamp: Option<Delay>,
        sr_every: f64,
        fps: f64,
        secs: f64,
        converge: f64,
        seed: u64,
    }

    enum Ev {
        Frame { t: f64, ticks: i64 },
        Sr { ticks: i64, ntp_ns: i64 },
    }

    /// Run the world through a fresh map; errors of frame wall times against the truth (the camera's
    /// clock when RTCP is used, else true time) after `converge` seconds, plus the final status.
    fn simulate(w: &World, cfg: ClockMapConfig) -> (Errors, Errors, ClockStatus, f64) {
        let mut r = rng(w.seed);
        let ticks = |t: f64| (w.drift.media_secs(t) * RATE).round() as i64 + 7_777;
        let ns = |t: f64| UNIX0_NS + (t * 1e9).round() as i64;
        let mut evs: Vec<(i64, Ev)> = Vec::new();
        let frames = (w.secs * w.fps) as usize;
        for k in 0..frames {
            let t = k as f64 / w.fps;
            evs.push((ns(t + w.net.sample(&mut r)), Ev::Frame { t, ticks: ticks(t) }));
        }
        let mut t = 0.3;
        while w.sr_every.is_finite() && t < w.secs {
            let stamp = w.sr_stamp.map_or(0.0, |d| d.sample(&mut r));
            let ntp_ns = ns(t + w.camera_clock_off + stamp);
            evs.push((ns(t + w.net.sample(&mut r)), Ev::Sr { ticks: ticks(t), ntp_ns }));
            t += w.sr_every;
        }
        evs.sort_by_key(|e| e.0);
        let mut map = ClockMap::new(cfg);
        let (mut err, mut err_u) = (Errors::default(), Errors::default());
        let mut covered = 0usize;
        for (arrival, ev) in evs {
            match ev {
                Ev::Sr { ticks, ntp_ns } => map.on_sender_report(Pts::new(ticks, 90_000), ntp_ns),
                Ev::Frame { t, ticks } => {
                    let wt = map.on_frame(Pts::new(ticks, 90_000), arrival);
                    if t < w.converge {
                        continue;
                    }
                    let truth = match wt.source {
                        MappingSource::Rtcp => ns(t + w.camera_clock_off),
                        _ => ns(t),
                    };
                    let e = (wt.unix_ns - truth) as f64 / 1e9;
                    err.push(e);
                    err_u.push(wt.uncertainty_ns as f64 / 1e9);
                    if e.abs() <= wt.uncertainty_ns as f64 / 1e9 {
                        covered += 1;
                    }
                }
            }
        }
        let coverage = covered as f64 / err.len().max(1) as f64;
        (err, err_u, map.status(), coverage)
    }

    fn issue_world(drift: Drift, net: Delay, sr_stamp: Option<Delay>, secs: f64, seed: u64) -> World {
        World { drift, camera_clock_off: 2.5, net, sr_stamp, sr_every: 5.0, fps: 25.0, secs, converge: 600.0, seed }
    }

    const UNIFORM_40: Delay = Delay::Uniform { max_s: 0.040 };
    const EXP_40: Delay = Delay::Exp { min_s: 0.0, mean_s: 0.010, cap_s: 0.040 };

    #[test]
    fn sender_reports_map_frames_within_a_millisecond_for_a_drifting_camera_2_5_s_off() {
        for (i, (drift, net)) in [
            (Drift::Constant(50e-6), UNIFORM_40),
            (Drift::Constant(-50e-6), EXP_40),
            (Drift::Wander { amp: 50e-6, period: DAY }, UNIFORM_40),
        ]
        .into_iter()
        .enumerate()
        {
            let (err, _, status, coverage) =
                simulate(&issue_world(drift, net, None, 3_600.0, 100 + i as u64), ClockMapConfig::default());
            println!("exact reports, {drift:?}, network {net:?}: {} coverage {coverage:.3}", err.summary_ms());
            assert_eq!(status.source, MappingSource::Rtcp, "{status:?}");
            assert!(err.max() < 1e-3, "{drift:?}: {}", err.summary_ms());
            let skew = status.camera_skew_ms.unwrap();
            assert!((skew - 2_500.0).abs() < 40.0, "camera clock 2.5 s ahead, seen as {skew} ms");
            if let Drift::Constant(d) = drift {
                assert!((status.drift_ppm.unwrap() - d * 1e6).abs() < 0.5, "{status:?}");
            }
        }
    }

    #[test]
    fn a_day_of_sender_reports_with_sloppy_stamping_stays_far_under_a_frame_interval() {
        for (i, stamp) in [UNIFORM_40, EXP_40].into_iter().enumerate() {
            let w =
                issue_world(Drift::Wander { amp: 50e-6, period: DAY }, UNIFORM_40, Some(stamp), DAY, 200 + i as u64);
            let (err, _, status, coverage) = simulate(&w, ClockMapConfig::default());
            println!("24 h, reports stamped late by {stamp:?}: {} coverage {coverage:.3}", err.summary_ms());
            assert_eq!(status.source, MappingSource::Rtcp);
            assert!(err.max() < 0.040 / 8.0, "not far under one frame interval: {}", err.summary_ms());
            assert!(err.quantile(0.99) < 3e-3, "{}", err.summary_ms());
        }
    }

    #[test]
    fn a_day_of_exact_sender_reports_stays_within_a_millisecond() {
        let w = issue_world(Drift::Wander { amp: 50e-6, period: DAY }, UNIFORM_40, None, DAY, 300);
        let (err, _, status, _) = simulate(&w, ClockMapConfig::default());
        println!("24 h, exact reports: {}", err.summary_ms());
        assert!(err.max() < 1e-3, "{}", err.summary_ms());
        assert_eq!(status.source, MappingSource::Rtcp);
    }

    #[test]
    fn without_sender_reports_arrivals_are_smoothed_to_the_minimum_delay() {
        for (i, net) in [UNIFORM_40, EXP_40].into_iter().enumerate() {
            let mut w = issue_world(Drift::Constant(50e-6), net, None, 3_600.0, 400 + i as u64);
            w.sr_every = f64::INFINITY;
            let (err, _, status, _) = simulate(&w, ClockMapConfig::default());
            println!("arrivals only, network {net:?}: {}", err.summary_ms());
            assert_eq!(status.source, MappingSource::Arrival);
            // Raw arrival times would be off by 20 ms on average (uniform) and up to 40 ms.
            assert!(err.quantile(0.99) < 3e-3 && err.max() < 5e-3, "{}", err.summary_ms());
            assert!((status.drift_ppm.unwrap() - 50.0).abs() < 5.0, "{status:?}");
        }
    }

    #[test]
    fn a_camera_clock_hours_off_falls_back_to_arrivals() {
        let mut w = issue_world(Drift::Constant(20e-6), UNIFORM_40, None, 900.0, 500);
        w.camera_clock_off = 3_600.0;
        let (err, _, status, _) = simulate(&w, ClockMapConfig::default());
        assert_eq!(status.source, MappingSource::Arrival, "{status:?}");
        assert!((status.camera_skew_ms.unwrap() - 3_600_000.0).abs() < 50.0, "{status:?}");
        assert!(err.max() < 5e-3, "{}", err.summary_ms());
    }

    #[test]
    fn rebase_keeps_the_drift_and_maps_from_the_first_report() {
        let mut map = ClockMap::default();
        let d = 40e-6;
        // 10 min of exact reports: the drift is learnt.
        for i in 0..120 {
            let t = i as f64 * 5.0;
            let ticks = (t * (1.0 + d) * RATE).round() as i64;
            map.on_sender_report(Pts::new(ticks, 90_000), UNIX0_NS + (t * 1e9) as i64);
        }
        assert!((map.status().drift_ppm.unwrap() - 40.0).abs() < 0.1, "{:?}", map.status());
        map.rebase();
        // New segment: one report, then a frame a minute later.
        let t0 = 1_000.0;
        let base = 5_000_000i64;
        map.on_sender_report(Pts::new(base, 90_000), UNIX0_NS + (t0 * 1e9) as i64);
        let later = 60.0;
        let ticks = base + (later * (1.0 + d) * RATE).round() as i64;
        let w = map.on_frame(Pts::new(ticks, 90_000), UNIX0_NS + ((t0 + later + 0.01) * 1e9) as i64);
        let truth = UNIX0_NS + ((t0 + later) * 1e9) as i64;
        assert_eq!(w.source, MappingSource::Rtcp);
        // 60 s at 40 ppm is 2.4 ms: only the carried drift gets this within 50 µs.
        assert!((w.unix_ns - truth).abs() < 50_000, "error {} ns", w.unix_ns - truth);
    }

    #[test]
    fn nothing_seen_maps_nothing() {
        let map = ClockMap::default();
        assert!(map.wall(Pts::new(0, 90_000), None).is_none());
        assert_eq!(map.status().source, MappingSource::None);
    }
}
