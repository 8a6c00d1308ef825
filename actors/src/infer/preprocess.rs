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
    // Block size of the pre-average: how many whole source pixels fall on one destination pixel.
    let block = ((rect.w as f32 / iw as f32).floor() as usize).max(1);
    let (sx, sy) = (rect.w as f32 / iw as f32, rect.h as f32 / ih as f32);
    let (rw, max_x, max_y) = (rect.w as usize, rect.w as usize - 1, rect.h as usize - 1);
    let src = block_means(frame, rect, block);
    // Where each destination column samples: two source columns (as offsets into a row) and the weight of the
    // second; the same for every row.
    let columns: Vec<(usize, usize, f32)> = (0..iw)
        .map(|dx| {
            let fx = ((dx as f32 + 0.5) * sx - 0.5 * block as f32).clamp(0.0, max_x as f32);
            let xa = fx.floor() as usize;
            (xa * 3, (xa + 1).min(max_x) * 3, fx.fract())
        })
        .collect();
    let (r_plane, rest) = chw.split_at_mut(plane);
    let (g_plane, b_plane) = rest.split_at_mut(plane);
    for dy in 0..ih {
        let fy = ((dy as f32 + 0.5) * sy - 0.5 * block as f32).clamp(0.0, max_y as f32);
        let (ya, wy) = (fy.floor() as usize, fy.fract());
        let yb = (ya + 1).min(max_y);
        let (top, bottom) = (&src[ya * rw * 3..(ya + 1) * rw * 3], &src[yb * rw * 3..(yb + 1) * rw * 3]);
        let o = (dy + py) * w + px;
        let rows = r_plane[o..o + iw].iter_mut().zip(&mut g_plane[o..o + iw]).zip(&mut b_plane[o..o + iw]);
        for (((r, g), b), &(xa, xb, wx)) in rows.zip(&columns) {
            let at = |c: usize| {
                let t = top[xa + c] * (1.0 - wx) + top[xb + c] * wx;
                let u = bottom[xa + c] * (1.0 - wx) + bottom[xb + c] * wx;
                (t * (1.0 - wy) + u * wy) * (1.0 / 255.0)
            };
            (*r, *g, *b) = (at(0), at(1), at(2));
        }
    }
    ModelInput { letterbox, chw }
}

/// `rect` of `frame` as packed RGB `f32` rows, each pixel the mean of the `block` x `block` window starting
/// at it (clipped to the rect); with `block` 1, the pixels themselves.
fn block_means(frame: &RgbFrame, rect: Rect, block: usize) -> Vec<f32> {
    let (rw, rh) = (rect.w as usize, rect.h as usize);
    let stride = frame.width as usize * 3;
    let (x0, y0) = (rect.x as usize * 3, rect.y as usize);
    let row = |y: usize| &frame.data[(y0 + y) * stride + x0..(y0 + y) * stride + x0 + rw * 3];
    if block == 1 {
        return (0..rh).flat_map(|y| row(y).iter().map(|&v| f32::from(v))).collect();
    }
    // Window sums along each row, then down the columns, in integers: the means are exact.
    let across: Vec<u32> = (0..rh)
        .flat_map(|y| {
            let r = row(y);
            (0..rw).flat_map(move |x| {
                let end = (x + block).min(rw);
                (0..3).map(move |c| (x..end).map(|bx| u32::from(r[bx * 3 + c])).sum::<u32>())
            })
        })
        .collect();
    let mut out = Vec::with_capacity(rw * rh * 3);
    for y in 0..rh {
        let end_y = (y + block).min(rh);
        for i in 0..rw * 3 {
            let x = i / 3;
            let n = ((x + block).min(rw) - x) * (end_y - y);
            let sum: u32 = (y..end_y).map(|by| across[by * rw * 3 + i]).sum();
            out.push(sum as f32 / n as f32);
        }
    }
    out
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

    /// The straightforward version `crop_to_chw` replaced (every sample computed on its own): the two agree.
    fn reference_crop(frame: &RgbFrame, rect: Rect, dst_w: u32, dst_h: u32) -> ModelInput {
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

    proptest::proptest! {
        #[test]
        fn crops_equal_the_per_sample_reference(
            fw in 8u32..120, fh in 8u32..90, seed in 0u32..1000,
            rx in 0.0f32..1.0, ry in 0.0f32..1.0, rw in 0.05f32..1.0, rh in 0.05f32..1.0, side in 4u32..64,
        ) {
            let data = (0..fw * fh * 3).map(|i| (i.wrapping_mul(2654435761).wrapping_add(seed) >> 7) as u8).collect();
            let frame = RgbFrame { width: fw, height: fh, data };
            let w = ((rw * fw as f32) as u32).max(1);
            let h = ((rh * fh as f32) as u32).max(1);
            let x = ((rx * (fw - w) as f32) as u32).min(fw - w);
            let y = ((ry * (fh - h) as f32) as u32).min(fh - h);
            let rect = Rect { x, y, w, h };
            let (a, b) = (crop_to_chw(&frame, rect, side, side), reference_crop(&frame, rect, side, side));
            proptest::prop_assert_eq!(a.letterbox, b.letterbox);
            for (i, (p, q)) in a.chw.iter().zip(&b.chw).enumerate() {
                proptest::prop_assert!((p - q).abs() < 1e-5, "{rect:?} -> {side}: value {i}: {p} vs {q}");
            }
        }
    }
}
