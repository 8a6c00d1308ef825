//! Motion detection per camera: which parts of a frame changed, cheaply, on the camera's own thread.
//!
//! Each analysed frame's 8-bit luma plane is area-averaged down to a small working picture (`WORK_HEIGHT`
//! rows, the aspect kept) and blurred 3x3, which together remove sensor and compression noise. It is compared
//! with an adaptive background (a running average learning at `alpha` per analysed frame): pixels differing
//! by more than `threshold` grey levels, outside the camera's masks, are motion. When more than
//! `lighting_change_fraction` of the picture changes at once (lights switched, the sun behind a cloud, the
//! camera's exposure or IR mode), that is no motion but a new background: it is taken over at once and
//! learned fast for a few frames. Otherwise the motion pixels are dilated, labelled into 8-connected
//! components, components smaller than `min_area` (a fraction of the picture) dropped, and each remaining
//! component's bounding box is scaled back to frame pixels.
//!
//! Costs a few hundred microseconds per frame at any camera resolution (the work is on the small picture,
//! and the downscale reads each luma byte once).

use crate::config::MotionConfig;
use crate::geometry::BBox;
use crate::geometry::plane::{Point, Polygon};

/// Rows of the working picture.
const WORK_HEIGHT: u32 = 120;
/// Analysed frames learned fast (at `FAST_ALPHA`) after the start and after a lighting change.
const FAST_FRAMES: u32 = 5;
const FAST_ALPHA: f32 = 0.5;
/// Dilation radius in working pixels: joins the parts of one moving person into one component.
const DILATE: usize = 2;

/// What moved on one frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Motion {
    /// Boxes around moving areas, in frame pixels.
    pub boxes: Vec<BBox>,
    /// Share of the (unmasked) picture in motion, 0–1.
    pub area_fraction: f32,
    /// The picture changed as a whole (taken as a lighting change: no boxes).
    pub lighting_change: bool,
}

/// A motion setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MotionError {
    #[error("motion detection needs a frame of at least 8x8 pixels, got {width}x{height}")]
    FrameTooSmall { width: u32, height: u32 },
}

/// One camera's motion detector, for one frame size (build a new one when the size changes).
#[derive(Debug)]
pub struct MotionDetector {
    frame_w: u32,
    frame_h: u32,
    work_w: usize,
    work_h: usize,
    threshold: f32,
    min_pixels: usize,
    alpha: f32,
    lighting_change_fraction: f32,
    /// Working pixels that count (outside every mask).
    counted: Vec<bool>,
    counted_total: usize,
    background: Option<Vec<f32>>,
    fast_frames_left: u32,
    /// Scratch buffers reused between frames.
    small: Vec<f32>,
    blurred: Vec<f32>,
    moving: Vec<bool>,
    grown: Vec<bool>,
}

impl MotionDetector {
    /// A detector for `frame_w` x `frame_h` frames with `config`'s settings (already validated by
    /// [`MotionConfig::validate`]).
    pub fn new(config: &MotionConfig, frame_w: u32, frame_h: u32) -> Result<Self, MotionError> {
        if frame_w < 8 || frame_h < 8 {
            return Err(MotionError::FrameTooSmall { width: frame_w, height: frame_h });
        }
        let work_h = WORK_HEIGHT.min(frame_h) as usize;
        let work_w = ((frame_w as f64 * work_h as f64 / frame_h as f64).round() as usize).max(1);
        let masks: Vec<Polygon> = config
            .mask
            .iter()
            .filter_map(|pts| Polygon::new(pts.iter().copied().map(Point::from).collect()).ok())
            .collect();
        let counted: Vec<bool> = (0..work_w * work_h)
            .map(|i| {
                let p = Point::from([
                    ((i % work_w) as f64 + 0.5) / work_w as f64,
                    ((i / work_w) as f64 + 0.5) / work_h as f64,
                ]);
                !masks.iter().any(|m| m.contains(p))
            })
            .collect();
        let counted_total = counted.iter().filter(|&&c| c).count();
        let min_pixels = ((config.min_area * (work_w * work_h) as f32).ceil() as usize).max(1);
        Ok(Self {
            frame_w,
            frame_h,
            work_w,
            work_h,
            threshold: f32::from(config.threshold),
            min_pixels,
            alpha: config.alpha,
            lighting_change_fraction: config.lighting_change_fraction,
            counted,
            counted_total,
            background: None,
            fast_frames_left: FAST_FRAMES,
            small: vec![0.0; work_w * work_h],
            blurred: vec![0.0; work_w * work_h],
            moving: vec![false; work_w * work_h],
            grown: vec![false; work_w * work_h],
        })
    }

