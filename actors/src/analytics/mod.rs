//! Per-camera analytics beyond the primary detector's rules: licence plates ([`crate::plates`]) and fire/smoke
//! ([`crate::fire`]). This module loads their models and wires them:
//!
//! - one [`BatcherActor`] + inference worker per (device, model): `<device>/plates` batches vehicle crops
//!   for the plate detector, `<device>/fire` batches whole frames for the fire/smoke model (each model's
//!   batches run separately, with the batcher's metrics under that device label);
//! - one OCR worker thread (PP-OCR) for every camera's plate crops;
//! - per camera: a [`PlateActor`] fed by the tracker, a [`FireActor`] fed by the fire batcher, and the
//!   [`CameraFeed`] telling the camera what else to submit (full-resolution frames, fire frames at their rate).
//!
//! Models load only when a configured camera uses them. A model that does not load, or a camera section that
//! does not check, disables that analytic on that camera only, with the reason in [`RuleEntry`]
//! (`GET /api/cameras/{id}/status`); the camera and its other rules run on.

use crate::batcher::{BatcherActor, RegisterCamera, Route, UnregisterCamera};
pub use crate::config::AnalyticsError;
use crate::config::{CameraConfig, Config, DeviceConfig};
use crate::fire::{FireActor, FireSpec};
use crate::infer::ocr::{OcrError, PlateReader};
use crate::infer::worker::InferWorker;
use crate::infer::{Detector, InferError};
use crate::messages::{CameraId, Flush, NewEvent, SubmitFrame};
use crate::plates::ocr_worker::OcrWorker;
use crate::plates::spec::PlatesSpec;
use crate::plates::{PlateActor, PlateSink};
pub use crate::status::RuleEntry;
use crate::status::StatusBoard;
use actix::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Camera id → its rule actor and the status of its plate and fire sections (the HTTP status view reads it).
pub type RuleBoard = Arc<dashmap::DashMap<CameraId, (Addr<crate::rules::RuleActor>, Vec<RuleEntry>)>>;

/// Room in the OCR worker's queue (plate crops waiting to be read, all cameras together).
pub const OCR_QUEUE: usize = 16;

/// The extra models an analytic runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxModel {
    /// The licence-plate detector (one class).
    PlateDetector,
    /// The fire/smoke detector (`fire`, `smoke`).
    FireSmoke,
}

impl AuxModel {
    fn suffix(self) -> &'static str {
        match self {
            AuxModel::PlateDetector => "plates",
            AuxModel::FireSmoke => "fire",
        }
    }
    fn field(self) -> &'static str {
        match self {
            AuxModel::PlateDetector => "analytics.plate_detector",
            AuxModel::FireSmoke => "analytics.fire_model",
        }
    }
}

/// Builds an extra model's detector on one device.
pub type AuxDetectorFactory<'a> = dyn Fn(AuxModel, &DeviceConfig) -> Result<Box<dyn Detector>, InferError> + 'a;

/// Loads the extra models (the real ones read ONNX files; tests may pass fakes).
pub struct AuxLoaders<'a> {
    pub detector: &'a AuxDetectorFactory<'a>,
    pub ocr: &'a (dyn Fn() -> Result<PlateReader, OcrError> + 'a),
}

/// One extra model's batcher on each device.
#[derive(Clone)]
struct Stage {
    batchers: Vec<(Arc<str>, Addr<BatcherActor>)>,
    input_size: (u32, u32),
    labels: Arc<[String]>,
}

/// What a camera submits besides its primary frames.
#[derive(Clone, Default)]
pub struct CameraFeed {
    /// Attach the full-resolution RGB frame to the frames it submits (plates crop from it).
    pub full_frame: bool,
    /// Fire/smoke frames: their rate and each device's batcher.
    pub fire: Option<FireFeed>,
}

/// Where and how often a camera sends fire/smoke frames.
#[derive(Clone)]
pub struct FireFeed {
    pub fps: f32,
    /// Model input size frames are letterboxed to.
    pub input_size: (u32, u32),
    /// Device id → the fire batcher on it (the camera uses the one of the device it is placed on).
    pub sinks: HashMap<Arc<str>, Recipient<SubmitFrame>>,
}

/// A camera's analytics actors.
#[derive(Default)]
pub struct CameraAnalytics {
    pub plates: Option<Addr<PlateActor>>,
    pub fire: Option<Addr<FireActor>>,
    pub feed: CameraFeed,
    pub entries: Vec<RuleEntry>,
}

/// The loaded extra models and their batchers.
pub struct Analytics {
    plates: Result<(Stage, OcrWorker), String>,
    fire: Result<Stage, String>,
    status: StatusBoard,
}

