//! Shared helpers for the OCR tests: assets under var/ (made by scripts/setup.sh), picture loading, and the
//! plate reader.
#![allow(dead_code)] // each test file uses its own subset

use panoptes_actors::infer::ocr::{OcrOptions, PlateReader};
use std::path::{Path, PathBuf};

/// The repository root (actors/..).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("actors/ has a parent").to_path_buf()
}

/// A file under var/ that scripts/setup.sh makes; panics with what to run when it is missing.
pub fn var(rel: &str) -> PathBuf {
    let p = repo().join("var").join(rel);
    assert!(p.is_file(), "{} is missing: run scripts/setup.sh (make setup) first; it prepares var/", p.display());
    p
}

/// A committed OCR fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/infer/testdata/ocr").join(name)
}

/// Decode a PNG or JPEG into packed RGB24: `(pixels, width, height)`.
pub fn load_rgb(path: &Path) -> (Vec<u8>, u32, u32) {
    let img = image::open(path).unwrap_or_else(|e| panic!("cannot decode {}: {e}", path.display())).to_rgb8();
    let (w, h) = img.dimensions();
    (img.into_raw(), w, h)
}

/// The PP-OCRv4 recogniser from var/models/ocr, on one thread (deterministic and light on CI's two cores).
pub fn reader() -> PlateReader {
    let opts = OcrOptions::new(var("models/ocr/ch_PP-OCRv4_rec_infer.onnx")).intra_threads(1);
    PlateReader::load(&opts).unwrap_or_else(|e| panic!("{e} (run scripts/setup.sh first)"))
}

/// The labelled litealpr crops: `(file, text)` from var/images/plates/labels.tsv.
pub fn litealpr_labels() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(var("images/plates/labels.tsv")).expect("labels.tsv is readable");
    text.lines()
        .skip(1)
        .map(|line| {
            let mut cols = line.split('\t');
            let file = cols.next().expect("file column").to_owned();
            let label = cols.next().unwrap_or_else(|| panic!("labels.tsv line `{line}` has no text")).to_owned();
            (file, label)
        })
        .collect()
}
