//! Media time: presentation timestamps with their clock rate, and wall-clock time.
//!
//! Rules and trackers run on media time ([`Pts`]), never on the server clock, so a replayed file
//! gives the same results as watching it live. Wall time is carried beside it as Unix milliseconds.
//!
//! # Layout (design: `docs/design/time.md`)
//! - this file: [`Pts`], [`RtpUnwrapper`], the process clock ([`now_unix_ms`], [`now_unix_ns`]).
//! - [`timeline`]: one continuous PTS timeline per camera across sessions, jumps and losses.
//! - [`fit`]: the robust lower-envelope line fit that the clock maps share.
//! - [`clock_map`]: media time → wall time, from RTCP sender reports or smoothed arrival times.
//! - [`stream`]: a camera's timeline and clock map together, as the camera actor uses them.
//! - [`offset`]: the offset between this node's clock and a peer's (NTP-style exchanges).
//! - [`peers`]: the offsets to every configured peer, shared by their pollers and their users.
//! - [`backoff`]: retry delays (exponential with jitter, capped), for camera reconnects and webhook retries.
//!
//! A leaf of the module graph: it uses nothing else of the crate. An event's link into a MediaMTX recording,
//! which uses these offsets, is the store's (`store::playback`).

pub mod backoff;
pub mod clock_map;
pub mod fit;
pub mod offset;
pub mod peers;
#[cfg(test)]
mod sim;
pub mod stream;
pub mod timeline;

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// A presentation timestamp on a camera's timeline: `ticks` at `clock_rate` Hz (90 000 for video RTP).
/// Ordered as instants (also across clock rates); the difference of two is a [`MediaDuration`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pts {
    ticks: i64,
    clock_rate: u32,
}

impl Pts {
    pub const VIDEO_CLOCK_RATE: u32 = 90_000;

    pub fn new(ticks: i64, clock_rate: u32) -> Self {
        assert!(clock_rate > 0, "a clock rate is never zero");
        Self { ticks, clock_rate }
    }

    /// Ticks of the clock since the start of the timeline.
    pub fn ticks(self) -> i64 {
        self.ticks
    }

    /// Ticks per second.
    pub fn clock_rate(self) -> u32 {
        self.clock_rate
    }

    /// Seconds since the start of the timeline.
    pub fn as_secs_f64(self) -> f64 {
        self.ticks as f64 / f64::from(self.clock_rate)
    }

    /// The same instant in 90 kHz units (rounded towards negative infinity).
    pub fn to_90k(self) -> i64 {
        self.ticks_at(90_000)
    }

    /// The same instant at `clock_rate` Hz, rounded towards negative infinity.
    pub fn ticks_at(self, clock_rate: u32) -> i64 {
        if clock_rate == self.clock_rate {
            return self.ticks;
        }
        (i128::from(self.ticks) * i128::from(clock_rate)).div_euclid(i128::from(self.clock_rate)) as i64
    }
}

impl PartialOrd for Pts {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Pts {
    /// As instants: exact across clock rates; equal instants at different rates are ordered by rate, so
    /// that the order agrees with `Eq`.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        let a = i128::from(self.ticks) * i128::from(other.clock_rate);
        let b = i128::from(other.ticks) * i128::from(self.clock_rate);
        a.cmp(&b).then(self.clock_rate.cmp(&other.clock_rate))
    }
}

impl std::ops::Sub for Pts {
    type Output = MediaDuration;

    /// The media time from `earlier` to `self`: exact on one timeline (one clock rate); across rates
    /// `earlier` is first taken to `self`'s rate.
    fn sub(self, earlier: Pts) -> MediaDuration {
        MediaDuration { ticks: self.ticks - earlier.ticks_at(self.clock_rate), clock_rate: self.clock_rate }
    }
}

/// A span of media time: `ticks` at `clock_rate` Hz (negative when the end is earlier than the start).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaDuration {
    ticks: i64,
    clock_rate: u32,
}

impl MediaDuration {
    pub fn ticks(self) -> i64 {
        self.ticks
    }

    pub fn as_secs_f64(self) -> f64 {
        self.ticks as f64 / f64::from(self.clock_rate)
    }
}

/// Unwraps 32-bit RTP timestamps into a continuous 64-bit timeline.
///
/// Each new timestamp is taken as the nearest 64-bit value to the previous one, so a wrap from
/// `u32::MAX` to 0 moves forward by one tick rather than back by four billion.
#[derive(Clone, Debug, Default)]
pub struct RtpUnwrapper {
    last: Option<i64>,
}

impl RtpUnwrapper {
    /// Forget the previous timestamp: the next one starts a new run (a new RTP session).
    pub fn reset(&mut self) {
        self.last = None;
    }

