//! Decoded picture → model input, once per submitted frame.
//!
//! swscale converts the decoder's pixel format straight to packed RGB24 at the letterbox's inner
//! size in one pass (colour conversion and resize; area averaging, which suits downscaling and
//! measured ~15% faster than bilinear here), then [`crate::infer::preprocess::rgb_to_chw`] pads and normalises into the planar `f32` tensor. The
//! scaler and the RGB buffer are kept while the source format, source size and target size stay
//! the same.

use crate::geometry::Letterbox;
use crate::infer::preprocess::rgb_to_chw;
use crate::messages::{ModelInput, RgbFrame};
use ffmpeg_next::format::Pixel;
use ffmpeg_next::frame;
use ffmpeg_next::software::scaling;

/// Conversion failures (a pixel format or size swscale refuses).
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("cannot convert {format:?} {src_w}x{src_h} to RGB {dst_w}x{dst_h}: {source}")]
    Scaler { format: Pixel, src_w: u32, src_h: u32, dst_w: u32, dst_h: u32, source: ffmpeg_next::Error },
    #[error("decoded picture has no size ({width}x{height})")]
    Empty { width: u32, height: u32 },
}

type Key = (Pixel, u32, u32, u32, u32);

/// Reusable converter of one camera.
#[derive(Default)]
pub struct Converter {
    scaler: Option<(Key, scaling::Context)>,
    rgb: Option<frame::Video>,
}

impl Converter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Letterbox `picture` into a model input of `input_size` = `(width, height)`.
    pub fn convert(&mut self, picture: &frame::Video, input_size: (u32, u32)) -> Result<ModelInput, ConvertError> {
        let (w, h, format) = (picture.width(), picture.height(), picture.format());
        if w == 0 || h == 0 || input_size.0 == 0 || input_size.1 == 0 {
            return Err(ConvertError::Empty { width: w, height: h });
        }
        let lb = Letterbox::new(w, h, input_size.0, input_size.1);
        let key = (format, w, h, lb.inner_w, lb.inner_h);
        let scaler_error =
            |source| ConvertError::Scaler { format, src_w: w, src_h: h, dst_w: lb.inner_w, dst_h: lb.inner_h, source };
        if self.scaler.as_ref().is_none_or(|(k, _)| *k != key) {
            let ctx = scaling::Context::get(format, w, h, Pixel::RGB24, lb.inner_w, lb.inner_h, scaling::Flags::AREA)
                .map_err(scaler_error)?;
            self.scaler = Some((key, ctx));
            self.rgb = Some(frame::Video::new(Pixel::RGB24, lb.inner_w, lb.inner_h));
        }
        let (Some((_, ctx)), Some(rgb)) = (self.scaler.as_mut(), self.rgb.as_mut()) else {
            unreachable!("scaler and buffer are set together")
        };
        ctx.run(picture, rgb).map_err(scaler_error)?;
        Ok(rgb_to_chw(rgb.data(0), rgb.stride(0), lb))
    }

    /// `picture` as packed RGB24 at its own size (crops at full resolution: plates). Use a converter of its
    /// own for this, so that the scaler of the model input is not rebuilt on every frame.
    pub fn full_rgb(&mut self, picture: &frame::Video) -> Result<RgbFrame, ConvertError> {
        let (w, h, format) = (picture.width(), picture.height(), picture.format());
        if w == 0 || h == 0 {
            return Err(ConvertError::Empty { width: w, height: h });
        }
        let key = (format, w, h, w, h);
        let scaler_error = |source| ConvertError::Scaler { format, src_w: w, src_h: h, dst_w: w, dst_h: h, source };
        if self.scaler.as_ref().is_none_or(|(k, _)| *k != key) {
            let ctx = scaling::Context::get(format, w, h, Pixel::RGB24, w, h, scaling::Flags::BILINEAR)
                .map_err(scaler_error)?;
            self.scaler = Some((key, ctx));
            self.rgb = Some(frame::Video::new(Pixel::RGB24, w, h));
        }
        let (Some((_, ctx)), Some(rgb)) = (self.scaler.as_mut(), self.rgb.as_mut()) else {
            unreachable!("scaler and buffer are set together")
        };
        ctx.run(picture, rgb).map_err(scaler_error)?;
        let (stride, row) = (rgb.stride(0), w as usize * 3);
        let mut data = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            data.extend_from_slice(&rgb.data(0)[y * stride..y * stride + row]);
        }
        Ok(RgbFrame { width: w, height: h, data })
    }
}

