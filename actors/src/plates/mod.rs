//! Licence plates: one [`PlateActor`] per camera with `[cameras.plates]` on.
//!
//! ```text
//! tracker ──TrackedFrame (+ full-resolution RGB)──▶ PlateActor ──SubmitCrop (vehicle crop, lane = track)──▶
//!   plate batcher (per device) ──FrameDetections (plate boxes in crop pixels)──▶ PlateActor ──OcrJob──▶
//!   OCR worker (thread) ──PlateRead──▶ PlateActor: vote per track ──NewEvent (kind plate)──▶ store
//! ```
//!
//! - [`spec`]: the camera's settings checked. [`crop`]: pixel work. [`vote`]: per-track voting.
//!   [`lists`]: allow/deny matching. [`ocr_worker`]: the reader's thread.
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
pub mod vote;

use crate::geometry::BBox;
use crate::infer::ocr::PlateText;
use crate::infer::ocr::plate_text::normalize_plate;
use crate::messages::{
    CameraId, Event, EventKind, EventState, Flush, Frame, FrameDetections, FrameMeta, NewEvent, SubmitCrop,
    TrackedFrame,
};
use crate::metric_names as m;
use crate::status::StatusBoard;
use crate::time::Pts;
use actix::prelude::*;
use image::RgbImage;
use ocr_worker::{OcrJob, OcrWorker, Refused};
use spec::PlatesSpec;
use std::collections::HashMap;
use std::sync::Arc;
use vote::{TrackVotes, VoteOutcome};

/// Rule id carried by plate events (the `[cameras.plates]` section).
pub const RULE_ID: &str = "plates";
/// Most crops of one camera between the tracker and the OCR result.
pub const MAX_PENDING: usize = 8;
/// Most vehicle tracks remembered per camera (the oldest unseen is forgotten first).
pub const MAX_TRACKS: usize = 256;
/// Seconds of stream time after which a crop with no answer is given up (its batch failed or was dropped).
const PENDING_TIMEOUT_SEC: f64 = 5.0;
/// Vehicle crops are grown by this fraction of the box on each side (plates sit on the box's edge).
const VEHICLE_MARGIN: f32 = 0.05;
/// Plate crops are grown by this fraction (the detector's box clips the outer characters now and then).
const PLATE_MARGIN: f32 = 0.06;

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

/// A crop between the tracker and its OCR result.
struct Pending {
    track: u64,
    vehicle: crop::Crop,
    /// The frame's time.
    pts: Pts,
    wall_ms: i64,
    /// Plate box in crop pixels, once detected.
    plate: Option<(BBox, f32)>,
}

/// The best reading of a track so far (for the snapshot).
struct Best {
    confidence: f32,
    vehicle: RgbImage,
    /// Plate box in vehicle-crop pixels, and in frame pixels.
    plate_crop_px: BBox,
    plate_frame_px: BBox,
}

struct TrackState {
    class: String,
    bbox: BBox,
    last_seen: Pts,
    last_attempt: Option<Pts>,
    in_flight: bool,
    votes: TrackVotes,
    best: Option<Best>,
    /// A `start` was sent and no `end` yet.
    open: bool,
}

