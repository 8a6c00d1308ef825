//! Decoding of Ultralytics detect outputs into [`Detection`]s: per-anchor best class, confidence
//! threshold, class-aware non-maximum suppression, and the inverse letterbox back to source pixels.
//!
//! Pure functions on slices, so they are tested without ONNX Runtime. The steps follow Ultralytics'
//! `non_max_suppression` (single label per anchor, `max_nms` candidates, `max_det` results, IoU strictly
//! above the threshold suppresses) and `scale_boxes`.

use crate::geometry::{BBox, Letterbox};
use crate::messages::Detection;

/// Most candidates that enter NMS, highest scores first (Ultralytics `max_nms`).
pub const MAX_NMS: usize = 30_000;
/// Most detections kept per image (Ultralytics `max_det`).
pub const MAX_DET: usize = 300;

/// How one image's output is laid out in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputLayout {
    /// `[4 + C, A]`: Ultralytics' export (all `cx` first, then all `cy`, …).
    ChannelsFirst,
    /// `[A, 4 + C]`: one row per anchor (a transposed export).
    AnchorsFirst,
}

impl OutputLayout {
    /// Work out the layout from the two trailing output dimensions (`None`: symbolic).
    ///
    /// The channel dimension is `4 + C` with `C >= 1`; the anchor dimension is larger than it for any real
    /// input size. A symbolic dimension is the anchor one (it varies with the input size). Returns the
    /// layout and the class count, or `None` when the shape is ambiguous.
    pub fn infer(d1: Option<usize>, d2: Option<usize>) -> Option<(OutputLayout, usize)> {
        let (layout, channels) = match (d1, d2) {
            (Some(c), None) => (OutputLayout::ChannelsFirst, c),
            (None, Some(c)) => (OutputLayout::AnchorsFirst, c),
            (Some(a), Some(b)) if a < b => (OutputLayout::ChannelsFirst, a),
            (Some(a), Some(b)) if b < a => (OutputLayout::AnchorsFirst, b),
            _ => return None,
        };
        (channels > 4).then_some((layout, channels - 4))
    }
}

/// Thresholds and caps for decoding.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeOptions {
    /// Minimum class score to keep an anchor.
    pub confidence: f32,
    /// IoU strictly above which the lower-scored box of the same class is suppressed.
    pub iou: f32,
    pub max_nms: usize,
    pub max_det: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { confidence: 0.25, iou: 0.45, max_nms: MAX_NMS, max_det: MAX_DET }
    }
}

/// Decode one image's raw output (`(4 + classes) * anchors` floats in `layout`) into detections in
/// model-input pixels, after the threshold and class-aware NMS, sorted by score (highest first).
pub fn decode(output: &[f32], layout: OutputLayout, classes: usize, opts: &DecodeOptions) -> Vec<Detection> {
    let channels = 4 + classes;
    assert!(classes > 0 && output.len().is_multiple_of(channels), "output length is not a multiple of 4 + classes");
    let anchors = output.len() / channels;
    let at = |channel: usize, anchor: usize| match layout {
        OutputLayout::ChannelsFirst => output[channel * anchors + anchor],
        OutputLayout::AnchorsFirst => output[anchor * channels + channel],
    };

    // Best class per anchor. Channel-major scans read the channels-first layout sequentially.
    let mut best = vec![(f32::NEG_INFINITY, 0u32); anchors];
    match layout {
        OutputLayout::ChannelsFirst => {
            for c in 0..classes {
                let row = &output[(4 + c) * anchors..(5 + c) * anchors];
                for (b, &s) in best.iter_mut().zip(row) {
                    if s > b.0 {
                        *b = (s, c as u32);
                    }
                }
            }
        }
        OutputLayout::AnchorsFirst => {
            for (b, row) in best.iter_mut().zip(output.chunks_exact(channels)) {
                for (c, &s) in row[4..].iter().enumerate() {
                    if s > b.0 {
                        *b = (s, c as u32);
                    }
                }
            }
        }
    }

    // Threshold before anything else: only these few anchors get boxes built.
    let mut candidates: Vec<Detection> = best
        .iter()
        .enumerate()
        .filter(|(_, (score, _))| *score >= opts.confidence)
        .map(|(a, &(score, class_id))| Detection {
            class_id,
            score,
            bbox: BBox::from_center(at(0, a), at(1, a), at(2, a), at(3, a)),
        })
        .collect();
    // Stable sort: equal scores keep anchor order, so the result is deterministic.
    candidates.sort_by(|a, b| b.score.total_cmp(&a.score));
    candidates.truncate(opts.max_nms);
    nms(candidates, opts.iou, opts.max_det)
}

