//! Licence-plate reading: [`PlateReader`] runs PP-OCRv4 text recognition (the `ch_PP-OCRv4_rec_infer.onnx`
//! model that `rapidocr-onnxruntime` ships; `scripts/setup.sh` puts it in `var/models/ocr/`) on an RGB crop
//! of a plate, the way rapidocr's `TextRecognizer` does:
//!
//! 1. resize to height 48 keeping the aspect ratio (bilinear, as OpenCV's `INTER_LINEAR`), into a canvas
//!    `int(48 · max(320/48, w/h))` wide (capped at [`OcrOptions::max_width`]), zero-padded on the right;
//! 2. channels in BGR order (PaddleOCR models are trained on OpenCV images), `(x/255 − 0.5)/0.5`;
//! 3. the model gives `[1, T, classes]` probabilities; greedy CTC decoding takes the arg-max per step,
//!    collapses repeats, drops the blank (index 0); the confidence is the mean of the kept steps' maxima.
//!
//! The character list is the model's `character` metadata split into lines, with the blank prepended and a
//! space appended (rapidocr's `CTCLabelDecode`). Plate-text helpers (normalisation, format patterns, edit
//! distance for allow/deny lists) are in [`plate_text`].

pub mod plate_text;

use super::{InferError, runtime};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;
use std::path::{Path, PathBuf};

/// The recognition model's input height.
pub const REC_HEIGHT: usize = 48;
/// The narrowest canvas rapidocr uses (`rec_img_shape` `[3, 48, 320]`): shorter crops are padded to it.
pub const REC_MIN_WIDTH: usize = 320;

/// Plate-reading failures, each naming the model file or the crop and what to do.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error(transparent)]
    Runtime(#[from] InferError),
    #[error("OCR model {path} does not exist; run `scripts/setup.sh` (make setup) or fix the OCR model path")]
    ModelMissing { path: PathBuf },
    #[error("OCR model {path} could not be loaded: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("OCR model {path} is not a PP-OCR recognition model: {reason}")]
    ModelLayout { path: PathBuf, reason: String },
    #[error(
        "crop of {width}x{height} with {len} bytes is not packed RGB24 (needs {width}·{height}·3 bytes, both sides > 0)"
    )]
    Crop { width: u32, height: u32, len: usize },
    #[error("OCR failed on model {path}: {reason}")]
    Run { path: PathBuf, reason: String },
}

/// How to load the recognition model. Build with [`OcrOptions::new`] and the chained setters.
#[derive(Clone, Debug, PartialEq)]
pub struct OcrOptions {
    /// The recognition ONNX file.
    pub path: PathBuf,
    /// `runtime.onnxruntime_library`, used if this is the first model loaded in the process.
    pub runtime_library: Option<PathBuf>,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose.
    pub intra_threads: usize,
    /// Widest model input in pixels; a crop wider than `max_width / 48` times its height is squeezed into it.
    pub max_width: usize,
}

impl Default for OcrOptions {
    fn default() -> Self {
        Self {
            path: "var/models/ocr/ch_PP-OCRv4_rec_infer.onnx".into(),
            runtime_library: None,
            intra_threads: 0,
            max_width: 960,
        }
    }
}

impl OcrOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), ..Self::default() }
    }
    pub fn runtime_library(mut self, library: Option<PathBuf>) -> Self {
        self.runtime_library = library;
        self
    }
    pub fn intra_threads(mut self, threads: usize) -> Self {
        self.intra_threads = threads;
        self
    }
    pub fn max_width(mut self, width: usize) -> Self {
        self.max_width = width.max(REC_MIN_WIDTH);
        self
    }
}

/// What was read on a plate: the raw model text (not normalised) and the mean per-character confidence.
#[derive(Clone, Debug, PartialEq)]
pub struct PlateText {
    pub text: String,
    pub confidence: f32,
}

/// How a plate crop is laid out, for [`PlateReader::read_plate`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PlateLayout {
    /// One row of text: the crop is read as a whole (what rapidocr does).
    SingleRow,
    /// A crop narrower than `two_rows_below` times its height is a two-row plate (square plates on
    /// motorbikes and many Asian cars): its top and bottom halves are read separately and joined.
    Auto { two_rows_below: f32 },
}

impl Default for PlateLayout {
    /// One row: a per-deployment choice, since aspect ratios overlap between regions (a US plate is about
    /// 2:1 with one row; Vietnamese two-row crops measure 1.1 to 2.1).
    fn default() -> Self {
        Self::SingleRow
    }
}

