//! An event's link into a MediaMTX recording (`[cameras.playback]`): MediaMTX's playback server serves
//! `GET /get?path=<path>&start=<RFC3339>&duration=<sec>` from its recorded segments, indexed by the
//! recorder's wall clock.
//!
//! The event's frame time is its wall time on this node (`Event::wall_ms`: from the camera's RTCP sender
//! reports when it sends them, which is how MediaMTX's `useAbsoluteTimestamp` passes the camera's clock on).
//! When the recorder's clock is another machine's, the offset to the Panoptes node on that machine
//! (`playback.peer`, estimated by [`crate::time::peers`]) moves the time onto the recorder's clock; the link
//! carries that offset and its uncertainty.

use crate::config::PlaybackConfig;
use crate::messages::{CameraId, Event};
use crate::time::WallTime;
use crate::time::offset::OffsetEstimate;
use crate::time::peers::PeerClocks;
use dashmap::DashMap;
use serde::Serialize;
use std::sync::Arc;

/// Which cameras are recorded where, and the peers' clocks: adds the playback link to every event of a
/// camera with `[cameras.playback]`. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct PlaybackLinks {
    cameras: Arc<DashMap<CameraId, PlaybackConfig>>,
    pub peers: PeerClocks,
}

impl PlaybackLinks {
    /// Link `camera`'s events to `playback` (or stop linking them: `None`).
    pub fn set_camera(&self, camera: CameraId, playback: Option<PlaybackConfig>) {
        match playback {
            Some(p) => {
                self.cameras.insert(camera, p);
            }
            None => {
                self.cameras.remove(&camera);
            }
        }
    }

    /// Stop linking a removed camera's events.
    pub fn forget(&self, camera: &str) {
        self.cameras.remove(camera);
    }

    /// Put the link into `event.details.playback` if its camera is recorded by MediaMTX, with the peer's
    /// offset as estimated at local time `now_ns`.
    pub fn annotate(&self, event: &mut Event, now_ns: i64) {
        let Some(cfg) = self.cameras.get(event.camera.as_str()) else { return };
        let offset = cfg.peer.as_deref().and_then(|peer| self.peers.estimate(peer, now_ns));
        let link = link(&cfg, event.wall_ms, offset.as_ref());
        if !event.details.is_object() {
            let previous = std::mem::take(&mut event.details);
            event.details = serde_json::json!({});
            if !previous.is_null() {
                event.details["value"] = previous;
            }
        }
        event.details["playback"] = serde_json::to_value(link).unwrap_or_default();
    }
}

/// Where an event's video is on the recorder, as stored in the event's `details.playback`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlaybackLink {
    /// The MediaMTX playback URL of the video around the event.
    pub url: String,
    /// Start of the linked video on the recorder's clock, RFC 3339 (UTC, milliseconds).
    pub start: String,
    pub duration_sec: f64,
    /// Where the event's frame is in the linked video, seconds from `start`.
    pub event_offset_sec: f64,
    /// The `[[peers]]` node whose clock offset was applied.
    pub peer: Option<String>,
    /// Recorder clock minus this node's clock, ms (`None`: no peer, or no exchange with it yet).
    pub peer_offset_ms: Option<f64>,
    /// The true offset is within `peer_offset_ms ± peer_uncertainty_ms`.
    pub peer_uncertainty_ms: Option<f64>,
}

/// The link to the video around a frame shown at `frame_wall_ms` on this node's clock.
pub fn link(cfg: &PlaybackConfig, frame_wall_ms: WallTime, peer_offset: Option<&OffsetEstimate>) -> PlaybackLink {
    let offset_ms = peer_offset.map(|e| e.offset_ns as f64 / 1e6);
    let start_ms = frame_wall_ms.unix_ms() as f64 + offset_ms.unwrap_or(0.0) - cfg.before_sec * 1000.0;
    let start = rfc3339_ms(start_ms.round() as i64);
    let duration = format_sec(cfg.duration_sec);
    let url = match url::Url::parse(&cfg.url) {
        Ok(mut url) => {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.pop_if_empty().push("get");
            }
            url.query_pairs_mut()
                .append_pair("path", &cfg.path)
                .append_pair("start", &start)
                .append_pair("duration", &duration);
            url.to_string()
        }
        // Validated at config load; a link is still better than none.
        Err(_) => format!("{}/get?path={}&start={start}&duration={duration}", cfg.url, cfg.path),
    };
    PlaybackLink {
        url,
        start,
        duration_sec: cfg.duration_sec,
        event_offset_sec: cfg.before_sec,
        peer: cfg.peer.clone(),
        peer_offset_ms: offset_ms,
        peer_uncertainty_ms: peer_offset.map(|e| e.uncertainty_ns as f64 / 1e6),
    }
}