/// Reads the plates of one camera's vehicles. See the module documentation.
pub struct PlateActor {
    camera: CameraId,
    spec: PlatesSpec,
    /// Device id → the plate batcher on it; crops go to the device the camera is placed on.
    sinks: HashMap<Arc<str>, PlateSink>,
    status: StatusBoard,
    ocr: OcrWorker,
    events: Recipient<NewEvent>,
    tracks: HashMap<u64, TrackState>,
    pending: HashMap<u64, Pending>,
    next_crop: u64,
    last: Option<(Pts, i64)>,
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
        Self {
            camera,
            spec,
            sinks,
            status,
            ocr,
            events,
            tracks: HashMap::new(),
            pending: HashMap::new(),
            next_crop: 0,
            last: None,
        }
    }

    fn dropped(&self, reason: &'static str) {
        metrics::counter!(m::ANALYTICS_DROPPED, "camera" => self.camera.to_string(), "stage" => "plates", "reason" => reason)
            .increment(1);
    }

    fn read(&self, outcome: &'static str) {
        metrics::counter!(m::PLATE_READS, "camera" => self.camera.to_string(), "outcome" => outcome).increment(1);
    }

    /// The plate event of a track in `state`, with its winning text and list match.
    fn event(&self, id: u64, t: &TrackState, state: EventState, (pts, wall_ms): (Pts, i64)) -> Option<Event> {
        let (text, tally) = t.votes.qualified(&self.spec.votes).or_else(|| t.votes.leader())?;
        let text = t.votes.reported().unwrap_or(text).to_owned();
        let list = self.spec.lists.check(&text);
        let mut details = serde_json::json!({
            "plate": text,
            "votes": tally.votes,
            "readings": t.votes.readings(),
            "list": list.name(),
        });
        if let lists::ListMatch::Allow { entry, distance } | lists::ListMatch::Deny { entry, distance } = &list {
            details["list_entry"] = entry.clone().into();
            details["distance"] = (*distance).into();
        }
        if let Some(b) = &t.best {
            details["plate_box"] =
                serde_json::json!([b.plate_frame_px.x1, b.plate_frame_px.y1, b.plate_frame_px.x2, b.plate_frame_px.y2]);
        }
        Some(Event {
            camera: self.camera.to_string(),
            rule: RULE_ID.into(),
            kind: EventKind::Plate,
            state,
            track_id: Some(id),
            class: Some(t.class.clone()),
            confidence: Some(tally.mean()),
            pts,
            end_pts: (state == EventState::End).then_some(t.last_seen),
            wall_ms,
            bbox: Some(t.bbox),
            details,
        })
    }

    /// End the plate events of tracks unseen for `end_after_sec` (all of them with `all`), and forget them.
    fn end_tracks(&mut self, now: (Pts, i64), all: bool, reason: &str) {
        let gone: Vec<u64> = self
            .tracks
            .iter()
            .filter(|(_, t)| all || (now.0 - t.last_seen).as_secs_f64() > self.spec.end_after_sec)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            let Some(t) = self.tracks.remove(&id) else { continue };
            if t.open
                && let Some(mut event) = self.event(id, &t, EventState::End, now)
            {
                event.details["reason"] = reason.into();
                self.events.do_send(NewEvent { event, picture: None });
            }
        }
        if self.tracks.len() > MAX_TRACKS {
            let mut by_age: Vec<(u64, Pts)> = self.tracks.iter().map(|(id, t)| (*id, t.last_seen)).collect();
            by_age.sort_by_key(|a| a.1);
            for (id, _) in by_age.into_iter().take(self.tracks.len() - MAX_TRACKS) {
                self.tracks.remove(&id);
                self.dropped("tracks_full");
            }
        }
    }

    /// The plate batcher of the device the camera is placed on (any, before the first placement).
    fn sink(&self) -> Option<PlateSink> {
        let device = self.status.get(&self.camera).and_then(|s| s.device.clone());
        device.and_then(|d| self.sinks.get(d.as_str()).cloned()).or_else(|| self.sinks.values().next().cloned())
    }

    /// Crop a vehicle and send it to the plate detector, when due and there is room.
    fn submit(&mut self, meta: &FrameMeta, track: u64, full: &crate::messages::RgbFrame) {
        let Some(sink) = self.sink() else { return };
        let Some(t) = self.tracks.get_mut(&track) else { return };
        if t.in_flight || t.bbox.width() < self.spec.min_vehicle_px {
            return;
        }
        if t.last_attempt.is_some_and(|a| (meta.pts - a).as_secs_f64() + 1e-6 < self.spec.period_sec) {
            return;
        }
        t.last_attempt = Some(meta.pts);
        if self.pending.len() >= MAX_PENDING {
            self.dropped("pending_full");
            return;
        }
        let Some(vehicle) = crop::crop_frame(full, &t.bbox, VEHICLE_MARGIN) else { return };
        let input = crop::to_model_input(&vehicle.image, sink.input_size);
        self.next_crop += 1;
        let crop_id = self.next_crop;
        let crop_meta = FrameMeta {
            camera: self.camera.clone(),
            seq: crop_id,
            pts: meta.pts,
            wall_ms: meta.wall_ms,
            width: vehicle.image.width(),
            height: vehicle.image.height(),
            decoded_at: meta.decoded_at,
        };
        let frame = Frame { meta: crop_meta, input: Arc::new(input), regions: None, motion: Vec::new(), full: None };
        match sink.batcher.try_send(SubmitCrop { frame, lane: track }) {
            Ok(()) => {
                t.in_flight = true;
                self.pending
                    .insert(crop_id, Pending { track, vehicle, pts: meta.pts, wall_ms: meta.wall_ms, plate: None });
            }
            Err(SendError::Full(_)) => self.dropped("mailbox"),
            Err(SendError::Closed(_)) => self.dropped("closed"),
        }
    }

    /// Forget a crop (answered, refused or lost) and free its track for the next one.
    fn finish_crop(&mut self, crop_id: u64) -> Option<Pending> {
        let p = self.pending.remove(&crop_id)?;
        if let Some(t) = self.tracks.get_mut(&p.track) {
            t.in_flight = false;
        }
        Some(p)
    }
}

impl Actor for PlateActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(64);
    }

    /// The camera is gone: end the open plate events.
    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if let Some(last) = self.last {
            self.end_tracks(last, true, "camera_stopped");
        }
    }
}

impl Handler<TrackedFrame> for PlateActor {
    type Result = ();