/// Rows shared by the two halves of a two-row plate, as a fraction of its height (a row of characters
/// that sits a little off-centre is not cut in two).
const TWO_ROW_OVERLAP: f32 = 0.05;

/// A PP-OCR recognition model in an ONNX Runtime session (CPU).
pub struct PlateReader {
    session: Session,
    path: PathBuf,
    charset: Vec<String>,
    max_width: usize,
    buffer: Vec<f32>,
}

impl std::fmt::Debug for PlateReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlateReader")
            .field("path", &self.path)
            .field("classes", &self.charset.len())
            .field("max_width", &self.max_width)
            .finish_non_exhaustive()
    }
}

impl PlateReader {
    /// Load the runtime (first time) and the model, and build its character list.
    pub fn load(opts: &OcrOptions) -> Result<Self, OcrError> {
        let path = opts.path.clone();
        if !path.is_file() {
            return Err(OcrError::ModelMissing { path });
        }
        let rt = runtime::init(opts.runtime_library.as_deref())?;
        let load_err = |reason: String| OcrError::ModelLoad { path: path.clone(), reason };
        let mut builder = Session::builder(rt.environment())
            .map_err(|e| load_err(e.to_string()))?
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| load_err(e.to_string()))?;
        if opts.intra_threads > 0 {
            builder = builder.with_intra_threads(opts.intra_threads).map_err(|e| load_err(e.to_string()))?;
        }
        let session = builder.commit_from_file(&path).map_err(|e| load_err(e.to_string()))?;

        let layout_err = |reason: String| OcrError::ModelLayout { path: path.clone(), reason };
        let (n_inputs, n_outputs) = (session.inputs().len(), session.outputs().len());
        if n_inputs != 1 || n_outputs != 1 {
            return Err(layout_err(format!("it has {n_inputs} inputs and {n_outputs} outputs; expected 1 and 1")));
        }
        let in_dims = session.inputs()[0].dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        if in_dims.len() != 4 || in_dims[1] != 3 {
            return Err(layout_err(format!("input shape {in_dims:?}; expected [N, 3, 48, W]")));
        }
        let out_dims = session.outputs()[0].dtype().tensor_shape().map(|s| s.to_vec()).unwrap_or_default();
        let characters = {
            let metadata = session.metadata().map_err(|e| layout_err(format!("no metadata: {e}")))?;
            metadata.custom("character")
        };
        let Some(characters) = characters else {
            return Err(layout_err("it has no `character` metadata (the recogniser's dictionary)".into()));
        };
        let charset = charset_from_metadata(&characters);
        match out_dims.as_slice() {
            [_, _, classes] if *classes == charset.len() as i64 => {}
            _ => {
                return Err(layout_err(format!(
                    "output shape {out_dims:?} does not end in the {} classes of its `character` metadata \
                     (blank + {} characters + space)",
                    charset.len(),
                    charset.len() - 2
                )));
            }
        }
        tracing::info!("OCR model {}: {} classes", path.display(), charset.len());
        Ok(Self { session, path, charset, max_width: opts.max_width.max(REC_MIN_WIDTH), buffer: Vec::new() })
    }

    /// The class list: index 0 the CTC blank, then the characters, then a space.
    pub fn charset(&self) -> &[String] {
        &self.charset
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read a plate crop laid out as `layout` says: one row, or the top and bottom halves of a two-row plate
    /// joined (top first); the confidence is then the mean over all characters read.
    pub fn read_plate(
        &mut self,
        rgb: &[u8],
        width: u32,
        height: u32,
        layout: PlateLayout,
    ) -> Result<PlateText, OcrError> {
        let two_rows = match layout {
            PlateLayout::SingleRow => false,
            PlateLayout::Auto { two_rows_below } => (width as f32) < two_rows_below * height as f32 && height >= 8,
        };
        if !two_rows || rgb.len() != width as usize * height as usize * 3 {
            return self.read(rgb, width, height);
        }
        let (top_end, bottom_start) = two_row_split(height);
        let row = width as usize * 3;
        let top = self.read(&rgb[..top_end as usize * row], width, top_end)?;
        let bottom = self.read(&rgb[bottom_start as usize * row..], width, height - bottom_start)?;
        let (nt, nb) = (top.text.chars().count() as f32, bottom.text.chars().count() as f32);
        let confidence = if nt + nb == 0.0 { 0.0 } else { (top.confidence * nt + bottom.confidence * nb) / (nt + nb) };
        Ok(PlateText { text: top.text + &bottom.text, confidence })
    }

    /// Read the text on a packed RGB24 crop of `width x height` pixels.
    pub fn read(&mut self, rgb: &[u8], width: u32, height: u32) -> Result<PlateText, OcrError> {
        let geometry = RecGeometry::new(width, height, self.max_width)
            .filter(|_| rgb.len() == width as usize * height as usize * 3)
            .ok_or(OcrError::Crop { width, height, len: rgb.len() })?;
        rec_input(rgb, width as usize, height as usize, &geometry, &mut self.buffer);
        let run_err = |reason: String| OcrError::Run { path: self.path.clone(), reason };
        let tensor = TensorRef::from_array_view(([1, 3, REC_HEIGHT, geometry.canvas_w], &self.buffer[..]))
            .map_err(|e| run_err(e.to_string()))?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(|e| run_err(e.to_string()))?;
        let (shape, probs) = outputs[0].try_extract_tensor::<f32>().map_err(|e| run_err(e.to_string()))?;
        let classes = self.charset.len();
        if shape.len() != 3 || shape[0] != 1 || shape[2] != classes as i64 {
            return Err(run_err(format!("output shape {shape:?}; expected [1, T, {classes}]")));
        }
        Ok(ctc_greedy(probs, classes, &self.charset))
    }
}

