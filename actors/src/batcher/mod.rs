//! The batcher actor: one per device. Frames from every camera placed on the device go into a
//! [`BatchQueue`]; whenever the inference worker is free and a batch is ready (full, or its oldest
//! frame waited `max_wait_ms`), the batch goes to the worker in one call. Results are filtered by
//! each camera's classes and routed to that camera's tracker.
//!
//! Backpressure: one batch in flight; while it runs, newer frames replace older ones per camera
//! (latest frame wins), so the queue never holds more than one frame per camera. Every drop is
//! counted in `panoptes_frames_dropped_total`.
//!
//! The batcher knows nothing of the model: the pipeline runs one per (device, model) — the primary
//! detector, and where cameras use them the plate detector and the fire/smoke model. Crops
//! ([`SubmitCrop`]) wait in lanes of their own (one per tracked vehicle), so the crops of one frame
//! batch together instead of superseding each other; their number is bounded by the sender.

mod queue;

pub use queue::BatchQueue;

use crate::infer::worker::{BatchResult, InferWorker};
use crate::messages::{CameraId, Coverage, FrameDetections, SubmitCrop, SubmitFrame};
use crate::metric_names as m;
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where one camera's detections go.
#[derive(Clone)]
pub struct Route {
    pub tracker: Recipient<FrameDetections>,
    /// Class ids to keep; `None` keeps all.
    pub classes: Option<Arc<HashSet<u32>>>,
}

/// allocator → batcher: start accepting frames of a camera and route its results.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterCamera {
    pub camera: CameraId,
    pub route: Route,
}

/// allocator → batcher: stop accepting a camera's frames (it moved or was removed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct UnregisterCamera(pub CameraId);

/// Ask for the current queue depth and whether a batch is in flight.
#[derive(Message)]
#[rtype(result = "BatcherStats")]
pub struct GetStats;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct BatcherStats {
    pub device: String,
    pub queue_depth: usize,
    pub in_flight: bool,
    pub cameras: usize,
    pub batches: u64,
    pub frames_inferred: u64,
    /// Model inputs inferred since start: whole frames and regions.
    pub inputs_inferred: u64,
    /// Seconds spent in inference calls since start.
    pub infer_secs: f64,
}

/// Lane of whole frames ([`SubmitFrame`]); crops use their own lane numbers.
const FRAME_LANE: u64 = u64::MAX;

pub struct BatcherActor {
    worker: InferWorker,
    queue: BatchQueue<(CameraId, u64), crate::messages::Frame>,
    routes: HashMap<CameraId, Route>,
    in_flight: bool,
    timer: Option<SpawnHandle>,
    stats: BatcherStats,
}

impl BatcherActor {
    pub fn new(worker: InferWorker, max_batch: usize, max_wait: Duration) -> Self {
        let stats = BatcherStats { device: worker.device().to_string(), ..Default::default() };
        Self {
            worker,
            queue: BatchQueue::new(max_batch, max_wait),
            routes: HashMap::new(),
            in_flight: false,
            timer: None,
            stats,
        }
    }

    fn device(&self) -> &str {
        &self.stats.device
    }

    fn record_depth(&self) {
        metrics::gauge!(m::QUEUE_DEPTH, "device" => self.device().to_string()).set(self.queue.len() as f64);
    }

