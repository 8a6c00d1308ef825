//! Event snapshots: the picture the detector saw, back to 8-bit RGB without the letterbox padding, with the
//! event's box drawn, as a JPEG written atomically (temporary file, fsync, rename, fsync of the directory).

use super::StoreError;
use crate::geometry::BBox;
use crate::messages::ModelInput;
use image::{ImageEncoder, RgbImage};
use std::io::Write;
use std::path::{Path, PathBuf};

/// JPEG quality, 1–100.
pub const JPEG_QUALITY: u8 = 85;
/// Colour of the drawn box.
pub const BOX_RGB: [u8; 3] = [255, 48, 0];
/// Thickness of the drawn box in snapshot pixels.
pub const BOX_THICKNESS: u32 = 2;

/// The model input as an RGB picture of its inner (unpadded) area, at model resolution.
pub fn to_rgb(input: &ModelInput) -> Result<RgbImage, String> {
    let lb = &input.letterbox;
    let (w, h) = (lb.dst_w as usize, lb.dst_h as usize);
    if input.chw.len() != 3 * w * h {
        return Err(format!("the picture has {} values, expected 3 x {h} x {w}", input.chw.len()));
    }
    let (x0, y0) = (lb.pad_x as usize, lb.pad_y as usize);
    let (iw, ih) = (lb.inner_w as usize, lb.inner_h as usize);
    if x0 + iw > w || y0 + ih > h {
        return Err(format!("the letterbox {lb:?} does not fit its picture"));
    }
    let plane = w * h;
    let to_u8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
    let mut img = RgbImage::new(iw as u32, ih as u32);
    for y in 0..ih {
        for x in 0..iw {
            let i = (y0 + y) * w + x0 + x;
            let px = [to_u8(input.chw[i]), to_u8(input.chw[plane + i]), to_u8(input.chw[2 * plane + i])];
            img.put_pixel(x as u32, y as u32, image::Rgb(px));
        }
    }
    Ok(img)
}

/// A box in source-frame pixels mapped to snapshot pixels (the inner area of the letterbox), clamped.
pub fn to_snapshot_px(input: &ModelInput, b: &BBox) -> BBox {
    let lb = &input.letterbox;
    let sx = lb.inner_w as f32 / lb.src_w as f32;
    let sy = lb.inner_h as f32 / lb.src_h as f32;
    BBox { x1: b.x1 * sx, y1: b.y1 * sy, x2: b.x2 * sx, y2: b.y2 * sy }.clamp(lb.inner_w as f32, lb.inner_h as f32)
}

/// Draw the outline of `b` (snapshot pixels), [`BOX_THICKNESS`] wide, inside the box.
pub fn draw_box(img: &mut RgbImage, b: &BBox) {
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 {
        return;
    }
    let x1 = (b.x1.round() as u32).min(w - 1);
    let y1 = (b.y1.round() as u32).min(h - 1);
    let x2 = (b.x2.round() as u32).clamp(x1 + 1, w) - 1;
    let y2 = (b.y2.round() as u32).clamp(y1 + 1, h) - 1;
    for y in y1..=y2 {
        for x in x1..=x2 {
            let edge =
                x < x1 + BOX_THICKNESS || x + BOX_THICKNESS > x2 || y < y1 + BOX_THICKNESS || y + BOX_THICKNESS > y2;
            if edge {
                img.put_pixel(x, y, image::Rgb(BOX_RGB));
            }
        }
    }
}

