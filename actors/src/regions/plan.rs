//! Region planning: motion boxes and predicted track boxes → a few squares of the frame to infer.
//!
//! Each box is grown by `context` (a fraction of its larger side, on every side), then becomes a square of
//! at least the smallest region side (the model's input side divided by `max_zoom`) centred on it and
//! shifted inside the frame. Boxes are taken largest first; one that fits inside a region already planned
//! adds nothing, one whose union with a region still fits a square of at most one and a half times the
//! smallest side joins it, any other opens a region of its own. A frame whose regions would number more
//! than `max_regions`, or cover most of the frame, is inferred whole instead: the regions would cost more
//! than the frame. With enlargement (`max_zoom` > 1), where the whole frame is a full pass in tiles, such a
//! frame gets only the tiles of that pass which touch its boxes, when that is fewer.
//!
//! Squares keep a region at one scale in both axes, so that the model sees objects undistorted. A region is
//! resized to the model input: a small one is enlarged (by at most `max_zoom`), so that a small object
//! reaches the model at about half the input side, where the detector both finds and sizes it well (see
//! docs/design/regions.md for the measurement); a large one is reduced.

use crate::geometry::{BBox, Rect};

/// What to infer on one frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing moves and no track needs looking at.
    Nothing,
    /// These regions (each at least the smallest side where the frame allows): at most `max_regions`, or
    /// more, all of them tiles ([`tiles`]), on a busy frame with enlargement.
    Regions(Vec<Rect>),
    /// The whole frame, letterboxed to the model input.
    Whole,
    /// A full pass as regions: the frame in overlapping tiles, each enlarged like a region ([`tiles`]), so a
    /// track's boxes keep one size whichever pass saw it; and the whole frame, for objects too large for a
    /// tile.
    Tiles(Vec<Rect>),
}

/// The planner's settings for one camera.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanParams {
    pub frame_w: u32,
    pub frame_h: u32,
    /// Side of the model input in pixels.
    pub model_side: u32,
    /// Most a region is enlarged to reach the model input (≥ 1): the smallest region side is
    /// `model_side / max_zoom`. 1: regions are never smaller than the model input.
    pub max_zoom: f32,
    /// Context added on every side of a box, as a fraction of its larger side.
    pub context: f32,
    /// Most regions; more and the frame is inferred whole.
    pub max_regions: usize,
}

impl PlanParams {
    /// The smallest region side (pixels).
    pub fn min_side(&self) -> u32 {
        (self.model_side as f32 / self.max_zoom.max(1.0)).ceil().max(1.0) as u32
    }

    /// A region may grow by merging up to this side (pixels). Without zoom, half again the model side: a
    /// larger box still makes one region, reduced into the input. With zoom, 1.4 times the smallest side,
    /// and a larger box is covered by tiles instead: every region then reaches the model enlarged by at
    /// least `max_zoom / 1.4`, so an object keeps one size in every pass (the detector sizes objects it sees
    /// small too small, and a track fed two sizes splits in two).
    fn merge_side(&self) -> f32 {
        if self.zoomed() { self.min_side() as f32 * 1.4 } else { self.model_side as f32 * 1.5 }
    }

    /// Side of the tiles of a full pass or of a box too large for one region: 1.25 times the smallest side.
    pub fn tile_side(&self) -> u32 {
        (self.min_side() as f32 * 1.25).ceil() as u32
    }

    fn zoomed(&self) -> bool {
        self.max_zoom > 1.0
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
    if p.zoomed() {
        // A box larger than a region may be is covered by tiles: one scale for every region.
        let merge_side = p.merge_side();
        grown = grown
            .into_iter()
            .flat_map(|b| {
                if b.width().max(b.height()) <= merge_side {
                    return vec![b];
                }
                let area = Rect::around(&b, p.frame_w, p.frame_h);
                cover(area, p.tile_side()).into_iter().map(Rect::to_bbox).collect()
            })
            .collect();
    }
    grown.sort_by(|a, b| b.area().total_cmp(&a.area()));
    let boxes = grown.clone();
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
        if p.zoomed() {
            // A full pass would be all the tiles and the whole frame; the tiles touching a box see every
            // object of the frame that moves or is tracked, at the regions' scale, for less.
            let all = tiles(p);
            let touched: Vec<Rect> = all.iter().copied().filter(|t| boxes.iter().any(|b| t.touches(b))).collect();
            if touched.len() < all.len() {
                return Plan::Regions(touched);
            }
        }
        return Plan::Whole;
    }
    Plan::Regions(regions)
}

