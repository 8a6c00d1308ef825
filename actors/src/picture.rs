//! Pictures for people: the frame the detector saw, back as 8-bit RGB and JPEG.
//!
//! The pipeline keeps each inferred frame only as its model input (letterboxed planar `f32`); this
//! module turns that back into the picture inside the letterbox, at model resolution, so a snapshot
//! shows exactly the pixels the detector judged.

use crate::messages::ModelInput;
use image::RgbImage;

/// The picture inside the letterbox (padding cropped), at model resolution.
pub fn rgb_from_input(input: &ModelInput) -> RgbImage {
    let lb = input.letterbox;
    let (w, h) = (lb.dst_w as usize, lb.dst_h as usize);
    let plane = w * h;
    let to_u8 = |v: f32| (v * 255.0).round().clamp(0.0, 255.0) as u8;
    RgbImage::from_fn(lb.inner_w, lb.inner_h, |x, y| {
        let i = (y + lb.pad_y) as usize * w + (x + lb.pad_x) as usize;
        image::Rgb([to_u8(input.chw[i]), to_u8(input.chw[plane + i]), to_u8(input.chw[2 * plane + i])])
    })
}

/// Encode as JPEG at `quality` (1–100).
pub fn jpeg(img: &RgbImage, quality: u8) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Letterbox;
    use crate::infer::preprocess::rgb_to_chw;

    #[test]
    fn round_trips_the_picture_inside_the_letterbox() {
        let lb = Letterbox::new(4, 2, 4, 4);
        let rgb: Vec<u8> = (0..8u8).flat_map(|i| [i * 30, 255 - i * 30, 7]).collect();
        let input = rgb_to_chw(&rgb, 12, lb);
        let img = rgb_from_input(&input);
        assert_eq!(img.dimensions(), (4, 2));
        assert_eq!(img.as_raw(), &rgb);
        let bytes = jpeg(&img, 90).unwrap();
        assert_eq!(&bytes[..2], &[0xFF, 0xD8], "a JPEG starts with SOI");
    }
}
