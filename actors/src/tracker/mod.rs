//! Multi-object tracking: one [`TrackerActor`] per camera running [`ByteTracker`].
//!
//! - [`kalman`]: the ByteTrack/DeepSORT Kalman filter, with predictions over real time steps.
//! - [`assignment`]: optimal linear assignment with a cost threshold.
//! - [`bytetrack`]: the association logic: ByteTrack plus observation-centric additions for low detection
//!   rates ([`ByteTracker`], [`TrackerParams`], [`Coverage`]).
//! - [`mot`]: MOTChallenge files in and out (the `panoptes track` command and the golden test).
//! - [`compare`]: MOTA/IDF1-style agreement between two track sets.
//!
//! The actor is thin: it turns each [`FrameDetections`] into a [`ByteTracker::update_covered`] at the
//! frame's stream time, with the regions detection looked at, and sends the confirmed tracks to the hub as a [`TrackedFrame`]. The tracker resets itself
//! when stream time goes backwards (a looping file, a reconnect) and keeps counting ids, so an id is never
//! reused within a camera.

pub mod assignment;
pub mod bytetrack;
pub mod compare;
pub mod kalman;
pub mod mot;

pub use crate::config::tracker::{Association, ParamsError, TrackerParams};
pub use bytetrack::{ByteTracker, Coverage};

use crate::messages::{CameraId, FrameDetections, Track, TrackedFrame};
use crate::metric_names;
use crate::regions::HintBoard;
use actix::prelude::SendError;
use actix::{Actor, Context, Handler, Recipient};

/// Where tracked frames go, and the counter of those its full mailbox refused.
struct Output {
    recipient: Recipient<TrackedFrame>,
    dropped: metrics::Counter,
}

/// Tracks one camera's objects and forwards them to the hub and the camera's rules.
pub struct TrackerActor {
    camera: CameraId,
    tracker: ByteTracker,
    outputs: Vec<Output>,
    active_tracks: metrics::Gauge,
    /// Where the camera's tracks are expected next, for the camera's region planning.
    hints: Option<HintBoard>,
    /// Stream time of the previous frame, to predict the next one's.
    last_t_sec: Option<f64>,
}

impl TrackerActor {
    /// A tracker sending every tracked frame to each of `outputs`, named (`hub`, `rules`, ...). Bounded: a
    /// frame an output's full mailbox refuses is dropped for that output and counted in
    /// `panoptes_frames_dropped_total{reason="<name>_full"}`.
    pub fn new(
        camera: CameraId,
        params: TrackerParams,
        outputs: Vec<(&'static str, Recipient<TrackedFrame>)>,
    ) -> Result<Self, ParamsError> {
        let active_tracks = metrics::gauge!(metric_names::ACTIVE_TRACKS, "camera" => camera.to_string());
        let outputs = outputs
            .into_iter()
            .map(|(name, recipient)| Output {
                recipient,
                dropped: metrics::counter!(metric_names::FRAMES_DROPPED, "camera" => camera.to_string(), "reason" => format!("{name}_full")),
            })
            .collect();
        Ok(Self { camera, tracker: ByteTracker::new(params)?, outputs, active_tracks, hints: None, last_t_sec: None })
    }

    /// Publish, after every update, where the tracks are expected on the next frame.
    pub fn with_hints(mut self, hints: HintBoard) -> Self {
        self.hints = Some(hints);
        self
    }
}

/// The tracks as the frame shows them: the filter's estimate can run past an edge (an object leaving at
/// speed), so each box is clipped to the frame, and a track wholly outside it is not reported (it is still
/// tracked, and comes back if the object does).
fn within_frame(tracks: Vec<Track>, width: f32, height: f32) -> Vec<Track> {
    tracks
        .into_iter()
        .filter_map(|mut t| {
            t.bbox = t.bbox.clamp(width, height);
            (t.bbox.width() > 0.0 && t.bbox.height() > 0.0).then_some(t)
        })
        .collect()
}

impl Actor for TrackerActor {
    type Context = Context<Self>;
}

impl Handler<FrameDetections> for TrackerActor {
    type Result = ();