const NOT_LOADED: &str = "the model was not loaded at start (no enabled camera used it then); restart the server";

impl Analytics {
    /// Nothing loaded: every camera's plate and fire sections are disabled with a reason.
    pub fn none(status: StatusBoard) -> Self {
        Self { plates: Err(NOT_LOADED.into()), fire: Err(NOT_LOADED.into()), status }
    }

    /// Load the models that an enabled camera of `config` uses and start their batchers.
    pub fn start(config: &Config, loaders: &AuxLoaders<'_>, status: StatusBoard) -> Self {
        // Disabled cameras count too: they may be enabled at run time.
        let used = |f: fn(&CameraConfig) -> bool| config.cameras.iter().any(f);
        let mut out = Self::none(status);
        if used(|c| c.plates_on().is_some()) {
            out.plates = stage(config, loaders, AuxModel::PlateDetector).and_then(|s| {
                let reader = (loaders.ocr)()
                    .map_err(|e| format!("`analytics.plate_ocr` ({}): {e}", config.analytics.plate_ocr.display()))?;
                Ok((s, OcrWorker::spawn(reader, OCR_QUEUE)))
            });
        }
        if used(|c| c.fire_on().is_some()) {
            out.fire = stage(config, loaders, AuxModel::FireSmoke);
        }
        for (what, r) in [("plates", out.plates.as_ref().err()), ("fire", out.fire.as_ref().err())] {
            if let Some(e) = r.filter(|e| *e != NOT_LOADED) {
                tracing::error!(analytic = what, error = %e, "analytics model failed to load; cameras using it run without it");
            }
        }
        out
    }

    /// The extra batchers (device label `<device>/plates`, `<device>/fire`).
    pub fn batchers(&self) -> Vec<(Arc<str>, Addr<BatcherActor>)> {
        let mut all = Vec::new();
        if let Ok((s, _)) = &self.plates {
            all.extend(s.batchers.iter().cloned());
        }
        if let Ok(s) = &self.fire {
            all.extend(s.batchers.iter().cloned());
        }
        all
    }

    /// A handle that tells whether the extra batchers and the OCR worker are idle (`panoptes replay` reads
    /// the next picture only then).
    pub fn probe(&self) -> IdleProbe {
        IdleProbe { batchers: self.batchers(), ocr: self.plates.as_ref().ok().map(|(_, o)| o.clone()) }
    }

    /// Plate crops queued in or being read by the OCR worker.
    pub fn ocr_pending(&self) -> usize {
        self.plates.as_ref().map(|(_, ocr)| ocr.pending()).unwrap_or(0)
    }

    /// Start a camera's plate and fire actors (as its config asks) and register them with the batchers.
    pub async fn attach(
        &self,
        cfg: &CameraConfig,
        primary_labels: &[String],
        events: &Recipient<NewEvent>,
    ) -> CameraAnalytics {
        let id = cfg.id.clone();
        let mut out = CameraAnalytics::default();
        if let Some(p) = &cfg.plates {
            let result = if !p.enabled {
                Err("disabled in the config (enabled = false)".to_string())
            } else {
                let spec = PlatesSpec::compile(&cfg.id, p, primary_labels).map_err(|e| e.to_string());
                match (&self.plates, spec) {
                    (Err(e), _) => Err(format!("cameras.{}: {e}", cfg.id)),
                    (_, Err(e)) => Err(e),
                    (Ok((stage, ocr)), Ok(spec)) => {
                        let sinks = stage
                            .batchers
                            .iter()
                            .map(|(d, b)| {
                                (
                                    device_of(d),
                                    PlateSink { batcher: b.clone().recipient(), input_size: stage.input_size },
                                )
                            })
                            .collect();
                        let actor =
                            PlateActor::new(id.clone(), spec, sinks, self.status.clone(), ocr.clone(), events.clone())
                                .start();
                        register(&stage.batchers, &id, actor.clone().recipient()).await;
                        out.plates = Some(actor);
                        out.feed.full_frame = true;
                        Ok(())
                    }
                }
            };
            out.entries.push(entry(crate::plates::RULE_ID, "plates", result, &cfg.id));
        }
        if let Some(f) = &cfg.fire {
            let result = if !f.enabled {
                Err("disabled in the config (enabled = false)".to_string())
            } else {
                match &self.fire {
                    Err(e) => Err(format!("cameras.{}: {e}", cfg.id)),
                    Ok(stage) => match FireSpec::compile(&cfg.id, f, &stage.labels) {
                        Err(e) => Err(e.to_string()),
                        Ok(spec) => {
                            let fps = spec.fps;
                            let actor = FireActor::new(id.clone(), spec, events.clone()).start();
                            register(&stage.batchers, &id, actor.clone().recipient()).await;
                            out.fire = Some(actor);
                            out.feed.fire = Some(FireFeed {
                                fps,
                                input_size: stage.input_size,
                                sinks: stage
                                    .batchers
                                    .iter()
                                    .map(|(d, b)| (device_of(d), b.clone().recipient()))
                                    .collect(),
                            });
                            Ok(())
                        }
                    },
                }
            };
            out.entries.push(entry(crate::fire::RULE_ID, "fire_smoke", result, &cfg.id));
        }
        out
    }

