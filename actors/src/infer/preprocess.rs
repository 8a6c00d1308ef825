//! Model input preparation: an RGB picture already scaled to the letterbox's inner size becomes a
//! planar `f32` tensor in `[0, 1]` with grey (114) padding, as Ultralytics prepares its inputs.

use crate::geometry::{Letterbox, Rect};
use crate::messages::{ModelInput, RgbFrame};

/// The padding value Ultralytics uses, as a normalised float.
pub const PAD_VALUE: f32 = 114.0 / 255.0;

/// Build a model input from packed RGB24 rows of `letterbox.inner_w x letterbox.inner_h` pixels,
/// `stride` bytes apart.
pub fn rgb_to_chw(rgb: &[u8], stride: usize, letterbox: Letterbox) -> ModelInput {
    let (w, h) = (letterbox.dst_w as usize, letterbox.dst_h as usize);
    let (iw, ih) = (letterbox.inner_w as usize, letterbox.inner_h as usize);
    let (px, py) = (letterbox.pad_x as usize, letterbox.pad_y as usize);
    assert!(stride >= iw * 3 && rgb.len() >= stride * (ih - 1) + iw * 3, "RGB buffer smaller than the letterbox");
    let plane = w * h;
    let mut chw = vec![PAD_VALUE; 3 * plane];
    let (r_plane, rest) = chw.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    for y in 0..ih {
        let row = &rgb[y * stride..y * stride + iw * 3];
        let o = (y + py) * w + px;
        let (r, g, b) = (&mut r_plane[o..o + iw], &mut g_plane[o..o + iw], &mut b_plane[o..o + iw]);
        for (x, px3) in row.chunks_exact(3).enumerate() {
            r[x] = f32::from(px3[0]) * (1.0 / 255.0);
            g[x] = f32::from(px3[1]) * (1.0 / 255.0);
            b[x] = f32::from(px3[2]) * (1.0 / 255.0);
        }
    }
    ModelInput { letterbox, chw }
}