/// The rows of a two-row plate: the top half ends at `top_end`, the bottom half starts at `bottom_start`; the
/// halves overlap by [`TWO_ROW_OVERLAP`] of the height around the middle.
pub fn two_row_split(height: u32) -> (u32, u32) {
    let middle = height as f32 / 2.0;
    let overlap = (TWO_ROW_OVERLAP * height as f32).round();
    let top_end = ((middle + overlap).round() as u32).clamp(1, height);
    let bottom_start = ((middle - overlap).round() as u32).min(height - 1);
    (top_end, bottom_start)
}

/// rapidocr's dictionary: the `character` metadata split into lines as Python's `str.splitlines` does, with
/// the CTC blank (`"blank"`) first and a space last.
pub fn charset_from_metadata(text: &str) -> Vec<String> {
    let mut charset = vec!["blank".to_owned()];
    charset.extend(python_splitlines(text).into_iter().map(str::to_owned));
    charset.push(" ".to_owned());
    charset
}

/// `str.splitlines()`: splits at `\n`, `\r`, `\r\n`, `\x0b`, `\x0c`, `\x1c`–`\x1e`, `\x85`, U+2028, U+2029;
/// no empty last line after a trailing break.
fn python_splitlines(text: &str) -> Vec<&str> {
    let is_break = |c: char| {
        matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
    };
    let mut lines = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if is_break(c) {
            lines.push(&text[start..i]);
            let mut end = i + c.len_utf8();
            if c == '\r' && chars.peek().is_some_and(|&(_, n)| n == '\n') {
                chars.next();
                end += 1;
            }
            start = end;
        }
    }
    if start < text.len() {
        lines.push(&text[start..]);
    }
    lines
}

/// Where a crop goes in the model input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecGeometry {
    /// Width of the model input (the canvas).
    pub canvas_w: usize,
    /// Width the crop is resized to (height [`REC_HEIGHT`]); the rest of the canvas is zero.
    pub resized_w: usize,
}

impl RecGeometry {
    /// rapidocr's `resize_norm_img` for one crop: canvas `int(48 · max(320/48, w/h))`, resized width
    /// `ceil(48 · w/h)` unless that overflows the canvas; both capped at `max_width`. `None` for an empty crop.
    pub fn new(width: u32, height: u32, max_width: usize) -> Option<Self> {
        if width == 0 || height == 0 {
            return None;
        }
        let h = REC_HEIGHT as f64;
        let ratio = f64::from(width) / f64::from(height);
        let max_ratio = (REC_MIN_WIDTH as f64 / h).max(ratio);
        let canvas_w = ((h * max_ratio) as usize).min(max_width.max(REC_MIN_WIDTH));
        let want = (h * ratio).ceil() as usize;
        let resized_w = want.clamp(1, canvas_w);
        Some(Self { canvas_w, resized_w })
    }
}

