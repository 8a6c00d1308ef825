//! Starts and wires the pipeline's actors from a [`Config`]:
//!
//! ```text
//!  camera (own arbiter) ──SubmitFrame──▶ batcher (per device) ──▶ infer worker (own thread)
//!        ▲                                   │
//!        └──Place── allocator                └──FrameDetections──▶ tracker (per camera) ──TrackedFrame──▶ hub
//!                                                                        │
//!                                                rules (per camera) ◀──TrackedFrame──┘
//!                                                        │ NewEvent
//!                                                        ▼
//!  store (intake → writer thread: snapshot, commit) ──Announce──▶ alert hub
//! ```
//!
//! Cameras with plates or fire/smoke on also feed [`crate::analytics`]: the tracker sends their tracked
//! frames (with the full-resolution picture) to a plate actor, and the camera sends frames at the fire rate
//! to the fire batcher of its device; both raise events into the same store.
//!
//! Must be called from inside a running actix `System`.

use crate::alerts::AlertHub;
use crate::allocator::{self, AllocatorActor};
use crate::analytics::{Analytics, AuxLoaders, CameraAnalytics, CameraFeed, RuleBoard};
use crate::batcher::{BatcherActor, Route};
use crate::camera::source::Opener;
use crate::camera::{CameraActor, CameraBuilder, StopCamera};
use crate::config::media_roots::MediaRoots;
use crate::config::{CameraConfig, Config, DetectionConfig, DeviceConfig, Source};
use crate::hub::Hub;
use crate::infer::worker::InferWorker;
use crate::infer::{Detector, InferError};
use crate::messages::{CameraId, Flush, NewEvent};
use crate::record::RecordingHandle;
use crate::record::recorder::Recorder;
use crate::record::worker::UnitTap;
use crate::regions::HintBoard;
use crate::rules::{RuleActor, RulesConfig};
use crate::status::{CameraState, CameraStatus, StatusBoard, StatusMeter};
use crate::store::StoreError;
use crate::store::actor::StoreHandle;
use crate::tracker::{TrackerActor, TrackerParams};
use actix::prelude::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Builds the detector of one device (the real one loads an ONNX model; tests pass fakes).
pub type DetectorFactory<'a> = dyn Fn(&DeviceConfig) -> Result<Box<dyn Detector>, InferError> + 'a;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("device {device}: {source}")]
    Detector { device: String, source: InferError },
    #[error("devices {first} and {other} load models with different classes; every device must run the same model")]
    MixedModels { first: String, other: String },
    #[error("cameras.{camera}.classes: the model has no class `{class}`; known classes: {known}")]
    UnknownClass { camera: CameraId, class: String, known: String },
    #[error("camera {0} already exists; choose another id")]
    DuplicateCamera(CameraId),
    #[error("camera {0} does not exist")]
    NoSuchCamera(String),
    #[error("camera {camera} could not be placed on a device: {source}")]
    Placement { camera: CameraId, source: allocator::AllocError },
    #[error("the allocator has stopped")]
    AllocatorGone,
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Tracker(#[from] crate::tracker::ParamsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("camera {camera}: cannot start its recorder thread: {source}")]
    RecorderThread { camera: CameraId, source: std::io::Error },
}

struct RunningCamera {
    camera: Addr<CameraActor>,
    tracker: Addr<TrackerActor>,
    rules: Addr<RuleActor>,
    arbiter: Arbiter,
    /// The camera's recorder thread (ends when the camera actor drops its tap).
    recorder: Option<std::thread::JoinHandle<()>>,
    analytics: CameraAnalytics,
}

/// A camera that is only ingested here (cluster mode): stamped, recorded and forwarded to the node that
/// analyses it.
struct IngestCamera {
    camera: Addr<CameraActor>,
    arbiter: Arbiter,
    recorder: std::thread::JoinHandle<()>,
}

/// What this node does of a camera. Alone, every camera is [`CameraRole::Whole`]; a cluster may place the
/// two halves of a camera on two nodes.
pub enum CameraRole {
    /// Ingest, record and analyse here.
    Whole,
    /// Ingest and record here, and hand every stamped access unit to `forward` (its inference node).
    Ingest { forward: UnitTap },
    /// Analyse the stamped units `opener`'s sessions bring from the camera's ingest node (which records it).
    Infer { opener: Arc<dyn Opener> },
}

