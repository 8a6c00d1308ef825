//! ByteTrack (Zhang et al., 2022), one instance per camera: the association logic over the Kalman filter.
//!
//! Each [`ByteTracker::update`] follows the original `BYTETracker.update` step by step:
//! 1. split detections into high (`score > track_thresh`) and low (`low_thresh < score < track_thresh`);
//! 2. predict every confirmed track and every lost track (a lost track's height velocity is zeroed first);
//! 3. first association: high detections with tracked + lost tracks, IoU distance fused with the detection
//!    score (`1 − IoU·score`, `fuse_score`), threshold `match_thresh`; a matched lost track is re-found;
//! 4. second association: low detections with the still unmatched *tracked* tracks, plain IoU distance,
//!    threshold `low_match_thresh`; tracked tracks left over become lost;
//! 5. unconfirmed tracks (seen once) with the remaining high detections, fused distance,
//!    `unconfirmed_match_thresh`; unconfirmed tracks left over are removed;
//! 6. new tracks from the remaining high detections scoring at least `new_track_thresh`; they are
//!    confirmed on their second hit (immediately on the tracker's first frame);
//! 7. lost tracks unseen for more than `lost_buffer_sec` are removed;
//! 8. duplicates between tracked and lost (IoU > `duplicate_iou`): the one tracked for fewer frames goes.
//!
//! Only confirmed tracks matched on this frame are returned, with the Kalman box, as ByteTrack outputs.
//!
//! Differences from the original, on purpose:
//! - **Time.** The lost buffer is in seconds of stream time (`lost_buffer_sec`) instead of frames, and the
//!   Kalman prediction covers the real time since the previous update (`(t − t_prev) × nominal_fps` nominal
//!   frames, see [`super::kalman`]), so a camera inferred at 5 fps keeps tracks as long as one at 30 fps and
//!   predicts the right distance. At a constant `nominal_fps` both are exactly the original's. Every call
//!   advances time, detections or not: lost tracks age on empty frames. Time going backwards (a file
//!   looping, a reconnect) resets the tracker; ids keep counting.
//! - **Ids** are per tracker instance, start at 1, and are given on confirmation, so the ids a camera shows
//!   have no gaps (the original numbers every new track, also those never confirmed; supervision numbers
//!   them at activation). The duplicate rule still compares ages in frames (update calls), as the original.
//! - **Classes.** Association is class-agnostic, as in the original (a detector flipping between "car" and
//!   "truck" keeps one track); a track reports the majority class of its matched detections (ties: the
//!   latest).
//! - Detections with a non-finite or non-positive box, or a non-finite score, are ignored.
//!
//! supervision 0.25.1's `sv.ByteTrack` (the golden test's reference) matches the original except that
//! its lost buffer is `int(frame_rate / 30 × lost_track_buffer)` frames, `new_track_thresh` is fixed at
//! `track_activation_threshold + 0.1`, it replaces rather than accumulates removed tracks, and it adds
//! `minimum_consecutive_frames` (1 = the original). `testdata/README.md` gives the parameter mapping.

use super::assignment::{CostMatrix, linear_assignment};
use super::kalman::{Covariance, KalmanError, KalmanFilter, Mean, Xyah};
use crate::config::tracker::{Association, ParamsError, TrackerParams};
use crate::geometry::BBox;
use crate::messages::{Detection, Track};
use crate::regions::TrackHint;

/// Slack on the lost-buffer comparison, so `t = frame / fps` rounding cannot flip an exact boundary.
const TIME_EPS_SEC: f64 = 1e-6;
/// Largest observation-centric cost that still matches (see [`ByteTracker::gated_cost`]).
const GATED_MAX: f64 = 2.0;
/// A distance-gated match needs boxes whose heights differ by at most this factor.
const MAX_HEIGHT_RATIO: f64 = 1.5;

/// Class votes of a track: per class, how many matched detections had it and when it was last seen.
#[derive(Clone, Debug)]
struct ClassVotes {
    /// `(class, count, vote number of its latest detection)`.
    counts: Vec<(u32, u32, u32)>,
    votes: u32,
}

impl ClassVotes {
    fn new(class_id: u32) -> Self {
        Self { counts: vec![(class_id, 1, 1)], votes: 1 }
    }

    fn add(&mut self, class_id: u32) {
        self.votes += 1;
        match self.counts.iter_mut().find(|(c, _, _)| *c == class_id) {
            Some((_, n, seen)) => {
                *n += 1;
                *seen = self.votes;
            }
            None => self.counts.push((class_id, 1, self.votes)),
        }
    }

    /// The most frequent class; among equals, the one seen last.
    fn majority(&self) -> u32 {
        self.counts.iter().max_by_key(|&&(_, n, seen)| (n, seen)).map_or(0, |&(c, _, _)| c)
    }
}

