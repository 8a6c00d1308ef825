//! The recorder thread of one camera and the [`UnitTap`] its camera session feeds it through.
//!
//! Disk writes and fsyncs never run on the camera's decode loop: the session offers each stamped access
//! unit to a bounded queue ([`TAP_QUEUE`]); when the queue is full the unit is dropped (counted in
//! `panoptes_recording_dropped_total`) and so is every unit up to the next key frame, so what the thread
//! sees always decodes. The thread builds the live feed's fragments, runs the [`Recorder`] when the camera
//! is recorded, and notes the camera's timeline end in the index every few seconds (and at the end), so a
//! restarted process continues the timeline forward. The thread ends when the camera drops its tap.

use super::TrackState;
use super::fragmenter::Fragmenter;
use super::live::{LiveFeed, LiveInit};
use super::recorder::Recorder;
use crate::media::AccessUnit;
use crate::messages::CameraId;
use crate::metric_names as m;
use crate::store::recordings::RecordingIndex;
use crate::time::Pts;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Access units waiting for the recorder thread before new ones are dropped (about 10 s at 25 fps).
pub const TAP_QUEUE: usize = 256;
/// How often (timeline seconds) the camera's timeline end is noted in the index.
pub const NOTE_TIMELINE_EVERY_SEC: f64 = 5.0;

/// The camera session's end of the recorder queue.
pub struct UnitTap {
    tx: SyncSender<AccessUnit>,
    skipping: AtomicBool,
    dropped: metrics::Counter,
}

impl UnitTap {
    /// Hand a stamped unit to the recorder thread without waiting.
    pub fn offer(&self, au: &AccessUnit) {
        if self.skipping.load(Ordering::Relaxed) && !super::is_random_access(au) {
            self.dropped.increment(1);
            return;
        }
        match self.tx.try_send(au.clone()) {
            Ok(()) => self.skipping.store(false, Ordering::Relaxed),
            Err(TrySendError::Full(_)) => {
                self.skipping.store(true, Ordering::Relaxed);
                self.dropped.increment(1);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

/// Start the recorder thread of `camera` (`recorder`: `None` when the camera is not recorded).
pub fn spawn(
    camera: CameraId,
    recorder: Option<Recorder>,
    feed: LiveFeed,
    index: Arc<RecordingIndex>,
) -> std::io::Result<(UnitTap, JoinHandle<()>)> {
    let (tap, rx) = UnitTap::bounded(&camera, TAP_QUEUE);
    let name = format!("record-{camera}");
    let handle = std::thread::Builder::new().name(name).spawn(move || run(camera, rx, recorder, feed, index))?;
    Ok((tap, handle))
}

impl UnitTap {
    /// A tap holding at most `capacity` units, and the queue's other end.
    pub fn bounded(camera: &CameraId, capacity: usize) -> (Self, Receiver<AccessUnit>) {
        Self::counted(capacity, metrics::counter!(m::RECORDING_DROPPED, "camera" => camera.to_string()))
    }

    /// A tap holding at most `capacity` units whose drops count on `dropped`.
    pub fn counted(capacity: usize, dropped: metrics::Counter) -> (Self, Receiver<AccessUnit>) {
        let (tx, rx) = sync_channel(capacity);
        (Self { tx, skipping: AtomicBool::new(false), dropped }, rx)
    }
}

fn run(
    camera: CameraId,
    rx: Receiver<AccessUnit>,
    mut recorder: Option<Recorder>,
    feed: LiveFeed,
    index: Arc<RecordingIndex>,
) {
    let skipped = metrics::counter!(m::LIVE_SKIPPED, "camera" => camera.to_string());
    let mut track = TrackState::default();
    let mut live: Option<Fragmenter> = None;
    let mut noted: Option<Pts> = None;
    let mut last: Option<Pts> = None;
    let note = |pts: Pts| {
        if let Err(e) = index.note_timeline_end(&camera, pts) {
            tracing::warn!(camera = %camera, error = %e, "cannot note the camera's timeline end");
        }
    };
    while let Ok(au) = rx.recv() {
        if track.changed(&au) {
            live = match track.set(&camera, &au) {
                Ok(rate) => {
                    let t = track.current().expect("just set");
                    feed.set_init(LiveInit { codec: t.codec.clone(), timescale: rate, segment: t.init.to_vec() });
                    Some(Fragmenter::new(rate, 0))
                }
                Err(e) => {
                    tracing::warn!(camera = %camera, error = %e, "no live video for this stream; {}", e.hint());
                    None
                }
            };
        }
        if let (Some(f), Some(t)) = (&mut live, track.current())
            && let Some(b) = f.push(au.pts.ticks_at(f.clock_rate()), au.wall_ms, t.is_key(&au), &au.data)
        {
            skipped.increment(feed.publish(Arc::new(b.bytes), b.starts_with_key) as u64);
        }
        if let Some(r) = &mut recorder {
            r.push(&au);
        }
        last = Some(au.pts);
        if noted.is_none_or(|n| (au.pts - n).as_secs_f64() >= NOTE_TIMELINE_EVERY_SEC) {
            note(au.pts);
            noted = Some(au.pts);
        }
    }
    if let Some(r) = &mut recorder
        && let Err(e) = r.finish()
    {
        tracing::error!(camera = %camera, error = %e, "closing the last segment failed; {}", e.hint());
    }
    if let Some(pts) = last {
        note(pts);
    }
    tracing::debug!(camera = %camera, "recorder thread ended");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{StreamParams, VideoCodec};

    #[test]
    fn a_full_queue_drops_up_to_the_next_key_frame() {
        let params = Arc::new(StreamParams { codec: VideoCodec::H264, extradata: Vec::new(), width: 0, height: 0 });
        let unit = |ticks: i64, key: bool| AccessUnit {
            params: params.clone(),
            key,
            pts: Pts::new(ticks, 90_000),
            wall_ms: crate::time::WallTime::from_unix_ms(0),
            data: vec![ticks as u8],
        };
        let (tap, rx) = UnitTap::bounded(&"gate".parse().unwrap(), 2);
        tap.offer(&unit(0, true));
        tap.offer(&unit(1, false));
        tap.offer(&unit(2, false)); // full: dropped, and the rest of the group with it
        let got: Vec<i64> = rx.try_iter().map(|u| u.pts.ticks()).collect();
        assert_eq!(got, [0, 1]);
        tap.offer(&unit(3, false)); // room again, but it depends on the dropped picture
        tap.offer(&unit(4, true));
        tap.offer(&unit(5, false));
        let got: Vec<i64> = rx.try_iter().map(|u| u.pts.ticks()).collect();
        assert_eq!(got, [4, 5]);
    }
}