/// The running pipeline: handles to its actors, and the cameras it runs.
pub struct Pipeline {
    pub status: StatusBoard,
    pub hub: Addr<Hub>,
    /// Counts each camera's inferred frames and their rate into its status.
    meter: Addr<StatusMeter>,
    pub allocator: Addr<AllocatorActor>,
    /// Device id → its batcher.
    pub batchers: Vec<(Arc<str>, Addr<BatcherActor>)>,
    /// The event store (`[store]`): its intake, readers and snapshot directory.
    pub store: StoreHandle,
    /// Stored events, announced after they commit (`GET /ws/alerts`).
    pub alerts: Addr<AlertHub>,
    /// Where rules send their events: the store's intake.
    pub events: Recipient<NewEvent>,
    /// Recording index, settings and live feeds (`[recording]`).
    pub recording: RecordingHandle,
    /// The plate and fire/smoke models, their batchers and the OCR worker.
    pub analytics: Analytics,
    /// Each camera's rule actor and its plate/fire status (`GET /api/cameras/{id}/status`).
    pub rule_board: RuleBoard,
    labels: Arc<[String]>,
    tracker: TrackerParams,
    /// `[detection]`, and where each camera's tracker tells its camera where its tracks are expected.
    detection: DetectionConfig,
    hints: HintBoard,
    cameras: HashMap<CameraId, RunningCamera>,
    /// Cameras ingested here and analysed on another node.
    ingesting: HashMap<CameraId, IngestCamera>,
    /// Where file cameras may read (`[server] media_roots`).
    media_roots: MediaRoots,
}

impl Pipeline {
    /// Open the event store, load every device's detector, start the batchers, the allocator and the hubs,
    /// then every enabled camera.
    pub async fn start(config: &Config, factory: &DetectorFactory<'_>) -> Result<Self, PipelineError> {
        Self::start_with_analytics(config, factory, None).await
    }

    /// [`Pipeline::start`] that also loads the plate and fire/smoke models with `loaders` (without, cameras'
    /// `plates` and `fire` sections are reported disabled).
    pub async fn start_with_analytics(
        config: &Config,
        factory: &DetectorFactory<'_>,
        loaders: Option<&AuxLoaders<'_>>,
    ) -> Result<Self, PipelineError> {
        let (store, alerts) = crate::alerts::start_with_store(&config.store)?;
        let events = store.intake.clone().recipient();
        let recording = RecordingHandle::start(&config.store.path, &config.recording)?;
        let status = StatusBoard::default();
        let mut devices = Vec::new();
        let mut batchers = Vec::new();
        let mut labels: Option<(String, Arc<[String]>)> = None;
        for dev in &config.devices {
            let detector = factory(dev).map_err(|source| PipelineError::Detector { device: dev.id.clone(), source })?;
            let dev_labels = detector.labels();
            match &labels {
                Some((first, l)) if *l != dev_labels => {
                    return Err(PipelineError::MixedModels { first: first.clone(), other: dev.id.clone() });
                }
                Some(_) => {}
                None => labels = Some((dev.id.clone(), dev_labels)),
            }
            let worker = InferWorker::spawn(&dev.id, detector);
            let input_size = worker.input_size();
            let batcher = BatcherActor::new(worker, dev.max_batch, Duration::from_millis(dev.max_wait_ms)).start();
            let id: Arc<str> = dev.id.as_str().into();
            devices.push(allocator::Device {
                id: id.clone(),
                batcher: batcher.clone(),
                input_size,
                capacity_fps: dev.capacity_fps,
            });
            batchers.push((id, batcher));
        }
        let labels = labels.map(|(_, l)| l).unwrap_or_else(|| Vec::new().into());
        let allocator = AllocatorActor::new(devices, status.clone(), Duration::from_secs(30)).start();
        let hub = Hub::default().start();
        let meter = StatusMeter::new(status.clone()).start();
        let tracker = TrackerParams::from(&config.tracker);
        let analytics = match loaders {
            Some(l) => Analytics::start(config, l, status.clone()),
            None => Analytics::none(status.clone()),
        };
        let mut pipeline = Self {
            status,
            hub,
            meter,
            allocator,
            batchers,
            store,
            alerts,
            events,
            recording,
            analytics,
            rule_board: RuleBoard::default(),
            labels,
            tracker,
            detection: config.detection.clone(),
            hints: HintBoard::default(),
            cameras: HashMap::new(),
            ingesting: HashMap::new(),
            media_roots: MediaRoots::new(&config.server.media_roots),
        };
        for cam in config.cameras.iter().filter(|c| c.enabled) {
            // One camera that cannot start (a class the model lacks, no device with room) never keeps the
            // others from running: it is reported in its status until it is fixed or removed.
            if let Err(e) = pipeline.add_camera(cam.clone()).await {
                tracing::error!(camera = %cam.id, error = %e, "camera not started; the other cameras run");
                let status =
                    CameraStatus { state: CameraState::Stopped, last_error: Some(e.to_string()), ..Default::default() };
                pipeline.status.insert(cam.id.clone(), status);
            }
        }
        Ok(pipeline)
    }

