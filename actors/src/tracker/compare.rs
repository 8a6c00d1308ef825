//! Agreement between two sets of MOT tracks (a reference and ours): CLEAR-MOT and identity figures.
//!
//! Boxes match on a frame when their IoU is at least `iou_thresh` (one-to-one, optimal assignment).
//! From those: MOTA-style accuracy `1 − (misses + extras + id switches) / reference boxes`, and the
//! IDF1-style identity agreement: the best one-to-one mapping between reference ids and our ids, counting
//! the frames on which a mapped pair overlaps (IDTP), `IDF1 = 2·IDTP / (reference + ours)`. Identical
//! outputs up to relabelling give MOTA = IDF1 = 1.

use super::assignment::{CostMatrix, linear_assignment};
use super::mot::MotRow;
use std::collections::{BTreeMap, HashMap};

/// How far two track sets agree.
#[derive(Clone, Debug, PartialEq)]
pub struct Agreement {
    pub reference_boxes: usize,
    pub our_boxes: usize,
    /// Boxes matched frame by frame (IoU ≥ the threshold).
    pub matched_boxes: usize,
    /// Matched reference boxes whose id differs from the one its reference track was matched to before.
    pub id_switches: usize,
    /// Reference boxes overlapping the box of the id they are mapped to (IDF1's IDTP).
    pub id_consistent_boxes: usize,
    pub reference_ids: usize,
    pub our_ids: usize,
    /// Largest absolute coordinate difference between matched boxes, in pixels.
    pub max_coord_diff: f32,
}

impl Agreement {
    /// `1 − (misses + extras + id switches) / reference boxes`.
    pub fn mota(&self) -> f64 {
        let misses = self.reference_boxes - self.matched_boxes;
        let extras = self.our_boxes - self.matched_boxes;
        1.0 - (misses + extras + self.id_switches) as f64 / self.reference_boxes.max(1) as f64
    }

    /// `2·IDTP / (reference + ours)`.
    pub fn idf1(&self) -> f64 {
        2.0 * self.id_consistent_boxes as f64 / (self.reference_boxes + self.our_boxes).max(1) as f64
    }

    /// Share of reference boxes matched under the one consistent id mapping.
    pub fn id_consistent_share(&self) -> f64 {
        self.id_consistent_boxes as f64 / self.reference_boxes.max(1) as f64
    }
}

impl std::fmt::Display for Agreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reference {} boxes / {} ids, ours {} boxes / {} ids, matched {}, id switches {}, \
             id-consistent {} ({:.2}%), MOTA {:.4}, IDF1 {:.4}, max coordinate difference {:.3} px",
            self.reference_boxes,
            self.reference_ids,
            self.our_boxes,
            self.our_ids,
            self.matched_boxes,
            self.id_switches,
            self.id_consistent_boxes,
            100.0 * self.id_consistent_share(),
            self.mota(),
            self.idf1(),
            self.max_coord_diff
        )
    }
}

fn by_frame(rows: &[MotRow]) -> BTreeMap<u64, Vec<&MotRow>> {
    let mut frames: BTreeMap<u64, Vec<&MotRow>> = BTreeMap::new();
    for row in rows {
        frames.entry(row.frame).or_default().push(row);
    }
    frames
}

fn index_ids(rows: &[MotRow]) -> HashMap<i64, usize> {
    let mut ids = HashMap::new();
    for row in rows {
        let next = ids.len();
        ids.entry(row.id).or_insert(next);
    }
    ids
}

