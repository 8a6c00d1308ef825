//! [`PlateTracker`], the pure core of a camera's plate reading: tracked frames, plate boxes and OCR results
//! in; what to crop, what to read, which events to raise and what was dropped out, as [`Action`]s. No actor,
//! channel or clock: [`super::PlateActor`] carries the actions out.
//!
//! Per vehicle track: a crop at most every `period_sec`, one in flight at a time; the plate detector's best
//! box on it is read by OCR; readings vote ([`super::vote`]); `start` when a text wins, `update` when another
//! overtakes it, `end` when the track has been unseen for `end_after_sec`, when the stream restarts or when
//! the camera stops. Bounded: at most [`MAX_PENDING`] crops between the tracker and their reading, at most
//! [`MAX_TRACKS`] tracks remembered.

use super::crop::{self, Crop};
use super::lists;
use super::spec::PlatesSpec;
use super::vote::{TrackVotes, VoteOutcome};
use crate::geometry::BBox;
use crate::infer::ocr::PlateText;
use crate::infer::ocr::plate_text::normalize_plate;
use crate::messages::{
    CameraId, Detection, Event, EventKind, EventState, FrameMeta, ModelInput, NewEvent, TrackedFrame,
};
use crate::time::{Pts, WallTime};
use image::RgbImage;
use std::collections::HashMap;
use std::sync::Arc;

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