/// The snapshot of an event as JPEG bytes: the picture without padding, the box drawn when there is one.
pub fn encode(input: &ModelInput, bbox: Option<&BBox>) -> Result<Vec<u8>, String> {
    let mut img = to_rgb(input)?;
    if let Some(b) = bbox {
        draw_box(&mut img, &to_snapshot_px(input, b));
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY)
        .write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// The box to draw on an event's picture: the event's box, except for plate events, whose picture is the
/// vehicle crop with the plate box already drawn (the event's box is in frame pixels, not crop pixels).
pub fn box_to_draw(event: &crate::messages::Event) -> Option<&BBox> {
    if event.kind == crate::messages::EventKind::Plate { None } else { event.bbox.as_ref() }
}

/// The snapshot's path relative to the snapshot directory.
pub fn relative_path(camera: &str, id: i64) -> String {
    format!("{camera}/{id}.jpg")
}

/// Write `bytes` to `dir/rel` atomically and durably: a temporary file in the same directory, fsynced,
/// renamed over the target, then the directory fsynced (so the rename itself survives a power loss).
pub fn write_atomic(dir: &Path, rel: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    let target = dir.join(rel);
    let parent = target.parent().unwrap_or(dir).to_owned();
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Snapshot { path, source }
    };
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = parent.join(format!(".{name}.tmp"));
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    std::fs::File::open(&parent).and_then(|d| d.sync_all()).map_err(io(&parent))?;
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Letterbox;

    /// A 200 x 100 source frame letterboxed into 64 x 64: inner 64 x 32, 16 rows of padding above and below.
    /// The picture is a horizontal red ramp, green 0.5, blue 0.25 inside; grey 114/255 in the padding.
    fn picture() -> ModelInput {
        let lb = Letterbox::new(200, 100, 64, 64);
        assert_eq!((lb.inner_w, lb.inner_h, lb.pad_x, lb.pad_y), (64, 32, 0, 16));
        let mut chw = vec![114.0 / 255.0; 3 * 64 * 64];
        for y in 16..48 {
            for x in 0..64 {
                let i = y * 64 + x;
                chw[i] = x as f32 / 63.0;
                chw[64 * 64 + i] = 0.5;
                chw[2 * 64 * 64 + i] = 0.25;
            }
        }
        ModelInput { letterbox: lb, chw }
    }

    #[test]
    fn the_padding_is_cropped_and_colours_come_back_as_bytes() {
        let img = to_rgb(&picture()).unwrap();
        assert_eq!(img.dimensions(), (64, 32));
        assert_eq!(img.get_pixel(0, 0).0, [0, 128, 64]);
        assert_eq!(img.get_pixel(63, 31).0, [255, 128, 64]);
    }

    #[test]
    fn the_box_is_mapped_from_source_pixels_and_drawn_on_its_edge() {
        let input = picture();
        // Source box (50, 20)–(150, 80) in a 200 x 100 frame: scale 64/200 = 0.32 → (16, 6.4)–(48, 25.6).
        let b = to_snapshot_px(&input, &BBox { x1: 50.0, y1: 20.0, x2: 150.0, y2: 80.0 });
        assert!((b.x1 - 16.0).abs() < 1e-4 && (b.y1 - 6.4).abs() < 1e-4, "{b:?}");
        assert!((b.x2 - 48.0).abs() < 1e-4 && (b.y2 - 25.6).abs() < 1e-4, "{b:?}");
        // Independent check through the letterbox's own inverse: model px = snapshot px + padding.
        let back = input.letterbox.to_source(&BBox {
            x1: b.x1 + input.letterbox.pad_x as f32,
            y1: b.y1 + input.letterbox.pad_y as f32,
            x2: b.x2 + input.letterbox.pad_x as f32,
            y2: b.y2 + input.letterbox.pad_y as f32,
        });
        assert!((back.x1 - 50.0).abs() < 1e-3 && (back.y2 - 80.0).abs() < 1e-3, "{back:?}");
        let mut img = to_rgb(&input).unwrap();
        draw_box(&mut img, &b);
        assert_eq!(img.get_pixel(16, 6).0, BOX_RGB, "top-left corner");
        assert_eq!(img.get_pixel(47, 25).0, BOX_RGB, "bottom-right corner");
        assert_eq!(img.get_pixel(30, 7).0, BOX_RGB, "second row of the top edge");
        assert_ne!(img.get_pixel(30, 15).0, BOX_RGB, "the inside is untouched");
        assert_ne!(img.get_pixel(10, 15).0, BOX_RGB, "the outside is untouched");
    }

    #[test]
    fn a_box_beyond_the_frame_is_clamped_not_a_panic() {
        let input = picture();
        let mut img = to_rgb(&input).unwrap();
        draw_box(&mut img, &to_snapshot_px(&input, &BBox { x1: -50.0, y1: -10.0, x2: 900.0, y2: 900.0 }));
        assert_eq!(img.get_pixel(0, 0).0, BOX_RGB);
        assert_eq!(img.get_pixel(63, 31).0, BOX_RGB);
    }

    #[test]
    fn the_jpeg_decodes_to_the_cropped_size_and_colours() {
        let jpeg = encode(&picture(), None).unwrap();
        let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (64, 32));
        let p = img.get_pixel(32, 16).0;
        let want = [(32.0f32 / 63.0 * 255.0).round() as u8, 128, 64];
        for c in 0..3 {
            assert!((i32::from(p[c]) - i32::from(want[c])).abs() <= 12, "{p:?} vs {want:?}");
        }
    }

    #[test]
    fn a_wrong_sized_picture_is_an_error() {
        let mut input = picture();
        input.chw.pop();
        assert!(encode(&input, None).unwrap_err().contains("expected 3 x 64 x 64"));
    }

    #[test]
    fn writing_replaces_the_target_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let rel = relative_path("gate", 12);
        write_atomic(dir.path(), &rel, b"first").unwrap();
        let path = write_atomic(dir.path(), &rel, b"second").unwrap();
        assert_eq!(path, dir.path().join("gate/12.jpg"));
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> =
            std::fs::read_dir(dir.path().join("gate")).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("12.jpg")]);
    }
}
