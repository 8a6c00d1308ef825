//! Merging the detections of overlapping regions into one list for the frame.
//!
//! Regions overlap, so one object can be detected twice; and an object cut by a region's edge is detected
//! as a part (a torso, half a car) in that region while a neighbouring region may see it whole. A detection
//! is *cut* when it touches an edge of its region that is not an edge of the frame. Merging keeps, greedily,
//! whole detections before cut ones and higher scores first, and drops a detection when a kept one of the
//! same class overlaps it by IoU above `iou` (the same object twice) or holds most of it (`CONTAINED` of its
//! area: a cut part of an object seen whole). A cut detection that nothing else explains is kept: it
//! is the best view of that object on this frame. Last, of two kept detections of a class where one holds
//! most of the other, the smaller goes: enlarged regions make a small detector see an object both whole and
//! in parts (a head, the legs), and the part often scores higher.

use crate::geometry::{BBox, Rect};
use crate::messages::Detection;

/// A detection this close to an inner edge of its region (pixels) counts as cut by it.
const EDGE_PX: f32 = 2.0;
/// Share of the smaller box inside a kept one above which the smaller is the same object.
const CONTAINED: f32 = 0.8;

/// The detections of one region, in source-frame pixels.
#[derive(Clone, Debug)]
pub struct RegionDetections {
    pub rect: Rect,
    pub detections: Vec<Detection>,
}

/// Whether `b` touches an edge of `r` that is inside the frame.
fn is_cut(b: &BBox, r: &Rect, frame_w: u32, frame_h: u32) -> bool {
    (r.x > 0 && b.x1 <= r.x as f32 + EDGE_PX)
        || (r.y > 0 && b.y1 <= r.y as f32 + EDGE_PX)
        || (r.right() < frame_w && b.x2 >= r.right() as f32 - EDGE_PX)
        || (r.bottom() < frame_h && b.y2 >= r.bottom() as f32 - EDGE_PX)
}

fn intersection(a: &BBox, b: &BBox) -> f32 {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    ix * iy
}

/// One list of detections for a frame of `frame_w` x `frame_h` from its regions' detections, highest score
/// first. `iou` is the NMS threshold of the detector (`model.iou`).
pub fn merge(parts: &[RegionDetections], frame_w: u32, frame_h: u32, iou: f32) -> Vec<Detection> {
    let mut all: Vec<(bool, Detection)> = parts
        .iter()
        .flat_map(|p| p.detections.iter().map(move |d| (is_cut(&d.bbox, &p.rect, frame_w, frame_h), *d)))
        .collect();
    all.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.score.total_cmp(&a.1.score)));
    let mut kept: Vec<Detection> = Vec::new();
    for (_, d) in all {
        // The same object as a kept detection: overlapping it, or mostly inside it (a part of an object seen
        // whole). A kept box inside `d` is settled below.
        let same_object =
            kept.iter().any(|k| k.class_id == d.class_id && (k.bbox.iou(&d.bbox) > iou || part_of(&d.bbox, &k.bbox)));
        if !same_object {
            kept.push(d);
        }
    }
    // Of two kept boxes where one holds most of the other, the smaller goes.
    let parts: Vec<bool> =
        kept.iter().map(|d| kept.iter().any(|k| k.class_id == d.class_id && part_of(&d.bbox, &k.bbox))).collect();
    let mut out: Vec<Detection> = kept.into_iter().zip(parts).filter(|(_, part)| !part).map(|(d, _)| d).collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