/// One track's state (ByteTrack's `STrack`).
#[derive(Clone, Debug)]
struct STrack {
    /// The id shown to the world, given on confirmation.
    id: Option<u64>,
    mean: Mean,
    cov: Covariance,
    lost: bool,
    activated: bool,
    /// Detections matched so far (confirmation at `min_hits`).
    hits: u32,
    score: f32,
    classes: ClassVotes,
    /// Update call (frame) that started the track and the last one that matched it.
    start_frame: u64,
    frame_id: u64,
    /// Stream time of the last match.
    last_seen_sec: f64,
    /// Stream time since the last match during which the track could not be seen (outside every covered
    /// region): it does not count against the lost buffer.
    unseen_sec: f64,
    /// The box of the last matched detection, `[x1, y1, x2, y2]`.
    last_obs: [f64; 4],
    /// Speed of the box centre between its last two observations, pixels per second of stream time (half
    /// the new estimate and half the previous one): what region planning calls moving. Unlike the Kalman
    /// velocity it does not mistake detection jitter between sightings far apart in time for motion.
    obs_speed: f64,
    /// The filter state right after the last match, for the observation-centric re-update.
    obs_state: (Mean, Covariance),
    /// Not observable on the latest update (its predicted centre was outside every covered region).
    frozen: bool,
}

impl STrack {
    fn bbox(&self) -> [f64; 4] {
        let (cx, cy, a, h) = (self.mean[0], self.mean[1], self.mean[2], self.mean[3]);
        let w = a * h;
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    /// Seconds since the last match that count against the lost buffer, at stream time `t_sec`.
    fn missed_sec(&self, t_sec: f64) -> f64 {
        t_sec - self.last_seen_sec - self.unseen_sec
    }
}

/// Where detection ran on a frame, for [`ByteTracker::update_covered`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coverage<'a> {
    /// The whole frame was inferred.
    Full,
    /// Only `regions` (source-frame pixels) of a `width` x `height` frame were inferred; none: nothing was
    /// inferred on this frame.
    Regions { regions: &'a [BBox], width: f64, height: f64 },
}

impl Coverage<'_> {
    /// Whether the point `(x, y)` was looked at. A point outside the frame counts as looked at: an object
    /// predicted there has left the view, and must be missed (and age out) rather than held.
    fn covers(&self, x: f64, y: f64) -> bool {
        match *self {
            Coverage::Full => true,
            Coverage::Regions { regions, width, height } => {
                !(0.0..=width).contains(&x)
                    || !(0.0..=height).contains(&y)
                    || regions.iter().any(|r| {
                        x >= f64::from(r.x1) && x <= f64::from(r.x2) && y >= f64::from(r.y1) && y <= f64::from(r.y2)
                    })
            }
        }
    }
}

/// A detection as the tracker sees it.
struct Det {
    bbox: [f64; 4],
    score: f32,
    class_id: u32,
}

impl Det {
    fn xyah(&self) -> Xyah {
        xyah(&self.bbox)
    }
}

/// `[x1, y1, x2, y2]` → `[centre x, centre y, w / h, h]`.
fn xyah(b: &[f64; 4]) -> Xyah {
    let [x1, y1, x2, y2] = *b;
    let (w, h) = (x2 - x1, y2 - y1);
    [x1 + w / 2.0, y1 + h / 2.0, w / h, h]
}

/// IoU of two `[x1, y1, x2, y2]` boxes (0 when the union is empty).
fn iou(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    let v = inter / union;
    if v.is_finite() { v } else { 0.0 }
}

/// What happened to a pre-existing track during one update.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fate {
    Unmatched,
    /// Not observable on this frame: left as it was, in its list.
    Frozen,
    Updated,
    Refound,
    NewlyLost,
    Removed,
}

/// ByteTrack for one camera. See the module doc.
#[derive(Debug)]
pub struct ByteTracker {
    params: TrackerParams,
    kf: KalmanFilter,
    tracked: Vec<STrack>,
    lost: Vec<STrack>,
    /// Update calls since the start or the last reset.
    frame: u64,
    last_t_sec: Option<f64>,
    next_id: u64,
    resets: u64,
}