    /// Class names of the running model.
    pub fn labels(&self) -> &Arc<[String]> {
        &self.labels
    }

    /// The rule actor of a camera (to update its rules or read their status).
    pub fn rules(&self, camera: &str) -> Option<Addr<RuleActor>> {
        self.cameras.get(camera).map(|c| c.rules.clone())
    }

    /// Start a camera: its rules, its tracker, its camera actor on its own arbiter, and its placement on a device.
    pub async fn add_camera(&mut self, cfg: CameraConfig) -> Result<(), PipelineError> {
        self.add_camera_with_opener(cfg, Arc::new(crate::camera::source::RealOpener)).await
    }

    /// Start a camera in `role` (cluster mode: one half of it, or both).
    pub async fn add_camera_as(&mut self, cfg: CameraConfig, role: CameraRole) -> Result<(), PipelineError> {
        match role {
            CameraRole::Whole => self.add_camera(cfg).await,
            CameraRole::Infer { opener } => self.start_camera(cfg, opener, false).await,
            CameraRole::Ingest { forward } => self.add_ingest_camera(cfg, forward),
        }
    }

    /// [`Pipeline::add_camera`] with the camera's sessions opened by `opener` (`panoptes replay` reads its
    /// file unpaced and in step with the detector).
    pub async fn add_camera_with_opener(
        &mut self,
        cfg: CameraConfig,
        opener: Arc<dyn Opener>,
    ) -> Result<(), PipelineError> {
        self.start_camera(cfg, opener, true).await
    }

    /// An ingest-only camera: its session, clock and recorder, each stamped unit also to `forward`; no
    /// decoding, tracking or rules here.
    fn add_ingest_camera(&mut self, cfg: CameraConfig, forward: UnitTap) -> Result<(), PipelineError> {
        cfg.validate()?;
        self.admit_source(&cfg)?;
        let id = cfg.id.clone();
        if self.cameras.contains_key(&id) || self.ingesting.contains_key(&id) {
            return Err(PipelineError::DuplicateCamera(cfg.id));
        }
        self.status.insert(id.clone(), CameraStatus::default());
        let (camera, arbiter, recorder) =
            self.spawn_camera(&cfg, Arc::new(crate::camera::source::RealOpener), CameraFeed::default(), true, |b| {
                b.forward(forward).ingest_only()
            })?;
        tracing::info!(camera = %id, "camera started (ingest only: analysed on another node)");
        self.ingesting.insert(id, IngestCamera { camera, arbiter, recorder });
        Ok(())
    }

    /// A file camera's file must lie under `[server] media_roots`.
    fn admit_source(&self, cfg: &CameraConfig) -> Result<(), PipelineError> {
        match &cfg.source {
            Source::File { path, .. } => Ok(self.media_roots.admit(&cfg.id, path)?),
            Source::Rtsp { .. } => Ok(()),
        }
    }

    /// The directories file cameras may read from (`[server] media_roots`).
    pub fn media_roots(&self) -> &MediaRoots {
        &self.media_roots
    }