/// Squares of the tile side ([`PlanParams::tile_side`]; the frame's side where it is smaller) covering the
/// frame, overlapping by at least a quarter of the side so that an object up to a quarter of a tile wide is
/// whole in some tile; spread evenly, row-major.
pub fn tiles(p: &PlanParams) -> Vec<Rect> {
    cover(Rect::frame(p.frame_w, p.frame_h), p.tile_side())
}

/// Squares of `side` (at most `area`'s sides) covering `area`, overlapping by at least a quarter of the side.
fn cover(area: Rect, side: u32) -> Vec<Rect> {
    let starts = |origin: u32, extent: u32| -> (u32, Vec<u32>) {
        let len = side.max(1).min(extent);
        if extent <= len {
            return (len, vec![origin]);
        }
        let n = ((extent - len) as f32 / (len as f32 * 0.75)).ceil() as u32 + 1;
        let at = |i: u32| origin + ((extent - len) as f64 * f64::from(i) / f64::from(n - 1)).round() as u32;
        (len, (0..n).map(at).collect())
    };
    let ((w, xs), (h, ys)) = (starts(area.x, area.w), starts(area.y, area.h));
    ys.iter().flat_map(|&y| xs.iter().map(move |&x| Rect { x, y, w, h })).collect()
}

fn union(a: &BBox, b: &BBox) -> BBox {
    BBox { x1: a.x1.min(b.x1), y1: a.y1.min(b.y1), x2: a.x2.max(b.x2), y2: a.y2.max(b.y2) }
}

