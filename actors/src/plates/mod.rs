//! Licence plates: one [`PlateActor`] per camera with `[cameras.plates]` on.
//!
//! ```text
//! tracker ──TrackedFrame (+ full-resolution RGB)──▶ PlateActor ──SubmitCrop (vehicle crop, lane = track)──▶
//!   plate batcher (per device) ──FrameDetections (plate boxes in crop pixels)──▶ PlateActor ──OcrJob──▶
//!   OCR worker (thread) ──PlateRead──▶ PlateActor: vote per track ──NewEvent (kind plate)──▶ store
//! ```
//!
//! - [`tracker`]: [`PlateTracker`], the pure core (frames, plate boxes and readings in; crops, reads, events and
//!   drops out); the actor only carries out its [`Action`]s. [`spec`]: the camera's settings checked.
//!   [`crop`]: pixel work. [`vote`]: per-track voting. [`lists`]: allow/deny matching. [`ocr_worker`]: the
//!   reader's thread.
//! - Bounded everywhere: one crop in flight per track, at most [`MAX_PENDING`] crops per camera, at most
//!   [`MAX_TRACKS`] tracks remembered, the OCR queue refuses when full; every refusal is counted in
//!   `panoptes_analytics_dropped_total{stage="plates"}`.
//! - Events: `start` when a text wins the track's vote, `update` when another text overtakes it, `end` when
//!   the track has been unseen for `end_after_sec`. The snapshot is the best reading's vehicle crop with the
//!   plate box drawn.

pub mod crop;
pub mod lists;
pub mod ocr_worker;
pub mod spec;
pub mod tracker;
pub mod vote;

use crate::infer::ocr::PlateText;
use crate::messages::{CameraId, Flush, Frame, FrameDetections, NewEvent, SubmitCrop, TrackedFrame};
use crate::metric_names as m;
use crate::status::StatusBoard;
use actix::prelude::*;
use ocr_worker::{OcrJob, OcrWorker, Refused};
use spec::PlatesSpec;
use std::collections::HashMap;
use std::sync::Arc;
pub use tracker::{Action, MAX_PENDING, MAX_TRACKS, PlateTracker, RULE_ID};

/// OCR worker → plate actor: what was read on a crop.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct PlateRead {
    pub crop_id: u64,
    pub result: Result<PlateText, String>,
}

/// Where a camera's crops go: the plate batcher of a device and its input size.
#[derive(Clone)]
pub struct PlateSink {
    pub batcher: Recipient<SubmitCrop>,
    pub input_size: (u32, u32),
}

/// Reads the plates of one camera's vehicles: carries out what its [`PlateTracker`] decides.
pub struct PlateActor {
    camera: CameraId,
    core: PlateTracker,
    /// Device id → the plate batcher on it; crops go to the device the camera is placed on.
    sinks: HashMap<Arc<str>, PlateSink>,
    status: StatusBoard,
    ocr: OcrWorker,
    events: Recipient<NewEvent>,
}

impl PlateActor {
    pub fn new(
        camera: CameraId,
        spec: PlatesSpec,
        sinks: HashMap<Arc<str>, PlateSink>,
        status: StatusBoard,
        ocr: OcrWorker,
        events: Recipient<NewEvent>,
    ) -> Self {
        Self { core: PlateTracker::new(camera.clone(), spec), camera, sinks, status, ocr, events }
    }

    /// The plate batcher of the device the camera is placed on (any, before the first placement).
    fn sink(&self) -> Option<PlateSink> {
        let device = self.status.get(&self.camera).and_then(|s| s.device.clone());
        device.and_then(|d| self.sinks.get(d.as_str()).cloned()).or_else(|| self.sinks.values().next().cloned())
    }

    /// Carry out the core's actions; `reply` receives OCR results (none once the actor is stopping).
    fn apply(&mut self, actions: Vec<Action>, sink: Option<&PlateSink>, reply: Option<&Recipient<PlateRead>>) {
        for action in actions {
            let refused = match action {
                Action::Detect { crop_id, track, meta, input } => {
                    let frame = Frame { meta, input: Arc::new(input), regions: None, motion: Vec::new(), full: None };
                    let sent = sink.map(|s| match s.batcher.try_send(SubmitCrop { frame, lane: track }) {
                        Ok(()) => None,
                        Err(SendError::Full(_)) => Some("mailbox"),
                        Err(SendError::Closed(_)) => Some("closed"),
                    });
                    sent.unwrap_or(Some("closed")).map(|reason| (crop_id, reason))
                }
                Action::Read { crop_id, rgb, width, height } => {
                    let Some(reply) = reply else { continue };
                    let layout = self.core.spec().layout;
                    let job = OcrJob { crop_id, rgb, width, height, layout, reply: reply.clone() };
                    match self.ocr.submit(job) {
                        Ok(()) => None,
                        Err(Refused::Full) => Some((crop_id, "ocr_full")),
                        Err(Refused::Gone) => Some((crop_id, "ocr_gone")),
                    }
                }
                Action::Raise(event) => {
                    self.events.do_send(event);
                    None
                }
                Action::Dropped(reason) => {
                    let camera = self.camera.to_string();
                    metrics::counter!(m::ANALYTICS_DROPPED, "camera" => camera, "stage" => "plates", "reason" => reason)
                        .increment(1);
                    None
                }
                Action::Outcome(outcome) => {
                    metrics::counter!(m::PLATE_READS, "camera" => self.camera.to_string(), "outcome" => outcome)
                        .increment(1);
                    None
                }
            };
            if let Some((crop_id, reason)) = refused {
                let dropped = self.core.refused(crop_id, reason);
                self.apply(dropped, sink, reply);
            }
        }
    }
}

impl Actor for PlateActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(64);
    }

    /// The camera is gone: end the open plate events.
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        let actions = self.core.on_stop();
        self.apply(actions, None, None);
    }
}

impl Handler<TrackedFrame> for PlateActor {
    type Result = ();

    fn handle(&mut self, frame: TrackedFrame, ctx: &mut Context<Self>) {
        let sink = self.sink();
        let actions = self.core.on_frame(&frame, sink.as_ref().map(|s| s.input_size));
        self.apply(actions, sink.as_ref(), Some(&ctx.address().recipient()));
    }
}

/// Plate boxes on a vehicle crop (from the plate batcher): read the best one.
impl Handler<FrameDetections> for PlateActor {
    type Result = ();

    fn handle(&mut self, msg: FrameDetections, ctx: &mut Context<Self>) {
        let actions = self.core.on_plates(msg.meta.seq, &msg.detections);
        self.apply(actions, None, Some(&ctx.address().recipient()));
    }
}

impl Handler<PlateRead> for PlateActor {
    type Result = ();

    fn handle(&mut self, msg: PlateRead, ctx: &mut Context<Self>) {
        let actions = self.core.on_read(msg.crop_id, msg.result);
        self.apply(actions, None, Some(&ctx.address().recipient()));
    }
}

impl Handler<Flush> for PlateActor {
    type Result = ();

    fn handle(&mut self, _msg: Flush, _ctx: &mut Context<Self>) {}
}
