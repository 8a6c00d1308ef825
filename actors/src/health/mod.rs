//! Camera health: what is wrong with the picture itself, judged on a small grey thumbnail of a decoded frame
//! every half second (`[cameras.health]`, `docs/rules.md#camera-health`).
//!
//! - **frozen**: consecutive thumbnails identical (mean absolute difference below 0.25 grey levels): the
//!   stream delivers, but the same picture (a hung encoder, a looping replay);
//! - **blinded**: too dark (mean below `dark_level`), too bright (above `bright_level`) or flat (standard
//!   deviation below `flat_level`): covered, sprayed, blinded by a light;
//! - **defocused**: sharpness (mean absolute Laplacian) below `defocus_ratio` of the reference's;
//! - **scene moved**: the picture no longer correlates with the reference (zero-mean normalised
//!   correlation below `moved_similarity`): the camera was turned or moved;
//! - **video lost**: no picture for `lost_sec` (the camera is reconnecting); `end` when pictures come back.
//!
//! The reference is the mean of the first `learn_sec` of healthy thumbnails after the camera starts. Each
//! condition must hold for its `*_sec` before it starts, and be clear for `clear_sec` before it ends; a blinded
//! picture is not judged for the other three (a black frame is also frozen, unsharp and unlike the
//! reference). Pure: times are passed in, in seconds on any monotonic clock.

use crate::config::HealthConfig;
use crate::messages::EventKind;

/// Thumbnail width and height.
pub const THUMB_W: usize = 64;
pub const THUMB_H: usize = 48;

/// A grey thumbnail, row-major, `THUMB_W × THUMB_H` values 0–255.
#[derive(Clone, Debug, PartialEq)]
pub struct Thumb(pub Vec<f32>);

impl Thumb {
    /// Box-average an 8-bit luma plane (`width × height`, rows `stride` bytes apart) down to a thumbnail.
    pub fn from_luma(luma: &[u8], stride: usize, width: usize, height: usize) -> Option<Self> {
        if width < THUMB_W || height < THUMB_H || luma.len() < stride * (height - 1) + width {
            return None;
        }
        let mut out = vec![0.0f32; THUMB_W * THUMB_H];
        for (ty, row_out) in out.chunks_mut(THUMB_W).enumerate() {
            let (y0, y1) = (ty * height / THUMB_H, (ty + 1) * height / THUMB_H);
            for (tx, v) in row_out.iter_mut().enumerate() {
                let (x0, x1) = (tx * width / THUMB_W, (tx + 1) * width / THUMB_W);
                let mut sum = 0u64;
                for y in y0..y1 {
                    sum += luma[y * stride + x0..y * stride + x1].iter().map(|&p| u64::from(p)).sum::<u64>();
                }
                *v = sum as f32 / ((y1 - y0) * (x1 - x0)) as f32;
            }
        }
        Some(Self(out))
    }

    fn mean(&self) -> f32 {
        self.0.iter().sum::<f32>() / self.0.len() as f32
    }

    fn std(&self) -> f32 {
        let m = self.mean();
        (self.0.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / self.0.len() as f32).sqrt()
    }

    /// Mean absolute 4-neighbour Laplacian: falls when the picture blurs.
    fn sharpness(&self) -> f32 {
        let at = |x: usize, y: usize| self.0[y * THUMB_W + x];
        let mut sum = 0.0;
        for y in 1..THUMB_H - 1 {
            for x in 1..THUMB_W - 1 {
                sum += (4.0 * at(x, y) - at(x - 1, y) - at(x + 1, y) - at(x, y - 1) - at(x, y + 1)).abs();
            }
        }
        sum / ((THUMB_W - 2) * (THUMB_H - 2)) as f32
    }

    fn mean_abs_diff(&self, other: &Thumb) -> f32 {
        self.0.iter().zip(&other.0).map(|(a, b)| (a - b).abs()).sum::<f32>() / self.0.len() as f32
    }

