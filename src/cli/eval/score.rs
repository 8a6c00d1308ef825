//! Scoring what the pipeline showed against labelled ground truth: the labels file, box matching at an
//! IoU threshold, and per-class recall and precision. Pure: no I/O beyond parsing.

use serde::Deserialize;
use std::collections::BTreeMap;

/// IoU at which a shown box counts as finding a labelled one.
pub const MATCH_IOU: f32 = 0.5;
/// Labelled boxes shorter than this many pixels are reported apart ("small"): the detector's weak spot.
pub const SMALL_PX: f32 = 48.0;

/// A labels file (`tests/data/labels/*.json`, format in `tests/data/labels/README.md`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Labels {
    /// The video the labels belong to, as a path from the repository root (informative).
    pub video: String,
    /// Picture size the boxes are in, pixels.
    pub width: u32,
    pub height: u32,
    /// How the labels were made and checked.
    pub provenance: String,
    /// Objects shorter than this many pixels count neither way: not demanded when labelled, not false
    /// when shown (for crowds too small to label one by one). Default 0: every object counts.
    #[serde(default)]
    pub min_height: f32,
    /// The labelled frames.
    pub frames: Vec<LabelledFrame>,
    /// Whole-clip counts: distinct people, and people entering each named zone.
    #[serde(default)]
    pub people: Option<People>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledFrame {
    /// Decoded frame index, from 0 (the overlay's `seq`).
    pub frame: u64,
    pub objects: Vec<LabelledObject>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledObject {
    /// `person` or `vehicle` (car, truck, bus, motorbike).
    pub class: String,
    /// `[x1, y1, x2, y2]` in pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Too occluded, too small or too ambiguous to demand: neither a miss when not found nor a false
    /// positive when found.
    #[serde(default)]
    pub ignore: bool,
    /// How the box was made: `prelabel` (the draft's, kept after looking), `corrected` (redrawn by hand) or
    /// `added` (missed by the draft). Informative.
    #[serde(default)]
    pub source: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct People {
    /// People seen in the whole clip, each counted once.
    pub distinct: u32,
    /// Times a person comes into view: one who leaves and comes back counts again (what a tracker without
    /// re-identification can at best keep one id for).
    #[serde(default)]
    pub visits: Option<u32>,
    /// Zone id → visits that enter the zone (by the rules' anchor, the feet).
    #[serde(default)]
    pub zones: BTreeMap<String, u32>,
}

/// The label class a model class counts as, `None` when it is not labelled (bicycles, everything else).
pub fn label_class(model_class: &str) -> Option<&'static str> {
    match model_class {
        "person" => Some("person"),
        "car" | "truck" | "bus" | "motorbike" | "motorcycle" => Some("vehicle"),
        _ => None,
    }
}

impl Labels {
    /// Parse and check a labels file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let labels: Labels = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let mut seen = std::collections::BTreeSet::new();
        for f in &labels.frames {
            if !seen.insert(f.frame) {
                return Err(format!("frame {} is labelled twice", f.frame));
            }
            for o in &f.objects {
                let [x1, y1, x2, y2] = o.bbox;
                if !matches!(o.class.as_str(), "person" | "vehicle") {
                    return Err(format!("frame {}: class {:?}: expected person or vehicle", f.frame, o.class));
                }
                if !(x1 < x2 && y1 < y2)
                    || x1 < -1.0
                    || y1 < -1.0
                    || x2 > labels.width as f32 + 1.0
                    || y2 > labels.height as f32 + 1.0
                {
                    return Err(format!(
                        "frame {}: box {:?} is not [x1, y1, x2, y2] inside {}x{}",
                        f.frame, o.bbox, labels.width, labels.height
                    ));
                }
            }
        }
        if labels.frames.is_empty() {
            return Err("no labelled frames".into());
        }
        Ok(labels)
    }
}

/// A box the pipeline showed: its label class and `[x1, y1, x2, y2]` in pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Shown {
    pub class: &'static str,
    pub bbox: [f32; 4],
}

pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// Share of `a`'s area inside `b`.
fn inside_share(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let area = (a[2] - a[0]) * (a[3] - a[1]);
    if area > 0.0 { iw * ih / area } else { 0.0 }
}

/// Counts for one class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub true_pos: u32,
    pub false_pos: u32,
    /// Of the false positives, those on a labelled object (a second box for it, or a part of it: it holds
    /// at least half of the false box): wrong sizes and duplicates rather than false alarms.
    pub false_on_object: u32,
    pub false_neg: u32,
    /// Of the labelled boxes, the small ones (shorter than [`SMALL_PX`]) and how many of them were found.
    pub small: u32,
    pub small_found: u32,
}

