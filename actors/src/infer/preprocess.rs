//! Model input preparation: an RGB picture already scaled to the letterbox's inner size becomes a
//! planar `f32` tensor in `[0, 1]` with grey (114) padding, as Ultralytics prepares its inputs.

use crate::geometry::Letterbox;
use crate::messages::ModelInput;

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
}