/// The 8-bit luma plane of a decoded picture and its stride in bytes, for motion detection; `None` for pixel
/// formats whose first plane is not 8-bit luma (10-bit HEVC, RGB): such a camera is inferred whole.
pub fn luma_plane(picture: &frame::Video) -> Option<(&[u8], usize)> {
    let eight_bit_luma = matches!(
        picture.format(),
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::NV12
            | Pixel::NV21
            | Pixel::GRAY8
    );
    (eight_bit_luma && picture.planes() > 0).then(|| (picture.data(0), picture.stride(0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::preprocess::PAD_VALUE;

    /// BT.601 limited-range YCbCr of an RGB colour (ITU-R BT.601 §2.5, the reference swscale uses
    /// for untagged frames).
    fn ycbcr(r: f64, g: f64, b: f64) -> (u8, u8, u8) {
        let (r, g, b) = (r / 255.0, g / 255.0, b / 255.0);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let cb = (b - y) / 1.772;
        let cr = (r - y) / 1.402;
        ((16.0 + 219.0 * y).round() as u8, (128.0 + 224.0 * cb).round() as u8, (128.0 + 224.0 * cr).round() as u8)
    }

    /// A YUV420P picture: left half `left`, right half `right` (RGB).
    fn two_colour_frame(w: u32, h: u32, left: (f64, f64, f64), right: (f64, f64, f64)) -> frame::Video {
        let mut f = frame::Video::new(Pixel::YUV420P, w, h);
        let l = ycbcr(left.0, left.1, left.2);
        let r = ycbcr(right.0, right.1, right.2);
        for (plane, sub) in [(0usize, 1u32), (1, 2), (2, 2)] {
            let stride = f.stride(plane);
            let (pw, ph) = (w / sub, h / sub);
            let data = f.data_mut(plane);
            for y in 0..ph as usize {
                for x in 0..pw as usize {
                    let c = if (x as u32) < pw / 2 { l } else { r };
                    data[y * stride + x] = [c.0, c.1, c.2][plane];
                }
            }
        }
        f
    }

    fn at(input: &ModelInput, c: usize, x: u32, y: u32) -> f32 {
        let lb = input.letterbox;
        input.chw[c * (lb.dst_w * lb.dst_h) as usize + (y * lb.dst_w + x) as usize]
    }

    #[test]
    fn yuv_frame_lands_in_the_letterbox_with_the_right_colours() {
        // 128x64 red | blue into a 64x64 input: inner 64x32, 16 rows of padding above and below.
        let frame = two_colour_frame(128, 64, (255.0, 0.0, 0.0), (0.0, 0.0, 255.0));
        let mut conv = Converter::new();
        let input = conv.convert(&frame, (64, 64)).unwrap();
        let lb = input.letterbox;
        assert_eq!((lb.inner_w, lb.inner_h, lb.pad_x, lb.pad_y), (64, 32, 0, 16));
        assert_eq!(input.chw.len(), 3 * 64 * 64);
        let tol = 0.04;
        for (x, y) in [(4, 20), (20, 40), (10, 16), (10, 47)] {
            let rgb = (at(&input, 0, x, y), at(&input, 1, x, y), at(&input, 2, x, y));
            assert!((rgb.0 - 1.0).abs() < tol && rgb.1 < tol && rgb.2 < tol, "red expected at ({x},{y}): {rgb:?}");
        }
        for (x, y) in [(40, 20), (60, 40), (50, 16), (50, 47)] {
            let rgb = (at(&input, 0, x, y), at(&input, 1, x, y), at(&input, 2, x, y));
            assert!(rgb.0 < tol && rgb.1 < tol && (rgb.2 - 1.0).abs() < tol, "blue expected at ({x},{y}): {rgb:?}");
        }
        for (x, y) in [(0, 0), (63, 15), (30, 48), (5, 63)] {
            for c in 0..3 {
                assert_eq!(at(&input, c, x, y), PAD_VALUE, "padding expected at ({x},{y}) channel {c}");
            }
        }
    }

    #[test]
    fn tall_frames_pad_left_and_right_and_the_scaler_follows_size_changes() {
        let mut conv = Converter::new();
        // Green 32x64 into 64x64: inner 32x64, 16 columns of padding each side.
        let green = two_colour_frame(32, 64, (0.0, 255.0, 0.0), (0.0, 255.0, 0.0));
        let input = conv.convert(&green, (64, 64)).unwrap();
        assert_eq!((input.letterbox.pad_x, input.letterbox.pad_y), (16, 0));
        assert_eq!(at(&input, 1, 5, 30), PAD_VALUE);
        assert!((at(&input, 1, 30, 30) - 1.0).abs() < 0.04 && at(&input, 0, 30, 30) < 0.04);
        // Then a wide frame on the same converter: rebuilt scaler, right geometry.
        let wide = two_colour_frame(128, 64, (255.0, 255.0, 255.0), (0.0, 0.0, 0.0));
        let input = conv.convert(&wide, (64, 64)).unwrap();
        assert_eq!((input.letterbox.pad_x, input.letterbox.pad_y), (0, 16));
        assert!(at(&input, 0, 5, 30) > 0.96 && at(&input, 2, 60, 30) < 0.04);
    }

    #[test]
    fn full_rgb_keeps_the_size_and_colours_without_row_padding() {
        let frame = two_colour_frame(66, 32, (255.0, 0.0, 0.0), (0.0, 0.0, 255.0));
        let rgb = Converter::new().full_rgb(&frame).unwrap();
        assert_eq!((rgb.width, rgb.height, rgb.data.len()), (66, 32, 66 * 32 * 3));
        let px = |x: usize, y: usize| &rgb.data[(y * 66 + x) * 3..(y * 66 + x) * 3 + 3];
        assert!(px(3, 30)[0] > 240 && px(3, 30)[2] < 15, "red on the left: {:?}", px(3, 30));
        assert!(px(60, 2)[2] > 240 && px(60, 2)[0] < 15, "blue on the right: {:?}", px(60, 2));
    }
}