    /// Dispatch a batch if the worker is free and one is ready; otherwise make sure a timer will wake
    /// us at the queue's deadline.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.queue.is_empty() {
            return;
        }
        let now = Instant::now();
        if !self.queue.is_ready(now) {
            if self.timer.is_none()
                && let Some(deadline) = self.queue.deadline()
            {
                let handle = ctx.run_later(deadline.saturating_duration_since(now), |act, ctx| {
                    act.timer = None;
                    act.pump(ctx);
                });
                self.timer = Some(handle);
            }
            return;
        }
        if let Some(handle) = self.timer.take() {
            ctx.cancel_future(handle);
        }
        let frames: Vec<_> = self.queue.take_batch().into_iter().map(|(_, f)| f).collect();
        self.record_depth();
        self.in_flight = true;
        let device = self.device().to_string();
        metrics::histogram!(m::BATCH_SIZE, "device" => device).record(frames.len() as f64);
        let inputs: usize = frames.iter().map(|f| f.regions.as_ref().map_or(1, Vec::len)).sum();
        metrics::histogram!(m::BATCH_INPUTS, "device" => self.device().to_string()).record(inputs as f64);
        ctx.spawn(self.worker.infer(frames).into_actor(self).map(|result, act, ctx| {
            act.in_flight = false;
            match result {
                Ok(batch) => act.deliver(batch),
                Err(e) => tracing::error!(device = act.device(), error = %e, "inference call failed; batch dropped"),
            }
            act.pump(ctx);
        }));
    }

    fn deliver(&mut self, batch: BatchResult) {
        let device = self.device().to_string();
        metrics::histogram!(m::INFERENCE_SECONDS, "device" => device.clone()).record(batch.elapsed.as_secs_f64());
        self.stats.batches += 1;
        self.stats.inputs_inferred += batch.inputs as u64;
        self.stats.infer_secs += batch.elapsed.as_secs_f64();
        let labels = self.worker.labels();
        for (frame, mut detections) in batch.frames.into_iter().zip(batch.detections) {
            let camera = frame.meta.camera.clone();
            metrics::counter!(m::FRAMES_INFERRED, "camera" => camera.to_string(), "device" => device.clone())
                .increment(1);
            self.stats.frames_inferred += 1;
            // The camera may have moved or been removed while its frame was being inferred.
            let Some(route) = self.routes.get(&camera) else { continue };
            if let Some(keep) = &route.classes {
                detections.retain(|d| keep.contains(&d.class_id));
            }
            let msg = FrameDetections {
                meta: frame.meta,
                detections,
                coverage: Coverage {
                    regions: frame.regions.map(|rs| rs.iter().map(|r| r.rect).collect()),
                    motion: frame.motion,
                },
                labels: labels.clone(),
                input: Some(frame.input),
                full: frame.full,
            };
            if route.tracker.try_send(msg).is_err() {
                metrics::counter!(m::FRAMES_DROPPED, "camera" => camera.to_string(), "reason" => "tracker_full")
                    .increment(1);
            }
        }
    }
}

impl Actor for BatcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Frames are small messages handled in microseconds; the real bound is the queue (one per camera).
        ctx.set_mailbox_capacity(1024);
    }
}

impl Handler<SubmitFrame> for BatcherActor {
    type Result = ();

    fn handle(&mut self, SubmitFrame(frame): SubmitFrame, ctx: &mut Context<Self>) {
        self.admit(frame, FRAME_LANE, ctx);
    }
}

impl Handler<SubmitCrop> for BatcherActor {
    type Result = ();

    fn handle(&mut self, msg: SubmitCrop, ctx: &mut Context<Self>) {
        self.admit(msg.frame, msg.lane, ctx);
    }
}

impl BatcherActor {
    /// Queue a frame in its camera's lane (latest wins), or drop it when the camera is not registered.
    fn admit(&mut self, frame: crate::messages::Frame, lane: u64, ctx: &mut Context<Self>) {
        let camera = frame.meta.camera.clone();
        let Some(route) = self.routes.get(&camera) else {
            metrics::counter!(m::FRAMES_DROPPED, "camera" => camera.to_string(), "reason" => "unplaced").increment(1);
            return;
        };
        if frame.regions.as_ref().is_some_and(Vec::is_empty) {
            // Nothing to infer (a still scene): straight to the tracker, which keeps its tracks' state.
            let msg = FrameDetections {
                meta: frame.meta,
                detections: Vec::new(),
                coverage: Coverage { regions: Some(Vec::new()), motion: frame.motion },
                labels: self.worker.labels(),
                input: Some(frame.input),
                full: frame.full,
            };
            if route.tracker.try_send(msg).is_err() {
                metrics::counter!(m::FRAMES_DROPPED, "camera" => camera.to_string(), "reason" => "tracker_full")
                    .increment(1);
            }
            return;
        }
        if self.queue.push((camera.clone(), lane), frame, Instant::now()).is_some() {
            metrics::counter!(m::FRAMES_DROPPED, "camera" => camera.to_string(), "reason" => "superseded").increment(1);
        }
        self.record_depth();
        self.pump(ctx);
    }
}