/// Whether `small` is smaller than `big` and lies mostly (`CONTAINED`) inside it.
fn part_of(small: &BBox, big: &BBox) -> bool {
    let area = small.area();
    area > 0.0 && area < big.area() && intersection(small, big) / area > CONTAINED
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn det(class_id: u32, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection { class_id, score, bbox: BBox { x1, y1, x2, y2 } }
    }

    #[test]
    fn the_same_object_in_two_regions_is_kept_once() {
        let a = Rect { x: 0, y: 0, w: 416, h: 416 };
        let b = Rect { x: 200, y: 0, w: 416, h: 416 };
        let parts = [
            RegionDetections { rect: a, detections: vec![det(0, 0.8, 250.0, 100.0, 290.0, 200.0)] },
            RegionDetections { rect: b, detections: vec![det(0, 0.7, 251.0, 101.0, 291.0, 199.0)] },
        ];
        let merged = merge(&parts, 1920, 1080, 0.45);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].score, 0.8);
    }

    #[test]
    fn a_part_cut_by_a_region_edge_gives_way_to_the_whole_object() {
        let a = Rect { x: 0, y: 0, w: 416, h: 416 };
        let b = Rect { x: 300, y: 0, w: 416, h: 416 };
        // Region a's right edge (416) cuts the person at x 380..440: a sees a sliver scoring higher.
        let parts = [
            RegionDetections { rect: a, detections: vec![det(0, 0.9, 385.0, 100.0, 416.0, 200.0)] },
            RegionDetections { rect: b, detections: vec![det(0, 0.6, 380.0, 98.0, 440.0, 202.0)] },
        ];
        let merged = merge(&parts, 1920, 1080, 0.45);
        assert_eq!(merged, vec![det(0, 0.6, 380.0, 98.0, 440.0, 202.0)]);
    }

    #[test]
    fn a_cut_detection_alone_is_kept_and_frame_edges_do_not_cut() {
        let a = Rect { x: 0, y: 0, w: 416, h: 416 };
        let parts = [RegionDetections {
            rect: a,
            detections: vec![det(0, 0.9, 385.0, 100.0, 416.0, 200.0), det(0, 0.5, 0.0, 0.0, 30.0, 60.0)],
        }];
        assert_eq!(merge(&parts, 1920, 1080, 0.45).len(), 2);
        assert!(!is_cut(&BBox { x1: 0.0, y1: 0.0, x2: 30.0, y2: 60.0 }, &a, 1920, 1080));
        assert!(is_cut(&BBox { x1: 385.0, y1: 100.0, x2: 416.0, y2: 200.0 }, &a, 1920, 1080));
    }

    #[test]
    fn a_part_inside_the_whole_object_goes_even_when_it_scores_higher() {
        let a = Rect { x: 0, y: 0, w: 416, h: 416 };
        let parts = [RegionDetections {
            rect: a,
            // A person, and their legs scoring higher (IoU 0.4: NMS keeps both).
            detections: vec![det(0, 0.6, 100.0, 100.0, 140.0, 200.0), det(0, 0.9, 102.0, 160.0, 138.0, 200.0)],
        }];
        assert_eq!(merge(&parts, 1920, 1080, 0.45), vec![det(0, 0.6, 100.0, 100.0, 140.0, 200.0)]);
    }

    #[test]
    fn different_classes_and_separate_objects_stay() {
        let a = Rect { x: 0, y: 0, w: 416, h: 416 };
        let parts = [RegionDetections {
            rect: a,
            detections: vec![det(0, 0.9, 100.0, 100.0, 140.0, 200.0), det(2, 0.8, 100.0, 100.0, 140.0, 200.0)],
        }];
        let b = Rect { x: 800, y: 0, w: 416, h: 416 };
        let other = RegionDetections { rect: b, detections: vec![det(0, 0.7, 900.0, 100.0, 940.0, 200.0)] };
        assert_eq!(merge(&[parts[0].clone(), other], 1920, 1080, 0.45).len(), 3);
    }

    proptest! {
        /// Any object detected in several overlapping regions (jittered by up to a pixel) comes out once;
        /// nothing comes out that was not put in.
        #[test]
        fn duplicates_vanish(
            objects in proptest::collection::vec((0.0f32..1500.0, 0.0f32..700.0, 20.0f32..80.0, 40.0f32..160.0), 1..6),
            copies in 1usize..4, jitter in -1.0f32..1.0,
        ) {
            // Objects far apart (one per 300-pixel column band) so distinct objects never overlap.
            let objects: Vec<_> = objects.iter().enumerate()
                .map(|(i, &(_, y, w, h))| (i as f32 * 300.0 + 10.0, y, w, h)).collect();
            let frame = (2000, 1000);
            let parts: Vec<RegionDetections> = (0..copies).map(|c| RegionDetections {
                rect: Rect::frame(frame.0, frame.1),
                detections: objects.iter().map(|&(x, y, w, h)| {
                    let j = jitter * c as f32;
                    det(0, 0.9 - c as f32 * 0.1, x + j, y + j, x + w + j, y + h + j)
                }).collect(),
            }).collect();
            let merged = merge(&parts, frame.0, frame.1, 0.45);
            prop_assert_eq!(merged.len(), objects.len());
            let inputs: Vec<Detection> = parts.iter().flat_map(|p| p.detections.clone()).collect();
            for m in &merged {
                prop_assert!(inputs.contains(m));
            }
        }
    }
}