    fn handle(&mut self, msg: FrameDetections, _ctx: &mut Context<Self>) {
        let resets = self.tracker.resets();
        // Tracks outside every inferred region were not looked for: they are held, not missed.
        let regions: Option<Vec<crate::geometry::BBox>> =
            msg.coverage.regions.as_ref().map(|rs| rs.iter().map(|r| r.to_bbox()).collect());
        let (width, height) = (f64::from(msg.meta.width), f64::from(msg.meta.height));
        let coverage =
            regions.as_deref().map_or(Coverage::Full, |regions| Coverage::Regions { regions, width, height });
        let tracks = self.tracker.update_covered(&msg.detections, msg.meta.pts.as_secs_f64(), coverage);
        let tracks = within_frame(tracks, msg.meta.width as f32, msg.meta.height as f32);
        if self.tracker.resets() != resets {
            tracing::info!(camera = %self.camera, pts = ?msg.meta.pts, "stream time went backwards: tracks reset, ids continue");
        }
        self.active_tracks.set(tracks.len() as f64);
        let t = msg.meta.pts.as_secs_f64();
        if let Some(board) = &self.hints {
            // The next frame comes about one frame interval later (bounded: after a long gap, predict 1 s).
            let step = self.last_t_sec.map_or(0.2, |last| (t - last).clamp(0.0, 1.0));
            board.publish(&self.camera, self.tracker.hints(t + step));
        }
        self.last_t_sec = Some(t);
        let frame = TrackedFrame {
            meta: msg.meta,
            tracks,
            coverage: msg.coverage,
            labels: msg.labels,
            input: msg.input,
            full: msg.full,
        };
        for out in &self.outputs {
            match out.recipient.try_send(frame.clone()) {
                Ok(()) | Err(SendError::Closed(_)) => {}
                Err(SendError::Full(_)) => out.dropped.increment(1),
            }
        }
    }
}

impl Handler<crate::messages::Flush> for TrackerActor {
    type Result = ();

