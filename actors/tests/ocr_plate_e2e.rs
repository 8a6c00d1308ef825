//! End to end: find the plate on fast-alpr's test picture with the converted YOLOv8n plate detector
//! (`OnnxDetector`), crop it with a 10 % margin, read it with `PlateReader`, and expect "5AU5341" (the plate
//! as printed, "5AU 5341", normalised). Needs var/ from scripts/setup.sh.

mod ocr_support;

use ocr_support::*;
use panoptes_actors::geometry::Letterbox;
use panoptes_actors::infer::Detector;
use panoptes_actors::infer::model::{ModelOptions, OnnxDetector};
use panoptes_actors::infer::ocr::plate_text::{PlatePattern, normalize_plate};
use panoptes_actors::infer::preprocess::rgb_to_chw;

#[test]
fn detects_crops_and_reads_the_plate() {
    let (rgb, w, h) = load_rgb(&var("images/plate-5AU5341.png"));
    let opts = ModelOptions::new(var("models/plate-detector.onnx")).imgsz(640).confidence(0.25).intra_threads(1);
    let mut detector = OnnxDetector::load(&opts).unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh first)"));
    assert_eq!(&*detector.labels(), ["license_plate"]);

    let (iw, ih) = detector.input_size();
    let lb = Letterbox::new(w, h, iw, ih);
    let src = image::RgbImage::from_raw(w, h, rgb.clone()).expect("packed RGB");
    let scaled = image::imageops::resize(&src, lb.inner_w, lb.inner_h, image::imageops::FilterType::Triangle);
    let input = rgb_to_chw(scaled.as_raw(), lb.inner_w as usize * 3, lb);
    let dets = detector.detect(&[&input]).unwrap().remove(0);
    assert_eq!(dets.len(), 1, "one plate on the picture: {dets:?}");
    let plate = dets[0].bbox;
    assert!(dets[0].score > 0.5, "plate score {}", dets[0].score);

    // Crop with a 10 % margin each side, clamped to the picture.
    let (mx, my) = (0.1 * plate.width(), 0.1 * plate.height());
    let x1 = (plate.x1 - mx).floor().max(0.0) as u32;
    let y1 = (plate.y1 - my).floor().max(0.0) as u32;
    let x2 = ((plate.x2 + mx).ceil() as u32).min(w);
    let y2 = ((plate.y2 + my).ceil() as u32).min(h);
    let (cw, ch) = (x2 - x1, y2 - y1);
    let mut crop = Vec::with_capacity((cw * ch * 3) as usize);
    for y in y1..y2 {
        let row = (y * w + x1) as usize * 3;
        crop.extend_from_slice(&rgb[row..row + cw as usize * 3]);
    }

    let read = reader().read(&crop, cw, ch).unwrap();
    println!(
        "plate {plate:?} score {:.3}; crop {cw}x{ch}; read {:?} ({:.3})",
        dets[0].score, read.text, read.confidence
    );
    assert_eq!(normalize_plate(&read.text), "5AU5341");
    assert!(read.confidence > 0.5, "confidence {}", read.confidence);
    assert!(PlatePattern::new("[0-9][A-Z]{2}[0-9]{4}").unwrap().matches(&read.text));
}
