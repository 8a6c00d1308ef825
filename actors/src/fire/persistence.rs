//! Fire and smoke decisions, pure: which boxes count (per-class confidence, least area as a fraction of the
//! frame), and when an alarm starts and ends (k of the last n inferences show the class; the alarm ends when
//! none of the last n does).

use crate::geometry::BBox;
use std::collections::VecDeque;

/// `k` positives among the last `n` observations.
#[derive(Clone, Debug)]
pub struct KOfN {
    k: usize,
    n: usize,
    window: VecDeque<bool>,
}

impl KOfN {
    /// `1 <= k <= n` (checked by the caller's spec).
    pub fn new(k: usize, n: usize) -> Self {
        Self { k: k.max(1), n: n.max(1), window: VecDeque::with_capacity(n.max(1)) }
    }

    /// Record one observation.
    pub fn push(&mut self, positive: bool) {
        if self.window.len() == self.n {
            self.window.pop_front();
        }
        self.window.push_back(positive);
    }

    /// Positives in the window.
    pub fn positives(&self) -> usize {
        self.window.iter().filter(|p| **p).count()
    }

    /// At least `k` of the last `n` were positive.
    pub fn holds(&self) -> bool {
        self.positives() >= self.k
    }

    /// The window is full and holds no positive.
    pub fn clear(&self) -> bool {
        self.window.len() == self.n && self.positives() == 0
    }
}

/// What one inference changed for one class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Alarm {
    None,
    Start,
    End,
}

/// The alarm state of one class (fire or smoke).
#[derive(Clone, Debug)]
pub struct ClassAlarm {
    window: KOfN,
    open: bool,
}

impl ClassAlarm {
    pub fn new(k: usize, n: usize) -> Self {
        Self { window: KOfN::new(k, n), open: false }
    }

    /// One inference: whether it showed the class.
    pub fn observe(&mut self, positive: bool) -> Alarm {
        self.window.push(positive);
        if !self.open && self.window.holds() {
            self.open = true;
            Alarm::Start
        } else if self.open && self.window.clear() {
            self.open = false;
            Alarm::End
        } else {
            Alarm::None
        }
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Close without an observation (the camera stops); `true` when an alarm was open.
    pub fn close(&mut self) -> bool {
        std::mem::replace(&mut self.open, false)
    }

    /// `positives/n` of the window, for event details.
    pub fn window_text(&self) -> String {
        format!("{}/{}", self.window.positives(), self.window.n)
    }
}

/// Whether a box of `score` and `bbox` (frame pixels) counts for a class with threshold `min_score` and least
/// area `min_area` (fraction of a `width x height` frame).
pub fn counts(score: f32, bbox: &BBox, min_score: f32, min_area: f32, width: u32, height: u32) -> bool {
    let frame = width as f32 * height as f32;
    score >= min_score && frame > 0.0 && bbox.area() / frame >= min_area
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(alarm: &mut ClassAlarm, seq: &str) -> Vec<Alarm> {
        seq.chars().map(|c| alarm.observe(c == '1')).collect()
    }

    #[test]
    fn three_of_five_starts_and_five_clear_ends() {
        use Alarm::{End as E, None as N, Start as S};
        let mut a = ClassAlarm::new(3, 5);
        assert_eq!(run(&mut a, "1010"), vec![N, N, N, N], "two positives are not enough");
        assert_eq!(run(&mut a, "1"), vec![S], "1,0,1,0,1: three of five");
        assert!(a.is_open());
        assert_eq!(run(&mut a, "0000"), vec![N, N, N, N], "a positive is still in the window");
        assert_eq!(run(&mut a, "0"), vec![E], "five clear inferences end it");
        assert_eq!(run(&mut a, "11"), vec![N, N]);
        assert_eq!(run(&mut a, "1"), vec![S]);
    }

    #[test]
    fn isolated_flickers_never_start() {
        let mut a = ClassAlarm::new(3, 5);
        assert!(run(&mut a, "1000010000100001").iter().all(|x| *x == Alarm::None));
        assert!(!a.is_open());
    }

    #[test]
    fn one_of_one_follows_every_inference() {
        let mut a = ClassAlarm::new(1, 1);
        assert_eq!(run(&mut a, "1101"), vec![Alarm::Start, Alarm::None, Alarm::End, Alarm::Start]);
        assert!(a.close() && !a.is_open() && !a.close());
    }

    #[test]
    fn boxes_count_by_score_and_area() {
        let b = BBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 }; // 100 px² of a 100 x 100 frame: 1 %
        assert!(counts(0.9, &b, 0.85, 0.01, 100, 100));
        assert!(!counts(0.84, &b, 0.85, 0.01, 100, 100), "score below the class threshold");
        assert!(!counts(0.9, &b, 0.85, 0.02, 100, 100), "smaller than 2 % of the frame");
        assert!(!counts(0.9, &b, 0.0, 0.0, 0, 0), "no frame size");
    }
}
