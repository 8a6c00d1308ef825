//! Boxes and the letterbox transform between a camera frame and the model input, in pixels; zones and lines
//! in normalised picture coordinates ([`plane`]).

pub mod plane;

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels: top-left (`x1`, `y1`) and bottom-right (`x2`, `y2`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn from_center(cx: f32, cy: f32, w: f32, h: f32) -> Self {
        Self { x1: cx - w / 2.0, y1: cy - h / 2.0, x2: cx + w / 2.0, y2: cy + h / 2.0 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }

    /// Clamp into `[0, w] x [0, h]`.
    pub fn clamp(&self, w: f32, h: f32) -> Self {
        Self {
            x1: self.x1.clamp(0.0, w),
            y1: self.y1.clamp(0.0, h),
            x2: self.x2.clamp(0.0, w),
            y2: self.y2.clamp(0.0, h),
        }
    }
}

/// A rectangle of the source frame in whole pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl Rect {
    /// The whole frame.
    pub fn frame(w: u32, h: u32) -> Self {
        Self { x: 0, y: 0, w, h }
    }

    pub fn right(&self) -> u32 {
        self.x + self.w
    }

    pub fn bottom(&self) -> u32 {
        self.y + self.h
    }

    pub fn area(&self) -> u64 {
        u64::from(self.w) * u64::from(self.h)
    }

    /// The smallest rectangle of whole pixels holding `b`, inside a `frame_w` x `frame_h` frame.
    pub fn around(b: &BBox, frame_w: u32, frame_h: u32) -> Self {
        let x = (b.x1.floor().max(0.0) as u32).min(frame_w.saturating_sub(1));
        let y = (b.y1.floor().max(0.0) as u32).min(frame_h.saturating_sub(1));
        let right = (b.x2.ceil().max(0.0) as u32).clamp(x + 1, frame_w.max(x + 1));
        let bottom = (b.y2.ceil().max(0.0) as u32).clamp(y + 1, frame_h.max(y + 1));
        Self { x, y, w: right - x, h: bottom - y }
    }

    pub fn to_bbox(self) -> BBox {
        BBox { x1: self.x as f32, y1: self.y as f32, x2: self.right() as f32, y2: self.bottom() as f32 }
    }

    /// Whether `b` and this rectangle share some area.
    pub fn touches(&self, b: &BBox) -> bool {
        b.x1 < self.right() as f32 && b.x2 > self.x as f32 && b.y1 < self.bottom() as f32 && b.y2 > self.y as f32
    }

    /// Whether `b` lies inside this rectangle (with `slack` pixels of tolerance).
    pub fn contains(&self, b: &BBox, slack: f32) -> bool {
        b.x1 >= self.x as f32 - slack
            && b.y1 >= self.y as f32 - slack
            && b.x2 <= self.right() as f32 + slack
            && b.y2 <= self.bottom() as f32 + slack
    }
}

/// Resize-with-padding from a source frame (`src_w` x `src_h`) into a model input (`dst_w` x `dst_h`),
/// keeping the aspect ratio and centring the picture, as Ultralytics does.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Letterbox {
    pub src_w: u32,
    pub src_h: u32,
    pub dst_w: u32,
    pub dst_h: u32,
    /// Scale from source to destination pixels.
    pub scale: f32,
    /// Width and height of the scaled picture inside the destination, in pixels.
    pub inner_w: u32,
    pub inner_h: u32,
    /// Left and top padding in destination pixels.
    pub pad_x: u32,
    pub pad_y: u32,
}

impl Letterbox {
    pub fn new(src_w: u32, src_h: u32, dst_w: u32, dst_h: u32) -> Self {
        assert!(src_w > 0 && src_h > 0 && dst_w > 0 && dst_h > 0, "letterbox sizes are positive");
        let scale = (dst_w as f32 / src_w as f32).min(dst_h as f32 / src_h as f32);
        let inner_w = ((src_w as f32 * scale).round() as u32).clamp(1, dst_w);
        let inner_h = ((src_h as f32 * scale).round() as u32).clamp(1, dst_h);
        let pad_x = (dst_w - inner_w) / 2;
        let pad_y = (dst_h - inner_h) / 2;
        Self { src_w, src_h, dst_w, dst_h, scale, inner_w, inner_h, pad_x, pad_y }
    }

    /// Map a box from model-input pixels back to source pixels, clamped to the source frame.
    pub fn to_source(&self, b: &BBox) -> BBox {
        let sx = self.inner_w as f32 / self.src_w as f32;
        let sy = self.inner_h as f32 / self.src_h as f32;
        BBox {
            x1: (b.x1 - self.pad_x as f32) / sx,
            y1: (b.y1 - self.pad_y as f32) / sy,
            x2: (b.x2 - self.pad_x as f32) / sx,
            y2: (b.y2 - self.pad_y as f32) / sy,
        }
        .clamp(self.src_w as f32, self.src_h as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letterbox_centres_a_wide_frame() {
        let lb = Letterbox::new(768, 576, 640, 640);
        assert_eq!((lb.inner_w, lb.inner_h), (640, 480));
        assert_eq!((lb.pad_x, lb.pad_y), (0, 80));
        let b = lb.to_source(&BBox { x1: 0.0, y1: 80.0, x2: 640.0, y2: 560.0 });
        assert!((b.x2 - 768.0).abs() < 1e-3 && (b.y2 - 576.0).abs() < 1e-3 && b.y1.abs() < 1e-3);
    }

    #[test]
    fn letterbox_round_trips_a_box() {
        let lb = Letterbox::new(1920, 1080, 416, 416);
        let b = lb.to_source(&BBox { x1: 100.0, y1: 150.0, x2: 200.0, y2: 250.0 });
        let back_x1 = b.x1 * lb.inner_w as f32 / 1920.0 + lb.pad_x as f32;
        let back_y2 = b.y2 * lb.inner_h as f32 / 1080.0 + lb.pad_y as f32;
        assert!((back_x1 - 100.0).abs() < 1e-3 && (back_y2 - 250.0).abs() < 1e-3);
    }

    #[test]
    fn iou_of_disjoint_and_identical_boxes() {
        let a = BBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 };
        let b = BBox { x1: 20.0, y1: 20.0, x2: 30.0, y2: 30.0 };
        assert_eq!(a.iou(&b), 0.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
        let c = BBox { x1: 5.0, y1: 0.0, x2: 15.0, y2: 10.0 };
        assert!((a.iou(&c) - 1.0 / 3.0).abs() < 1e-6);
    }
}