    /// Zero-mean normalised correlation with `other`, in [-1, 1] (0 when either is flat).
    fn similarity(&self, other: &Thumb) -> f32 {
        let (ma, mb) = (self.mean(), other.mean());
        let (mut ab, mut aa, mut bb) = (0.0f32, 0.0f32, 0.0f32);
        for (a, b) in self.0.iter().zip(&other.0) {
            let (a, b) = (a - ma, b - mb);
            ab += a * b;
            aa += a * a;
            bb += b * b;
        }
        if aa <= f32::EPSILON || bb <= f32::EPSILON { 0.0 } else { ab / (aa * bb).sqrt() }
    }
}

/// The picture conditions, in the order they are reported.
pub const CONDITIONS: [EventKind; 5] =
    [EventKind::VideoLost, EventKind::Frozen, EventKind::Blinded, EventKind::Defocused, EventKind::SceneMoved];

/// A condition starting or ending, with what was measured.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub kind: EventKind,
    pub started: bool,
    /// Kind-specific figures for the event's `details`.
    pub details: serde_json::Value,
}

/// One condition's debouncing: true for `hold` before it starts, false for `clear` before it ends.
#[derive(Clone, Debug, Default)]
struct Debounce {
    active: bool,
    /// Since when the raw condition has disagreed with `active`.
    since: Option<f64>,
}

impl Debounce {
    /// Feed the raw condition at `now`; `Some(true)` when it starts, `Some(false)` when it ends.
    fn feed(&mut self, raw: bool, now: f64, hold: f64, clear: f64) -> Option<bool> {
        if raw == self.active {
            self.since = None;
            return None;
        }
        let since = *self.since.get_or_insert(now);
        if now - since >= if raw { hold } else { clear } {
            self.active = raw;
            self.since = None;
            return Some(raw);
        }
        None
    }
}

/// The reference view and sharpness, learned from the first healthy thumbnails.
#[derive(Clone, Debug)]
struct Reference {
    sum: Vec<f32>,
    samples: u32,
    since: f64,
    learned: Option<(Thumb, f32)>,
}

/// One camera's health.
#[derive(Clone, Debug)]
pub struct HealthMonitor {
    cfg: HealthConfig,
    last: Option<Thumb>,
    reference: Option<Reference>,
    states: [Debounce; 5],
    /// Since when no picture has come (the session ended), if it has not come back.
    lost_since: Option<f64>,
}

fn index(kind: EventKind) -> usize {
    CONDITIONS.iter().position(|k| *k == kind).expect("a health condition")
}

impl HealthMonitor {
    pub fn new(cfg: HealthConfig) -> Self {
        Self { cfg, last: None, reference: None, states: Default::default(), lost_since: None }
    }

    /// Whether `kind` is active now.
    pub fn active(&self, kind: EventKind) -> bool {
        self.states[index(kind)].active
    }

    /// A picture came at `now`: judge it. Ends a video loss.
    pub fn picture(&mut self, now: f64, thumb: Thumb) -> Vec<Change> {
        let mut out = Vec::new();
        self.lost_since = None;
        if self.states[index(EventKind::VideoLost)].active {
            self.states[index(EventKind::VideoLost)] = Debounce::default();
            out.push(Change { kind: EventKind::VideoLost, started: false, details: serde_json::json!({}) });
        }
        let c = &self.cfg;
        let (mean, std) = (thumb.mean(), thumb.std());
        let blinded = mean < c.dark_level || mean > c.bright_level || std < c.flat_level;
        let frozen = !blinded && self.last.as_ref().is_some_and(|l| thumb.mean_abs_diff(l) < 0.25);
        let sharpness = thumb.sharpness();
        let (mut defocused, mut moved, mut similarity, mut reference_sharpness) = (false, false, None, None);
        match &mut self.reference {
            None if !blinded => {
                self.reference = Some(Reference { sum: thumb.0.clone(), samples: 1, since: now, learned: None });
            }
            Some(r) if r.learned.is_none() => {
                if !blinded && !frozen {
                    r.sum.iter_mut().zip(&thumb.0).for_each(|(s, v)| *s += v);
                    r.samples += 1;
                }
                if now - r.since >= c.learn_sec && r.samples >= 2 {
                    let mean_thumb = Thumb(r.sum.iter().map(|s| s / r.samples as f32).collect());
                    let sharp = mean_thumb.sharpness();
                    r.learned = Some((mean_thumb, sharp));
                }
            }
            Some(Reference { learned: Some((view, sharp)), .. }) if !blinded => {
                let s = thumb.similarity(view);
                similarity = Some(s);
                reference_sharpness = Some(*sharp);
                defocused = sharpness < c.defocus_ratio * *sharp;
                moved = s < c.moved_similarity;
            }
            _ => {}
        }
        let round = |v: f32| (v * 1000.0).round() / 1000.0;
        let details = serde_json::json!({
            "mean": round(mean),
            "std": round(std),
            "sharpness": round(sharpness),
            "reference_sharpness": reference_sharpness.map(round),
            "similarity": similarity.map(round),
        });
        let raw = [
            (EventKind::Frozen, frozen, c.frozen_sec),
            (EventKind::Blinded, blinded, c.blinded_sec),
            (EventKind::Defocused, defocused, c.defocused_sec),
            (EventKind::SceneMoved, moved, c.moved_sec),
        ];
        for (kind, is, hold) in raw {
            if let Some(started) = self.states[index(kind)].feed(is, now, hold, c.clear_sec) {
                out.push(Change { kind, started, details: details.clone() });
            }
        }
        self.last = Some(thumb);
        out
    }