/// The square (or, where the frame is narrower than the side, the frame-limited rectangle) of at least the
/// smallest region side around `b`, centred on it and shifted inside the frame.
fn square(b: &BBox, p: &PlanParams) -> Rect {
    let side = b.width().max(b.height()).max(p.min_side() as f32).ceil() as u32;
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
        PlanParams { frame_w: w, frame_h: h, model_side: 416, max_zoom: 1.0, context: 0.5, max_regions: 4 }
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
    fn with_zoom_a_small_object_gets_a_small_region_and_a_large_one_does_not() {
        let p = PlanParams { max_zoom: 2.0, ..params(1920, 1080) };
        assert_eq!(p.min_side(), 208);
        // A 40x80 person grown by half its height on each side: 160 px, below the smallest side.
        let Plan::Regions(r) = plan(&[bb(1000.0, 500.0, 1040.0, 580.0)], &p) else { panic!() };
        assert_eq!((r[0].w, r[0].h), (208, 208));
        // A 150x300 person: 600 px with context, more than a region may be (1.4 x 208): covered by tiles.
        let many = PlanParams { max_regions: 16, ..p };
        let Plan::Regions(r) = plan(&[bb(1000.0, 500.0, 1150.0, 800.0)], &many) else { panic!() };
        assert!(r.len() > 1 && r.iter().all(|r| (r.w, r.h) == (260, 260)), "{r:?}");
        // Without zoom the same box is one region, reduced into the input.
        let Plan::Regions(r) = plan(&[bb(1000.0, 500.0, 1150.0, 800.0)], &params(1920, 1080)) else { panic!() };
        assert_eq!((r.len(), r[0].w, r[0].h), (1, 600, 600));
        // Two small people 200 px apart: a merged region would be 320 px (> 1.4 x 208): two regions.
        let Plan::Regions(r) = plan(&[bb(1000.0, 500.0, 1040.0, 580.0), bb(1200.0, 500.0, 1240.0, 580.0)], &p) else {
            panic!()
        };
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn tiles_cover_the_frame_with_overlap() {
        let p = PlanParams { max_zoom: 2.0, ..params(768, 576) };
        let t = tiles(&p);
        // 260 px tiles: 4 columns by 3 rows on 768x576.
        assert_eq!(t.len(), 12);
        assert!(t.iter().all(|r| (r.w, r.h) == (260, 260) && r.right() <= 768 && r.bottom() <= 576));
        assert_eq!((t[0].x, t[0].y, t[11].right(), t[11].bottom()), (0, 0, 768, 576));
        // Neighbours overlap by at least a quarter of the side.
        assert!(t[0].right() - t[1].x >= 65);
        // A frame smaller than a tile is one tile, the frame.
        assert_eq!(tiles(&params(200, 100)), vec![Rect { x: 0, y: 0, w: 200, h: 100 }]);
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
    fn with_zoom_a_busy_frame_gets_the_tiles_that_touch_its_boxes() {
        let p = PlanParams { max_zoom: 2.0, max_regions: 2, ..params(768, 576) };
        let all = tiles(&p);
        // Five people spread along the top band: more regions than allowed, all in the top row of tiles.
        let top: Vec<BBox> = (0..5).map(|i| bb(20.0 + i as f32 * 160.0, 20.0, 40.0 + i as f32 * 160.0, 60.0)).collect();
        let Plan::Regions(r) = plan(&top, &p) else { panic!() };
        assert_eq!(r, all[..4].to_vec(), "the top row of 4 tiles");
        // Spread over every tile: the full pass (tiles and the whole frame, made by the scheduler).
        let everywhere: Vec<BBox> = all
            .iter()
            .map(|t| bb(t.x as f32 + 100.0, t.y as f32 + 100.0, t.x as f32 + 120.0, t.y as f32 + 140.0))
            .collect();
        assert_eq!(plan(&everywhere, &p), Plan::Whole);
    }

    #[test]
    fn a_frame_narrower_than_the_model_side_gives_frame_limited_regions() {
        let Plan::Regions(r) = plan(&[bb(10.0, 10.0, 40.0, 60.0)], &params(1280, 360)) else { panic!() };
        assert_eq!((r[0].w, r[0].h), (416, 360));
    }

    proptest! {
        /// Tiles lie inside the frame and every pixel is in one.
        #[test]
        fn tiles_cover_every_pixel(fw in 1u32..2500, fh in 1u32..1500, max_zoom in 1.0f32..4.0, px in 0.0f32..1.0, py in 0.0f32..1.0) {
            let p = PlanParams { frame_w: fw, frame_h: fh, model_side: 416, max_zoom, context: 0.5, max_regions: 4 };
            let t = tiles(&p);
            let (x, y) = ((px * (fw - 1) as f32) as u32, (py * (fh - 1) as f32) as u32);
            prop_assert!(t.iter().all(|r| r.right() <= fw && r.bottom() <= fh && r.w > 0 && r.h > 0));
            prop_assert!(t.iter().any(|r| r.x <= x && x < r.right() && r.y <= y && y < r.bottom()));
        }

        /// Every box is inside some region (or the frame is inferred whole), every region is inside the
        /// frame and at least the smallest side where the frame allows, and there are at most `max_regions`.
        #[test]
        fn regions_cover_every_box_inside_the_frame(
            fw in 64u32..2000, fh in 64u32..1200,
            raw in proptest::collection::vec((0.0f32..1.0, 0.0f32..1.0, 0.001f32..0.5, 0.001f32..0.5), 0..12),
            context in 0.0f32..1.0, max_regions in 1usize..6, max_zoom in 1.0f32..3.0,
        ) {
            let p = PlanParams { frame_w: fw, frame_h: fh, model_side: 416, max_zoom, context, max_regions };
            let min = p.min_side();
            let boxes: Vec<BBox> = raw.iter().map(|&(x, y, w, h)| {
                let (x1, y1) = (x * fw as f32, y * fh as f32);
                bb(x1, y1, (x1 + w * fw as f32).min(fw as f32), (y1 + h * fh as f32).min(fh as f32))
            }).collect();
            match plan(&boxes, &p) {
                Plan::Nothing => prop_assert!(boxes.iter().all(|b| b.width() <= 0.0 || b.height() <= 0.0)),
                Plan::Whole | Plan::Tiles(_) => {}
                Plan::Regions(regions) => {
                    let all = tiles(&p);
                    prop_assert!(regions.len() <= max_regions || regions.iter().all(|r| all.contains(r)), "{regions:?}");
                    for r in &regions {
                        prop_assert!(r.right() <= fw && r.bottom() <= fh);
                        prop_assert!(r.w >= min.min(fw) && r.h >= min.min(fh));
                    }
                    for b in boxes.iter().filter(|b| b.width() > 0.0 && b.height() > 0.0) {
                        if p.max_zoom > 1.0 {
                            // A large box may be split: every point of it is in some region.
                            for (fx, fy) in (0..5).flat_map(|i| (0..5).map(move |j| (i as f32 / 4.0, j as f32 / 4.0))) {
                                let (x, y) = (b.x1 + fx * b.width(), b.y1 + fy * b.height());
                                let point = bb(x, y, x, y);
                                prop_assert!(regions.iter().any(|r| r.contains(&point, 1.0)), "{b:?} ({x}, {y}) not in {regions:?}");
                            }
                        } else {
                            prop_assert!(regions.iter().any(|r| r.contains(b, 1.0)), "{b:?} not in {regions:?}");
                        }
                    }
                }
            }
        }
    }
}