impl Handler<RegisterCamera> for BatcherActor {
    type Result = ();

    fn handle(&mut self, msg: RegisterCamera, _ctx: &mut Context<Self>) {
        self.routes.insert(msg.camera, msg.route);
        self.stats.cameras = self.routes.len();
    }
}

impl Handler<UnregisterCamera> for BatcherActor {
    type Result = ();

    fn handle(&mut self, UnregisterCamera(camera): UnregisterCamera, _ctx: &mut Context<Self>) {
        self.routes.remove(&camera);
        self.queue.retain(|(c, _)| *c != camera);
        self.stats.cameras = self.routes.len();
        self.record_depth();
    }
}

impl Handler<GetStats> for BatcherActor {
    type Result = MessageResult<GetStats>;

    fn handle(&mut self, _: GetStats, _ctx: &mut Context<Self>) -> Self::Result {
        let mut stats = self.stats.clone();
        stats.queue_depth = self.queue.len();
        stats.in_flight = self.in_flight;
        MessageResult(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{BBox, Letterbox, Rect};
    use crate::infer::{Detector, InferError};
    use crate::messages::{Detection, Frame, FrameMeta, ModelInput, RegionInput};
    use crate::time::Pts;
    use std::sync::Mutex;

    /// Records each call's batch and answers one person (class 0) and one car (class 1) per frame.
    struct FakeDetector {
        calls: Arc<Mutex<Vec<Vec<f32>>>>,
        delay: Duration,
    }

    impl Detector for FakeDetector {
        fn labels(&self) -> Arc<[String]> {
            vec!["person".to_string(), "car".to_string()].into()
        }
        fn input_size(&self) -> (u32, u32) {
            (4, 4)
        }
        fn detect(&mut self, inputs: &[&ModelInput]) -> Result<Vec<Vec<Detection>>, InferError> {
            std::thread::sleep(self.delay);
            self.calls.lock().unwrap().push(inputs.iter().map(|i| i.chw[0]).collect());
            let bbox = BBox { x1: 0.0, y1: 0.0, x2: 1.0, y2: 1.0 };
            Ok(inputs
                .iter()
                .map(|_| vec![Detection { class_id: 0, score: 0.9, bbox }, Detection { class_id: 1, score: 0.8, bbox }])
                .collect())
        }
    }

    #[derive(Default)]
    struct Collector(Arc<Mutex<Vec<FrameDetections>>>);
    impl Actor for Collector {
        type Context = Context<Self>;
    }
    impl Handler<FrameDetections> for Collector {
        type Result = ();
        fn handle(&mut self, msg: FrameDetections, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(msg);
        }
    }

    /// A frame whose input carries `marker` in its first value, so tests can tell frames apart.
    fn frame(camera: &str, seq: u64, marker: f32) -> SubmitFrame {
        let lb = Letterbox::new(4, 4, 4, 4);
        SubmitFrame(Frame {
            meta: FrameMeta {
                camera: camera.parse().unwrap(),
                seq,
                pts: Pts::new(seq as i64 * 9000, 90_000),
                wall_ms: crate::time::WallTime::from_unix_ms(0),
                width: 4,
                height: 4,
                decoded_at: Instant::now(),
            },
            input: Arc::new(ModelInput { letterbox: lb, chw: vec![marker; 48] }),
            regions: None,
            motion: Vec::new(),
            full: None,
        })
    }

    async fn setup(
        cameras: &[(&str, Option<u32>)],
        delay: Duration,
    ) -> (Addr<BatcherActor>, Arc<Mutex<Vec<Vec<f32>>>>, Arc<Mutex<Vec<FrameDetections>>>) {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let worker = InferWorker::spawn("test", Box::new(FakeDetector { calls: calls.clone(), delay }));
        let batcher = BatcherActor::new(worker, 4, Duration::from_millis(20)).start();
        let out = Arc::new(Mutex::new(Vec::new()));
        let collector = Collector(out.clone()).start();
        for (cam, class) in cameras {
            let classes = class.map(|c| Arc::new(HashSet::from([c])));
            let route = Route { tracker: collector.clone().recipient(), classes };
            batcher.send(RegisterCamera { camera: cam.parse().unwrap(), route }).await.unwrap();
        }
        (batcher, calls, out)
    }

    async fn wait_for(out: &Arc<Mutex<Vec<FrameDetections>>>, n: usize) {
        for _ in 0..200 {
            if out.lock().unwrap().len() >= n {
                return;
            }
            actix::clock::sleep(Duration::from_millis(10)).await;
        }
        panic!("only {} of {n} results arrived", out.lock().unwrap().len());
    }

    #[actix::test]
    async fn frames_of_several_cameras_share_one_call_and_classes_are_filtered() {
        let (batcher, calls, out) = setup(&[("a", None), ("b", Some(1)), ("c", None)], Duration::ZERO).await;
        for (i, cam) in ["a", "b", "c"].into_iter().enumerate() {
            batcher.send(frame(cam, 0, i as f32)).await.unwrap();
        }
        wait_for(&out, 3).await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0.0, 1.0, 2.0]], "one call carrying all three frames");
        let out = out.lock().unwrap();
        let b = out.iter().find(|d| &*d.meta.camera == "b").unwrap();
        assert_eq!(b.detections.iter().map(|d| d.class_id).collect::<Vec<_>>(), vec![1], "camera b keeps cars only");
        let a = out.iter().find(|d| &*d.meta.camera == "a").unwrap();
        assert_eq!(a.detections.len(), 2);
        assert_eq!(&*a.labels, &["person".to_string(), "car".to_string()]);
    }

    #[actix::test]
    async fn while_a_batch_runs_the_latest_frame_of_each_camera_wins() {
        let (batcher, calls, out) = setup(&[("a", None), ("b", None)], Duration::from_millis(500)).await;
        batcher.send(frame("a", 0, 0.0)).await.unwrap();
        for _ in 0..100 {
            if batcher.send(GetStats).await.unwrap().in_flight {
                break;
            }
            actix::clock::sleep(Duration::from_millis(5)).await;
        }
        for seq in 1..=5 {
            batcher.send(frame("a", seq, seq as f32)).await.unwrap();
        }
        batcher.send(frame("b", 0, 100.0)).await.unwrap();
        let stats = batcher.send(GetStats).await.unwrap();
        assert!(stats.in_flight);
        assert_eq!(stats.queue_depth, 2, "one frame per camera waits, whatever arrived");
        wait_for(&out, 3).await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0.0], vec![5.0, 100.0]]);
    }

    #[actix::test]
    async fn crops_in_separate_lanes_batch_together_and_a_lane_keeps_its_latest() {
        let (batcher, calls, out) = setup(&[("a", None)], Duration::from_millis(500)).await;
        // Occupy the worker so the crops below queue up behind it.
        batcher.send(frame("a", 0, 0.0)).await.unwrap();
        for _ in 0..100 {
            if batcher.send(GetStats).await.unwrap().in_flight {
                break;
            }
            actix::clock::sleep(Duration::from_millis(5)).await;
        }
        for (lane, marker) in [(1, 1.0), (2, 2.0), (1, 3.0)] {
            let SubmitFrame(f) = frame("a", 1, marker);
            batcher.send(SubmitCrop { frame: f, lane }).await.unwrap();
        }
        assert_eq!(batcher.send(GetStats).await.unwrap().queue_depth, 2, "two lanes wait; lane 1 kept its latest");
        wait_for(&out, 3).await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![0.0], vec![3.0, 2.0]]);
        batcher.send(UnregisterCamera("a".parse().unwrap())).await.unwrap();
        assert_eq!(batcher.send(GetStats).await.unwrap().queue_depth, 0);
    }

    /// `frame` inferred in regions: one input per rect, each marked `marker + i`.
    fn in_regions(camera: &str, seq: u64, marker: f32, rects: &[Rect]) -> SubmitFrame {
        let SubmitFrame(mut f) = frame(camera, seq, marker);
        f.meta.width = 1000;
        f.meta.height = 500;
        f.regions = Some(
            rects
                .iter()
                .enumerate()
                .map(|(i, &rect)| RegionInput {
                    rect,
                    input: ModelInput { letterbox: Letterbox::new(4, 4, 4, 4), chw: vec![marker + i as f32; 48] },
                })
                .collect(),
        );
        SubmitFrame(f)
    }

    #[actix::test]
    async fn regions_are_inferred_in_one_call_and_come_back_in_frame_pixels() {
        let (batcher, calls, out) = setup(&[("a", None), ("b", None)], Duration::ZERO).await;
        let rects = [Rect { x: 0, y: 0, w: 4, h: 4 }, Rect { x: 600, y: 100, w: 4, h: 4 }];
        batcher.send(in_regions("a", 0, 10.0, &rects)).await.unwrap();
        wait_for(&out, 1).await;
        assert_eq!(*calls.lock().unwrap(), vec![vec![10.0, 11.0]], "both regions in one call");
        let out = out.lock().unwrap();
        let a = &out[0];
        assert_eq!(a.coverage.regions.as_deref(), Some(&rects[..]));
        // The fake finds a person and a car at (0,0)-(1,1) of each input: moved to each region's place.
        let people: Vec<BBox> = a.detections.iter().filter(|d| d.class_id == 0).map(|d| d.bbox).collect();
        assert_eq!(people.len(), 2, "{:?}", a.detections);
        assert!(people.contains(&BBox { x1: 600.0, y1: 100.0, x2: 601.0, y2: 101.0 }));
        assert!(people.contains(&BBox { x1: 0.0, y1: 0.0, x2: 1.0, y2: 1.0 }));
    }

    #[actix::test]
    async fn a_frame_with_nothing_to_infer_goes_straight_to_the_tracker() {
        let (batcher, calls, out) = setup(&[("a", None)], Duration::ZERO).await;
        batcher.send(in_regions("a", 3, 0.0, &[])).await.unwrap();
        wait_for(&out, 1).await;
        assert!(calls.lock().unwrap().is_empty(), "no inference call");
        let out = out.lock().unwrap();
        assert_eq!((out[0].meta.seq, out[0].detections.len()), (3, 0));
        assert_eq!(out[0].coverage.regions, Some(Vec::new()));
    }

    #[actix::test]
    async fn frames_of_unregistered_cameras_are_dropped() {
        let (batcher, calls, out) = setup(&[("a", None)], Duration::ZERO).await;
        batcher.send(UnregisterCamera("a".parse().unwrap())).await.unwrap();
        batcher.send(frame("a", 0, 0.0)).await.unwrap();
        batcher.send(frame("zzz", 0, 0.0)).await.unwrap();
        actix::clock::sleep(Duration::from_millis(60)).await;
        assert!(calls.lock().unwrap().is_empty());
        assert!(out.lock().unwrap().is_empty());
    }
}