    /// The stream stopped delivering at `now` (a session ended). The other conditions are kept: they are
    /// judged again on the next picture.
    pub fn lost(&mut self, now: f64) {
        self.lost_since.get_or_insert(now);
        self.last = None;
    }

    /// Seconds from `now` until a pending video loss is due (`None` when none is pending).
    pub fn lost_in(&self, now: f64) -> Option<f64> {
        let since = self.lost_since?;
        (!self.states[index(EventKind::VideoLost)].active).then(|| (since + self.cfg.lost_sec - now).max(0.0))
    }

    /// Still no picture at `now`: a video loss starts once it has lasted `lost_sec`.
    pub fn still_lost(&mut self, now: f64) -> Option<Change> {
        let since = self.lost_since?;
        let state = &mut self.states[index(EventKind::VideoLost)];
        if !state.active && now - since >= self.cfg.lost_sec {
            state.active = true;
            let details = serde_json::json!({ "lost_sec": ((now - since) * 10.0).round() / 10.0 });
            return Some(Change { kind: EventKind::VideoLost, started: true, details });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HealthConfig {
        HealthConfig {
            enabled: true,
            learn_sec: 2.0,
            frozen_sec: 3.0,
            blinded_sec: 2.0,
            defocused_sec: 3.0,
            moved_sec: 3.0,
            lost_sec: 5.0,
            clear_sec: 1.0,
            ..HealthConfig::default()
        }
    }

    /// A textured scene (a grid of blobs), shifted right by `dx` pixels, with `noise` varying per frame.
    fn scene(dx: usize, frame: u32) -> Thumb {
        let mut v = Vec::with_capacity(THUMB_W * THUMB_H);
        for y in 0..THUMB_H {
            for x in 0..THUMB_W {
                let xs = (x + THUMB_W - dx % THUMB_W) % THUMB_W;
                let base = if (xs / 6 + y / 5).is_multiple_of(2) { 60.0 } else { 180.0 } + (xs as f32 * 0.7);
                let noise = ((x * 31 + y * 17 + frame as usize * 13) % 7) as f32 - 3.0;
                v.push(base + noise);
            }
        }
        Thumb(v)
    }

    fn blur(t: &Thumb) -> Thumb {
        let mut out = t.0.clone();
        for y in 2..THUMB_H - 2 {
            for x in 2..THUMB_W - 2 {
                let mut s = 0.0;
                for dy in 0..5 {
                    for dx in 0..5 {
                        s += t.0[(y + dy - 2) * THUMB_W + x + dx - 2];
                    }
                }
                out[y * THUMB_W + x] = s / 25.0;
            }
        }
        Thumb(out)
    }

    /// Feed `frames` pictures from `f(i)` twice a second from `t0`; the changes with their times.
    fn run(m: &mut HealthMonitor, t0: f64, frames: u32, f: impl Fn(u32) -> Thumb) -> Vec<(f64, EventKind, bool)> {
        let mut out = Vec::new();
        for i in 0..frames {
            let t = t0 + f64::from(i) * 0.5;
            out.extend(m.picture(t, f(i)).into_iter().map(|c| (t, c.kind, c.started)));
        }
        out
    }

    #[test]
    fn a_healthy_scene_raises_nothing() {
        let mut m = HealthMonitor::new(cfg());
        assert!(run(&mut m, 0.0, 120, |i| scene(0, i)).is_empty());
    }

    #[test]
    fn each_condition_starts_after_its_hold_and_ends_once_clear() {
        let mut m = HealthMonitor::new(cfg());
        assert!(run(&mut m, 0.0, 10, |i| scene(0, i)).is_empty(), "learning");
        // Frozen: the same picture (from its first repeat at 5.5 s) for 3 s starts it; moving pictures end it
        // after 1 s.
        let still = scene(0, 99);
        let ch = run(&mut m, 5.0, 10, |_| still.clone());
        assert_eq!(ch, [(8.5, EventKind::Frozen, true)]);
        let ch = run(&mut m, 10.0, 6, |i| scene(0, i));
        assert_eq!(ch, [(11.0, EventKind::Frozen, false)]);
        // Blinded: black for 2 s (not also frozen, unsharp or moved).
        let ch = run(&mut m, 20.0, 10, |_| Thumb(vec![3.0; THUMB_W * THUMB_H]));
        assert_eq!(ch, [(22.0, EventKind::Blinded, true)]);
        let ch = run(&mut m, 25.0, 6, |i| scene(0, i));
        assert_eq!(ch, [(26.0, EventKind::Blinded, false)]);
        // Defocused: blurred for 3 s; still the same view.
        let ch = run(&mut m, 30.0, 10, |i| blur(&blur(&scene(0, i))));
        assert_eq!(ch, [(33.0, EventKind::Defocused, true)]);
        let ch = run(&mut m, 35.0, 6, |i| scene(0, i));
        assert_eq!(ch, [(36.0, EventKind::Defocused, false)]);
        // Scene moved: the view shifted by a third of the picture.
        let ch = run(&mut m, 40.0, 10, |i| scene(THUMB_W / 3, i));
        assert_eq!(ch, [(43.0, EventKind::SceneMoved, true)]);
        let ch = run(&mut m, 45.0, 6, |i| scene(0, i));
        assert_eq!(ch, [(46.0, EventKind::SceneMoved, false)]);
    }

    #[test]
    fn a_short_glitch_raises_nothing() {
        let mut m = HealthMonitor::new(cfg());
        run(&mut m, 0.0, 10, |i| scene(0, i));
        // 1.5 s of black (under blinded_sec), then the scene again.
        assert!(run(&mut m, 5.0, 3, |_| Thumb(vec![0.0; THUMB_W * THUMB_H])).is_empty());
        assert!(run(&mut m, 6.5, 10, |i| scene(0, i)).is_empty());
    }

    #[test]
    fn video_lost_starts_after_lost_sec_and_ends_with_the_next_picture() {
        let mut m = HealthMonitor::new(cfg());
        run(&mut m, 0.0, 10, |i| scene(0, i));
        m.lost(10.0);
        assert_eq!(m.still_lost(12.0), None);
        let c = m.still_lost(15.5).expect("lost for 5.5 s");
        assert!(c.started && c.kind == EventKind::VideoLost, "{c:?}");
        assert_eq!(m.still_lost(20.0), None, "once");
        let back = m.picture(21.0, scene(0, 1));
        assert_eq!(back.iter().map(|c| (c.kind, c.started)).collect::<Vec<_>>(), [(EventKind::VideoLost, false)]);
        // A short loss raises nothing.
        m.lost(30.0);
        assert_eq!(m.still_lost(33.0), None);
        assert!(m.picture(33.5, scene(0, 2)).is_empty());
    }

    #[test]
    fn a_thumbnail_averages_the_luma_plane() {
        let (w, h, stride) = (128usize, 96usize, 130usize);
        let mut luma = vec![0u8; stride * h];
        for y in 0..h {
            for x in 0..w {
                luma[y * stride + x] = if x < w / 2 { 40 } else { 200 };
            }
        }
        let t = Thumb::from_luma(&luma, stride, w, h).unwrap();
        assert_eq!((t.0[0], t.0[THUMB_W - 1]), (40.0, 200.0));
        assert!(Thumb::from_luma(&luma, stride, 32, 24).is_none(), "smaller than a thumbnail");
    }
}