/// Fill `out` with the model input `[3, 48, canvas_w]` (BGR planes, `(x/255 − 0.5)/0.5`, zero padding) for a
/// packed RGB24 crop.
pub fn rec_input(rgb: &[u8], width: usize, height: usize, geometry: &RecGeometry, out: &mut Vec<f32>) {
    let (cw, rw) = (geometry.canvas_w, geometry.resized_w);
    let plane = REC_HEIGHT * cw;
    out.clear();
    out.resize(3 * plane, 0.0);
    let xs = linear_taps(width, rw);
    let ys = linear_taps(height, REC_HEIGHT);
    for (y, &(y0, y1, fy)) in ys.iter().enumerate() {
        for (x, &(x0, x1, fx)) in xs.iter().enumerate() {
            for c in 0..3 {
                let px = |xx: usize, yy: usize| f32::from(rgb[(yy * width + xx) * 3 + c]);
                let top = px(x0, y0) * (1.0 - fx) + px(x1, y0) * fx;
                let bottom = px(x0, y1) * (1.0 - fx) + px(x1, y1) * fx;
                // OpenCV resizes 8-bit images to 8-bit: round before normalising.
                let v = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0);
                // RGB channel c goes to BGR plane 2 − c.
                out[(2 - c) * plane + y * cw + x] = (v / 255.0 - 0.5) / 0.5;
            }
        }
    }
}

/// OpenCV `INTER_LINEAR` source taps for each destination index: `(i0, i1, weight of i1)`, with half-pixel
/// centres `(d + 0.5)·src/dst − 0.5`, clamped at the borders.
fn linear_taps(src: usize, dst: usize) -> Vec<(usize, usize, f32)> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|d| {
            let s = ((d as f64 + 0.5) * scale - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(src - 1);
            let i1 = (i0 + 1).min(src - 1);
            let w = if i1 == i0 { 0.0 } else { (s - i0 as f64) as f32 };
            (i0, i1, w)
        })
        .collect()
}