    /// Stop routing a camera's results (it is being removed).
    pub fn detach(&self, camera: &CameraId) {
        for (_, b) in self.batchers() {
            b.do_send(UnregisterCamera(camera.clone()));
        }
    }

    /// Wait until the extra batchers and the OCR worker are idle, flushing the plate and fire actors between
    /// stages so that every crop, reading and event sent so far has been handled.
    pub async fn drain(&self, cameras: &[&CameraAnalytics]) {
        for _ in 0..2 {
            flush(cameras).await;
            for (_, b) in self.batchers() {
                wait_idle(&b).await;
            }
            flush(cameras).await;
            while self.ocr_pending() > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            flush(cameras).await;
        }
    }
}

/// Whether the analytics have work queued or running; see [`Analytics::probe`].
#[derive(Clone)]
pub struct IdleProbe {
    batchers: Vec<(Arc<str>, Addr<BatcherActor>)>,
    ocr: Option<OcrWorker>,
}

impl IdleProbe {
    /// No frame or crop waits in or runs on an extra batcher, and no plate is being read.
    pub async fn idle(&self) -> bool {
        if self.ocr.as_ref().is_some_and(|o| o.pending() > 0) {
            return false;
        }
        for (_, b) in &self.batchers {
            match b.send(crate::batcher::GetStats).await {
                Ok(s) if s.queue_depth > 0 || s.in_flight => return false,
                _ => {}
            }
        }
        true
    }
}

/// The device id of a `<device>/<model>` batcher label.
fn device_of(label: &Arc<str>) -> Arc<str> {
    label.rsplit_once('/').map(|(d, _)| Arc::from(d)).unwrap_or_else(|| label.clone())
}

fn entry(id: &str, kind: &str, result: Result<(), String>, camera: &str) -> RuleEntry {
    if let Err(reason) = &result {
        tracing::warn!(camera, analytic = kind, %reason, "analytic disabled");
    }
    RuleEntry { id: id.into(), kind: kind.into(), enabled: result.is_ok(), reason: result.err() }
}

async fn register(
    batchers: &[(Arc<str>, Addr<BatcherActor>)],
    camera: &CameraId,
    to: Recipient<crate::messages::FrameDetections>,
) {
    for (_, b) in batchers {
        let route = Route { tracker: to.clone(), classes: None };
        let _ = b.send(RegisterCamera { camera: camera.clone(), route }).await;
    }
}

async fn flush(cameras: &[&CameraAnalytics]) {
    for c in cameras {
        if let Some(p) = &c.plates {
            let _ = p.send(Flush).await;
        }
        if let Some(f) = &c.fire {
            let _ = f.send(Flush).await;
        }
    }
}

async fn wait_idle(b: &Addr<BatcherActor>) {
    loop {
        match b.send(crate::batcher::GetStats).await {
            Ok(s) if s.queue_depth == 0 && !s.in_flight => return,
            Ok(_) => tokio::time::sleep(Duration::from_millis(2)).await,
            Err(_) => return,
        }
    }
}

/// Load `model` on every device and start its batchers; the error names the config field and file.
fn stage(config: &Config, loaders: &AuxLoaders<'_>, model: AuxModel) -> Result<Stage, String> {
    let mut batchers = Vec::new();
    let mut input_size = (0, 0);
    let mut labels: Arc<[String]> = Vec::new().into();
    for dev in &config.devices {
        let detector =
            (loaders.detector)(model, dev).map_err(|e| format!("`{}` on device {}: {e}", model.field(), dev.id))?;
        labels = detector.labels();
        let label = format!("{}/{}", dev.id, model.suffix());
        let worker = InferWorker::spawn(&label, detector);
        input_size = worker.input_size();
        let batcher = BatcherActor::new(worker, dev.max_batch, Duration::from_millis(dev.max_wait_ms)).start();
        batchers.push((Arc::from(label), batcher));
    }
    Ok(Stage { batchers, input_size, labels })
}
