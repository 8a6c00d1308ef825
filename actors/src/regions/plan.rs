//! Region planning: motion boxes and predicted track boxes → a few squares of the frame to infer.
//!
//! Each box is grown by `context` (a fraction of its larger side, on every side), then becomes a square of
//! at least the model's input side centred on it and shifted inside the frame. Boxes are taken largest
//! first; one that fits inside a region already planned adds nothing, one whose union with a region still
//! fits a square of at most `merge_side` joins it, any other opens a region of its own. A frame whose regions
//! would number more than `max_regions`, or cover most of the frame, is inferred whole instead: the regions
//! would cost more than the frame.
//!
//! Squares keep a region at one scale in both axes, so that the model sees objects undistorted; a region
//! larger than the model input is downscaled into it, never the other way round (a region is never smaller
//! than the input side, unless the frame is).

use crate::geometry::{BBox, Rect};

/// What to infer on one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing moves and no track needs looking at.
    Nothing,
    /// These regions (at most `max_regions`, each at least the model side where the frame allows).
    Regions(Vec<Rect>),
    /// The whole frame.
    Whole,
}

/// The planner's settings for one camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanParams {
    pub frame_w: u32,
    pub frame_h: u32,
    /// Side of the model input in pixels: the smallest region side.
    pub model_side: u32,
    /// Context added on every side of a box, as a fraction of its larger side.
    pub context: f32,
    /// Most regions; more and the frame is inferred whole.
    pub max_regions: usize,
}

impl PlanParams {
    /// A region may grow by merging up to this side (pixels): half again the model side, so that the objects
    /// of a merged region are downscaled by at most 1.5.
    fn merge_side(&self) -> f32 {
        self.model_side as f32 * 1.5
    }
}

/// Plan the regions of one frame from `boxes` (motion boxes and predicted track boxes, source pixels).
pub fn plan(boxes: &[BBox], p: &PlanParams) -> Plan {
    let (fw, fh) = (p.frame_w as f32, p.frame_h as f32);
    if p.frame_w == 0 || p.frame_h == 0 {
        return Plan::Nothing;
    }
    let mut grown: Vec<BBox> = boxes
        .iter()
        .filter(|b| [b.x1, b.y1, b.x2, b.y2].iter().all(|v| v.is_finite()))
        .map(|b| b.clamp(fw, fh))
        .filter(|b| b.width() > 0.0 && b.height() > 0.0)
        .map(|b| {
            let pad = p.context.max(0.0) * b.width().max(b.height());
            BBox { x1: b.x1 - pad, y1: b.y1 - pad, x2: b.x2 + pad, y2: b.y2 + pad }.clamp(fw, fh)
        })
        .collect();
    if grown.is_empty() {
        return Plan::Nothing;
    }
    grown.sort_by(|a, b| b.area().total_cmp(&a.area()));
    // Each region as the union of the boxes it holds; squared at the end.
    let mut unions: Vec<BBox> = Vec::new();
    for b in grown {
        // Inside a planned square: it joins that region's union, which stays within the same square.
        let joined = unions.iter().position(|u| square(u, p).contains(&b, 0.5)).or_else(|| {
            unions.iter().position(|u| {
                let j = union(u, &b);
                j.width().max(j.height()) <= p.merge_side()
            })
        });
        match joined {
            Some(i) => unions[i] = union(&unions[i], &b),
            None => unions.push(b),
        }
    }
    let regions: Vec<Rect> = unions.iter().map(|u| square(u, p)).collect();
    let covered: u64 = regions.iter().map(Rect::area).sum();
    if regions.len() > p.max_regions || covered as f64 >= 0.9 * (u64::from(p.frame_w) * u64::from(p.frame_h)) as f64 {
        return Plan::Whole;
    }
    Plan::Regions(regions)
}

fn union(a: &BBox, b: &BBox) -> BBox {
    BBox { x1: a.x1.min(b.x1), y1: a.y1.min(b.y1), x2: a.x2.max(b.x2), y2: a.y2.max(b.y2) }
}