    fn handle(&mut self, frame: TrackedFrame, _ctx: &mut Context<Self>) {
        let now = (frame.meta.pts, frame.meta.wall_ms);
        if let Some(last) = self.last
            && (now.0 - last.0).as_secs_f64() < 0.0
        {
            // A looping file or a reconnect: the tracker starts new ids.
            self.end_tracks(last, true, "stream_restarted");
            self.pending.clear();
        }
        self.last = Some(now);
        let vehicles: Vec<_> = frame.tracks.iter().filter(|t| self.spec.classes.contains(&t.class_id)).collect();
        for tr in vehicles {
            let class = frame.labels.get(tr.class_id as usize).cloned().unwrap_or_default();
            let t = self.tracks.entry(tr.id).or_insert_with(|| TrackState {
                class,
                bbox: tr.bbox,
                last_seen: now.0,
                last_attempt: None,
                in_flight: false,
                votes: TrackVotes::default(),
                best: None,
                open: false,
            });
            t.bbox = tr.bbox;
            t.last_seen = now.0;
            if let Some(full) = &frame.full {
                self.submit(&frame.meta, tr.id, full);
            }
        }
        let lost: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| (now.0 - p.pts).as_secs_f64() > PENDING_TIMEOUT_SEC)
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.finish_crop(id);
            self.dropped("lost");
        }
        self.end_tracks(now, false, "track_lost");
    }
}

/// Plate boxes on a vehicle crop (from the plate batcher): read the best one.
impl Handler<FrameDetections> for PlateActor {
    type Result = ();

    fn handle(&mut self, msg: FrameDetections, ctx: &mut Context<Self>) {
        let crop_id = msg.meta.seq;
        let Some(p) = self.pending.get_mut(&crop_id) else { return };
        let best = msg
            .detections
            .iter()
            .filter(|d| d.score >= self.spec.detector_confidence)
            .max_by(|a, b| a.score.total_cmp(&b.score));
        let Some(det) = best else {
            self.finish_crop(crop_id);
            self.read("no_plate");
            return;
        };
        let img = &p.vehicle.image;
        let Some(plate) = crop::crop(img.as_raw(), img.width(), img.height(), &det.bbox, PLATE_MARGIN) else {
            self.finish_crop(crop_id);
            self.read("no_plate");
            return;
        };
        p.plate = Some((det.bbox, det.score));
        let job = OcrJob {
            crop_id,
            width: plate.image.width(),
            height: plate.image.height(),
            rgb: plate.image.into_raw(),
            layout: self.spec.layout,
            reply: ctx.address().recipient(),
        };
        if let Err(refused) = self.ocr.submit(job) {
            self.finish_crop(crop_id);
            self.dropped(match refused {
                Refused::Full => "ocr_full",
                Refused::Gone => "ocr_gone",
            });
        }
    }
}

impl Handler<PlateRead> for PlateActor {
    type Result = ();

    fn handle(&mut self, msg: PlateRead, _ctx: &mut Context<Self>) {
        let Some(p) = self.finish_crop(msg.crop_id) else { return };
        let text = match msg.result {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(camera = %self.camera, error = %e, "plate OCR failed");
                self.read("failed");
                return;
            }
        };
        let plate = normalize_plate(&text.text);
        if !self.spec.plausible(&plate) || text.confidence < self.spec.ocr_confidence {
            tracing::debug!(camera = %self.camera, raw = %text.text, confidence = text.confidence, "plate reading rejected");
            self.read("rejected");
            return;
        }
        self.read("voted");
        let Some(t) = self.tracks.get_mut(&p.track) else { return };
        let (plate_box, _) = p.plate.unwrap_or((BBox { x1: 0.0, y1: 0.0, x2: 0.0, y2: 0.0 }, 0.0));
        if t.best.as_ref().is_none_or(|b| text.confidence > b.confidence) {
            t.best = Some(Best {
                confidence: text.confidence,
                plate_frame_px: p.vehicle.to_frame(&plate_box),
                plate_crop_px: plate_box,
                vehicle: p.vehicle.image,
            });
        }
        let state = match t.votes.add(&plate, text.confidence, &self.spec.votes) {
            VoteOutcome::None => return,
            VoteOutcome::Start(_) => EventState::Start,
            VoteOutcome::Changed(_) => EventState::Update,
        };
        t.open = true;
        let picture = t.best.as_ref().map(|b| Arc::new(crop::plate_snapshot(&b.vehicle, &b.plate_crop_px)));
        let t = &self.tracks[&p.track];
        if let Some(event) = self.event(p.track, t, state, (p.pts, p.wall_ms)) {
            tracing::info!(camera = %self.camera, track = p.track, plate = %event.details["plate"], "plate read");
            self.events.do_send(NewEvent { event, picture });
        }
    }
}

impl Handler<Flush> for PlateActor {
    type Result = ();

    fn handle(&mut self, _msg: Flush, _ctx: &mut Context<Self>) {}
}