/// What the actor is to do.
#[derive(Debug)]
pub enum Action {
    /// Send this vehicle crop to the plate detector (lane: the track). If it cannot be sent, tell the
    /// tracker with [`PlateTracker::refused`].
    Detect { crop_id: u64, track: u64, meta: FrameMeta, input: ModelInput },
    /// Read this plate crop (packed RGB24). If the reader refuses it, tell [`PlateTracker::refused`].
    Read { crop_id: u64, rgb: Vec<u8>, width: u32, height: u32 },
    /// Store this event.
    Raise(NewEvent),
    /// Count a crop or track given up (`panoptes_analytics_dropped_total{stage="plates", reason}`).
    Dropped(&'static str),
    /// Count a reading's outcome (`panoptes_plate_reads_total{outcome}`).
    Outcome(&'static str),
}

/// A crop between the tracker and its OCR result.
struct Pending {
    track: u64,
    vehicle: Crop,
    /// The frame's time.
    pts: Pts,
    wall_ms: crate::time::WallTime,
    /// Plate box in crop pixels, once detected.
    plate: Option<BBox>,
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
    /// A `start` was raised and no `end` yet.
    open: bool,
}

/// One camera's plate reading state. See the module documentation.
pub struct PlateTracker {
    camera: CameraId,
    spec: PlatesSpec,
    tracks: HashMap<u64, TrackState>,
    pending: HashMap<u64, Pending>,
    next_crop: u64,
    last: Option<(Pts, WallTime)>,
}

impl PlateTracker {
    pub fn new(camera: CameraId, spec: PlatesSpec) -> Self {
        Self { camera, spec, tracks: HashMap::new(), pending: HashMap::new(), next_crop: 0, last: None }
    }

    pub fn spec(&self) -> &PlatesSpec {
        &self.spec
    }

    /// Crops waiting for their plate boxes or their reading.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// A tracked frame: remember its vehicles, crop those due (when the frame carries its full-resolution
    /// picture and `input_size`, the plate detector's, is known), give up crops with no answer for too long,
    /// and end the events of tracks unseen for `end_after_sec`.
    pub fn on_frame(&mut self, frame: &TrackedFrame, input_size: Option<(u32, u32)>) -> Vec<Action> {
        let mut out = Vec::new();
        let now = (frame.meta.pts, frame.meta.wall_ms);
        if let Some(last) = self.last
            && now.0 < last.0
        {
            // A looping file or a reconnect: the tracker starts new ids.
            self.end_tracks(last, true, "stream_restarted", &mut out);
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
            if let (Some(full), Some(size)) = (&frame.full, input_size) {
                self.crop(&frame.meta, tr.id, full, size, &mut out);
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
            out.push(Action::Dropped("lost"));
        }
        self.end_tracks(now, false, "track_lost", &mut out);
        out
    }

    /// The plate detector's boxes on crop `crop_id` (crop pixels): the best one is cut out to be read.
    pub fn on_plates(&mut self, crop_id: u64, detections: &[Detection]) -> Vec<Action> {
        let Some(p) = self.pending.get_mut(&crop_id) else { return Vec::new() };
        let best = detections
            .iter()
            .filter(|d| d.score >= self.spec.detector_confidence)
            .max_by(|a, b| a.score.total_cmp(&b.score));
        let img = &p.vehicle.image;
        let plate = best.and_then(|det| {
            crop::crop(img.as_raw(), img.width(), img.height(), &det.bbox, PLATE_MARGIN).map(|c| (det.bbox, c))
        });
        let Some((bbox, plate)) = plate else {
            self.finish_crop(crop_id);
            return vec![Action::Outcome("no_plate")];
        };
        p.plate = Some(bbox);
        let (width, height) = (plate.image.width(), plate.image.height());
        vec![Action::Read { crop_id, rgb: plate.image.into_raw(), width, height }]
    }

    /// What OCR read on crop `crop_id` (or why it failed): a plausible, confident text votes for its track.
    pub fn on_read(&mut self, crop_id: u64, result: Result<PlateText, String>) -> Vec<Action> {
        let Some(p) = self.finish_crop(crop_id) else { return Vec::new() };
        let text = match result {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(camera = %self.camera, error = %e, "plate OCR failed");
                return vec![Action::Outcome("failed")];
            }
        };
        let plate = normalize_plate(&text.text);
        if !self.spec.plausible(&plate) || text.confidence < self.spec.ocr_confidence {
            tracing::debug!(camera = %self.camera, raw = %text.text, confidence = text.confidence, "plate reading rejected");
            return vec![Action::Outcome("rejected")];
        }
        let mut out = vec![Action::Outcome("voted")];
        let Some(t) = self.tracks.get_mut(&p.track) else { return out };
        let plate_box = p.plate.unwrap_or(BBox { x1: 0.0, y1: 0.0, x2: 0.0, y2: 0.0 });
        if t.best.as_ref().is_none_or(|b| text.confidence > b.confidence) {
            t.best = Some(Best {
                confidence: text.confidence,
                plate_frame_px: p.vehicle.to_frame(&plate_box),
                plate_crop_px: plate_box,
                vehicle: p.vehicle.image,
            });
        }
        let state = match t.votes.add(&plate, text.confidence, &self.spec.votes) {
            VoteOutcome::None => return out,
            VoteOutcome::Start(_) => EventState::Start,
            VoteOutcome::Changed(_) => EventState::Update,
        };
        t.open = true;
        let picture = t.best.as_ref().map(|b| Arc::new(crop::plate_snapshot(&b.vehicle, &b.plate_crop_px)));
        if let Some(event) = self.event(p.track, &self.tracks[&p.track], state, (p.pts, p.wall_ms)) {
            tracing::info!(camera = %self.camera, track = p.track, plate = %event.details["plate"], "plate read");
            out.push(Action::Raise(NewEvent { event, picture }));
        }
        out
    }

    /// A crop could not be sent on (a full or closed queue, `reason`): free its track for the next one.
    pub fn refused(&mut self, crop_id: u64, reason: &'static str) -> Vec<Action> {
        self.finish_crop(crop_id);
        vec![Action::Dropped(reason)]
    }

    /// The camera stopped: end every open plate event.
    pub fn on_stop(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(last) = self.last {
            self.end_tracks(last, true, "camera_stopped", &mut out);
        }
        out
    }

    /// Crop a vehicle for the plate detector, when due and there is room.
    fn crop(
        &mut self,
        meta: &FrameMeta,
        track: u64,
        full: &crate::messages::RgbFrame,
        size: (u32, u32),
        out: &mut Vec<Action>,
    ) {
        let Some(t) = self.tracks.get_mut(&track) else { return };
        if t.in_flight || t.bbox.width() < self.spec.min_vehicle_px {
            return;
        }
        if t.last_attempt.is_some_and(|a| (meta.pts - a).as_secs_f64() + 1e-6 < self.spec.period_sec) {
            return;
        }
        t.last_attempt = Some(meta.pts);
        if self.pending.len() >= MAX_PENDING {
            out.push(Action::Dropped("pending_full"));
            return;
        }
        let Some(vehicle) = crop::crop_frame(full, &t.bbox, VEHICLE_MARGIN) else { return };
        let input = crop::to_model_input(&vehicle.image, size);
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
        t.in_flight = true;
        self.pending.insert(crop_id, Pending { track, vehicle, pts: meta.pts, wall_ms: meta.wall_ms, plate: None });
        out.push(Action::Detect { crop_id, track, meta: crop_meta, input });
    }

    /// Forget a crop (answered, refused or lost) and free its track for the next one.
    fn finish_crop(&mut self, crop_id: u64) -> Option<Pending> {
        let p = self.pending.remove(&crop_id)?;
        if let Some(t) = self.tracks.get_mut(&p.track) {
            t.in_flight = false;
        }
        Some(p)
    }

    /// End the plate events of tracks unseen for `end_after_sec` (all of them with `all`), and forget them.
    fn end_tracks(&mut self, now: (Pts, WallTime), all: bool, reason: &str, out: &mut Vec<Action>) {
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
                out.push(Action::Raise(NewEvent { event, picture: None }));
            }
        }
        if self.tracks.len() > MAX_TRACKS {
            let mut by_age: Vec<(u64, Pts)> = self.tracks.iter().map(|(id, t)| (*id, t.last_seen)).collect();
            by_age.sort_by_key(|a| a.1);
            for (id, _) in by_age.into_iter().take(self.tracks.len() - MAX_TRACKS) {
                self.tracks.remove(&id);
                out.push(Action::Dropped("tracks_full"));
            }
        }
    }