/// The square (or, where the frame is narrower than the side, the frame-limited rectangle) of at least the
/// model side around `b`, centred on it and shifted inside the frame.
fn square(b: &BBox, p: &PlanParams) -> Rect {
    let side = b.width().max(b.height()).max(p.model_side as f32).ceil() as u32;
    let w = side.min(p.frame_w);
    let h = side.min(p.frame_h);
    let cx = (b.x1 + b.x2) / 2.0;
    let cy = (b.y1 + b.y2) / 2.0;
    let place = |centre: f32, len: u32, frame: u32| -> u32 {
        let start = (centre - len as f32 / 2.0).round().max(0.0) as u32;
        start.min(frame - len)
    };
    Rect { x: place(cx, w, p.frame_w), y: place(cy, h, p.frame_h), w, h }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn params(w: u32, h: u32) -> PlanParams {
        PlanParams { frame_w: w, frame_h: h, model_side: 416, context: 0.5, max_regions: 4 }
    }

    fn bb(x1: f32, y1: f32, x2: f32, y2: f32) -> BBox {
        BBox { x1, y1, x2, y2 }
    }

    #[test]
    fn no_boxes_no_inference() {
        assert_eq!(plan(&[], &params(1920, 1080)), Plan::Nothing);
        assert_eq!(plan(&[bb(f32::NAN, 0.0, 1.0, 1.0), bb(5.0, 5.0, 5.0, 9.0)], &params(1920, 1080)), Plan::Nothing);
    }

    #[test]
    fn one_small_box_gives_one_model_sized_square_around_it() {
        let Plan::Regions(r) = plan(&[bb(1000.0, 500.0, 1030.0, 580.0)], &params(1920, 1080)) else { panic!() };
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].w, r[0].h), (416, 416));
        assert!(r[0].contains(&bb(1000.0, 500.0, 1030.0, 580.0), 0.0));
    }

    #[test]
    fn a_box_at_the_corner_is_shifted_inside() {
        let Plan::Regions(r) = plan(&[bb(0.0, 1060.0, 20.0, 1080.0)], &params(1920, 1080)) else { panic!() };
        assert_eq!(r[0], Rect { x: 0, y: 1080 - 416, w: 416, h: 416 });
    }

    #[test]
    fn nearby_boxes_share_a_region_and_far_ones_do_not() {
        let near = [bb(100.0, 100.0, 130.0, 180.0), bb(200.0, 120.0, 230.0, 200.0)];
        let Plan::Regions(r) = plan(&near, &params(1920, 1080)) else { panic!() };
        assert_eq!(r.len(), 1);
        let far = [bb(100.0, 100.0, 130.0, 180.0), bb(1500.0, 800.0, 1530.0, 880.0)];
        let Plan::Regions(r) = plan(&far, &params(1920, 1080)) else { panic!() };
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn too_many_regions_or_most_of_the_frame_means_whole() {
        let spread: Vec<BBox> =
            (0..6).map(|i| bb(i as f32 * 600.0 % 1800.0, (i / 3) as f32 * 700.0, 0.0, 0.0)).collect();
        let spread: Vec<BBox> = spread.iter().map(|b| bb(b.x1, b.y1, b.x1 + 20.0, b.y1 + 40.0)).collect();
        assert_eq!(plan(&spread, &params(1920, 1080)), Plan::Whole);
        // A 416 square is most (94 %) of a 430x430 frame.
        assert_eq!(plan(&[bb(10.0, 10.0, 20.0, 20.0)], &params(430, 430)), Plan::Whole);
    }

    #[test]
    fn a_frame_narrower_than_the_model_side_gives_frame_limited_regions() {
        let Plan::Regions(r) = plan(&[bb(10.0, 10.0, 40.0, 60.0)], &params(1280, 360)) else { panic!() };
        assert_eq!((r[0].w, r[0].h), (416, 360));
    }

    proptest! {
        /// Every box is inside some region (or the frame is inferred whole), every region is inside the
        /// frame and at least the model side where the frame allows, and there are at most `max_regions`.
        #[test]
        fn regions_cover_every_box_inside_the_frame(
            fw in 64u32..2000, fh in 64u32..1200,
            raw in proptest::collection::vec((0.0f32..1.0, 0.0f32..1.0, 0.001f32..0.5, 0.001f32..0.5), 0..12),
            context in 0.0f32..1.0, max_regions in 1usize..6,
        ) {
            let p = PlanParams { frame_w: fw, frame_h: fh, model_side: 416, context, max_regions };
            let boxes: Vec<BBox> = raw.iter().map(|&(x, y, w, h)| {
                let (x1, y1) = (x * fw as f32, y * fh as f32);
                bb(x1, y1, (x1 + w * fw as f32).min(fw as f32), (y1 + h * fh as f32).min(fh as f32))
            }).collect();
            match plan(&boxes, &p) {
                Plan::Nothing => prop_assert!(boxes.iter().all(|b| b.width() <= 0.0 || b.height() <= 0.0)),
                Plan::Whole => {}
                Plan::Regions(regions) => {
                    prop_assert!(regions.len() <= max_regions);
                    for r in &regions {
                        prop_assert!(r.right() <= fw && r.bottom() <= fh);
                        prop_assert!(r.w >= 416.min(fw) && r.h >= 416.min(fh));
                    }
                    for b in boxes.iter().filter(|b| b.width() > 0.0 && b.height() > 0.0) {
                        prop_assert!(regions.iter().any(|r| r.contains(b, 1.0)), "{b:?} not in {regions:?}");
                    }
                }
            }
        }
    }
}