impl ByteTracker {
    pub fn new(params: TrackerParams) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(Self {
            params,
            kf: KalmanFilter::default(),
            tracked: Vec::new(),
            lost: Vec::new(),
            frame: 0,
            last_t_sec: None,
            next_id: 1,
            resets: 0,
        })
    }

    pub fn params(&self) -> &TrackerParams {
        &self.params
    }

    /// Forget every track and the time base; ids keep counting, so none is ever reused.
    pub fn reset(&mut self) {
        self.tracked.clear();
        self.lost.clear();
        self.frame = 0;
        self.last_t_sec = None;
    }

    /// How many times time went backwards and the tracker reset itself.
    pub fn resets(&self) -> u64 {
        self.resets
    }

    /// Tracks held, confirmed or not, tracked or lost.
    pub fn live_tracks(&self) -> usize {
        self.tracked.len() + self.lost.len()
    }

    /// Where each confirmed track (tracked or lost) is expected at stream time `t_sec`, with its observed
    /// speed, for region planning ([`crate::regions`]): the Kalman mean moved on by its velocity, without
    /// touching the filter (a lost track's height velocity is taken as zero, as its update will).
    pub fn hints(&self, t_sec: f64) -> Vec<TrackHint> {
        let steps = self.last_t_sec.map_or(0.0, |last| ((t_sec - last) * self.params.nominal_fps).max(0.0));
        self.tracked
            .iter()
            .chain(&self.lost)
            .filter(|t| t.activated)
            .map(|t| {
                let m = &t.mean;
                let vh = if t.lost { 0.0 } else { m[7] };
                let (cx, cy) = (m[0] + m[4] * steps, m[1] + m[5] * steps);
                let h = (m[3] + vh * steps).max(1.0);
                let w = (m[2] + m[6] * steps) * h;
                TrackHint {
                    bbox: BBox::from_center(cx as f32, cy as f32, w as f32, h as f32),
                    speed_px_per_sec: t.obs_speed as f32,
                }
            })
            .collect()
    }

    /// Predicted boxes at stream time `t_sec` of every confirmed track still alive (tracked and lost), for
    /// region planning. The filter is not touched.
    pub fn predicted_boxes(&self, t_sec: f64) -> Vec<BBox> {
        self.hints(t_sec).into_iter().map(|h| h.bbox).collect()
    }

    /// Feed the detections of the frame at stream time `t_sec` (seconds, finite) and get the confirmed
    /// tracks on it. Call it for every processed frame, also with no detections. An earlier `t_sec` than
    /// the previous call's resets the tracker first. The same as [`Self::update_covered`] with
    /// [`Coverage::Full`].
    pub fn update(&mut self, detections: &[Detection], t_sec: f64) -> Vec<Track> {
        self.update_covered(detections, t_sec, Coverage::Full)
    }

    /// [`Self::update`] for a frame on which detection ran only where `coverage` says. A track whose
    /// predicted centre is outside every covered region could not have been seen: it is left as it was (not
    /// predicted, not missed, its lost-buffer clock stopped) and, when confirmed and tracked, returned with
    /// its last box and `stationary: true`.
    pub fn update_covered(&mut self, detections: &[Detection], t_sec: f64, coverage: Coverage<'_>) -> Vec<Track> {
        if self.last_t_sec.is_some_and(|last| t_sec < last) {
            self.reset();
            self.resets += 1;
        }
        let steps = self.last_t_sec.map_or(0.0, |last| (t_sec - last) * self.params.nominal_fps);
        let dt_sec = self.last_t_sec.map_or(0.0, |last| t_sec - last);
        self.last_t_sec = Some(t_sec);
        self.frame += 1;
        let p = self.params.clone();
        let oc = p.association == Association::ObservationCentric;

        let mut high = Vec::new();
        let mut low = Vec::new();
        for d in detections {
            let b = d.bbox;
            let bbox = [f64::from(b.x1), f64::from(b.y1), f64::from(b.x2), f64::from(b.y2)];
            let valid = bbox.iter().all(|v| v.is_finite()) && bbox[2] > bbox[0] && bbox[3] > bbox[1];
            if !valid || !d.score.is_finite() {
                continue;
            }
            let det = Det { bbox, score: d.score, class_id: d.class_id };
            if d.score > p.track_thresh {
                high.push(det);
            } else if d.score > p.low_thresh && d.score < p.track_thresh {
                low.push(det);
            }
        }

        // All tracks in one list: tracked (confirmed and unconfirmed) first, then lost.
        let n_tracked = self.tracked.len();
        let mut tracks: Vec<STrack> = std::mem::take(&mut self.tracked);
        tracks.append(&mut self.lost);
        let mut fate = vec![Fate::Unmatched; tracks.len()];
        // Tracks detection did not look for on this frame are left as they are.
        for (track, fate) in tracks.iter_mut().zip(&mut fate) {
            // Looked for where its motion would have taken it while held (up to the lost buffer): a track
            // that walked out of view is missed and ages out, one that stands still stays held.
            let ahead = steps + track.unseen_sec.min(p.lost_buffer_sec) * p.nominal_fps;
            let (cx, cy) = (track.mean[0] + ahead * track.mean[4], track.mean[1] + ahead * track.mean[5]);
            track.frozen = !coverage.covers(cx, cy);
            if track.frozen {
                track.unseen_sec += dt_sec;
                *fate = Fate::Frozen;
            }
        }
        let unconfirmed: Vec<usize> = (0..n_tracked).filter(|&i| !tracks[i].activated && !tracks[i].frozen).collect();
        let pool: Vec<usize> =
            (0..tracks.len()).filter(|&i| (i >= n_tracked || tracks[i].activated) && !tracks[i].frozen).collect();
        for &i in &pool {
            let t = &mut tracks[i];
            if t.lost {
                t.mean[7] = 0.0;
            }
            self.kf.predict(&mut t.mean, &mut t.cov, steps);
        }
        if oc {
            // The original leaves unconfirmed tracks unpredicted; their uncertainty should still grow.
            for &i in &unconfirmed {
                let t = &mut tracks[i];
                self.kf.predict(&mut t.mean, &mut t.cov, steps);
            }
        }

        // First association: high detections with tracked and lost tracks.
        let pool_boxes: Vec<[f64; 4]> = pool.iter().map(|&i| tracks[i].bbox()).collect();
        let cost = self.distances(&pool_boxes, &high, p.fuse_score);
        let first = linear_assignment(&cost, f64::from(p.match_thresh));
        for &(r, c) in &first.matches {
            let i = pool[r];
            fate[i] = if tracks[i].lost { Fate::Refound } else { Fate::Updated };
            self.correct(&mut tracks[i], &high[c], t_sec);
        }

        // Second association: low detections with the tracked tracks left over.
        let remaining: Vec<usize> =
            first.unmatched_rows.iter().map(|&r| pool[r]).filter(|&i| !tracks[i].lost).collect();
        let remaining_boxes: Vec<[f64; 4]> = remaining.iter().map(|&i| tracks[i].bbox()).collect();
        let cost = self.distances(&remaining_boxes, &low, false);
        let second = linear_assignment(&cost, f64::from(p.low_match_thresh));
        for &(r, c) in &second.matches {
            let i = remaining[r];
            fate[i] = Fate::Updated;
            self.correct(&mut tracks[i], &low[c], t_sec);
        }

        // Observation-centric: the tracks and high detections still left, first by the predicted box with a
        // distance gate where IoU fails, then by the last observed box (recovery when the prediction drifted).
        let mut left_cols: Vec<usize> = first.unmatched_cols.clone();
        if oc {
            for by_observation in [false, true] {
                let rows: Vec<usize> =
                    first.unmatched_rows.iter().map(|&r| pool[r]).filter(|&i| fate[i] == Fate::Unmatched).collect();
                let cost = CostMatrix::from_fn(rows.len(), left_cols.len(), |r, c| {
                    let track = &tracks[rows[r]];
                    let reference = if by_observation { track.last_obs } else { track.bbox() };
                    let thresh = f64::from(p.match_thresh);
                    self.gated_cost(&reference, &high[left_cols[c]], thresh, track.missed_sec(t_sec))
                });
                let matched = linear_assignment(&cost, GATED_MAX);
                for &(r, c) in &matched.matches {
                    let i = rows[r];
                    fate[i] = if tracks[i].lost { Fate::Refound } else { Fate::Updated };
                    self.correct(&mut tracks[i], &high[left_cols[c]], t_sec);
                }
                left_cols = matched.unmatched_cols.iter().map(|&c| left_cols[c]).collect();
            }
        }
        for &i in &remaining {
            if fate[i] == Fate::Unmatched {
                tracks[i].lost = true;
                fate[i] = Fate::NewlyLost;
            }
        }

        // Unconfirmed tracks with the high detections left over.
        let left: Vec<&Det> = left_cols.iter().map(|&c| &high[c]).collect();
        let unconfirmed_boxes: Vec<[f64; 4]> = unconfirmed.iter().map(|&i| tracks[i].bbox()).collect();
        let (cost, thresh) = if oc {
            let cost = CostMatrix::from_fn(unconfirmed.len(), left.len(), |r, c| {
                let since = tracks[unconfirmed[r]].missed_sec(t_sec);
                self.gated_cost(&unconfirmed_boxes[r], left[c], f64::from(p.unconfirmed_match_thresh), since)
            });
            (cost, GATED_MAX)
        } else {
            let cost = CostMatrix::from_fn(unconfirmed.len(), left.len(), |r, c| {
                distance(&unconfirmed_boxes[r], left[c], p.fuse_score)
            });
            (cost, f64::from(p.unconfirmed_match_thresh))
        };
        let third = linear_assignment(&cost, thresh);
        for &(r, c) in &third.matches {
            let i = unconfirmed[r];
            fate[i] = Fate::Updated;
            self.correct(&mut tracks[i], left[c], t_sec);
        }
        for &r in &third.unmatched_rows {
            fate[unconfirmed[r]] = Fate::Removed;
        }

        // New tracks.
        let mut born = Vec::new();
        for &c in &third.unmatched_cols {
            let det = left[c];
            if det.score < p.new_track_thresh {
                continue;
            }
            let (mean, cov) = self.kf.initiate(det.xyah());
            let activated = self.frame == 1 || p.min_hits <= 1;
            born.push(STrack {
                id: activated.then(|| self.take_id()),
                mean,
                cov,
                lost: false,
                activated,
                hits: 1,
                score: det.score,
                classes: ClassVotes::new(det.class_id),
                start_frame: self.frame,
                frame_id: self.frame,
                last_seen_sec: t_sec,
                unseen_sec: 0.0,
                last_obs: det.bbox,
                obs_speed: 0.0,
                obs_state: (mean, cov),
                frozen: false,
            });
        }

        // Lost tracks past the buffer (only those lost before this frame, as in the original).
        for i in n_tracked..tracks.len() {
            if fate[i] == Fate::Unmatched && tracks[i].missed_sec(t_sec) > p.lost_buffer_sec + TIME_EPS_SEC {
                fate[i] = Fate::Removed;
            }
        }

        // New lists, in the original's order: kept tracked, born, re-found; kept lost, newly lost.
        let mut tracked = Vec::new();
        let mut refound = Vec::new();
        let mut lost = Vec::new();
        let mut newly_lost = Vec::new();
        for (i, track) in tracks.into_iter().enumerate() {
            match fate[i] {
                Fate::Updated => tracked.push(track),
                Fate::Refound => refound.push(track),
                Fate::Frozen if !track.lost => tracked.push(track),
                Fate::Unmatched | Fate::Frozen => lost.push(track),
                Fate::NewlyLost => newly_lost.push(track),
                Fate::Removed => {}
            }
        }
        tracked.append(&mut born);
        tracked.append(&mut refound);
        lost.append(&mut newly_lost);
        let (tracked, lost) = self.remove_duplicates(tracked, lost);
        self.tracked = tracked;
        self.lost = lost;

        let output = |t: &STrack| {
            let [x1, y1, x2, y2] = t.bbox();
            Track {
                id: t.id.expect("a confirmed track has an id"),
                class_id: t.classes.majority(),
                score: t.score,
                bbox: BBox { x1: x1 as f32, y1: y1 as f32, x2: x2 as f32, y2: y2 as f32 },
                stationary: t.frozen,
            }
        };
        let mut out: Vec<Track> = self.tracked.iter().filter(|t| t.activated).map(output).collect();
        if oc && p.coast_sec > 0.0 {
            // Missed by the detector only briefly: shown where it is predicted.
            let coasting = |t: &&STrack| t.activated && !t.frozen && t.missed_sec(t_sec) <= p.coast_sec + TIME_EPS_SEC;
            out.extend(self.lost.iter().filter(coasting).map(output));
        }
        out
    }

    fn take_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn distances(&self, boxes: &[[f64; 4]], dets: &[Det], fuse: bool) -> CostMatrix {
        CostMatrix::from_fn(boxes.len(), dets.len(), |r, c| distance(&boxes[r], &dets[c], fuse))
    }

    /// Observation-centric cost of matching `det` to a track seen at `reference`, `since_sec` after its
    /// last match: the IoU distance when it is at most `iou_thresh` (a cost ≤ 1), else, for boxes of
    /// similar height whose centres are within the distance gate, `1 + distance / gate` (in (1, 2]), else
    /// more than [`GATED_MAX`].
    fn gated_cost(&self, reference: &[f64; 4], det: &Det, iou_thresh: f64, since_sec: f64) -> f64 {
        let c = distance(reference, det, self.params.fuse_score);
        if c <= iou_thresh {
            return c;
        }
        let p = &self.params;
        let gate = f64::from(p.distance_gate) + f64::from(p.distance_gate_per_sec) * since_sec.max(0.0);
        let (r, d) = (xyah(reference), det.xyah());
        let ratio = d[3] / r[3];
        if !(gate > 0.0 && ratio.is_finite() && (1.0 / MAX_HEIGHT_RATIO..=MAX_HEIGHT_RATIO).contains(&ratio)) {
            return f64::INFINITY;
        }
        let dist = (d[0] - r[0]).hypot(d[1] - r[1]) / r[3];
        if dist <= gate { 1.0 + dist / gate } else { f64::INFINITY }
    }

    /// Kalman-correct a matched track (ByteTrack's `update` / `re_activate`) and confirm it. A re-found
    /// track in observation-centric mode is re-updated over the gap first.
    fn correct(&mut self, track: &mut STrack, det: &Det, t_sec: f64) {
        let corrected = if self.params.association == Association::ObservationCentric && track.lost {
            self.reupdate(track, det.xyah(), t_sec)
        } else {
            self.kf.update(&mut track.mean, &mut track.cov, det.xyah())
        };
        if corrected.is_err() {
            (track.mean, track.cov) = self.kf.initiate(det.xyah());
        }
        track.lost = false;
        track.score = det.score;
        track.classes.add(det.class_id);
        track.frame_id = self.frame;
        let gap_sec = t_sec - track.last_seen_sec;
        if gap_sec > 0.0 {
            let centre = |b: &[f64; 4]| ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
            let ((x0, y0), (x1, y1)) = (centre(&track.last_obs), centre(&det.bbox));
            track.obs_speed = 0.5 * track.obs_speed + 0.5 * (x1 - x0).hypot(y1 - y0) / gap_sec;
        }
        track.last_seen_sec = t_sec;
        track.unseen_sec = 0.0;
        track.last_obs = det.bbox;
        track.obs_state = (track.mean, track.cov);
        track.frozen = false;
        track.hits = track.hits.saturating_add(1);
        if !track.activated && track.hits >= self.params.min_hits {
            track.activated = true;
            track.id = Some(self.take_id());
        }
    }

    /// Observation-centric re-update (OC-SORT's ORU): a track re-found after missed updates has a velocity
    /// that coasted, unchecked, through the gap. Go back to its state at the last match and run the filter
    /// over a virtual trajectory, one observation per missed update, moving in a straight line from the
    /// last observed box to `z`, so the velocity comes out of where the object really went.
    fn reupdate(&self, track: &mut STrack, z: Xyah, t_sec: f64) -> Result<(), KalmanError> {
        let (mut mean, mut cov) = track.obs_state;
        let n = self.frame.saturating_sub(track.frame_id).max(1);
        let step = track.missed_sec(t_sec).max(0.0) * self.params.nominal_fps / n as f64;
        let from = xyah(&track.last_obs);
        for k in 1..=n {
            let f = k as f64 / n as f64;
            let virtual_obs: Xyah = std::array::from_fn(|j| from[j] + f * (z[j] - from[j]));
            self.kf.predict(&mut mean, &mut cov, step);
            self.kf.update(&mut mean, &mut cov, if k == n { z } else { virtual_obs })?;
        }
        (track.mean, track.cov) = (mean, cov);
        Ok(())
    }

    /// Between a tracked and a lost track overlapping by more than `duplicate_iou`, drop the younger.
    fn remove_duplicates(&self, tracked: Vec<STrack>, lost: Vec<STrack>) -> (Vec<STrack>, Vec<STrack>) {
        let mut drop_tracked = vec![false; tracked.len()];
        let mut drop_lost = vec![false; lost.len()];
        let thresh = f64::from(self.params.duplicate_iou);
        for (a, ta) in tracked.iter().enumerate() {
            for (b, tb) in lost.iter().enumerate() {
                if iou(&ta.bbox(), &tb.bbox()) > thresh {
                    let age_a = ta.frame_id - ta.start_frame;
                    let age_b = tb.frame_id - tb.start_frame;
                    if age_a > age_b {
                        drop_lost[b] = true;
                    } else {
                        drop_tracked[a] = true;
                    }
                }
            }
        }
        let keep =
            |v: Vec<STrack>, drop: Vec<bool>| v.into_iter().zip(drop).filter(|(_, d)| !d).map(|(t, _)| t).collect();
        (keep(tracked, drop_tracked), keep(lost, drop_lost))
    }
}