impl Counts {
    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }
    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }
    fn add(&mut self, o: Counts) {
        self.true_pos += o.true_pos;
        self.false_pos += o.false_pos;
        self.false_on_object += o.false_on_object;
        self.false_neg += o.false_neg;
        self.small += o.small;
        self.small_found += o.small_found;
    }
}

/// `num / den`, or NaN when there is nothing to divide (printed as "-").
pub fn ratio(num: u32, den: u32) -> f64 {
    if den == 0 { f64::NAN } else { num as f64 / den as f64 }
}

/// Match one frame's shown boxes against its labels, class by class: greedily by IoU, highest first, each
/// box used once, pairs below [`MATCH_IOU`] left unmatched. A shown box that matches only an ignored label
/// counts for nothing; so do labels and unmatched shown boxes shorter than `min_height` pixels.
pub fn score_frame(labels: &[LabelledObject], shown: &[Shown], min_height: f32) -> BTreeMap<&'static str, Counts> {
    let mut out = BTreeMap::new();
    for class in ["person", "vehicle"] {
        let truth: Vec<(&LabelledObject, bool)> = labels
            .iter()
            .filter(|o| o.class == class)
            .map(|o| (o, o.ignore || o.bbox[3] - o.bbox[1] < min_height))
            .collect();
        let preds: Vec<&Shown> = shown.iter().filter(|s| s.class == class).collect();
        // Demanded labels first, so an ignored label never takes a box a demanded one could have had.
        let mut pairs: Vec<(bool, f32, usize, usize)> = Vec::new();
        for (ti, (t, ignored)) in truth.iter().enumerate() {
            for (pi, p) in preds.iter().enumerate() {
                let v = iou(&t.bbox, &p.bbox);
                if v >= MATCH_IOU {
                    pairs.push((*ignored, v, ti, pi));
                }
            }
        }
        pairs.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        let (mut truth_used, mut pred_used) = (vec![false; truth.len()], vec![false; preds.len()]);
        let mut c = Counts::default();
        for (ignored, _, ti, pi) in pairs {
            if truth_used[ti] || pred_used[pi] {
                continue;
            }
            truth_used[ti] = true;
            pred_used[pi] = true;
            if !ignored {
                c.true_pos += 1;
            }
        }
        for (ti, (t, ignored)) in truth.iter().enumerate() {
            if *ignored {
                continue;
            }
            let small = t.bbox[3] - t.bbox[1] < SMALL_PX;
            if small {
                c.small += 1;
                c.small_found += u32::from(truth_used[ti]);
            }
            if !truth_used[ti] {
                c.false_neg += 1;
            }
        }
        let false_boxes: Vec<&&Shown> = preds
            .iter()
            .zip(&pred_used)
            .filter(|(p, used)| !**used && p.bbox[3] - p.bbox[1] >= min_height)
            .map(|(p, _)| p)
            .collect();
        c.false_pos = false_boxes.len() as u32;
        c.false_on_object =
            false_boxes.iter().filter(|p| truth.iter().any(|(t, _)| inside_share(&p.bbox, &t.bbox) >= 0.5)).count()
                as u32;
        out.insert(class, c);
    }
    out
}

