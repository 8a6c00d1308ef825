//! Retry delays (camera reconnects, webhook deliveries): exponential backoff with jitter, capped, reset after
//! a healthy session.
//!
//! The n-th consecutive failure (from 0) waits about `initial × 2ⁿ`, capped at `max`: the first delay is
//! exactly `initial`, each later one is drawn uniformly from the upper half of its step,
//! `[step / 2, step]` with `step = min(max, initial × 2ⁿ)` (never below `initial`). The delays double, as
//! `docs/config.md` says, yet cameras that failed together (a switch reboot) spread out instead of
//! reconnecting in lockstep. A session that streamed for at least [`Backoff::healthy_after`] resets the
//! sequence, so a camera that drops once a day reconnects after `initial`, not after the delay its last
//! outage reached.
//!
//! Pure: the random source is a parameter (seeded in tests), time is passed in as durations.

use rand::Rng;
use std::time::Duration;

/// How long a session must stream before its end resets the backoff. Default for [`Backoff::new`].
pub const HEALTHY_SESSION: Duration = Duration::from_secs(10);

/// Backoff state of one camera.
#[derive(Debug)]
pub struct Backoff<R> {
    initial_ms: u64,
    max_ms: u64,
    /// Consecutive failures since the last reset.
    failures: u32,
    healthy_after: Duration,
    rng: R,
}

impl<R: Rng> Backoff<R> {
    /// `initial_ms` and `max_ms` come from `CameraConfig` (validated: `0 < initial <= max`).
    pub fn new(initial_ms: u64, max_ms: u64, rng: R) -> Self {
        let initial_ms = initial_ms.max(1);
        Self { initial_ms, max_ms: max_ms.max(initial_ms), failures: 0, healthy_after: HEALTHY_SESSION, rng }
    }

    /// Change how long a session must stream to reset the backoff.
    pub fn healthy_after(mut self, d: Duration) -> Self {
        self.healthy_after = d;
        self
    }

    /// Record the end of a session that delivered frames for `streamed` (zero if it never streamed).
    /// A long enough session resets the delays to `initial`.
    pub fn session_ended(&mut self, streamed: Duration) {
        if streamed >= self.healthy_after {
            self.reset();
        }
    }

    /// Forget past failures: the next delay is `initial`.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The n-th step, `min(max, initial × 2ⁿ)`.
    fn step(&self, n: u32) -> u64 {
        self.initial_ms.saturating_mul(1u64.checked_shl(n.min(63)).unwrap_or(u64::MAX)).min(self.max_ms)
    }

    /// The delay before the next attempt: exactly `initial` after a reset, then uniform in the upper half of
    /// each doubling step (see the module documentation).
    pub fn next_delay(&mut self) -> Duration {
        let n = self.failures;
        self.failures = self.failures.saturating_add(1);
        if n == 0 {
            return Duration::from_millis(self.initial_ms);
        }
        let hi = self.step(n);
        let lo = (hi / 2).max(self.initial_ms).min(hi);
        Duration::from_millis(self.rng.random_range(lo..=hi))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn backoff(seed: u64) -> Backoff<StdRng> {
        Backoff::new(500, 30_000, StdRng::seed_from_u64(seed))
    }

    #[test]
    fn the_delays_double_from_initial_up_to_the_cap() {
        // 500 ms initial, 30 s cap: 500, then [500, 1000], [1000, 2000], [2000, 4000], [4000, 8000],
        // [8000, 16000], [15000, 30000] and [15000, 30000] from then on.
        let steps = [500u64, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000];
        for seed in 0..50 {
            let mut b = backoff(seed);
            for (n, step) in steps.iter().enumerate() {
                let d = b.next_delay().as_millis() as u64;
                let lo = if n == 0 { 500 } else { (step / 2).max(500) };
                assert!((lo..=*step).contains(&d), "seed {seed}, failure {n}: {d} ms not in [{lo}, {step}]");
            }
        }
    }

    #[test]
    fn a_dead_camera_is_retried_about_every_max_not_every_few_seconds() {
        // The probe's finding: delays uniform between 500 ms and the cap averaged 2.5 s, for ever. Now, after
        // ten failures, the mean delay is in the upper half of the cap.
        let mean: f64 = (0..200)
            .map(|seed| {
                let mut b = backoff(seed);
                (0..20).map(|_| b.next_delay()).skip(10).map(|d| d.as_millis() as f64).sum::<f64>() / 10.0
            })
            .sum::<f64>()
            / 200.0;
        assert!((15_000.0..=30_000.0).contains(&mean), "mean delay after 10 failures: {mean} ms");
    }

    #[test]
    fn jitter_spreads_cameras_apart() {
        let fifth = |seed| {
            let mut b = backoff(seed);
            (0..5).map(|_| b.next_delay()).last().unwrap()
        };
        let distinct: std::collections::HashSet<_> = (0..20).map(fifth).collect();
        assert!(distinct.len() > 10, "only {} distinct delays over 20 seeds", distinct.len());
    }

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (backoff(7), backoff(7));
        for _ in 0..20 {
            assert_eq!(a.next_delay(), b.next_delay());
        }
    }

    #[test]
    fn a_healthy_session_resets_a_short_one_does_not() {
        let mut b = backoff(3).healthy_after(Duration::from_secs(10));
        for _ in 0..10 {
            b.next_delay();
        }
        b.session_ended(Duration::from_secs(2));
        assert!(b.next_delay() >= Duration::from_secs(15), "a 2 s session must not reset the backoff");
        b.session_ended(Duration::from_secs(10));
        assert_eq!(b.next_delay(), Duration::from_millis(500));
    }

    #[test]
    fn equal_bounds_give_a_constant_delay() {
        let mut b = Backoff::new(1_000, 1_000, StdRng::seed_from_u64(1));
        for _ in 0..10 {
            assert_eq!(b.next_delay(), Duration::from_millis(1_000));
        }
    }
}
