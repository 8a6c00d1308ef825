//! The offset between this node's wall clock and a peer's, from NTP-style four-timestamp exchanges.
//!
//! The client notes `t0` when it sends a request; the peer (`GET /api/time`) notes `t1` when it
//! receives it and `t2` when it replies; the client notes `t3` when the reply arrives. With the peer's
//! clock ahead of ours by θ:
//!
//! ```text
//! offset θ̂ = ((t1 − t0) + (t2 − t3)) / 2        delay δ = (t3 − t0) − (t2 − t1)
//! ```
//!
//! θ̂ is exact when the two legs take the same time; whatever the asymmetry, the truth lies within
//! `θ̂ ± δ/2`, i.e. in `[t2 − t3, t1 − t0]` = `[θ − reply leg, θ + request leg]`, since each leg takes
//! ≥ 0. The estimator keeps the last `window` exchanges (NTP's clock filter) and:
//!
//! - widens each sample's interval by its dispersion: the timestamp resolution plus the drift the two
//!   clocks may have accumulated since (`drift_tolerance_ppm` × age);
//! - intersects the intervals: the lower bound comes from the exchange with the fastest reply leg, the
//!   upper from the one with the fastest request leg, which need not be the same exchange. The
//!   estimate is the middle of the intersection and the uncertainty its half-width. The minimum-delay
//!   sample's own interval (`θ̂ ± (δ/2 + dispersion)`, NTP's choice) is one of those intersected, so
//!   the result is never less certain than it;
//! - if the intersection is empty (a clock stepped, or drifted beyond the tolerance), falls back to
//!   the minimum-delay sample with `δ/2` plus dispersion, and says so (`consistent: false`).
//!
//! Exchanges keep coming (the caller polls), so a changed path or a stepped clock is picked up within
//! one window.

use serde::Serialize;
use std::collections::VecDeque;

/// The four timestamps of one exchange, Unix ns: `t0`, `t3` on this node's clock, `t1`, `t2` on the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub t0_ns: i64,
    pub t1_ns: i64,
    pub t2_ns: i64,
    pub t3_ns: i64,
}

impl Exchange {
    /// Peer clock minus local clock, assuming symmetric legs.
    pub fn offset_ns(&self) -> f64 {
        ((self.t1_ns - self.t0_ns) as f64 + (self.t2_ns - self.t3_ns) as f64) / 2.0
    }

    /// Round-trip time on the network (the peer's processing time taken out).
    pub fn delay_ns(&self) -> i64 {
        (self.t3_ns - self.t0_ns) - (self.t2_ns - self.t1_ns)
    }
}

/// An exchange that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OffsetError {
    #[error(
        "time exchange with peer {peer}: the reply came back before the request left (t0 {t0_ns} ns > t3 {t3_ns} ns); \
         this node's clock stepped backwards during the exchange, retry"
    )]
    ReplyBeforeRequest { peer: String, t0_ns: i64, t3_ns: i64 },
    #[error(
        "time exchange with peer {peer}: the peer replied before receiving (t1 {t1_ns} ns > t2 {t2_ns} ns); \
         check the peer's /api/time returns receive_ns ≤ transmit_ns"
    )]
    PeerOutOfOrder { peer: String, t1_ns: i64, t2_ns: i64 },
    #[error(
        "time exchange with peer {peer}: the peer held the request {held_ns} ns, longer than the round trip \
         {round_trip_ns} ns; one of the clocks stepped, retry"
    )]
    NegativeDelay { peer: String, held_ns: i64, round_trip_ns: i64 },
    #[error("time exchange with peer {peer}: no such peer; add a [[peers]] entry with that id")]
    UnknownPeer { peer: String },
}

/// How an [`OffsetEstimator`] filters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OffsetConfig {
    /// Exchanges kept (NTP keeps 8 at long poll intervals; polled every second, 32 give each leg's fastest trip
    /// while keeping the drift widening under 1.6 ms).
    pub window: usize,
    /// How fast the two clocks may drift apart, ppm (NTP's 15 ppm; 50 for unsynchronised crystals).
    pub drift_tolerance_ppm: f64,
    /// Timestamp resolution added to every uncertainty, ns.
    pub resolution_ns: i64,
}

impl Default for OffsetConfig {
    fn default() -> Self {
        Self { window: 32, drift_tolerance_ppm: 50.0, resolution_ns: 1_000 }
    }
}