/// Seconds without trailing zeros (`15`, `2.5`).
fn format_sec(sec: f64) -> String {
    let s = format!("{sec:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Unix milliseconds as RFC 3339 in UTC with milliseconds, e.g. `2025-11-25T00:20:00.123Z`.
pub fn rfc3339_ms(unix_ms: i64) -> String {
    let days = unix_ms.div_euclid(86_400_000);
    let ms_of_day = unix_ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, ms) = (ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1000 % 60, ms_of_day % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{ms:03}Z")
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day) (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(peer: Option<&str>) -> PlaybackConfig {
        PlaybackConfig {
            url: "http://mediamtx:9996".into(),
            path: "cams/gate".into(),
            peer: peer.map(Into::into),
            before_sec: 5.0,
            duration_sec: 15.0,
        }
    }

    #[test]
    fn rfc3339_matches_gnu_date() {
        // References from `date -u -d @<seconds> +%Y-%m-%dT%H:%M:%S.%3NZ`.
        assert_eq!(rfc3339_ms(1_764_030_000_123), "2025-11-25T00:20:00.123Z");
        assert_eq!(rfc3339_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-86_400_000), "1969-12-31T00:00:00.000Z");
        assert_eq!(rfc3339_ms(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn the_link_starts_before_the_event_on_the_recorders_clock() {
        let local = link(&cfg(None), crate::time::WallTime::from_unix_ms(1_764_030_005_123), None);
        assert_eq!(local.start, "2025-11-25T00:20:00.123Z");
        assert_eq!(
            local.url,
            "http://mediamtx:9996/get?path=cams%2Fgate&start=2025-11-25T00%3A20%3A00.123Z&duration=15"
        );
        assert_eq!((local.event_offset_sec, local.peer_offset_ms), (5.0, None));

        // The recorder's clock is 2.5 s ahead of ours: the same frame is 2.5 s later on its clock.
        let estimate = OffsetEstimate {
            offset_ns: 2_500_000_000,
            uncertainty_ns: 400_000,
            delay_ns: 800_000,
            consistent: true,
            samples: 8,
            age_ns: 0,
        };
        let remote =
            link(&cfg(Some("recorder")), crate::time::WallTime::from_unix_ms(1_764_030_005_123), Some(&estimate));
        assert_eq!(remote.start, "2025-11-25T00:20:02.623Z");
        assert_eq!((remote.peer_offset_ms, remote.peer_uncertainty_ms), (Some(2500.0), Some(0.4)));
        assert_eq!(remote.peer.as_deref(), Some("recorder"));
    }

    #[test]
    fn only_events_of_linked_cameras_get_a_link_and_details_are_kept() {
        let links = PlaybackLinks::default();
        links.set_camera("gate".parse().unwrap(), Some(cfg(None)));
        let mut event: Event = serde_json::from_value(serde_json::json!({
            "camera": "gate", "rule": "r", "kind": "intrusion", "state": "start", "track_id": 3, "class": "person",
            "confidence": 0.9, "pts": {"ticks": 0, "clock_rate": 90000}, "end_pts": null,
            "wall_ms": 1_764_030_005_123_i64, "bbox": null, "details": {"dwell_sec": 2.0}
        }))
        .unwrap();
        let mut other = event.clone();
        other.camera = "yard".into();
        links.annotate(&mut event, 0);
        links.annotate(&mut other, 0);
        assert_eq!(event.details["dwell_sec"], 2.0);
        assert_eq!(event.details["playback"]["start"], "2025-11-25T00:20:00.123Z");
        assert!(other.details.get("playback").is_none());
        links.set_camera("gate".parse().unwrap(), None);
        let mut again = other.clone();
        again.camera = "gate".into();
        links.annotate(&mut again, 0);
        assert!(again.details.get("playback").is_none());
    }

    #[test]
    fn a_base_url_with_a_path_keeps_it() {
        let mut c = cfg(None);
        c.url = "https://nvr.example/mediamtx/".into();
        c.duration_sec = 2.5;
        let l = link(&c, crate::time::WallTime::from_unix_ms(0), None);
        assert!(l.url.starts_with("https://nvr.example/mediamtx/get?path="), "{}", l.url);
        assert!(l.url.ends_with("&duration=2.5"), "{}", l.url);
    }
}