/// `1 − IoU`, or `1 − IoU·score` when fusing.
fn distance(track_box: &[f64; 4], det: &Det, fuse: bool) -> f64 {
    let sim = iou(track_box, &det.bbox);
    if fuse { 1.0 - sim * f64::from(det.score) } else { 1.0 - sim }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::compare::agreement;
    use crate::tracker::mot::{MotRow, detections_by_frame};
    use std::path::Path;

    fn det(x: f32, y: f32, score: f32) -> Detection {
        Detection { class_id: 0, score, bbox: BBox { x1: x, y1: y, x2: x + 100.0, y2: y + 250.0 } }
    }

    /// The original ByteTrack: the tests below pin its behaviour.
    fn tracker() -> ByteTracker {
        ByteTracker::new(TrackerParams::bytetrack()).unwrap()
    }

    fn ids(tracks: &[Track]) -> Vec<u64> {
        let mut ids: Vec<u64> = tracks.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        ids
    }

    /// Params equivalent to `scripts/tracker/reference_tracks.py`'s `sv.ByteTrack(...)` at 25 fps.
    fn supervision_params() -> TrackerParams {
        TrackerParams { lost_buffer_sec: 1.0, nominal_fps: 25.0, ..TrackerParams::bytetrack() }
    }

    fn fixture(name: &str) -> Vec<MotRow> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tracker/testdata").join(name);
        crate::tracker::mot::read_rows(&path).unwrap()
    }

    /// Run the golden sequence through a tracker with `params`, as MOT rows.
    fn run_golden(params: TrackerParams) -> Vec<MotRow> {
        let frames = detections_by_frame(&fixture("seq_det.txt"));
        let last = *frames.keys().last().unwrap();
        let mut t = ByteTracker::new(params).unwrap();
        let mut rows = Vec::new();
        let empty = Vec::new();
        for frame in 1..=last {
            let tracks = t.update(frames.get(&frame).unwrap_or(&empty), frame as f64 / 25.0);
            rows.extend(tracks.iter().map(|tr| MotRow { frame, id: tr.id as i64, bbox: tr.bbox, score: tr.score }));
        }
        rows
    }

    #[test]
    fn agrees_with_supervision_bytetrack_on_the_golden_sequence() {
        let reference = fixture("seq_ref_tracks.txt");
        let ours = run_golden(supervision_params());
        let a = agreement(&reference, &ours, 0.99);
        println!("supervision 0.25.1 vs ours: {a}");
        // Identical output up to relabelling: same boxes (to the fixture's 3 decimals and f32 rounding),
        // the same id partition, no switches.
        assert_eq!(a.our_boxes, a.reference_boxes, "{a}");
        assert_eq!(a.our_ids, a.reference_ids, "{a}");
        assert_eq!(a.id_consistent_boxes, a.reference_boxes, "{a}");
        assert_eq!(a.id_switches, 0, "{a}");
        assert!(a.max_coord_diff < 0.01, "{a}");
        let truth = agreement(&fixture("seq_gt.txt"), &ours, 0.5);
        println!("ground truth vs ours (IoU 0.5): {truth}");
    }

    #[test]
    fn min_hits_delays_confirmation_and_a_pair_of_detections_never_shows() {
        let params = TrackerParams { min_hits: 3, ..TrackerParams::default() };
        let mut t = ByteTracker::new(params).unwrap();
        // Frame 1 confirms at once (as the original); a later newcomer needs three matches.
        assert_eq!(t.update(&[det(0.0, 0.0, 0.9)], 0.0).len(), 1);
        assert_eq!(t.update(&[det(2.0, 0.0, 0.9), det(800.0, 0.0, 0.9)], 0.2).len(), 1);
        assert_eq!(t.update(&[det(4.0, 0.0, 0.9), det(802.0, 0.0, 0.9)], 0.4).len(), 1, "two hits: not yet");
        let shown = t.update(&[det(6.0, 0.0, 0.9), det(804.0, 0.0, 0.9)], 0.6);
        assert_eq!(shown.len(), 2, "third hit: confirmed");
        // A one-off pair (two hits, then gone) never gets an id.
        t.update(&[det(6.0, 0.0, 0.9), det(804.0, 0.0, 0.9), det(1400.0, 0.0, 0.9)], 0.8);
        t.update(&[det(6.0, 0.0, 0.9), det(804.0, 0.0, 0.9), det(1402.0, 0.0, 0.9)], 1.0);
        let later = t.update(&[det(6.0, 0.0, 0.9), det(804.0, 0.0, 0.9)], 1.2);
        assert_eq!(ids(&later), ids(&shown));
        assert!(ByteTracker::new(TrackerParams { min_hits: 0, ..TrackerParams::default() }).is_err());
    }

    #[test]
    fn the_golden_comparison_sees_a_changed_association() {
        // Without score fusion in the first association the output differs from the reference: the golden
        // test is sensitive to the association details, not only to the Kalman filter.
        let reference = fixture("seq_ref_tracks.txt");
        let ours = run_golden(TrackerParams { fuse_score: false, ..supervision_params() });
        let a = agreement(&reference, &ours, 0.99);
        println!("supervision vs ours without fuse_score: {a}");
        assert!(a.id_consistent_boxes < a.reference_boxes || a.our_boxes != a.reference_boxes, "{a}");
    }

    #[test]
    fn tracks_from_the_first_frame_are_confirmed_at_once_later_ones_on_the_second_hit() {
        let mut t = tracker();
        assert_eq!(ids(&t.update(&[det(0.0, 0.0, 0.9)], 0.0)), vec![1]);
        assert_eq!(ids(&t.update(&[det(1.0, 0.0, 0.9), det(300.0, 0.0, 0.9)], 0.033)), vec![1]);
        assert_eq!(ids(&t.update(&[det(2.0, 0.0, 0.9), det(301.0, 0.0, 0.9)], 0.066)), vec![1, 2]);
    }

    #[test]
    fn only_detections_above_new_track_thresh_start_tracks() {
        let mut t = tracker();
        t.update(&[det(0.0, 0.0, 0.55), det(200.0, 0.0, 0.3)], 0.0);
        assert!(t.update(&[det(0.0, 0.0, 0.55), det(200.0, 0.0, 0.3)], 0.033).is_empty());
        assert_eq!(t.live_tracks(), 0);
    }

    #[test]
    fn low_score_detections_keep_a_track_alive() {
        let mut t = tracker();
        t.update(&[det(0.0, 0.0, 0.9)], 0.0);
        let out = t.update(&[det(1.0, 0.0, 0.3)], 0.033);
        assert_eq!(ids(&out), vec![1]);
        assert!((out[0].score - 0.3).abs() < 1e-6);
        // Below low_thresh the detection is ignored and the track is lost (not output).
        assert!(t.update(&[det(2.0, 0.0, 0.05)], 0.066).is_empty());
        assert_eq!(ids(&t.update(&[det(3.0, 0.0, 0.9)], 0.1)), vec![1]);
    }

    #[test]
    fn lost_tracks_age_on_empty_frames_in_seconds_at_any_rate() {
        for fps in [5.0, 30.0] {
            let mut t = tracker();
            t.update(&[det(0.0, 0.0, 0.9)], 0.0);
            t.update(&[det(0.0, 0.0, 0.9)], 1.0 / fps);
            // 0.8 s without detections (empty frames still arrive), then it is re-found with its id.
            let mut time = 1.0 / fps;
            while time < 0.8 {
                time += 1.0 / fps;
                assert!(t.update(&[], time).is_empty());
            }
            assert_eq!(ids(&t.update(&[det(0.0, 0.0, 0.9)], time + 1.0 / fps)), vec![1], "fps {fps}");
            // 1.2 s of empty frames: past the 1 s buffer, the track is gone and the object gets a new id.
            let start = time + 1.0 / fps;
            let mut time = start;
            while time < start + 1.2 {
                time += 1.0 / fps;
                t.update(&[], time);
            }
            assert_eq!(t.live_tracks(), 0, "fps {fps}");
            t.update(&[det(0.0, 0.0, 0.9)], time + 1.0 / fps);
            assert_eq!(ids(&t.update(&[det(0.0, 0.0, 0.9)], time + 2.0 / fps)), vec![2], "fps {fps}");
        }
    }

    #[test]
    fn prediction_follows_real_time_between_irregular_updates() {
        // 300 px/s to the right, updates at irregular intervals (frames dropped upstream).
        let mut t = tracker();
        let times = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.9, 1.0, 1.1, 1.45, 1.55, 1.65, 2.1, 2.2];
        let mut seen = Vec::new();
        for (k, &time) in times.iter().enumerate() {
            let x = 300.0 * time as f32;
            let out = t.update(&[det(x, 0.0, 0.9)], time);
            seen.extend(ids(&out));
            if k >= 8 {
                // A box predicted on the wrong time scale would lag by tens of pixels before the update.
                let b = out[0].bbox;
                assert!((b.x1 - x).abs() < 6.0, "t {time}: tracked x1 {} vs {x}", b.x1);
            }
        }
        assert!(seen.iter().all(|&id| id == 1), "{seen:?}");
    }

    #[test]
    fn the_prediction_covers_a_gap_without_updates() {
        // Learn 300 px/s at 10 fps, then no update for 0.5 s (frames not inferred): the object moved 150 px,
        // more than its 100 px width. Only a prediction over the real 0.5 s (15 nominal frames) finds it.
        let mut t = tracker();
        let mut time = 0.0;
        for _ in 0..10 {
            t.update(&[det(300.0 * time as f32, 0.0, 0.9)], time);
            time += 0.1;
        }
        time += 0.4;
        assert_eq!(ids(&t.update(&[det(300.0 * time as f32, 0.0, 0.9)], time)), vec![1]);
    }

    #[test]
    fn time_going_backwards_resets_but_ids_continue() {
        let mut t = tracker();
        t.update(&[det(0.0, 0.0, 0.9)], 5.0);
        t.update(&[det(0.0, 0.0, 0.9)], 5.1);
        let out = t.update(&[det(0.0, 0.0, 0.9)], 0.0);
        assert_eq!(t.resets(), 1);
        assert_eq!(ids(&out), vec![2]);
    }

    #[test]
    fn class_is_the_majority_of_matched_detections() {
        let mut votes = ClassVotes::new(2);
        votes.add(7);
        assert_eq!(votes.majority(), 7, "a tie goes to the latest");
        votes.add(2);
        votes.add(7);
        votes.add(2);
        votes.add(7);
        votes.add(5);
        assert_eq!(votes.majority(), 7);
    }

    #[test]
    fn invalid_params_name_the_field() {
        let err = ByteTracker::new(TrackerParams { lost_buffer_sec: -1.0, ..TrackerParams::default() }).unwrap_err();
        assert!(err.to_string().contains("`lost_buffer_sec`"), "{err}");
        let err = ByteTracker::new(TrackerParams { track_thresh: 1.5, ..TrackerParams::default() }).unwrap_err();
        assert!(err.to_string().contains("`track_thresh` is 1.5"), "{err}");
    }

    #[test]
    fn degenerate_detections_are_ignored() {
        let mut t = tracker();
        let flat = Detection { class_id: 0, score: 0.9, bbox: BBox { x1: 5.0, y1: 5.0, x2: 50.0, y2: 5.0 } };
        let nan = Detection { class_id: 0, score: f32::NAN, bbox: det(0.0, 0.0, 0.9).bbox };
        assert!(t.update(&[flat, nan], 0.0).is_empty());
        assert_eq!(t.live_tracks(), 0);
    }

    /// A 1000 x 600 frame on which only `regions` were inferred.
    fn regions(regions: &[BBox]) -> Coverage<'_> {
        Coverage::Regions { regions, width: 1000.0, height: 600.0 }
    }

    #[test]
    fn a_track_outside_every_region_is_held_stationary_until_a_pass_covers_it() {
        let mut t = ByteTracker::new(TrackerParams::default()).unwrap();
        let (a, b) = (det(100.0, 100.0, 0.9), det(700.0, 100.0, 0.9));
        t.update(&[a, b], 0.0);
        t.update(&[a, b], 0.2);
        // Ten seconds of frames inferred only around `b`: `a` was not looked for, so it is held, not lost.
        let around_b = [BBox { x1: 600.0, y1: 0.0, x2: 900.0, y2: 400.0 }];
        let mut time = 0.2;
        while time < 10.0 {
            time += 0.2;
            let tracks = t.update_covered(&[b], time, regions(&around_b));
            assert_eq!(ids(&tracks), vec![1, 2], "at {time:.1} s");
            let held = tracks.iter().find(|tr| tr.id == 1).unwrap();
            assert!(held.stationary, "at {time:.1} s");
            assert_eq!(held.bbox, a.bbox, "a held track keeps its last box");
            assert!(!tracks.iter().find(|tr| tr.id == 2).unwrap().stationary);
        }
        // A full pass that does not find `a` any more: it is lost, then gone after the lost buffer.
        let whole = [BBox { x1: 0.0, y1: 0.0, x2: 1000.0, y2: 600.0 }];
        let mut end = time;
        while end < time + TrackerParams::default().lost_buffer_sec + 0.5 {
            end += 0.2;
            t.update_covered(&[b], end, regions(&whole));
        }
        assert_eq!(t.live_tracks(), 1, "only b is left");
    }

    #[test]
    fn a_track_predicted_out_of_the_frame_is_missed_not_held() {
        // Walking right at 200 px/s towards the right edge of the 1000 px frame.
        let mut t = ByteTracker::new(TrackerParams::default()).unwrap();
        let mut time = 0.0;
        for step in 0..8 {
            let tracks = t.update(&[det(560.0 + 40.0 * step as f32, 100.0, 0.9)], time);
            assert_eq!(ids(&tracks), vec![1]);
            time += 0.2;
        }
        // Then out of view: nothing moves, nothing is inferred. Its motion takes it out of the frame, so it is
        // missed and ages out instead of being held where it was last seen.
        while time < 6.0 {
            t.update_covered(&[], time, regions(&[]));
            time += 0.2;
        }
        assert_eq!(t.live_tracks(), 0, "a person who walked out of view is not kept as a stationary ghost");
    }
}