/// The current estimate of a peer's offset.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct OffsetEstimate {
    /// Peer clock minus local clock, ns.
    pub offset_ns: i64,
    /// The true offset is within `offset_ns ± uncertainty_ns` (given the drift tolerance holds).
    pub uncertainty_ns: i64,
    /// Smallest round trip in the window, ns.
    pub delay_ns: i64,
    /// `false` when the window's intervals did not overlap and the minimum-delay sample alone was used.
    pub consistent: bool,
    /// Exchanges in the window.
    pub samples: usize,
    /// Age of the minimum-delay sample at the time of the estimate, ns.
    pub age_ns: i64,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    offset_ns: f64,
    delay_ns: i64,
    /// `t2 − t3` and `t1 − t0`: the offset is within these.
    lower_ns: i64,
    upper_ns: i64,
    at_ns: i64,
}

/// Clock filter over the recent exchanges with one peer. See the module documentation.
#[derive(Clone, Debug)]
pub struct OffsetEstimator {
    peer: String,
    cfg: OffsetConfig,
    samples: VecDeque<Sample>,
}

impl OffsetEstimator {
    pub fn new(peer: impl Into<String>, cfg: OffsetConfig) -> Self {
        Self { peer: peer.into(), cfg, samples: VecDeque::new() }
    }

    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// Take one exchange into the window.
    pub fn add(&mut self, ex: Exchange) -> Result<(), OffsetError> {
        let peer = || self.peer.clone();
        if ex.t3_ns < ex.t0_ns {
            return Err(OffsetError::ReplyBeforeRequest { peer: peer(), t0_ns: ex.t0_ns, t3_ns: ex.t3_ns });
        }
        if ex.t2_ns < ex.t1_ns {
            return Err(OffsetError::PeerOutOfOrder { peer: peer(), t1_ns: ex.t1_ns, t2_ns: ex.t2_ns });
        }
        if ex.delay_ns() < 0 {
            return Err(OffsetError::NegativeDelay {
                peer: peer(),
                held_ns: ex.t2_ns - ex.t1_ns,
                round_trip_ns: ex.t3_ns - ex.t0_ns,
            });
        }
        self.samples.push_back(Sample {
            offset_ns: ex.offset_ns(),
            delay_ns: ex.delay_ns(),
            lower_ns: ex.t2_ns - ex.t3_ns,
            upper_ns: ex.t1_ns - ex.t0_ns,
            at_ns: ex.t3_ns,
        });
        while self.samples.len() > self.cfg.window.max(1) {
            self.samples.pop_front();
        }
        Ok(())
    }

    /// Dispersion of a sample at local time `now_ns`: resolution plus possible drift since, ns.
    fn dispersion(&self, s: &Sample, now_ns: i64) -> i64 {
        let age_ns = (now_ns - s.at_ns).max(0);
        self.cfg.resolution_ns + (age_ns as f64 * self.cfg.drift_tolerance_ppm * 1e-6).ceil() as i64
    }