/// Cut `rect` out of a full-resolution frame and letterbox it into a `dst_w` x `dst_h` model input, resampling
/// bilinearly (regions are planned at most 1.5 times the input side, where bilinear loses nothing that
/// matters; a larger rect, from one large box, is averaged over whole-pixel blocks first). The input's
/// letterbox maps detections to `rect`-local pixels: add `rect.x`, `rect.y` for frame pixels.
pub fn crop_to_chw(frame: &RgbFrame, rect: Rect, dst_w: u32, dst_h: u32) -> ModelInput {
    assert!(
        rect.w > 0 && rect.h > 0 && rect.right() <= frame.width && rect.bottom() <= frame.height,
        "crop {rect:?} outside the {}x{} frame",
        frame.width,
        frame.height
    );
    let letterbox = Letterbox::new(rect.w, rect.h, dst_w, dst_h);
    let (w, h) = (dst_w as usize, dst_h as usize);
    let (iw, ih) = (letterbox.inner_w as usize, letterbox.inner_h as usize);
    let (px, py) = (letterbox.pad_x as usize, letterbox.pad_y as usize);
    let plane = w * h;
    let mut chw = vec![PAD_VALUE; 3 * plane];
    let stride = frame.width as usize * 3;
    // Block size of the pre-average: how many whole source pixels fall on one destination pixel.
    let block = ((rect.w as f32 / iw as f32).floor() as usize).max(1);
    let sx = rect.w as f32 / iw as f32;
    let sy = rect.h as f32 / ih as f32;
    let (x0, y0) = (rect.x as usize, rect.y as usize);
    let (max_x, max_y) = (rect.w as usize - 1, rect.h as usize - 1);
    let sample = |x: usize, y: usize, c: usize| -> f32 {
        if block == 1 {
            return f32::from(frame.data[(y0 + y) * stride + (x0 + x) * 3 + c]);
        }
        let (mut sum, mut n) = (0u32, 0u32);
        for by in y..(y + block).min(max_y + 1) {
            let row = (y0 + by) * stride;
            for bx in x..(x + block).min(max_x + 1) {
                sum += u32::from(frame.data[row + (x0 + bx) * 3 + c]);
                n += 1;
            }
        }
        sum as f32 / n as f32
    };
    for dy in 0..ih {
        let fy = ((dy as f32 + 0.5) * sy - 0.5 * block as f32).clamp(0.0, max_y as f32);
        let (ya, wy) = (fy.floor() as usize, fy.fract());
        let yb = (ya + 1).min(max_y);
        for dx in 0..iw {
            let fx = ((dx as f32 + 0.5) * sx - 0.5 * block as f32).clamp(0.0, max_x as f32);
            let (xa, wx) = (fx.floor() as usize, fx.fract());
            let xb = (xa + 1).min(max_x);
            let o = (dy + py) * w + dx + px;
            for c in 0..3 {
                let top = sample(xa, ya, c) * (1.0 - wx) + sample(xb, ya, c) * wx;
                let bottom = sample(xa, yb, c) * (1.0 - wx) + sample(xb, yb, c) * wx;
                chw[c * plane + o] = (top * (1.0 - wy) + bottom * wy) * (1.0 / 255.0);
            }
        }
    }
    ModelInput { letterbox, chw }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_normalises() {
        // A 4x2 source into 4x4: inner 4x2, padded one row above and below.
        let lb = Letterbox::new(4, 2, 4, 4);
        assert_eq!((lb.inner_w, lb.inner_h, lb.pad_x, lb.pad_y), (4, 2, 0, 1));
        let rgb: Vec<u8> = (0..4 * 2).flat_map(|i| [255u8, 0, i as u8]).collect();
        let input = rgb_to_chw(&rgb, 12, lb);
        assert_eq!(input.chw.len(), 48);
        assert_eq!(input.chw[0], PAD_VALUE); // R, row 0 is padding
        assert_eq!(input.chw[4], 1.0); // R, row 1
        assert_eq!(input.chw[16 + 4], 0.0); // G, row 1
        assert!((input.chw[32 + 4 + 3] - 3.0 / 255.0).abs() < 1e-7); // B, row 1, x 3
        assert_eq!(input.chw[32 + 12], PAD_VALUE); // B, row 3 is padding
    }

    /// A frame whose red channel is the column and green the row, blue 7.
    fn ramp(w: u32, h: u32) -> RgbFrame {
        let data = (0..h).flat_map(|y| (0..w).flat_map(move |x| [x as u8, y as u8, 7])).collect();
        RgbFrame { width: w, height: h, data }
    }

    #[test]
    fn a_crop_at_full_scale_copies_the_pixels() {
        let frame = ramp(200, 100);
        let rect = Rect { x: 50, y: 20, w: 32, h: 32 };
        let input = crop_to_chw(&frame, rect, 32, 32);
        assert_eq!(input.letterbox.scale, 1.0);
        let plane = 32 * 32;
        for (y, x) in [(0, 0), (5, 31), (31, 7)] {
            assert!((input.chw[y * 32 + x] * 255.0 - (50 + x) as f32).abs() < 1e-3, "red at {x},{y}");
            assert!((input.chw[plane + y * 32 + x] * 255.0 - (20 + y) as f32).abs() < 1e-3, "green at {x},{y}");
        }
        // A detection at input pixels (4..8, 2..10) is at rect-local pixels (4..8, 2..10).
        let b = input.letterbox.to_source(&crate::geometry::BBox { x1: 4.0, y1: 2.0, x2: 8.0, y2: 10.0 });
        assert_eq!((b.x1, b.y2), (4.0, 10.0));
    }

    #[test]
    fn a_larger_crop_is_downscaled_smoothly_and_letterboxed() {
        let frame = ramp(200, 100);
        // 64x32 into 32x32: scale 0.5, inner 32x16, padded 8 rows above.
        let input = crop_to_chw(&frame, Rect { x: 100, y: 50, w: 64, h: 32 }, 32, 32);
        assert_eq!((input.letterbox.inner_w, input.letterbox.inner_h, input.letterbox.pad_y), (32, 16, 8));
        assert_eq!(input.chw[0], PAD_VALUE);
        let red = |x: usize, y: usize| input.chw[(y + 8) * 32 + x] * 255.0;
        // Destination pixel x covers source columns 100 + 2x and 101 + 2x: their mean.
        for x in [0, 10, 31] {
            assert!((red(x, 3) - (100.5 + 2.0 * x as f32)).abs() < 0.51, "x {x}: {}", red(x, 3));
        }
        assert!((input.chw[2 * 1024 + 8 * 32] * 255.0 - 7.0).abs() < 1e-3);
    }
}