/// Sum per-class counts over frames.
pub fn total<'a>(
    frames: impl IntoIterator<Item = &'a BTreeMap<&'static str, Counts>>,
) -> BTreeMap<&'static str, Counts> {
    let mut out: BTreeMap<&'static str, Counts> = BTreeMap::new();
    for f in frames {
        for (class, c) in f {
            out.entry(class).or_default().add(*c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(class: &str, bbox: [f32; 4], ignore: bool) -> LabelledObject {
        LabelledObject { class: class.into(), bbox, ignore, source: None }
    }

    #[test]
    fn matching_counts_hits_misses_and_false_alarms() {
        let truth = [
            obj("person", [0.0, 0.0, 10.0, 100.0], false),
            obj("person", [50.0, 0.0, 60.0, 20.0], false), // small, missed
            obj("vehicle", [100.0, 100.0, 200.0, 150.0], false),
        ];
        let shown = [
            Shown { class: "person", bbox: [1.0, 2.0, 10.0, 100.0] }, // hit
            Shown { class: "person", bbox: [0.0, 0.0, 10.0, 100.0] }, // duplicate of the same person: false alarm
            Shown { class: "person", bbox: [300.0, 0.0, 310.0, 30.0] }, // nothing there
            Shown { class: "vehicle", bbox: [100.0, 100.0, 140.0, 150.0] }, // IoU 0.4: no match
        ];
        let s = score_frame(&truth, &shown, 0.0);
        let want = Counts { true_pos: 1, false_pos: 2, false_on_object: 1, false_neg: 1, small: 1, small_found: 0 };
        assert_eq!(s["person"], want);
        let want = Counts { true_pos: 0, false_pos: 1, false_on_object: 1, false_neg: 1, small: 0, small_found: 0 };
        assert_eq!(s["vehicle"], want);
        assert!((s["person"].recall() - 0.5).abs() < 1e-9 && (s["person"].precision() - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn ignored_labels_are_neither_missed_nor_false_alarms() {
        let truth = [obj("person", [0.0, 0.0, 10.0, 100.0], true), obj("person", [20.0, 0.0, 30.0, 100.0], true)];
        let shown = [Shown { class: "person", bbox: [0.0, 0.0, 10.0, 100.0] }];
        assert_eq!(score_frame(&truth, &shown, 0.0)["person"], Counts::default());
        // A demanded label takes the box before an overlapping ignored one.
        let truth = [obj("person", [0.0, 0.0, 10.0, 100.0], true), obj("person", [1.0, 0.0, 11.0, 100.0], false)];
        assert_eq!(score_frame(&truth, &shown, 0.0)["person"].true_pos, 1);
    }

    #[test]
    fn objects_below_min_height_count_neither_way() {
        let truth = [obj("person", [0.0, 0.0, 10.0, 20.0], false), obj("person", [50.0, 0.0, 60.0, 100.0], false)];
        let shown = [
            Shown { class: "person", bbox: [0.0, 0.0, 10.0, 20.0] }, // finds the small one: nothing
            Shown { class: "person", bbox: [200.0, 0.0, 210.0, 25.0] }, // small, nothing there: not false
            Shown { class: "person", bbox: [300.0, 0.0, 310.0, 45.0] }, // tall enough, nothing there: false
        ];
        let c = score_frame(&truth, &shown, 32.0)["person"];
        assert_eq!((c.true_pos, c.false_pos, c.false_neg), (0, 1, 1));
        let c = score_frame(&truth, &shown, 0.0)["person"];
        assert_eq!((c.true_pos, c.false_pos, c.false_neg), (1, 2, 1));
    }

    #[test]
    fn parse_refuses_bad_boxes_classes_and_repeated_frames() {
        let file = |frames: &str| {
            format!(r#"{{"video": "v.mp4", "width": 100, "height": 100, "provenance": "test", "frames": {frames}}}"#)
        };
        assert!(
            Labels::parse(&file(r#"[{"frame": 1, "objects": [{"class": "person", "box": [1, 2, 3, 4]}]}]"#)).is_ok()
        );
        for (frames, want) in [
            (r#"[{"frame": 1, "objects": [{"class": "dog", "box": [1, 2, 3, 4]}]}]"#, "dog"),
            (r#"[{"frame": 1, "objects": [{"class": "person", "box": [3, 2, 1, 4]}]}]"#, "[3.0, 2.0, 1.0, 4.0]"),
            (r#"[{"frame": 1, "objects": [{"class": "person", "box": [1, 2, 300, 4]}]}]"#, "inside 100x100"),
            (r#"[{"frame": 1, "objects": []}, {"frame": 1, "objects": []}]"#, "frame 1 is labelled twice"),
            ("[]", "no labelled frames"),
            (r#"[{"frame": 1, "objects": [], "extra": 1}]"#, "unknown field `extra`"),
        ] {
            let err = Labels::parse(&file(frames)).unwrap_err();
            assert!(err.contains(want), "{frames}: {err}");
        }
    }

    #[test]
    fn totals_add_up_and_empty_ratios_are_nan() {
        let a = Counts { true_pos: 1, false_neg: 1, small: 1, small_found: 1, ..Default::default() };
        let b = Counts { true_pos: 2, false_pos: 1, false_on_object: 1, ..Default::default() };
        let t = total([&BTreeMap::from([("person", a)]), &BTreeMap::from([("person", b)])]);
        let want = Counts { true_pos: 3, false_pos: 1, false_on_object: 1, false_neg: 1, small: 1, small_found: 1 };
        assert_eq!(t["person"], want);
        assert!(Counts::default().recall().is_nan());
        assert_eq!(label_class("truck"), Some("vehicle"));
        assert_eq!(label_class("bicycle"), None);
    }
}