/// Greedy CTC decoding of `[T, classes]` probabilities: arg-max per step (first on ties), repeats collapsed,
/// blanks (index 0) dropped; confidence is the mean of the kept steps' maxima (0 when nothing is kept).
pub fn ctc_greedy(probs: &[f32], classes: usize, charset: &[String]) -> PlateText {
    let mut text = String::new();
    let (mut sum, mut kept) = (0.0f64, 0usize);
    let mut previous = None;
    for step in probs.chunks_exact(classes) {
        let (best, p) = step
            .iter()
            .enumerate()
            .fold((0, f32::NEG_INFINITY), |(bi, bp), (i, &p)| if p > bp { (i, p) } else { (bi, bp) });
        if best != 0 && previous != Some(best) {
            text.push_str(&charset[best]);
            sum += f64::from(p);
            kept += 1;
        }
        previous = Some(best);
    }
    let confidence = if kept == 0 { 0.0 } else { (sum / kept as f64) as f32 };
    PlateText { text, confidence }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charset_is_blank_lines_space_like_rapidocr() {
        assert_eq!(charset_from_metadata("a\nb\nc"), ["blank", "a", "b", "c", " "]);
        // Python: "x\r\ny\rz\x0bw\u2028v\n".splitlines() == ['x', 'y', 'z', 'w', 'v']
        assert_eq!(python_splitlines("x\r\ny\rz\x0bw\u{2028}v\n"), ["x", "y", "z", "w", "v"]);
        // Python: "\n\na".splitlines() == ['', '', 'a']
        assert_eq!(python_splitlines("\n\na"), ["", "", "a"]);
        assert!(python_splitlines("").is_empty());
    }

    #[test]
    fn geometry_follows_resize_norm_img() {
        // 100x20: ratio 5 < 320/48, so the canvas is 320 and the crop is ceil(48·5) = 240 wide.
        assert_eq!(RecGeometry::new(100, 20, 960), Some(RecGeometry { canvas_w: 320, resized_w: 240 }));
        // 400x40: ratio 10, canvas int(480.0) = 480, resized ceil(480) = 480.
        assert_eq!(RecGeometry::new(400, 40, 960), Some(RecGeometry { canvas_w: 480, resized_w: 480 }));
        // 101x30: ratio 3.3667, ceil(161.6) = 162.
        assert_eq!(RecGeometry::new(101, 30, 960), Some(RecGeometry { canvas_w: 320, resized_w: 162 }));
        // 1000x10: ratio 100, capped at 960 and squeezed into it.
        assert_eq!(RecGeometry::new(1000, 10, 960), Some(RecGeometry { canvas_w: 960, resized_w: 960 }));
        assert_eq!(RecGeometry::new(0, 10, 960), None);
    }

    #[test]
    fn input_is_bgr_normalised_and_zero_padded() {
        // A 2x1 crop: red then blue. Resized to 96x48 in a 320-wide canvas.
        let rgb = [255, 0, 0, 0, 0, 255];
        let g = RecGeometry::new(2, 1, 960).unwrap();
        assert_eq!(g, RecGeometry { canvas_w: 320, resized_w: 96 });
        let mut out = Vec::new();
        rec_input(&rgb, 2, 1, &g, &mut out);
        let plane = 48 * 320;
        assert_eq!(out.len(), 3 * plane);
        let at = |c: usize, y: usize, x: usize| out[c * plane + y * 320 + x];
        // Left edge is pure red: B plane −1, R plane (index 2) +1.
        assert_eq!((at(0, 10, 0), at(1, 10, 0), at(2, 10, 0)), (-1.0, -1.0, 1.0));
        // Right edge of the resized part is pure blue.
        assert_eq!((at(0, 47, 95), at(2, 47, 95)), (1.0, -1.0));
        // Half-way the two mix: x = 48 maps to source 0.5 + 0.5·... ∈ (0, 1), so both channels are in between.
        assert!(at(0, 0, 48) > -1.0 && at(0, 0, 48) < 1.0 && at(2, 0, 48) > -1.0 && at(2, 0, 48) < 1.0);
        // Padding is 0 (mid-grey after normalisation).
        assert_eq!((at(0, 0, 96), at(2, 47, 319)), (0.0, 0.0));
    }

    #[test]
    fn linear_taps_match_opencv_half_pixel_centres() {
        // Upscaling 2 -> 4: centres at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (i1 clamped to 1).
        let t = linear_taps(2, 4);
        assert_eq!(t[0], (0, 1, 0.0));
        assert_eq!(t[1], (0, 1, 0.25));
        assert_eq!(t[2], (0, 1, 0.75));
        assert_eq!(t[3], (1, 1, 0.0));
        // Downscaling 4 -> 2: centres at 0.5 and 2.5.
        assert_eq!(linear_taps(4, 2), [(0, 1, 0.5), (2, 3, 0.5)]);
    }

    fn steps(rows: &[(usize, f32)], classes: usize) -> Vec<f32> {
        let mut v = vec![0.0; rows.len() * classes];
        for (t, &(i, p)) in rows.iter().enumerate() {
            v[t * classes + i] = p;
            // spread the rest so that `i` stays the arg-max
            let rest = (1.0 - p) / (classes - 1) as f32;
            for j in (0..classes).filter(|&j| j != i) {
                v[t * classes + j] = rest;
            }
        }
        v
    }

    #[test]
    fn ctc_collapses_repeats_and_drops_blanks() {
        let charset: Vec<String> = ["blank", "A", "B", " "].iter().map(|s| s.to_string()).collect();
        // A A _ A B B _ _ space  ->  "AAB " (the blank separates the two A runs)
        let probs =
            steps(&[(1, 0.9), (1, 0.8), (0, 0.99), (1, 0.7), (2, 0.6), (2, 0.5), (0, 0.9), (0, 0.9), (3, 0.4)], 4);
        let got = ctc_greedy(&probs, 4, &charset);
        assert_eq!(got.text, "AAB ");
        // kept steps: t0 (0.9), t3 (0.7), t4 (0.6), t8 (0.4)
        assert!((got.confidence - (0.9 + 0.7 + 0.6 + 0.4) / 4.0).abs() < 1e-6, "{}", got.confidence);
        let none = ctc_greedy(&steps(&[(0, 0.9), (0, 0.9)], 4), 4, &charset);
        assert_eq!(none, PlateText { text: String::new(), confidence: 0.0 });
    }

    #[test]
    fn ctc_ties_pick_the_first_index_like_numpy_argmax() {
        let charset: Vec<String> = ["blank", "A", "B"].iter().map(|s| s.to_string()).collect();
        assert_eq!(ctc_greedy(&[0.1, 0.45, 0.45], 3, &charset).text, "A");
    }

    #[test]
    fn two_row_split_overlaps_around_the_middle() {
        assert_eq!(two_row_split(48), (26, 22)); // middle 24, overlap round(2.4) = 2
        assert_eq!(two_row_split(100), (55, 45));
        assert_eq!(two_row_split(8), (4, 4)); // overlap rounds to 0
        let (t, b) = two_row_split(1);
        assert!(t >= 1 && b < 1);
    }

    #[test]
    fn options_builder_and_errors_name_the_path() {
        let o = OcrOptions::new("x.onnx").max_width(10).intra_threads(2);
        assert_eq!((o.max_width, o.intra_threads), (REC_MIN_WIDTH, 2));
        let err = PlateReader::load(&OcrOptions::new("/nonexistent/rec.onnx")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/rec.onnx") && err.contains("setup.sh"), "{err}");
    }
}