    /// The estimate at local time `now_ns`; `None` before the first exchange.
    pub fn estimate(&self, now_ns: i64) -> Option<OffsetEstimate> {
        let best = self.samples.iter().min_by_key(|s| s.delay_ns)?;
        let (mut lo, mut hi) = (i64::MIN, i64::MAX);
        for s in &self.samples {
            let d = self.dispersion(s, now_ns);
            lo = lo.max(s.lower_ns - d);
            hi = hi.min(s.upper_ns + d);
        }
        let age_ns = (now_ns - best.at_ns).max(0);
        let common = OffsetEstimate {
            offset_ns: 0,
            uncertainty_ns: 0,
            delay_ns: best.delay_ns,
            samples: self.samples.len(),
            age_ns,
            consistent: lo <= hi,
        };
        Some(if lo <= hi {
            // Half-widths rounded up so the bound holds in integer ns.
            OffsetEstimate { offset_ns: lo + (hi - lo) / 2, uncertainty_ns: (hi - lo + 1) / 2 + 1, ..common }
        } else {
            OffsetEstimate {
                offset_ns: best.offset_ns.round() as i64,
                uncertainty_ns: (best.delay_ns + 1) / 2 + self.dispersion(best, now_ns),
                ..common
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::sim::{Delay, Errors, rng};
    use rand::Rng;

    /// Two nodes: the peer's clock is `base + rate · t` ahead of ours (true time `t` = our clock).
    struct Peer {
        base_ns: f64,
        rate: f64,
    }

    impl Peer {
        fn offset_ns(&self, t_ns: f64) -> f64 {
            self.base_ns + self.rate * t_ns
        }
    }

    #[test]
    fn the_formulas_match_a_hand_worked_exchange() {
        // Peer 100 ms ahead; 10 ms out, 30 ms back, held 5 ms.
        let ex = Exchange { t0_ns: 0, t1_ns: 110_000_000, t2_ns: 115_000_000, t3_ns: 45_000_000 };
        assert_eq!(ex.delay_ns(), 40_000_000);
        // Asymmetry of 20 ms biases the estimate by 10 ms, within δ/2 = 20 ms.
        assert_eq!(ex.offset_ns(), 90_000_000.0);
    }

    #[test]
    fn bad_exchanges_are_refused_with_the_peer_named() {
        let mut est = OffsetEstimator::new("node-b", OffsetConfig::default());
        let e = est.add(Exchange { t0_ns: 10, t1_ns: 0, t2_ns: 0, t3_ns: 5 }).unwrap_err();
        assert!(e.to_string().contains("node-b"), "{e}");
        assert!(matches!(
            est.add(Exchange { t0_ns: 0, t1_ns: 9, t2_ns: 8, t3_ns: 20 }),
            Err(OffsetError::PeerOutOfOrder { .. })
        ));
        assert!(matches!(
            est.add(Exchange { t0_ns: 0, t1_ns: 0, t2_ns: 30, t3_ns: 20 }),
            Err(OffsetError::NegativeDelay { .. })
        ));
        assert!(est.estimate(0).is_none());
    }

    /// Poll a simulated peer every `poll_s` for `secs`; errors and how often the uncertainty covered them.
    fn run(
        peer: &Peer,
        out: Delay,
        back: Delay,
        spike_p: f64,
        poll_s: f64,
        secs: f64,
        seed: u64,
    ) -> (Errors, f64, Errors) {
        let mut r = rng(seed);
        let mut est = OffsetEstimator::new("sim", OffsetConfig::default());
        let (mut err, mut unc) = (Errors::default(), Errors::default());
        let mut covered = 0;
        let mut t = 0.0f64;
        let mut n = 0;
        while t < secs * 1e9 {
            let spike =
                |r: &mut rand::rngs::StdRng| if r.random::<f64>() < spike_p { r.random::<f64>() * 200e6 } else { 0.0 };
            let t0 = t;
            let a = t0 + out.sample(&mut r) * 1e9 + spike(&mut r); // true time the request arrives
            let b = a + r.random::<f64>() * 0.5e6; // the peer works up to 0.5 ms
            let t3 = b + back.sample(&mut r) * 1e9 + spike(&mut r);
            let ex = Exchange {
                t0_ns: t0.round() as i64,
                t1_ns: (a + peer.offset_ns(a)).round() as i64,
                t2_ns: (b + peer.offset_ns(b)).round() as i64,
                t3_ns: t3.round() as i64,
            };
            est.add(ex).unwrap();
            n += 1;
            if n >= 8 {
                let e = est.estimate(ex.t3_ns).unwrap();
                let truth = peer.offset_ns(t3);
                let error = e.offset_ns as f64 - truth;
                err.push(error / 1e9);
                unc.push(e.uncertainty_ns as f64 / 1e9);
                if error.abs() <= e.uncertainty_ns as f64 {
                    covered += 1;
                }
            }
            t += poll_s * 1e9;
        }
        let coverage = covered as f64 / err.len() as f64;
        (err, coverage, unc)
    }

    #[test]
    fn offset_between_two_nodes_with_asymmetric_jittery_paths_is_within_a_millisecond() {
        // Peer 1.234567 s ahead, its clock 3 ppm fast (both NTP-disciplined, loosely); the request leg
        // is fast, the reply leg slower and three times as jittery, and 5 % of packets are held up to
        // 200 ms (queues). Polled every second.
        let peer = Peer { base_ns: 1_234_567_000.0, rate: 3e-6 };
        let out = Delay::Exp { min_s: 0.000_2, mean_s: 0.001, cap_s: 0.1 };
        let back = Delay::Exp { min_s: 0.000_6, mean_s: 0.003, cap_s: 0.1 };
        let (err, coverage, unc) = run(&peer, out, back, 0.05, 1.0, 3_600.0, 9);
        println!("offset: {} uncertainty {} coverage {coverage:.4}", err.summary_ms(), unc.summary_ms());
        assert!(err.max() < 1e-3, "{}", err.summary_ms());
        assert_eq!(coverage, 1.0, "the uncertainty must cover the true error");
        assert!(unc.quantile(0.5) < 2e-3, "uncertainty should stay informative: {}", unc.summary_ms());
    }

    #[test]
    fn a_slow_jittery_reply_leg_and_free_running_clocks_cost_at_most_two_milliseconds() {
        // Reply leg 1 ms + exp(6 ms), request 0.3 ms + exp(2 ms): the fixed asymmetry alone biases
        // 0.35 ms; the clocks drift apart by 20 ppm, which the window (no frequency estimate) sees as
        // up to 20 ppm × 32 s of lag.
        let peer = Peer { base_ns: 1_234_567_000.0, rate: 20e-6 };
        let out = Delay::Exp { min_s: 0.000_3, mean_s: 0.002, cap_s: 0.1 };
        let back = Delay::Exp { min_s: 0.001, mean_s: 0.006, cap_s: 0.1 };
        let (err, coverage, unc) = run(&peer, out, back, 0.05, 1.0, 3_600.0, 19);
        println!("slow reply leg: {} uncertainty {} coverage {coverage:.4}", err.summary_ms(), unc.summary_ms());
        assert!(err.max() < 2e-3, "{}", err.summary_ms());
        assert_eq!(coverage, 1.0);
    }

    #[test]
    fn a_congested_path_still_has_its_error_covered() {
        // Heavy one-sided congestion: the estimate may be off by more, but never beyond its uncertainty.
        let peer = Peer { base_ns: -42_000_000.0, rate: -35e-6 };
        let out = Delay::Uniform { max_s: 0.002 };
        let back = Delay::Exp { min_s: 0.020, mean_s: 0.050, cap_s: 0.5 };
        let (err, coverage, _) = run(&peer, out, back, 0.2, 2.0, 3_600.0, 10);
        println!("congested: {} coverage {coverage}", err.summary_ms());
        assert_eq!(coverage, 1.0, "{}", err.summary_ms());
        assert!(err.max() > 5e-3, "this path is meant to be hard: {}", err.summary_ms());
    }

    #[test]
    fn intervals_from_different_exchanges_intersect() {
        let mut est = OffsetEstimator::new("p", OffsetConfig { resolution_ns: 0, ..OffsetConfig::default() });
        // Peer 3 ms ahead. Exchange A: request leg 2 ms, reply leg 4 ms → [−1, 5] ms.
        est.add(Exchange { t0_ns: 0, t1_ns: 5_000_000, t2_ns: 5_000_000, t3_ns: 6_000_000 }).unwrap();
        // Exchange B at the same instant: request leg 6 ms, reply leg 1 ms → [2, 9] ms.
        est.add(Exchange { t0_ns: 0, t1_ns: 9_000_000, t2_ns: 9_000_000, t3_ns: 7_000_000 }).unwrap();
        let e = est.estimate(7_000_000).unwrap();
        // [2, 5] widened by 50 ppm of 1 ms age (A) = 50 ns on A's side: [2, 5.00005] ms.
        assert!(e.consistent);
        assert_eq!(e.offset_ns, 3_500_025);
        assert_eq!(e.uncertainty_ns, 1_500_025 + 1);
        // NTP's pick, the minimum-delay exchange A alone, would say 2 ± 3 ms.
        assert_eq!(e.delay_ns, 6_000_000);
    }

    #[test]
    fn inconsistent_samples_fall_back_to_the_minimum_delay_one_which_ages() {
        let mut est = OffsetEstimator::new("p", OffsetConfig { window: 3, ..OffsetConfig::default() });
        // Offsets 10, 20, 30 ms (a stepping clock) with delays 8, 2, 6 ms: the 20 ms one is best.
        for (i, (off, delay)) in [(10, 8), (20, 2), (30, 6)].into_iter().enumerate() {
            let t0 = i as i64 * 1_000_000_000;
            let t1 = t0 + off * 1_000_000 + delay * 500_000;
            est.add(Exchange { t0_ns: t0, t1_ns: t1, t2_ns: t1, t3_ns: t0 + delay * 1_000_000 }).unwrap();
        }
        let e = est.estimate(1_002_000_000 + 11_000_000_000).unwrap();
        assert!(!e.consistent);
        assert_eq!(e.offset_ns, 20_000_000);
        assert_eq!(e.delay_ns, 2_000_000);
        // δ/2 = 1 ms, plus 11 s × 50 ppm = 0.55 ms, plus 1 µs.
        assert_eq!(e.uncertainty_ns, 1_000_000 + 550_000 + 1_000);
        // Two more exchanges push the best one out of the window of 3.
        for i in 3..5 {
            let t0 = i * 1_000_000_000;
            est.add(Exchange { t0_ns: t0, t1_ns: t0 + 50_000_000, t2_ns: t0 + 50_000_000, t3_ns: t0 + 10_000_000 })
                .unwrap();
        }
        assert_eq!(est.estimate(5_000_000_000).unwrap().delay_ns, 6_000_000);
    }
}