    /// Every frame sent before has been tracked and forwarded.
    fn handle(&mut self, _msg: crate::messages::Flush, _ctx: &mut Context<Self>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;
    use crate::messages::{Detection, FrameMeta};
    use crate::time::Pts;
    use actix::Message;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    /// Stands in for the hub: keeps every frame it is sent.
    #[derive(Default)]
    struct Hub(Vec<TrackedFrame>);
    impl Actor for Hub {
        type Context = Context<Self>;
    }
    impl Handler<TrackedFrame> for Hub {
        type Result = ();
        fn handle(&mut self, msg: TrackedFrame, _ctx: &mut Context<Self>) {
            self.0.push(msg);
        }
    }
    #[derive(Message)]
    #[rtype(result = "Vec<TrackedFrame>")]
    struct Take;
    impl Handler<Take> for Hub {
        type Result = Vec<TrackedFrame>;
        fn handle(&mut self, _msg: Take, _ctx: &mut Context<Self>) -> Vec<TrackedFrame> {
            std::mem::take(&mut self.0)
        }
    }

    /// A recorder holding one gauge value, to observe `ACTIVE_TRACKS`, and one counter (every counter's
    /// increments together), to observe drops.
    #[derive(Default)]
    struct GaugeRecorder(Arc<GaugeCell>, Mutex<Vec<String>>, Arc<CounterCell>);
    #[derive(Default)]
    struct CounterCell(AtomicU64);
    impl metrics::CounterFn for CounterCell {
        fn increment(&self, value: u64) {
            self.0.fetch_add(value, Ordering::SeqCst);
        }
        fn absolute(&self, _value: u64) {}
    }
    #[derive(Default)]
    struct GaugeCell(AtomicU64);
    impl metrics::GaugeFn for GaugeCell {
        fn increment(&self, _value: f64) {}
        fn decrement(&self, _value: f64) {}
        fn set(&self, value: f64) {
            self.0.store(value.to_bits(), Ordering::SeqCst);
        }
    }
    impl metrics::Recorder for GaugeRecorder {
        fn describe_counter(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
        fn describe_gauge(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
        fn describe_histogram(&self, _: metrics::KeyName, _: Option<metrics::Unit>, _: metrics::SharedString) {}
        fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Counter {
            self.1.lock().unwrap().push(format!("{key}"));
            metrics::Counter::from_arc(self.2.clone())
        }
        fn register_gauge(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            self.1.lock().unwrap().push(format!("{key}"));
            metrics::Gauge::from_arc(self.0.clone())
        }
        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Histogram {
            metrics::Histogram::noop()
        }
    }

    fn frame(camera: &CameraId, seq: u64, t_ms: i64, xs: &[f32]) -> FrameDetections {
        let meta = FrameMeta {
            camera: camera.clone(),
            seq,
            pts: Pts::new(t_ms * 90, Pts::VIDEO_CLOCK_RATE),
            wall_ms: crate::time::WallTime::from_unix_ms(0),
            width: 1280,
            height: 720,
            decoded_at: Instant::now(),
        };
        let detections = xs
            .iter()
            .map(|&x| Detection { class_id: 2, score: 0.9, bbox: BBox { x1: x, y1: 100.0, x2: x + 50.0, y2: 220.0 } })
            .collect();
        FrameDetections {
            meta,
            detections,
            coverage: Default::default(),
            labels: Arc::from(vec!["person".to_string()]),
            input: None,
            full: None,
        }
    }

    fn ids(tracks: &[Track]) -> Vec<u64> {
        let mut ids: Vec<u64> = tracks.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        ids
    }

    #[test]
    fn forwards_tracks_sets_the_gauge_and_never_reuses_ids_after_a_loop() {
        let recorder = GaugeRecorder::default();
        let frames = metrics::with_local_recorder(&recorder, || {
            actix::System::new().block_on(async {
                let camera: CameraId = "cam-1".parse().unwrap();
                let hub = Hub::default().start();
                let tracker =
                    TrackerActor::new(camera.clone(), TrackerParams::default(), vec![("hub", hub.clone().recipient())])
                        .unwrap()
                        .start();
                // Two objects walking right at 5 fps, then the file loops (PTS back to 0).
                for (seq, t_ms) in [0i64, 200, 400, 600].iter().enumerate() {
                    let dx = *t_ms as f32 / 20.0;
                    tracker.send(frame(&camera, seq as u64, *t_ms, &[100.0 + dx, 600.0 + dx])).await.unwrap();
                }
                tracker.send(frame(&camera, 4, 0, &[100.0, 600.0])).await.unwrap();
                tracker.send(frame(&camera, 5, 200, &[110.0, 610.0])).await.unwrap();
                hub.send(Take).await.unwrap()
            })
        });
        assert_eq!(frames.len(), 6);
        assert_eq!(&*frames[0].meta.camera, "cam-1");
        assert_eq!(&*frames[0].labels[0], "person");
        for f in &frames[..4] {
            assert_eq!(ids(&f.tracks), vec![1, 2], "frame {}", f.meta.seq);
            assert!(f.tracks.iter().all(|t| t.class_id == 2));
        }
        // After the loop: confirmed at once (a fresh start), with new ids.
        assert_eq!(ids(&frames[4].tracks), vec![3, 4]);
        assert_eq!(ids(&frames[5].tracks), vec![3, 4]);
        assert_eq!(f64::from_bits(recorder.0.0.load(Ordering::SeqCst)), 2.0);
        let keys = recorder.1.lock().unwrap().clone();
        assert!(keys.iter().any(|k| k.contains(metric_names::ACTIVE_TRACKS) && k.contains("cam-1")), "{keys:?}");
    }

    /// An output that takes a second per frame and holds one frame at most.
    struct Stuck;
    impl Actor for Stuck {
        type Context = Context<Self>;
        fn started(&mut self, ctx: &mut Context<Self>) {
            ctx.set_mailbox_capacity(1);
        }
    }
    #[derive(actix::Message)]
    #[rtype(result = "()")]
    struct Ready;
    impl Handler<Ready> for Stuck {
        type Result = ();
        fn handle(&mut self, _msg: Ready, _ctx: &mut Context<Self>) {}
    }
    impl Handler<TrackedFrame> for Stuck {
        type Result = ();
        fn handle(&mut self, _msg: TrackedFrame, _ctx: &mut Context<Self>) {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }

    #[test]
    fn a_slow_output_loses_frames_counted_and_the_others_get_every_one() {
        let recorder = GaugeRecorder::default();
        let frames = metrics::with_local_recorder(&recorder, || {
            actix::System::new().block_on(async {
                let camera: CameraId = "cam-2".parse().unwrap();
                let hub = Hub::default().start();
                let stuck = Stuck::start_in_arbiter(&actix::Arbiter::new().handle(), |_| Stuck);
                stuck.send(Ready).await.unwrap(); // started: its mailbox holds one frame from now on
                let outputs = vec![("hub", hub.clone().recipient()), ("stuck", stuck.recipient())];
                let tracker = TrackerActor::new(camera.clone(), TrackerParams::default(), outputs).unwrap().start();
                for seq in 0..6u64 {
                    tracker.send(frame(&camera, seq, seq as i64 * 200, &[100.0])).await.unwrap();
                }
                hub.send(Take).await.unwrap()
            })
        });
        assert_eq!(frames.len(), 6, "the hub is not held back by the slow output");
        let dropped = recorder.2.0.load(Ordering::SeqCst);
        assert!((3..=5).contains(&dropped), "frames the slow output refused: {dropped}");
        let keys = recorder.1.lock().unwrap().clone();
        assert!(keys.iter().any(|k| k.contains(metric_names::FRAMES_DROPPED) && k.contains("stuck_full")), "{keys:?}");
    }

    #[test]
    fn boxes_stay_inside_the_frame_when_an_object_leaves_it() {
        // The filter's velocity carries a box past the left edge the detections stop at (clamped there).
        let frames = actix::System::new().block_on(async {
            let camera: CameraId = "cam-3".parse().unwrap();
            let hub = Hub::default().start();
            let tracker =
                TrackerActor::new(camera.clone(), TrackerParams::default(), vec![("hub", hub.clone().recipient())])
                    .unwrap()
                    .start();
            for (seq, x) in [100.0f32, 80.0, 60.0, 40.0, 20.0, 0.0, 0.0].into_iter().enumerate() {
                tracker.send(frame(&camera, seq as u64, seq as i64 * 200, &[x])).await.unwrap();
            }
            hub.send(Take).await.unwrap()
        });
        let boxes: Vec<_> = frames.iter().flat_map(|f| f.tracks.iter().map(|t| t.bbox)).collect();
        assert!(boxes.len() >= 5, "{boxes:?}");
        for b in &boxes {
            assert!(b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= 1280.0 && b.y2 <= 720.0, "{b:?}");
            assert!(b.x2 > b.x1 && b.y2 > b.y1, "an empty box is not reported: {b:?}");
        }
    }
}