/// Compare our tracks with reference tracks.
pub fn agreement(reference: &[MotRow], ours: &[MotRow], iou_thresh: f32) -> Agreement {
    let ref_frames = by_frame(reference);
    let our_frames = by_frame(ours);
    let ref_ids = index_ids(reference);
    let our_ids = index_ids(ours);
    let mut overlap_counts = vec![vec![0u32; our_ids.len()]; ref_ids.len()];
    let mut last_match: HashMap<i64, i64> = HashMap::new();
    let (mut matched, mut switches, mut max_diff) = (0, 0, 0.0f32);
    let empty = Vec::new();
    for (frame, refs) in &ref_frames {
        let mine = our_frames.get(frame).unwrap_or(&empty);
        let iou = CostMatrix::from_fn(refs.len(), mine.len(), |r, c| f64::from(refs[r].bbox.iou(&mine[c].bbox)));
        for r in 0..refs.len() {
            for c in 0..mine.len() {
                if iou.get(r, c) >= f64::from(iou_thresh) {
                    overlap_counts[ref_ids[&refs[r].id]][our_ids[&mine[c].id]] += 1;
                }
            }
        }
        let cost = CostMatrix::from_fn(refs.len(), mine.len(), |r, c| 1.0 - iou.get(r, c));
        for (r, c) in linear_assignment(&cost, 1.0 - f64::from(iou_thresh)).matches {
            matched += 1;
            let (a, b) = (refs[r].bbox, mine[c].bbox);
            let diff = [a.x1 - b.x1, a.y1 - b.y1, a.x2 - b.x2, a.y2 - b.y2].iter().fold(0.0f32, |m, d| m.max(d.abs()));
            max_diff = max_diff.max(diff);
            if let Some(previous) = last_match.insert(refs[r].id, mine[c].id)
                && previous != mine[c].id
            {
                switches += 1;
            }
        }
    }
    let most = overlap_counts.iter().flatten().copied().max().unwrap_or(0);
    let cost = CostMatrix::from_fn(ref_ids.len(), our_ids.len(), |r, c| f64::from(most - overlap_counts[r][c]));
    let id_consistent: u32 =
        linear_assignment(&cost, f64::from(most)).matches.iter().map(|&(r, c)| overlap_counts[r][c]).sum();
    Agreement {
        reference_boxes: reference.len(),
        our_boxes: ours.len(),
        matched_boxes: matched,
        id_switches: switches,
        id_consistent_boxes: id_consistent as usize,
        reference_ids: ref_ids.len(),
        our_ids: our_ids.len(),
        max_coord_diff: max_diff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;

    fn row(frame: u64, id: i64, x: f32) -> MotRow {
        MotRow { frame, id, bbox: BBox { x1: x, y1: 0.0, x2: x + 10.0, y2: 20.0 }, score: 0.9 }
    }

    #[test]
    fn relabelled_identical_tracks_agree_fully() {
        let reference = [row(1, 1, 0.0), row(1, 2, 50.0), row(2, 1, 1.0), row(2, 2, 51.0)];
        let ours = [row(1, 8, 50.0), row(1, 3, 0.0), row(2, 3, 1.0), row(2, 8, 51.0)];
        let a = agreement(&reference, &ours, 0.99);
        assert_eq!((a.matched_boxes, a.id_switches, a.id_consistent_boxes), (4, 0, 4));
        assert_eq!((a.mota(), a.idf1()), (1.0, 1.0));
    }

    #[test]
    fn a_swapped_identity_costs_a_switch_and_idf1() {
        let reference = [row(1, 1, 0.0), row(1, 2, 50.0), row(2, 1, 1.0), row(2, 2, 51.0)];
        let ours = [row(1, 1, 0.0), row(1, 2, 50.0), row(2, 2, 1.0), row(2, 1, 51.0)];
        let a = agreement(&reference, &ours, 0.5);
        assert_eq!((a.matched_boxes, a.id_switches, a.id_consistent_boxes), (4, 2, 2));
        assert!((a.mota() - 0.5).abs() < 1e-12 && (a.idf1() - 0.5).abs() < 1e-12);
    }

    #[test]
    fn missing_and_extra_boxes_count_against_mota() {
        let reference = [row(1, 1, 0.0), row(2, 1, 1.0)];
        let ours = [row(1, 5, 0.0), row(2, 6, 300.0)];
        let a = agreement(&reference, &ours, 0.5);
        assert_eq!(a.matched_boxes, 1);
        assert!((a.mota() - 0.0).abs() < 1e-12);
        assert!((a.idf1() - 0.5).abs() < 1e-12);
    }
}