    /// The plate event of a track in `state`, with its winning text and list match.
    fn event(&self, id: u64, t: &TrackState, state: EventState, (pts, wall_ms): (Pts, WallTime)) -> Option<Event> {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PlatesConfig;
    use crate::messages::{Coverage, RgbFrame, Track};
    use std::time::Instant;

    const LABELS: [&str; 3] = ["person", "bicycle", "car"];

    /// Plates on cars, a crop every 0.5 s, `start` after 2 votes, `end` after 2 s unseen.
    fn plates() -> PlateTracker {
        let cfg: PlatesConfig =
            serde_json::from_value(serde_json::json!({"min_votes": 2, "end_after_sec": 2.0})).unwrap();
        let labels: Vec<String> = LABELS.map(String::from).into();
        let spec = PlatesSpec::compile("gate", &cfg, &labels).unwrap();
        assert_eq!(spec.period_sec, 0.5);
        PlateTracker::new("gate".parse().unwrap(), spec)
    }

    /// A 320x240 frame at `t` seconds with one track `(id, class, x)` each, 100x60 at (x, 100).
    fn frame(t: f64, tracks: &[(u64, u32, f32)]) -> TrackedFrame {
        let full = RgbFrame { width: 320, height: 240, data: vec![90; 320 * 240 * 3] };
        TrackedFrame {
            meta: FrameMeta {
                camera: "gate".parse().unwrap(),
                seq: 0,
                pts: Pts::new((t * 90_000.0) as i64, 90_000),
                wall_ms: crate::time::WallTime::from_unix_ms(1_000_000 + (t * 1000.0) as i64),
                width: 320,
                height: 240,
                decoded_at: Instant::now(),
            },
            tracks: tracks
                .iter()
                .map(|&(id, class_id, x)| Track {
                    id,
                    class_id,
                    score: 0.9,
                    bbox: BBox { x1: x, y1: 100.0, x2: x + 100.0, y2: 160.0 },
                    stationary: false,
                })
                .collect(),
            coverage: Coverage::default(),
            labels: LABELS.map(String::from).into(),
            input: None,
            full: Some(Arc::new(full)),
        }
    }

    fn plate_box() -> Detection {
        Detection { class_id: 0, score: 0.9, bbox: BBox { x1: 20.0, y1: 20.0, x2: 80.0, y2: 40.0 } }
    }

    fn read(text: &str, confidence: f32) -> Result<PlateText, String> {
        Ok(PlateText { text: text.into(), confidence })
    }

    /// The crops asked for by `actions`: (crop id, track).
    fn crops(actions: &[Action]) -> Vec<(u64, u64)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Detect { crop_id, track, .. } => Some((*crop_id, *track)),
                _ => None,
            })
            .collect()
    }

    fn events(actions: &[Action]) -> Vec<(EventState, String)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Raise(e) => Some((e.event.state, e.event.details["plate"].as_str().unwrap_or("").to_owned())),
                _ => None,
            })
            .collect()
    }

    /// One crop of `track` at `t` through detection and a reading of `text`: the actions of the reading.
    fn one_reading(p: &mut PlateTracker, t: f64, track: u64, text: &str) -> Vec<Action> {
        let asked = crops(&p.on_frame(&frame(t, &[(track, 2, 50.0)]), Some((64, 64))));
        assert_eq!(asked.len(), 1, "one crop of track {track} at {t} s");
        let to_read = p.on_plates(asked[0].0, &[plate_box()]);
        assert!(matches!(to_read.as_slice(), [Action::Read { width, .. }] if *width > 60), "{to_read:?}");
        p.on_read(asked[0].0, read(text, 0.9))
    }

    #[test]
    fn readings_vote_and_a_winner_starts_an_event_that_ends_when_the_car_is_gone() {
        let mut p = plates();
        let first = one_reading(&mut p, 0.0, 7, "AB123CD");
        assert!(events(&first).is_empty(), "one vote is not enough: {first:?}");
        let second = one_reading(&mut p, 0.5, 7, "AB123CD");
        assert_eq!(events(&second), vec![(EventState::Start, "AB123CD".to_owned())]);
        let Some(Action::Raise(start)) = second.iter().find(|a| matches!(a, Action::Raise(_))) else { panic!() };
        assert!(start.picture.is_some(), "the start carries the best reading's snapshot");
        assert_eq!(start.event.track_id, Some(7));
        // The car leaves; 2 s later its event ends.
        assert!(events(&p.on_frame(&frame(1.0, &[]), Some((64, 64)))).is_empty());
        let end = p.on_frame(&frame(3.1, &[]), Some((64, 64)));
        assert_eq!(events(&end), vec![(EventState::End, "AB123CD".to_owned())]);
    }

    #[test]
    fn one_crop_in_flight_per_track_and_at_most_one_per_period() {
        let mut p = plates();
        let size = Some((64, 64));
        assert_eq!(crops(&p.on_frame(&frame(0.0, &[(1, 2, 0.0), (2, 0, 150.0)]), size)), vec![(1, 1)], "cars only");
        assert!(crops(&p.on_frame(&frame(0.6, &[(1, 2, 0.0)]), size)).is_empty(), "still in flight");
        assert_eq!(p.on_plates(1, &[]).len(), 1, "no plate: the crop is done");
        assert!(matches!(p.on_plates(1, &[])[..], []), "an answer for a finished crop is ignored");
        assert_eq!(crops(&p.on_frame(&frame(0.7, &[(1, 2, 0.0)]), size)), vec![(2, 1)]);
        assert!(crops(&p.on_frame(&frame(0.9, &[(1, 2, 0.0)]), size)).is_empty(), "within the period");
        // No detector input size known yet (camera unplaced): nothing is cropped.
        assert!(crops(&p.on_frame(&frame(5.0, &[(9, 2, 0.0)]), None)).is_empty());
    }

    #[test]
    fn crops_are_bounded_refusals_free_the_track_and_lost_crops_are_given_up() {
        let mut p = plates();
        let size = Some((64, 64));
        let many: Vec<(u64, u32, f32)> = (0..12).map(|i| (i, 2, 10.0 * i as f32)).collect();
        let actions = p.on_frame(&frame(0.0, &many), size);
        assert_eq!(crops(&actions).len(), MAX_PENDING);
        let full = actions.iter().filter(|a| matches!(a, Action::Dropped("pending_full"))).count();
        assert_eq!(full, 12 - MAX_PENDING);
        // The batcher refused one: its track may be cropped again after the period.
        let (refused, track) = crops(&actions)[0];
        assert!(matches!(p.refused(refused, "mailbox")[..], [Action::Dropped("mailbox")]));
        assert_eq!(p.pending(), MAX_PENDING - 1);
        assert_eq!(crops(&p.on_frame(&frame(0.5, &[(track, 2, 0.0)]), size)), vec![(MAX_PENDING as u64 + 1, track)]);
        // Nothing answers for 5 s: every crop is given up.
        let later = p.on_frame(&frame(6.0, &[]), size);
        assert_eq!(later.iter().filter(|a| matches!(a, Action::Dropped("lost"))).count(), MAX_PENDING);
        assert_eq!(p.pending(), 0);
    }

    #[test]
    fn implausible_or_unsure_readings_do_not_vote_and_a_restart_or_stop_ends_open_events() {
        let mut p = plates();
        assert!(matches!(one_reading(&mut p, 0.0, 3, "X")[..], [Action::Outcome("rejected")]), "too short");
        let asked = crops(&p.on_frame(&frame(0.5, &[(3, 2, 50.0)]), Some((64, 64))));
        p.on_plates(asked[0].0, &[plate_box()]);
        assert!(matches!(p.on_read(asked[0].0, read("AB123CD", 0.2))[..], [Action::Outcome("rejected")]), "unsure");
        one_reading(&mut p, 1.0, 3, "AB123CD");
        assert_eq!(events(&one_reading(&mut p, 1.5, 3, "AB123CD")).len(), 1);
        // The file loops: time goes back, the open event ends with the reason.
        let restart = p.on_frame(&frame(0.0, &[]), Some((64, 64)));
        let Some(Action::Raise(end)) = restart.first() else { panic!("{restart:?}") };
        assert_eq!(
            (end.event.state, end.event.details["reason"].as_str()),
            (EventState::End, Some("stream_restarted"))
        );
        one_reading(&mut p, 0.5, 4, "ZZ999ZZ");
        one_reading(&mut p, 1.0, 4, "ZZ999ZZ");
        assert_eq!(events(&p.on_stop()), vec![(EventState::End, "ZZ999ZZ".to_owned())]);
    }
}