    /// Start a camera analysed here; `record`: also record it (false when another node ingests and records it).
    async fn start_camera(
        &mut self,
        cfg: CameraConfig,
        opener: Arc<dyn Opener>,
        record: bool,
    ) -> Result<(), PipelineError> {
        cfg.validate()?;
        self.admit_source(&cfg)?;
        let id = cfg.id.clone();
        if self.cameras.contains_key(&id) || self.ingesting.contains_key(&id) {
            return Err(PipelineError::DuplicateCamera(cfg.id));
        }
        let classes = resolve_classes(&self.labels, &cfg)?;
        self.status.insert(id.clone(), CameraStatus::default());
        self.store.links.set_camera(id.clone(), cfg.playback.clone());
        let rules =
            RuleActor::new(id.clone(), &RulesConfig::of_camera(&cfg), self.labels.clone(), self.events.clone()).start();
        let analytics = self.analytics.attach(&cfg, &self.labels, &self.events).await;
        let mut outputs = vec![
            ("hub", self.hub.clone().recipient()),
            ("rules", rules.clone().recipient()),
            ("status", self.meter.clone().recipient()),
        ];
        if let Some(plates) = &analytics.plates {
            outputs.push(("plates", plates.clone().recipient()));
        }
        let tracker =
            TrackerActor::new(id.clone(), self.tracker.clone(), outputs)?.with_hints(self.hints.clone()).start();
        let spawned = self.spawn_camera(&cfg, opener, analytics.feed.clone(), record, |b| b);
        let (camera, arbiter, recorder) = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                self.analytics.detach(&id);
                self.forget(&id);
                return Err(e);
            }
        };
        self.rule_board.insert(id.clone(), (rules.clone(), analytics.entries.clone()));
        let route = Route { tracker: tracker.clone().recipient(), classes };
        let placed = self
            .allocator
            .send(allocator::AddCamera {
                camera: id.clone(),
                place: camera.clone().recipient(),
                route,
                detect_fps: cfg.detect_fps,
            })
            .await;
        let running = RunningCamera { camera, tracker, rules, arbiter, recorder: Some(recorder), analytics };
        if !matches!(placed, Ok(Ok(_))) {
            self.analytics.detach(&id);
            self.rule_board.remove(&id);
        }
        match placed {
            Ok(Ok(device)) => {
                tracing::info!(camera = %id, device = %device, "camera started");
                self.cameras.insert(id, running);
                Ok(())
            }
            Ok(Err(source)) => {
                stop_camera(running).await;
                self.forget(&id);
                Err(PipelineError::Placement { camera: cfg.id, source })
            }
            Err(_) => {
                stop_camera(running).await;
                self.forget(&id);
                Err(PipelineError::AllocatorGone)
            }
        }
    }

    /// The camera actor with its recorder thread (live feed; segments when recorded), its timeline continuing
    /// where it ended in an earlier run.
    /// (`record`: false when another node records the camera; `with`: anything else the camera is given.)
    fn spawn_camera(
        &self,
        cfg: &CameraConfig,
        opener: Arc<dyn Opener>,
        feed: CameraFeed,
        record: bool,
        with: impl FnOnce(CameraBuilder) -> CameraBuilder,
    ) -> Result<(Addr<CameraActor>, Arbiter, std::thread::JoinHandle<()>), PipelineError> {
        let rec = &self.recording;
        let id = cfg.id.clone();
        let recorder = (record && rec.records(cfg.record))
            .then(|| Recorder::new(id.clone(), &rec.config.dir, rec.config.segment_sec, rec.index.clone()));
        let resume = rec.index.timeline_end(&cfg.id).unwrap_or_else(|e| {
            tracing::warn!(camera = %id, error = %e, "cannot read where the camera's timeline ended; it starts at 0");
            None
        });
        let (tap, thread) = crate::record::worker::spawn(id.clone(), recorder, rec.feed(&cfg.id), rec.index.clone())
            .map_err(|source| PipelineError::RecorderThread { camera: cfg.id.clone(), source })?;
        let builder = CameraActor::builder(cfg.clone(), self.status.clone())
            .opener(opener)
            .feed(feed)
            .tap(tap)
            .detection(self.detection.clone(), self.hints.clone())
            .events(self.events.clone())
            .resuming_after(resume);
        let (camera, arbiter) = with(builder).spawn();
        Ok((camera, arbiter, thread))
    }

    /// Stop a camera and free its decoder and tracker.
    pub async fn remove_camera(&mut self, id: &str) -> Result<(), PipelineError> {
        if let Some((id, ingest)) = self.ingesting.remove_entry(id) {
            stop_ingest(ingest).await;
            self.forget(&id);
            return Ok(());
        }
        let Some((id, running)) = self.cameras.remove_entry(id) else {
            // A camera that failed to start has only its status (with the reason) to remove.
            return match self.status.remove(id) {
                Some(_) => {
                    self.forget(id);
                    Ok(())
                }
                None => Err(PipelineError::NoSuchCamera(id.to_string())),
            };
        };
        self.allocator.do_send(allocator::RemoveCamera(id.clone()));
        self.analytics.detach(&id);
        self.rule_board.remove(&*id);
        stop_camera(running).await;
        self.forget(&id);
        Ok(())
    }

    /// Drop what the pipeline keeps about a camera that is not running.
    fn forget(&self, id: &str) {
        self.status.remove(id);
        self.hints.remove(id);
        self.store.links.forget(id);
    }

    /// Wait until every frame handed to the batchers so far has been inferred, tracked, and every event
    /// raised from it stored and announced. Cameras keep running: stop them first for a full drain.
    pub async fn drain(&self) {
        for (_, batcher) in &self.batchers {
            loop {
                match batcher.send(crate::batcher::GetStats).await {
                    Ok(s) if s.queue_depth == 0 && !s.in_flight => break,
                    Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
                    Err(_) => break,
                }
            }
        }
        for running in self.cameras.values() {
            let _ = running.tracker.send(Flush).await;
        }
        // Trackers have sent their frames on; the rules have them in their mailboxes.
        for running in self.cameras.values() {
            let _ = running.rules.send(Flush).await;
        }
        let analytics: Vec<&CameraAnalytics> = self.cameras.values().map(|r| &r.analytics).collect();
        self.analytics.drain(&analytics).await;
        self.store.flush().await;
    }

    /// Graceful stop (SIGTERM): end every camera's session so no new frames come, let the frames already
    /// handed to the batchers be inferred, tracked and evaluated and their events committed, then free the
    /// cameras.
    pub async fn shutdown(&mut self) {
        for (_, ingest) in self.ingesting.drain() {
            stop_ingest(ingest).await;
        }
        for (id, running) in &self.cameras {
            let stopped = tokio::time::timeout(Duration::from_secs(2), running.camera.send(StopCamera)).await;
            if !matches!(stopped, Ok(Ok(()))) {
                tracing::warn!(camera = %id, "camera did not stop within 2 s; draining anyway");
            }
        }
        self.drain().await;
        for (id, running) in self.cameras.drain() {
            self.analytics.detach(&id);
            self.rule_board.remove(&id);
            release_camera(running).await;
        }
        self.store.flush().await;
    }

    /// Stop every camera (the rest stops with the actix system).
    pub async fn stop(&mut self) {
        for (_, ingest) in self.ingesting.drain() {
            stop_ingest(ingest).await;
        }
        for (id, running) in self.cameras.drain() {
            self.analytics.detach(&id);
            self.rule_board.remove(&id);
            stop_camera(running).await;
        }
    }
}