    pub fn unwrap(&mut self, rtp: u32) -> i64 {
        let next = match self.last {
            None => i64::from(rtp),
            Some(last) => {
                let delta = rtp.wrapping_sub(last as u32) as i32;
                last + i64::from(delta)
            }
        };
        self.last = Some(next);
        next
    }
}

/// A wall-clock instant in Unix milliseconds (UTC): the time every frame, event and recording carries beside
/// its PTS. It serialises as the plain number (`wall_ms` in the API and the store).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct WallTime(i64);

impl WallTime {
    pub const fn from_unix_ms(ms: i64) -> Self {
        Self(ms)
    }

    /// The millisecond holding `ns` (rounded towards the past, also before 1970).
    pub const fn from_unix_ns(ns: i64) -> Self {
        Self(ns.div_euclid(1_000_000))
    }

    pub fn now() -> Self {
        Self(now_unix_ms())
    }

    pub const fn unix_ms(self) -> i64 {
        self.0
    }

    pub const fn unix_ns(self) -> i64 {
        self.0.saturating_mul(1_000_000)
    }

    /// This instant moved by `ms` milliseconds (negative: earlier).
    pub const fn plus_ms(self, ms: i64) -> Self {
        Self(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to this instant (negative when `earlier` is later).
    pub const fn ms_since(self, earlier: WallTime) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl std::fmt::Display for WallTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ms", self.0)
    }
}

impl rusqlite::ToSql for WallTime {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for WallTime {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(Self)
    }
}

/// Current wall-clock time in Unix milliseconds.
pub fn now_unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// Current wall-clock time in Unix nanoseconds (fits an `i64` until the year 2262).
pub fn now_unix_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// Nanoseconds per second, for the `_ns` ↔ seconds conversions of this module.
pub const NS_PER_SEC: f64 = 1e9;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_time_converts_and_subtracts() {
        let t = WallTime::from_unix_ns(1_700_000_000_123_999_999);
        assert_eq!(t.unix_ms(), 1_700_000_000_123);
        assert_eq!(WallTime::from_unix_ns(-1).unix_ms(), -1, "before 1970 rounds towards the past");
        assert_eq!(t.unix_ns(), 1_700_000_000_123_000_000);
        assert_eq!(t.plus_ms(877).ms_since(t), 877);
        assert_eq!(t.ms_since(t.plus_ms(5)), -5);
        assert!(t < t.plus_ms(1));
        assert_eq!(serde_json::to_string(&t).unwrap(), "1700000000123");
        assert_eq!(serde_json::from_str::<WallTime>("42").unwrap(), WallTime::from_unix_ms(42));
    }

    #[test]
    fn pts_order_as_instants_across_clock_rates_and_subtract_exactly() {
        let (a, b) = (Pts::new(90_000, 90_000), Pts::new(1_000, 1_000));
        assert_eq!(a.as_secs_f64(), b.as_secs_f64());
        assert_ne!(a, b, "different rates are different values");
        assert_ne!(a.cmp(&b), std::cmp::Ordering::Equal, "the order agrees with Eq");
        assert!(Pts::new(89_999, 90_000) < b && b < Pts::new(90_001, 90_000));
        let mut v = vec![Pts::new(3, 1), Pts::new(-90_000, 90_000), Pts::new(45_000, 90_000)];
        v.sort();
        assert_eq!(v, vec![Pts::new(-90_000, 90_000), Pts::new(45_000, 90_000), Pts::new(3, 1)]);
        // On one timeline the difference is exact in ticks, also far from the origin.
        let far = Pts::new(i64::MAX / 2, 90_000);
        let d = Pts::new(i64::MAX / 2 + 1, 90_000) - far;
        assert_eq!((d.ticks(), d.as_secs_f64()), (1, 1.0 / 90_000.0));
        assert_eq!((far - Pts::new(i64::MAX / 2 + 3, 90_000)).ticks(), -3);
        // Across rates the earlier one is taken to the later one's rate.
        assert_eq!((Pts::new(180_000, 90_000) - Pts::new(500, 1_000)).ticks(), 135_000);
    }

    #[test]
    fn unwrap_survives_wraparound() {
        let mut u = RtpUnwrapper::default();
        assert_eq!(u.unwrap(u32::MAX - 1), i64::from(u32::MAX) - 1);
        assert_eq!(u.unwrap(2), i64::from(u32::MAX) + 3);
        assert_eq!(u.unwrap(u32::MAX), i64::from(u32::MAX));
    }

    #[test]
    fn pts_converts_between_rates() {
        let p = Pts::new(1_000, 1_000);
        assert_eq!(p.to_90k(), 90_000);
        assert!((p.as_secs_f64() - 1.0).abs() < 1e-12);
        assert!(((Pts::new(45_000, 90_000) - p).as_secs_f64() + 0.5).abs() < 1e-12);
    }
}
