//! Pixel work of the plate path, pure: cut a box (with a margin) out of a full-resolution RGB frame, turn a
//! crop into a letterboxed model input, and make the snapshot picture of a plate event (the vehicle crop with
//! the plate box drawn) as a [`ModelInput`] the event store encodes as it is.

use crate::geometry::{BBox, Letterbox};
use crate::infer::preprocess::rgb_to_chw;
use crate::messages::{ModelInput, RgbFrame};
use crate::store::snapshot::draw_box;
use image::RgbImage;

/// A crop of a frame and where it came from.
#[derive(Clone, Debug)]
pub struct Crop {
    pub image: RgbImage,
    /// Top-left corner of the crop in the frame, pixels.
    pub x0: u32,
    pub y0: u32,
}

impl Crop {
    /// A box in crop pixels, in the pixels of the frame it was cut from.
    pub fn to_frame(&self, b: &BBox) -> BBox {
        let (x, y) = (self.x0 as f32, self.y0 as f32);
        BBox { x1: b.x1 + x, y1: b.y1 + y, x2: b.x2 + x, y2: b.y2 + y }
    }
}

/// Cut `b` grown by `margin` (a fraction of its width and height on each side) out of an RGB picture of
/// `width x height`, clamped to it; `None` when nothing of the box is inside or the buffer is not RGB24.
pub fn crop(data: &[u8], width: u32, height: u32, b: &BBox, margin: f32) -> Option<Crop> {
    if data.len() != width as usize * height as usize * 3 || !(b.x2 > b.x1 && b.y2 > b.y1) {
        return None;
    }
    let (mx, my) = (b.width() * margin, b.height() * margin);
    let x0 = (b.x1 - mx).floor().clamp(0.0, width as f32) as u32;
    let y0 = (b.y1 - my).floor().clamp(0.0, height as f32) as u32;
    let x1 = (b.x2 + mx).ceil().clamp(0.0, width as f32) as u32;
    let y1 = (b.y2 + my).ceil().clamp(0.0, height as f32) as u32;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    let stride = width as usize * 3;
    for y in y0..y1 {
        let start = y as usize * stride + x0 as usize * 3;
        out.extend_from_slice(&data[start..start + w as usize * 3]);
    }
    Some(Crop { image: RgbImage::from_raw(w, h, out)?, x0, y0 })
}

/// [`crop`] on a decoded frame.
pub fn crop_frame(frame: &RgbFrame, b: &BBox, margin: f32) -> Option<Crop> {
    crop(&frame.data, frame.width, frame.height, b, margin)
}

/// Letterbox a picture into a `size = (width, height)` model input; detections on it come back in the
/// picture's pixels.
pub fn to_model_input(img: &RgbImage, size: (u32, u32)) -> ModelInput {
    let lb = Letterbox::new(img.width(), img.height(), size.0, size.1);
    let scaled = if (lb.inner_w, lb.inner_h) == img.dimensions() {
        img.clone()
    } else {
        image::imageops::resize(img, lb.inner_w, lb.inner_h, image::imageops::FilterType::Triangle)
    };
    rgb_to_chw(scaled.as_raw(), lb.inner_w as usize * 3, lb)
}

/// A picture as a model input of its own size (no scaling, no padding): the snapshot encoder writes it back
/// pixel for pixel.
pub fn as_picture(img: &RgbImage) -> ModelInput {
    let (w, h) = img.dimensions();
    rgb_to_chw(img.as_raw(), w as usize * 3, Letterbox::new(w, h, w, h))
}

/// The snapshot of a plate event: the vehicle crop with the plate box (crop pixels) drawn.
pub fn plate_snapshot(vehicle: &RgbImage, plate: &BBox) -> ModelInput {
    let mut img = vehicle.clone();
    draw_box(&mut img, plate);
    as_picture(&img)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 10 x 6 picture whose pixel (x, y) is (x, y, 7).
    fn picture() -> Vec<u8> {
        (0..6u8).flat_map(|y| (0..10u8).flat_map(move |x| [x, y, 7])).collect()
    }

    #[test]
    fn crops_keep_their_pixels_and_offset() {
        let c = crop(&picture(), 10, 6, &BBox { x1: 2.0, y1: 1.0, x2: 6.0, y2: 4.0 }, 0.0).unwrap();
        assert_eq!((c.x0, c.y0, c.image.width(), c.image.height()), (2, 1, 4, 3));
        assert_eq!(c.image.get_pixel(0, 0).0, [2, 1, 7]);
        assert_eq!(c.image.get_pixel(3, 2).0, [5, 3, 7]);
        let b = c.to_frame(&BBox { x1: 1.0, y1: 1.0, x2: 2.0, y2: 2.0 });
        assert_eq!((b.x1, b.y1, b.x2, b.y2), (3.0, 2.0, 4.0, 3.0));
    }

    #[test]
    fn margins_are_clamped_to_the_frame_and_empty_boxes_refused() {
        // 25 % of a 4 x 4 box is one pixel each side; the left and top edges stop at the frame.
        let c = crop(&picture(), 10, 6, &BBox { x1: 0.0, y1: 0.0, x2: 4.0, y2: 4.0 }, 0.25).unwrap();
        assert_eq!((c.x0, c.y0, c.image.width(), c.image.height()), (0, 0, 5, 5));
        assert!(crop(&picture(), 10, 6, &BBox { x1: 20.0, y1: 0.0, x2: 30.0, y2: 4.0 }, 0.0).is_none());
        assert!(crop(&picture(), 10, 6, &BBox { x1: 3.0, y1: 0.0, x2: 3.0, y2: 4.0 }, 0.0).is_none());
        assert!(crop(&picture()[1..], 10, 6, &BBox { x1: 0.0, y1: 0.0, x2: 4.0, y2: 4.0 }, 0.0).is_none());
    }

    #[test]
    fn a_crop_letterboxes_into_the_model_input_and_back() {
        let img = RgbImage::from_pixel(40, 20, image::Rgb([255, 0, 0]));
        let input = to_model_input(&img, (32, 32));
        let lb = input.letterbox;
        assert_eq!((lb.inner_w, lb.inner_h, lb.pad_x, lb.pad_y), (32, 16, 0, 8));
        assert_eq!(input.chw[8 * 32 + 3], 1.0, "red inside");
        assert_eq!(input.chw[32 * 32 + 8 * 32 + 3], 0.0, "no green inside");
        let back = lb.to_source(&BBox { x1: 0.0, y1: 8.0, x2: 32.0, y2: 24.0 });
        assert_eq!((back.x2, back.y2), (40.0, 20.0));
    }

    #[test]
    fn the_snapshot_is_the_crop_with_the_plate_box() {
        let img = RgbImage::from_pixel(30, 20, image::Rgb([0, 0, 0]));
        let pic = plate_snapshot(&img, &BBox { x1: 5.0, y1: 5.0, x2: 20.0, y2: 12.0 });
        let rgb = crate::store::snapshot::to_rgb(&pic).unwrap();
        assert_eq!(rgb.dimensions(), (30, 20));
        assert_eq!(rgb.get_pixel(5, 5).0, crate::store::snapshot::BOX_RGB);
        assert_eq!(rgb.get_pixel(12, 8).0, [0, 0, 0], "inside the box untouched");
    }
}