/// End the camera's session (an RTSP TEARDOWN, the decoder freed), then its arbiter.
async fn stop_camera(running: RunningCamera) {
    let stopped = tokio::time::timeout(Duration::from_secs(2), running.camera.send(StopCamera)).await;
    if !matches!(stopped, Ok(Ok(()))) {
        tracing::warn!("a camera did not stop within 2 s; stopping its thread");
    }
    release_camera(running).await;
}

/// Stop an ingest-only camera: its session, its arbiter, then (once its last segment is closed) its recorder.
async fn stop_ingest(ingest: IngestCamera) {
    let _ = tokio::time::timeout(Duration::from_secs(2), ingest.camera.send(StopCamera)).await;
    ingest.arbiter.stop();
    let joined =
        tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(move || ingest.recorder.join()));
    if joined.await.is_err() {
        tracing::warn!("a recorder thread did not finish its last segment within 5 s");
    }
}

/// Free a stopped camera: its tracker, rules and analytics, its arbiter, and (once its last segment is
/// closed) its recorder thread.
async fn release_camera(running: RunningCamera) {
    drop(running.tracker);
    drop(running.rules);
    drop(running.analytics);
    running.arbiter.stop();
    // The arbiter drops the camera and its tap; the recorder thread then closes its last segment.
    if let Some(thread) = running.recorder {
        let joined = tokio::time::timeout(Duration::from_secs(5), tokio::task::spawn_blocking(move || thread.join()));
        if joined.await.is_err() {
            tracing::warn!("a recorder thread did not finish its last segment within 5 s");
        }
    }
}

/// Map a camera's class names onto the model's class ids (`None`: keep all).
fn resolve_classes(labels: &[String], cfg: &CameraConfig) -> Result<Option<Arc<HashSet<u32>>>, PipelineError> {
    if cfg.classes.is_empty() {
        return Ok(None);
    }
    let mut ids = HashSet::new();
    for class in &cfg.classes {
        let id = labels.iter().position(|l| l == class).ok_or_else(|| PipelineError::UnknownClass {
            camera: cfg.id.clone(),
            class: class.clone(),
            known: labels.join(", "),
        })?;
        ids.insert(id as u32);
    }
    Ok(Some(Arc::new(ids)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_class_names_the_camera_and_lists_known_ones() {
        let labels: Vec<String> = vec!["person".into(), "car".into()];
        let mut cfg: CameraConfig = serde_json::from_value(serde_json::json!({"id": "gate", "file": "x.mp4"})).unwrap();
        cfg.classes = vec!["car".into()];
        assert_eq!(resolve_classes(&labels, &cfg).unwrap().unwrap().iter().copied().collect::<Vec<_>>(), vec![1]);
        cfg.classes = vec!["unicorn".into()];
        let err = resolve_classes(&labels, &cfg).unwrap_err().to_string();
        assert_eq!(err, "cameras.gate.classes: the model has no class `unicorn`; known classes: person, car");
    }
}