    /// The frame size this detector was built for.
    pub fn frame_size(&self) -> (u32, u32) {
        (self.frame_w, self.frame_h)
    }

    /// Analyse one frame: `luma` is its 8-bit luma plane, rows `stride` bytes apart, of the size given to
    /// [`MotionDetector::new`]. The first frame only sets the background.
    pub fn detect(&mut self, luma: &[u8], stride: usize) -> Motion {
        let (fw, fh) = (self.frame_w as usize, self.frame_h as usize);
        assert!(stride >= fw && luma.len() >= stride * (fh - 1) + fw, "luma plane smaller than the frame");
        self.downscale(luma, stride);
        self.blur();
        let Some(background) = self.background.as_mut() else {
            self.background = Some(self.blurred.clone());
            return Motion::default();
        };
        let mut changed = 0usize;
        for (i, (&now, &bg)) in self.blurred.iter().zip(background.iter()).enumerate() {
            let m = self.counted[i] && (now - bg).abs() > self.threshold;
            self.moving[i] = m;
            changed += usize::from(m);
        }
        let area_fraction = if self.counted_total == 0 { 0.0 } else { changed as f32 / self.counted_total as f32 };
        if area_fraction > self.lighting_change_fraction {
            background.copy_from_slice(&self.blurred);
            self.fast_frames_left = FAST_FRAMES;
            return Motion { boxes: Vec::new(), area_fraction, lighting_change: true };
        }
        let alpha = if self.fast_frames_left > 0 {
            self.fast_frames_left -= 1;
            FAST_ALPHA
        } else {
            self.alpha
        };
        for (bg, &now) in background.iter_mut().zip(&self.blurred) {
            *bg += alpha * (now - *bg);
        }
        let boxes = if changed == 0 { Vec::new() } else { self.components() };
        Motion { boxes, area_fraction, lighting_change: false }
    }

    /// Area-average `luma` into `small` (each working pixel the mean of its block of frame pixels).
    fn downscale(&mut self, luma: &[u8], stride: usize) {
        let (fw, fh) = (self.frame_w as usize, self.frame_h as usize);
        let (ww, wh) = (self.work_w, self.work_h);
        let mut sums = vec![0u32; ww];
        for wy in 0..wh {
            let (y0, y1) = (wy * fh / wh, ((wy + 1) * fh / wh).max(wy * fh / wh + 1));
            sums.iter_mut().for_each(|s| *s = 0);
            for y in y0..y1 {
                let row = &luma[y * stride..y * stride + fw];
                for (wx, sum) in sums.iter_mut().enumerate() {
                    let (x0, x1) = (wx * fw / ww, ((wx + 1) * fw / ww).max(wx * fw / ww + 1));
                    *sum += row[x0..x1].iter().map(|&v| u32::from(v)).sum::<u32>();
                }
            }
            for (wx, &sum) in sums.iter().enumerate() {
                let (x0, x1) = (wx * fw / ww, ((wx + 1) * fw / ww).max(wx * fw / ww + 1));
                self.small[wy * ww + wx] = sum as f32 / ((x1 - x0) * (y1 - y0)) as f32;
            }
        }
    }

