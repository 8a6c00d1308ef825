//! Reconnect delays: exponential backoff with decorrelated jitter, reset after a healthy session.
//!
//! Decorrelated jitter (the AWS "Exponential Backoff And Jitter" variant): each delay is drawn
//! uniformly from `[initial, 3 × previous]`, capped at `max`. Delays grow roughly exponentially,
//! yet cameras that failed together (a switch reboot) spread out instead of reconnecting in lockstep.
//! A session that streamed for at least [`Backoff::healthy_after`] resets the sequence, so a camera
//! that drops once a day reconnects after `initial`, not after the delay its last outage reached.
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
    /// The previous delay; `None` before the first failure or after a reset.
    prev_ms: Option<u64>,
    healthy_after: Duration,
    rng: R,
}

impl<R: Rng> Backoff<R> {
    /// `initial_ms` and `max_ms` come from `CameraConfig` (validated: `0 < initial <= max`).
    pub fn new(initial_ms: u64, max_ms: u64, rng: R) -> Self {
        let initial_ms = initial_ms.max(1);
        Self { initial_ms, max_ms: max_ms.max(initial_ms), prev_ms: None, healthy_after: HEALTHY_SESSION, rng }
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
        self.prev_ms = None;
    }

    /// The delay before the next attempt. The first delay after a reset is exactly `initial`;
    /// later ones are uniform in `[initial, min(max, 3 × previous)]`.
    pub fn next_delay(&mut self) -> Duration {
        let ms = match self.prev_ms {
            None => self.initial_ms,
            Some(prev) => {
                let hi = prev.saturating_mul(3).min(self.max_ms).max(self.initial_ms);
                self.rng.random_range(self.initial_ms..=hi)
            }
        };
        self.prev_ms = Some(ms);
        Duration::from_millis(ms)
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
    fn first_delay_is_initial_and_all_stay_within_bounds() {
        for seed in 0..50 {
            let mut b = backoff(seed);
            assert_eq!(b.next_delay(), Duration::from_millis(500));
            let mut prev = 500u64;
            for _ in 0..40 {
                let d = b.next_delay().as_millis() as u64;
                assert!((500..=30_000).contains(&d), "seed {seed}: {d} ms out of bounds");
                assert!(d <= prev * 3, "seed {seed}: {d} ms more than 3x the previous {prev} ms");
                prev = d;
            }
        }
    }

    #[test]
    fn delays_grow_towards_the_cap() {
        // Averaged over seeds, the 12th delay is far above the initial one and near the cap's range.
        let mean_12th: f64 = (0..200)
            .map(|seed| {
                let mut b = backoff(seed);
                (0..12).map(|_| b.next_delay()).last().unwrap().as_millis() as f64
            })
            .sum::<f64>()
            / 200.0;
        assert!(mean_12th > 8_000.0, "mean 12th delay {mean_12th} ms did not grow");
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
        assert!(b.prev_ms.is_some(), "a 2 s session must not reset the backoff");
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