/// Greedy class-aware NMS over detections sorted by score (highest first): a box is dropped when its IoU
/// with a kept box of the same class is above `iou`. Keeps at most `max_det`.
pub fn nms(sorted: Vec<Detection>, iou: f32, max_det: usize) -> Vec<Detection> {
    debug_assert!(sorted.windows(2).all(|w| w[0].score >= w[1].score), "nms input must be sorted by score");
    let mut kept: Vec<Detection> = Vec::new();
    for d in sorted {
        if kept.len() >= max_det {
            break;
        }
        if !kept.iter().any(|k| k.class_id == d.class_id && k.bbox.iou(&d.bbox) > iou) {
            kept.push(d);
        }
    }
    kept
}

/// Map detections from model-input pixels back to source pixels (clamped to the frame).
pub fn to_source(detections: &mut [Detection], letterbox: &Letterbox) {
    for d in detections {
        d.bbox = letterbox.to_source(&d.bbox);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Build a channels-first output from `(cx, cy, w, h, scores)` rows.
    fn channels_first(rows: &[([f32; 4], Vec<f32>)]) -> Vec<f32> {
        let classes = rows[0].1.len();
        let a = rows.len();
        let mut out = vec![0.0; (4 + classes) * a];
        for (i, (b, s)) in rows.iter().enumerate() {
            for (c, v) in b.iter().chain(s).enumerate() {
                out[c * a + i] = *v;
            }
        }
        out
    }

    fn transpose(out: &[f32], channels: usize) -> Vec<f32> {
        let a = out.len() / channels;
        (0..a).flat_map(|i| (0..channels).map(move |c| out[c * a + i])).collect()
    }

    fn opts(confidence: f32, iou: f32) -> DecodeOptions {
        DecodeOptions { confidence, iou, ..DecodeOptions::default() }
    }

    #[test]
    fn layout_is_inferred_from_the_smaller_or_fixed_dimension() {
        assert_eq!(OutputLayout::infer(Some(84), Some(8400)), Some((OutputLayout::ChannelsFirst, 80)));
        assert_eq!(OutputLayout::infer(Some(8400), Some(6)), Some((OutputLayout::AnchorsFirst, 2)));
        assert_eq!(OutputLayout::infer(Some(84), None), Some((OutputLayout::ChannelsFirst, 80)));
        assert_eq!(OutputLayout::infer(None, Some(5)), Some((OutputLayout::AnchorsFirst, 1)));
        assert_eq!(OutputLayout::infer(None, None), None);
        assert_eq!(OutputLayout::infer(Some(84), Some(84)), None);
        assert_eq!(OutputLayout::infer(Some(4), Some(8400)), None, "no class channel");
    }

    #[test]
    fn picks_best_class_and_converts_centre_boxes() {
        let out = channels_first(&[([50.0, 60.0, 20.0, 40.0], vec![0.1, 0.9, 0.3])]);
        let d = decode(&out, OutputLayout::ChannelsFirst, 3, &opts(0.25, 0.45));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].class_id, 1);
        assert_eq!(d[0].score, 0.9);
        assert_eq!(d[0].bbox, BBox { x1: 40.0, y1: 40.0, x2: 60.0, y2: 80.0 });
    }

    #[test]
    fn threshold_is_inclusive_and_drops_the_rest() {
        let out =
            channels_first(&[([10.0, 10.0, 4.0, 4.0], vec![0.25, 0.0]), ([50.0, 50.0, 4.0, 4.0], vec![0.2499, 0.1])]);
        let d = decode(&out, OutputLayout::ChannelsFirst, 2, &opts(0.25, 0.45));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].bbox.x1, 8.0);
    }

    #[test]
    fn nms_is_class_aware_and_strict() {
        // b lies inside a (IoU 0.75, same class); c is b's twin of another class; d overlaps a with IoU 1/3.
        let a = [50.0, 50.0, 100.0, 100.0];
        let b = [50.0, 62.5, 100.0, 75.0]; // inside a: IoU = 75/100
        let d = [100.0, 50.0, 100.0, 100.0]; // half-overlapping a: IoU = 50/150
        let out = channels_first(&[(a, vec![0.9, 0.0]), (b, vec![0.8, 0.0]), (b, vec![0.0, 0.7]), (d, vec![0.6, 0.0])]);
        let got = decode(&out, OutputLayout::ChannelsFirst, 2, &opts(0.25, 0.45));
        let summary: Vec<(u32, f32)> = got.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(summary, vec![(0, 0.9), (1, 0.7), (0, 0.6)]);
        // IoU exactly at the threshold is kept (Ultralytics suppresses only IoU > iou).
        let got = decode(&out, OutputLayout::ChannelsFirst, 2, &opts(0.25, 1.0 / 3.0));
        assert_eq!(got.len(), 3, "IoU == threshold must not suppress: {got:?}");
        let got = decode(&out, OutputLayout::ChannelsFirst, 2, &opts(0.25, 0.3));
        assert_eq!(got.iter().map(|d| d.score).collect::<Vec<_>>(), vec![0.9, 0.7]);
    }

    #[test]
    fn transposed_layout_gives_the_same_result() {
        let rows: Vec<([f32; 4], Vec<f32>)> = (0..50)
            .map(|i| {
                let f = i as f32;
                (
                    [f * 7.0 % 300.0, f * 13.0 % 300.0, 20.0 + f, 30.0 + f % 7.0],
                    vec![(f * 0.37) % 1.0, (f * 0.61) % 1.0],
                )
            })
            .collect();
        let cf = channels_first(&rows);
        let af = transpose(&cf, 6);
        let o = opts(0.3, 0.5);
        assert_eq!(decode(&cf, OutputLayout::ChannelsFirst, 2, &o), decode(&af, OutputLayout::AnchorsFirst, 2, &o));
        assert!(!decode(&cf, OutputLayout::ChannelsFirst, 2, &o).is_empty());
    }

    #[test]
    fn caps_candidates_and_results() {
        // 20 disjoint boxes of one class, decreasing scores.
        let rows: Vec<_> =
            (0..20).map(|i| ([i as f32 * 100.0, 0.0, 10.0, 10.0], vec![1.0 - i as f32 * 0.01])).collect();
        let out = channels_first(&rows);
        let o = DecodeOptions { max_nms: 5, ..opts(0.25, 0.45) };
        let got = decode(&out, OutputLayout::ChannelsFirst, 1, &o);
        assert_eq!(got.len(), 5);
        assert!((got[4].score - 0.96).abs() < 1e-6);
        let o = DecodeOptions { max_det: 3, ..opts(0.25, 0.45) };
        assert_eq!(decode(&out, OutputLayout::ChannelsFirst, 1, &o).len(), 3);
    }

    /// A brute-force NMS straight from the definition: for each box, is there a higher-ranked kept box of the
    /// same class overlapping it by more than the threshold?
    fn reference_nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
        dets.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut suppressed = vec![false; dets.len()];
        for i in 0..dets.len() {
            if suppressed[i] {
                continue;
            }
            for j in i + 1..dets.len() {
                if dets[j].class_id == dets[i].class_id && dets[i].bbox.iou(&dets[j].bbox) > iou {
                    suppressed[j] = true;
                }
            }
        }
        dets.into_iter().zip(suppressed).filter(|(_, s)| !s).map(|(d, _)| d).collect()
    }

    #[test]
    fn matches_brute_force_nms_on_random_boxes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..20 {
            let rows: Vec<_> = (0..300)
                .map(|_| {
                    let b = [
                        rng.random_range(0.0..200.0),
                        rng.random_range(0.0..200.0),
                        rng.random_range(5.0..80.0),
                        rng.random_range(5.0..80.0),
                    ];
                    (b, (0..3).map(|_| rng.random_range(0.0f32..1.0)).collect::<Vec<_>>())
                })
                .collect();
            let out = channels_first(&rows);
            let got = decode(&out, OutputLayout::ChannelsFirst, 3, &opts(0.5, 0.45));
            let candidates: Vec<Detection> = rows
                .iter()
                .filter_map(|(b, s)| {
                    let (c, &score) = s.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).unwrap();
                    (score >= 0.5).then(|| Detection {
                        class_id: c as u32,
                        score,
                        bbox: BBox::from_center(b[0], b[1], b[2], b[3]),
                    })
                })
                .collect();
            assert_eq!(got, reference_nms(candidates, 0.45));
        }
    }

    #[test]
    fn maps_back_through_the_letterbox() {
        // 1280x720 into 640x640: scale 0.5, inner 640x360, pad_y 140.
        let lb = Letterbox::new(1280, 720, 640, 640);
        let mut d =
            vec![Detection { class_id: 0, score: 1.0, bbox: BBox { x1: 100.0, y1: 140.0, x2: 200.0, y2: 600.0 } }];
        to_source(&mut d, &lb);
        assert_eq!(d[0].bbox, BBox { x1: 200.0, y1: 0.0, x2: 400.0, y2: 720.0 });
    }

    #[test]
    fn full_size_output_decodes_quickly() {
        // 8400 anchors x 80 classes with many candidates: must stay well under a frame time.
        let anchors = 8400;
        let classes = 80;
        let mut out = vec![0.0f32; (4 + classes) * anchors];
        for a in 0..anchors {
            let f = a as f32;
            out[a] = (f * 7.3) % 640.0;
            out[anchors + a] = (f * 3.1) % 640.0;
            out[2 * anchors + a] = 20.0 + f % 50.0;
            out[3 * anchors + a] = 20.0 + f % 70.0;
            out[(4 + a % classes) * anchors + a] = 0.3 + (a % 10) as f32 * 0.05;
        }
        let start = std::time::Instant::now();
        let got = decode(&out, OutputLayout::ChannelsFirst, classes, &opts(0.25, 0.45));
        let elapsed = start.elapsed();
        assert!(!got.is_empty() && got.len() <= MAX_DET);
        assert!(elapsed.as_millis() < 200, "decode took {elapsed:?}");
    }
}