    /// 3x3 box blur of `small` into `blurred` (edges use the pixels that exist).
    fn blur(&mut self) {
        let (w, h) = (self.work_w, self.work_h);
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0.0, 0.0);
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        sum += self.small[yy * w + xx];
                        n += 1.0;
                    }
                }
                self.blurred[y * w + x] = sum / n;
            }
        }
    }

    /// Dilate `moving`, label 8-connected components, keep those of at least `min_pixels` moving pixels,
    /// and return their boxes in frame pixels.
    fn components(&mut self) -> Vec<BBox> {
        let (w, h) = (self.work_w, self.work_h);
        for y in 0..h {
            for x in 0..w {
                let near = (y.saturating_sub(DILATE)..(y + DILATE + 1).min(h))
                    .any(|yy| (x.saturating_sub(DILATE)..(x + DILATE + 1).min(w)).any(|xx| self.moving[yy * w + xx]));
                self.grown[y * w + x] = near;
            }
        }
        let mut seen = vec![false; w * h];
        let mut stack = Vec::new();
        let (sx, sy) = (self.frame_w as f32 / w as f32, self.frame_h as f32 / h as f32);
        let mut boxes = Vec::new();
        for start in 0..w * h {
            if !self.grown[start] || seen[start] {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
            let mut moving_pixels = 0usize;
            while let Some(i) = stack.pop() {
                let (x, y) = (i % w, i / w);
                moving_pixels += usize::from(self.moving[i]);
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                for yy in y.saturating_sub(1)..(y + 2).min(h) {
                    for xx in x.saturating_sub(1)..(x + 2).min(w) {
                        let j = yy * w + xx;
                        if self.grown[j] && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
            if moving_pixels >= self.min_pixels {
                // The dilation grew the component by DILATE on each side: take it back.
                let (x0, y0) = ((x0 + DILATE).min(x1), (y0 + DILATE).min(y1));
                let (x1, y1) = (x1.saturating_sub(DILATE).max(x0), y1.saturating_sub(DILATE).max(y0));
                boxes.push(BBox {
                    x1: x0 as f32 * sx,
                    y1: y0 as f32 * sy,
                    x2: ((x1 + 1) as f32 * sx).min(self.frame_w as f32),
                    y2: ((y1 + 1) as f32 * sy).min(self.frame_h as f32),
                });
            }
        }
        boxes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const W: usize = 768;
    const H: usize = 576;

    /// A textured still scene: smooth gradients with a few darker bands.
    fn scene() -> Vec<u8> {
        (0..H * W)
            .map(|i| {
                let (x, y) = (i % W, i / W);
                (60 + (x * 90 / W) + (y * 40 / H) + if (y / 48) % 3 == 0 { 20 } else { 0 }) as u8
            })
            .collect()
    }

    fn with_blob(mut frame: Vec<u8>, x: usize, y: usize, w: usize, h: usize) -> Vec<u8> {
        for yy in y..y + h {
            for xx in x..x + w {
                frame[yy * W + xx] = 15;
            }
        }
        frame
    }

    fn noisy(frame: &[u8], rng: &mut StdRng, sigma: f32) -> Vec<u8> {
        frame
            .iter()
            .map(|&v| {
                // Sum of uniforms: near-gaussian with the given sigma.
                let n: f32 =
                    (0..4).map(|_| rng.random_range(-1.0f32..1.0)).sum::<f32>() * sigma * (3.0f32 / 4.0).sqrt();
                (f32::from(v) + n).round().clamp(0.0, 255.0) as u8
            })
            .collect()
    }

    fn detector(config: MotionConfig) -> MotionDetector {
        MotionDetector::new(&config, W as u32, H as u32).unwrap()
    }

    fn contains(outer: &BBox, inner: &BBox) -> bool {
        outer.x1 <= inner.x1 && outer.y1 <= inner.y1 && outer.x2 >= inner.x2 && outer.y2 >= inner.y2
    }

    #[test]
    fn a_still_scene_with_sensor_noise_has_no_motion() {
        let mut d = detector(MotionConfig::default());
        let mut rng = StdRng::seed_from_u64(7);
        let still = scene();
        for _ in 0..40 {
            let m = d.detect(&noisy(&still, &mut rng, 4.0), W);
            assert!(m.boxes.is_empty() && !m.lighting_change, "{m:?}");
        }
    }

    #[test]
    fn a_moving_blob_is_boxed_tightly() {
        let mut d = detector(MotionConfig::default());
        let still = scene();
        for _ in 0..10 {
            d.detect(&still, W);
        }
        for step in 0..10 {
            let x = 100 + step * 30;
            let m = d.detect(&with_blob(still.clone(), x, 300, 20, 40), W);
            let blob = BBox { x1: x as f32, y1: 300.0, x2: (x + 20) as f32, y2: 340.0 };
            // Motion is where the blob is now (and, for a frame or two, where the background still holds it).
            let around = m.boxes.iter().find(|b| contains(b, &blob)).unwrap_or_else(|| panic!("{step}: {m:?}"));
            assert!(around.width() <= 20.0 + 30.0 + 30.0 && around.height() <= 40.0 + 24.0, "{around:?}");
            assert_eq!(m.boxes.len(), 1, "{m:?}");
        }
    }

    #[test]
    fn two_distant_blobs_are_two_boxes_and_a_masked_one_none() {
        let still = scene();
        let moved = with_blob(with_blob(still.clone(), 100, 100, 24, 48), 600, 400, 24, 48);
        let mut d = detector(MotionConfig::default());
        d.detect(&still, W);
        assert_eq!(d.detect(&moved, W).boxes.len(), 2);
        // Mask the right half: only the left blob is seen.
        let mask = vec![vec![[0.5, 0.0], [1.0, 0.0], [1.0, 1.0], [0.5, 1.0]]];
        let mut d = detector(MotionConfig { mask, ..MotionConfig::default() });
        d.detect(&still, W);
        let m = d.detect(&moved, W);
        assert_eq!(m.boxes.len(), 1);
        assert!(m.boxes[0].x2 < W as f32 / 2.0, "{m:?}");
    }

    #[test]
    fn a_lighting_step_is_no_motion_and_motion_works_again_after_it() {
        let mut d = detector(MotionConfig::default());
        let still = scene();
        d.detect(&still, W);
        let brighter: Vec<u8> = still.iter().map(|&v| v.saturating_add(40)).collect();
        let m = d.detect(&brighter, W);
        assert!(m.lighting_change && m.boxes.is_empty(), "{m:?}");
        for _ in 0..3 {
            assert!(d.detect(&brighter, W).boxes.is_empty());
        }
        let m = d.detect(&with_blob(brighter.clone(), 300, 200, 20, 40), W);
        assert_eq!(m.boxes.len(), 1, "{m:?}");
    }

    #[test]
    fn a_blob_smaller_than_min_area_is_ignored() {
        let mut d = detector(MotionConfig { min_area: 0.01, ..MotionConfig::default() });
        let still = scene();
        d.detect(&still, W);
        assert!(d.detect(&with_blob(still.clone(), 300, 200, 20, 40), W).boxes.is_empty());
    }

    #[test]
    fn tiny_frames_are_refused() {
        assert_eq!(
            MotionDetector::new(&MotionConfig::default(), 4, 100).unwrap_err(),
            MotionError::FrameTooSmall { width: 4, height: 100 }
        );
    }

    /// Cost per frame (release build for meaningful figures): `cargo test --release -p panoptes-actors --lib
    /// motion::tests::cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn cost() {
        for (w, h) in [(768usize, 576usize), (1920, 1080)] {
            let frame: Vec<u8> = (0..w * h).map(|i| (i % 251) as u8).collect();
            let mut d = MotionDetector::new(&MotionConfig::default(), w as u32, h as u32).unwrap();
            let start = std::time::Instant::now();
            for _ in 0..50 {
                d.detect(&frame, w);
            }
            println!("{w}x{h}: {:.3} ms per frame", start.elapsed().as_secs_f64() * 1e3 / 50.0);
        }
    }
}
