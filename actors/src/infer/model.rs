//! [`OnnxDetector`]: an Ultralytics-layout detect model in an ONNX Runtime session.
//!
//! Loading checks the model's shape contract (input `[N, 3, H, W]` float32, output `[N, 4+C, A]` or
//! `[N, A, 4+C]` float32; `N`, `H`, `W` fixed or symbolic), reads the class names, and registers the
//! configured execution providers in order, falling back to the next when one cannot be used. Running
//! splits any number of inputs into the model's batch size and decodes with [`super::postprocess`].

use super::labels::{parse_names, placeholder_names, read_labels_file};
use super::postprocess::{DecodeOptions, OutputLayout, decode, to_source};
use super::{Detector, InferError, runtime};
use crate::config::{DeviceConfig, ExecutionProvider, ModelConfig, RuntimeConfig};
use crate::messages::{Detection, ModelInput};
use ort::ep::ExecutionProviderDispatch;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::{TensorElementType, TensorRef, ValueType};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How to load and run a detector. Build with [`ModelOptions::new`] and the chained setters.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOptions {
    /// The ONNX file.
    pub path: PathBuf,
    /// A labels file (one name a line) that overrides the model's `names` metadata.
    pub labels: Option<PathBuf>,
    /// Input size for models whose height and width are symbolic; ignored for fixed-size models.
    pub imgsz: u32,
    pub confidence: f32,
    pub iou: f32,
    /// ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose.
    pub intra_threads: usize,
    /// Let the intra-op threads spin-wait between operators (see `DeviceConfig::spin_wait`).
    pub spin_wait: bool,
    /// Execution providers in order of preference.
    pub execution_providers: Vec<ExecutionProvider>,
    /// CUDA / TensorRT device ordinal.
    pub gpu_index: i32,
    /// Where TensorRT keeps its engine and timing caches.
    pub tensorrt_cache_dir: PathBuf,
    /// Most inputs per run for models with a symbolic batch size (fixed-batch models use their own).
    pub max_batch: usize,
    /// `runtime.onnxruntime_library`, used if this is the first model loaded in the process.
    pub runtime_library: Option<PathBuf>,
    /// The device id, for log lines.
    pub device: String,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            labels: None,
            imgsz: 640,
            confidence: 0.25,
            iou: 0.45,
            intra_threads: 0,
            spin_wait: false,
            execution_providers: vec![ExecutionProvider::Cpu],
            gpu_index: 0,
            tensorrt_cache_dir: "var/trt-cache".into(),
            max_batch: 8,
            runtime_library: None,
            device: "cpu0".into(),
        }
    }
}

impl ModelOptions {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), ..Self::default() }
    }

    /// Options for one device of a validated configuration.
    pub fn from_config(model: &ModelConfig, device: &DeviceConfig, runtime: &RuntimeConfig) -> Self {
        Self {
            path: model.path.clone(),
            labels: model.labels.clone(),
            imgsz: model.imgsz,
            confidence: model.confidence,
            iou: model.iou,
            intra_threads: device.intra_threads,
            spin_wait: device.spin_wait,
            execution_providers: device.execution_providers.clone(),
            gpu_index: device.gpu_index,
            tensorrt_cache_dir: device.tensorrt_cache_dir.clone(),
            max_batch: device.max_batch,
            runtime_library: runtime.onnxruntime_library.clone(),
            device: device.id.clone(),
        }
    }

    pub fn labels(mut self, labels: Option<PathBuf>) -> Self {
        self.labels = labels;
        self
    }
    pub fn imgsz(mut self, imgsz: u32) -> Self {
        self.imgsz = imgsz;
        self
    }
    pub fn confidence(mut self, confidence: f32) -> Self {
        self.confidence = confidence;
        self
    }
    pub fn iou(mut self, iou: f32) -> Self {
        self.iou = iou;
        self
    }
    pub fn intra_threads(mut self, threads: usize) -> Self {
        self.intra_threads = threads;
        self
    }
    pub fn execution_providers(mut self, providers: Vec<ExecutionProvider>) -> Self {
        self.execution_providers = providers;
        self
    }
    pub fn gpu_index(mut self, index: i32) -> Self {
        self.gpu_index = index;
        self
    }
    pub fn tensorrt_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.tensorrt_cache_dir = dir.into();
        self
    }
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }
    pub fn runtime_library(mut self, library: Option<PathBuf>) -> Self {
        self.runtime_library = library;
        self
    }
    pub fn device(mut self, device: impl Into<String>) -> Self {
        self.device = device.into();
        self
    }
}

/// ONNX Runtime's name for an execution provider.
pub fn provider_name(ep: ExecutionProvider) -> &'static str {
    match ep {
        ExecutionProvider::Tensorrt => "TensorrtExecutionProvider",
        ExecutionProvider::Cuda => "CUDAExecutionProvider",
        ExecutionProvider::Cpu => "CPUExecutionProvider",
    }
}

/// The model's batch dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Batch {
    Fixed(usize),
    Dynamic,
}

/// An Ultralytics detect model running in ONNX Runtime.
pub struct OnnxDetector {
    session: Session,
    path: PathBuf,
    labels: Arc<[String]>,
    /// `(width, height)`.
    input_size: (u32, u32),
    batch: Batch,
    max_batch: usize,
    layout: OutputLayout,
    classes: usize,
    decode: DecodeOptions,
    provider: &'static str,
    /// The batch tensor, reused between runs.
    buffer: Vec<f32>,
}

impl std::fmt::Debug for OnnxDetector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxDetector")
            .field("path", &self.path)
            .field("input_size", &self.input_size)
            .field("batch", &self.batch)
            .field("layout", &self.layout)
            .field("classes", &self.classes)
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl OnnxDetector {
    /// Load the runtime (first time), the model, and check its layout and class names.
    pub fn load(opts: &ModelOptions) -> Result<Self, InferError> {
        let path = opts.path.clone();
        if !path.is_file() {
            return Err(InferError::ModelMissing { path });
        }
        let rt = runtime::init(opts.runtime_library.as_deref())?;
        let (session, provider, notes) = open_session(rt, opts)?;

        let layout_err = |reason: String| InferError::ModelLayout { path: path.clone(), reason };
        let [input] = session.inputs() else {
            return Err(layout_err(format!(
                "it has {} inputs; expected one `images` input [N, 3, H, W] (export with `yolo export format=onnx`)",
                session.inputs().len()
            )));
        };
        let Some(output) = session.outputs().first() else {
            return Err(layout_err("it has no outputs".into()));
        };
        let (batch, input_size) = input_geometry(&tensor_dims(input.dtype()), opts.imgsz)
            .map_err(|r| layout_err(format!("input `{}` {r}", input.name())))?;
        if input.dtype().tensor_type() != Some(TensorElementType::Float32) {
            return Err(layout_err(format!(
                "input `{}` is {}, not float32; export without `half=True`",
                input.name(),
                input.dtype()
            )));
        }
        let (layout, classes) = output_layout(&tensor_dims(output.dtype()))
            .map_err(|r| layout_err(format!("output `{}` {r}", output.name())))?;
        if output.dtype().tensor_type() != Some(TensorElementType::Float32) {
            return Err(layout_err(format!("output `{}` is {}, not float32", output.name(), output.dtype())));
        }

        let metadata_names =
            session.metadata().ok().and_then(|m| m.custom("names")).map(|text| {
                parse_names(&text).map_err(|e| format!("the `names` metadata `{text}` is not a dict: {e}"))
            });
        let names = match (&opts.labels, metadata_names) {
            (Some(file), _) => read_labels_file(file),
            (None, Some(parsed)) => parsed,
            (None, None) => Ok(placeholder_names(classes)),
        }
        .map_err(|reason| InferError::Labels { path: path.clone(), reason })?;
        if names.len() != classes {
            let source = opts.labels.as_ref().map_or("the `names` metadata".to_owned(), |f| f.display().to_string());
            return Err(InferError::Labels {
                path,
                reason: format!(
                    "{source} lists {} names but the output has {classes} classes (4 + {classes} channels); \
                     use the labels file that belongs to this model",
                    names.len()
                ),
            });
        }

        let batch_text = match batch {
            Batch::Fixed(n) => format!("batch {n}"),
            Batch::Dynamic => format!("batch 1..{}", opts.max_batch.max(1)),
        };
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
        tracing::info!(
            "device {}: model {} on {provider}{notes}: input {}x{}, {batch_text}, {classes} classes",
            opts.device,
            path.display(),
            input_size.0,
            input_size.1
        );
        Ok(Self {
            session,
            path,
            labels: names.into(),
            input_size,
            batch,
            max_batch: opts.max_batch.max(1),
            layout,
            classes,
            decode: DecodeOptions { confidence: opts.confidence, iou: opts.iou, ..DecodeOptions::default() },
            provider,
            buffer: Vec::new(),
        })
    }

    /// The execution provider the session was created with (e.g. `CPUExecutionProvider`).
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many inputs one session run takes.
    pub fn run_batch(&self) -> usize {
        match self.batch {
            Batch::Fixed(n) => n,
            Batch::Dynamic => self.max_batch,
        }
    }

    /// Run one chunk (at most [`Self::run_batch`] inputs) and decode it.
    fn run_chunk(&mut self, chunk: &[&ModelInput]) -> Result<Vec<Vec<Detection>>, InferError> {
        let (w, h) = (self.input_size.0 as usize, self.input_size.1 as usize);
        let plane = 3 * w * h;
        let n = match self.batch {
            Batch::Fixed(n) => n,
            Batch::Dynamic => chunk.len(),
        };
        self.buffer.clear();
        for input in chunk {
            self.buffer.extend_from_slice(&input.chw);
        }
        self.buffer.resize(n * plane, 0.0); // fixed-batch padding; its results are ignored
        let run_err = |reason: String| InferError::Run { path: self.path.clone(), reason };
        let tensor =
            TensorRef::from_array_view(([n, 3, h, w], &self.buffer[..])).map_err(|e| run_err(e.to_string()))?;
        let outputs = self.session.run(ort::inputs![tensor]).map_err(|e| run_err(e.to_string()))?;
        let (shape, data) = outputs[0].try_extract_tensor::<f32>().map_err(|e| run_err(e.to_string()))?;
        let channels = 4 + self.classes;
        let channel_dim = match self.layout {
            OutputLayout::ChannelsFirst => 1,
            OutputLayout::AnchorsFirst => 2,
        };
        if shape.len() != 3 || shape[0] != n as i64 || shape[channel_dim] != channels as i64 {
            let reason = format!("output shape {shape:?} does not match batch {n} with {channels} channels");
            return Err(InferError::Run { path: self.path.clone(), reason });
        }
        let per_image = data.len() / n;
        Ok(chunk
            .iter()
            .zip(data.chunks_exact(per_image))
            .map(|(input, out)| {
                let mut dets = decode(out, self.layout, self.classes, &self.decode);
                to_source(&mut dets, &input.letterbox);
                dets
            })
            .collect())
    }
}

impl Detector for OnnxDetector {
    fn labels(&self) -> Arc<[String]> {
        self.labels.clone()
    }

    fn input_size(&self) -> (u32, u32) {
        self.input_size
    }

    fn detect(&mut self, inputs: &[&ModelInput]) -> Result<Vec<Vec<Detection>>, InferError> {
        let (w, h) = self.input_size;
        for (index, input) in inputs.iter().enumerate() {
            let lb = &input.letterbox;
            if (lb.dst_w, lb.dst_h) != (w, h) || input.chw.len() != 3 * w as usize * h as usize {
                return Err(InferError::InputSize {
                    path: self.path.clone(),
                    index,
                    got_w: lb.dst_w,
                    got_h: lb.dst_h,
                    got_len: input.chw.len(),
                    want_w: w,
                    want_h: h,
                });
            }
        }
        let mut results = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(self.run_batch()) {
            results.extend(self.run_chunk(chunk)?);
        }
        Ok(results)
    }
}

/// A tensor's dimensions, `None` where symbolic; empty for a non-tensor.
fn tensor_dims(ty: &ValueType) -> Vec<Option<usize>> {
    ty.tensor_shape().map_or_else(Vec::new, |s| s.iter().map(|&d| usize::try_from(d).ok()).collect())
}

/// Batch and `(width, height)` from an input shape `[N, 3, H, W]`; symbolic `H`/`W` use `imgsz`.
fn input_geometry(dims: &[Option<usize>], imgsz: u32) -> Result<(Batch, (u32, u32)), String> {
    let shape = show(dims);
    let [n, c, h, w] = dims else {
        return Err(format!("has shape {shape}; expected [N, 3, H, W]"));
    };
    if *c != Some(3) {
        return Err(format!("has shape {shape}; expected 3 colour channels in [N, 3, H, W]"));
    }
    let batch = match n {
        Some(0) => return Err(format!("has shape {shape}; a batch of 0 cannot run")),
        Some(n) => Batch::Fixed(*n),
        None => Batch::Dynamic,
    };
    let side = |d: &Option<usize>| match d {
        Some(0) => Err(format!("has shape {shape}; a side of 0 cannot run")),
        Some(s) => u32::try_from(*s).map_err(|_| format!("has shape {shape}; too large")),
        None => Ok(imgsz),
    };
    Ok((batch, (side(w)?, side(h)?)))
}

/// Layout and class count from an output shape `[N, 4+C, A]` or `[N, A, 4+C]`.
fn output_layout(dims: &[Option<usize>]) -> Result<(OutputLayout, usize), String> {
    let hint =
        "expected [N, 4+C, anchors] (an Ultralytics detect export: `yolo export format=onnx`) or [N, anchors, 4+C]";
    match dims {
        [_, d1, d2] => OutputLayout::infer(*d1, *d2)
            .ok_or_else(|| format!("has shape {}, which is ambiguous or has no class channel; {hint}", show(dims))),
        _ => Err(format!("has shape {}; {hint}", show(dims))),
    }
}

fn show(dims: &[Option<usize>]) -> String {
    let parts: Vec<String> = dims.iter().map(|d| d.map_or("?".to_owned(), |v| v.to_string())).collect();
    format!("[{}]", parts.join(", "))
}

/// The `ort` registration of a GPU provider; `None` for CPU, which ONNX Runtime always has.
fn dispatch(ep: ExecutionProvider, opts: &ModelOptions) -> Option<ExecutionProviderDispatch> {
    match ep {
        ExecutionProvider::Tensorrt => {
            let cache = opts.tensorrt_cache_dir.display().to_string();
            Some(
                ort::ep::TensorRT::default()
                    .with_device_id(opts.gpu_index)
                    .with_engine_cache(true)
                    .with_engine_cache_path(&cache)
                    .with_timing_cache(true)
                    .with_timing_cache_path(&cache)
                    .build(),
            )
        }
        ExecutionProvider::Cuda => Some(ort::ep::CUDA::default().with_device_id(opts.gpu_index).build()),
        ExecutionProvider::Cpu => None,
    }
}

/// Create the session with the first provider that works, trying them in the configured order.
/// Returns the session, the provider running it, and why earlier ones were skipped.
fn open_session(
    rt: &runtime::Runtime,
    opts: &ModelOptions,
) -> Result<(Session, &'static str, Vec<String>), InferError> {
    let mut notes = Vec::new();
    let providers = &opts.execution_providers;
    if providers.contains(&ExecutionProvider::Tensorrt)
        && let Err(e) = std::fs::create_dir_all(&opts.tensorrt_cache_dir)
    {
        notes.push(format!("TensorRT cache dir {} not created: {e}", opts.tensorrt_cache_dir.display()));
    }
    for (i, &ep) in providers.iter().enumerate() {
        match commit(rt, opts, &providers[i..]) {
            Ok(session) => return Ok((session, provider_name(ep), notes)),
            Err(reason) if ep == ExecutionProvider::Cpu => {
                return Err(InferError::ModelLoad {
                    path: opts.path.clone(),
                    reason: format!("{reason}; is it a valid ONNX file? re-export it or run `make setup`"),
                });
            }
            Err(reason) => notes.push(format!("{} unavailable: {reason}", provider_name(ep))),
        }
    }
    Err(InferError::ModelLoad {
        path: opts.path.clone(),
        reason: format!(
            "no execution provider could run it ({}); add \"cpu\" to devices.{}.execution_providers",
            notes.join("; "),
            opts.device
        ),
    })
}

/// One attempt: `providers[0]` must register; the GPU providers after it are fallbacks for the nodes it
/// cannot run.
fn commit(rt: &runtime::Runtime, opts: &ModelOptions, providers: &[ExecutionProvider]) -> Result<Session, String> {
    let mut builder = Session::builder(rt.environment())
        .map_err(|e| e.to_string())?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| e.to_string())?;
    if opts.intra_threads > 0 {
        builder = builder.with_intra_threads(opts.intra_threads).map_err(|e| e.to_string())?;
    }
    builder = builder.with_intra_op_spinning(opts.spin_wait).map_err(|e| e.to_string())?;
    if let Some((first, rest)) = providers.split_first()
        && let Some(first) = dispatch(*first, opts)
    {
        let eps: Vec<ExecutionProviderDispatch> = std::iter::once(first.error_on_failure())
            .chain(rest.iter().filter_map(|&ep| dispatch(ep, opts)).map(ExecutionProviderDispatch::fail_silently))
            .collect();
        builder = builder.with_execution_providers(eps).map_err(|e| e.to_string())?;
    }
    builder.commit_from_file(&opts.path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::Letterbox;

    #[test]
    fn input_geometry_reads_fixed_and_symbolic_shapes() {
        assert_eq!(input_geometry(&[Some(1), Some(3), Some(640), Some(480)], 320), Ok((Batch::Fixed(1), (480, 640))));
        assert_eq!(input_geometry(&[None, Some(3), None, None], 416), Ok((Batch::Dynamic, (416, 416))));
        assert!(input_geometry(&[Some(1), Some(1), Some(64), Some(64)], 64).unwrap_err().contains("3 colour"));
        assert!(input_geometry(&[Some(1), Some(64), Some(64)], 64).unwrap_err().contains("[1, 64, 64]"));
        assert!(input_geometry(&[Some(0), Some(3), Some(64), Some(64)], 64).is_err());
    }

    #[test]
    fn output_layout_rejects_non_detect_outputs() {
        assert_eq!(output_layout(&[Some(1), Some(84), Some(8400)]), Ok((OutputLayout::ChannelsFirst, 80)));
        assert_eq!(output_layout(&[None, None, Some(6)]), Ok((OutputLayout::AnchorsFirst, 2)));
        assert!(output_layout(&[Some(1), Some(1000)]).unwrap_err().contains("[1, 1000]"));
        assert!(output_layout(&[Some(1), None, None]).unwrap_err().contains("ambiguous"));
    }

    #[test]
    fn options_from_config_and_builder() {
        let model: ModelConfig = serde_json::from_value(serde_json::json!({"path": "m.onnx", "imgsz": 320})).unwrap();
        let device: DeviceConfig = serde_json::from_value(
            serde_json::json!({"id": "gpu1", "execution_providers": ["cuda", "cpu"], "gpu_index": 1}),
        )
        .unwrap();
        let o = ModelOptions::from_config(&model, &device, &RuntimeConfig::default());
        assert_eq!((o.imgsz, o.gpu_index, o.device.as_str()), (320, 1, "gpu1"));
        assert_eq!(o.execution_providers, [ExecutionProvider::Cuda, ExecutionProvider::Cpu]);
        let b = ModelOptions::new("m.onnx").imgsz(320).device("gpu1").gpu_index(1);
        assert_eq!((b.imgsz, b.gpu_index), (320, 1));
    }

    // ---- With ONNX Runtime and the synthetic models in testdata/ (made by scripts/infer/make_test_models.py).
    //
    // Each synthetic model maps the input [N, 3, H, W] to an output of 6 channels (2 classes) per pixel:
    // cx = 4·R, cy = 4·G, w = h = 1, score(class 0) = B, score(class 1) = 1 − B. So an input pixel picks
    // where a detection lands and which class wins.

    fn testdata(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/infer/testdata").join(name)
    }

    fn load(name: &str, tweak: impl FnOnce(ModelOptions) -> ModelOptions) -> Result<OnnxDetector, InferError> {
        let opts = tweak(ModelOptions::new(testdata(name)).imgsz(4).confidence(0.6).intra_threads(1));
        let result = OnnxDetector::load(&opts);
        if let Err(e @ (InferError::RuntimeMissing { .. } | InferError::RuntimeLoad { .. })) = &result {
            panic!("these tests need ONNX Runtime: run `scripts/setup.sh` (make setup) first: {e}");
        }
        result
    }

    /// A 4x4 input whose pixel `(x, y)` is a class-`class` detection centred at `(4·r, 4·g)`; other pixels
    /// score 0.5 for both classes (below the 0.6 threshold).
    fn input(marks: &[(usize, usize, f32, f32, u32)]) -> ModelInput {
        let mut chw = vec![0.0f32; 48];
        chw[32..].fill(0.5);
        for &(x, y, r, g, class) in marks {
            let i = y * 4 + x;
            chw[i] = r;
            chw[16 + i] = g;
            chw[32 + i] = if class == 0 { 0.9 } else { 0.05 };
        }
        ModelInput { letterbox: Letterbox::new(4, 4, 4, 4), chw }
    }

    fn summary(dets: &[Detection]) -> Vec<(u32, f32, f32)> {
        dets.iter().map(|d| (d.class_id, (d.bbox.x1 + d.bbox.x2) / 2.0, (d.bbox.y1 + d.bbox.y2) / 2.0)).collect()
    }

    #[test]
    fn synthetic_dynamic_model_decodes_each_image_of_a_batch() {
        let mut det = load("synthetic_dynamic.onnx", |o| o.max_batch(2)).unwrap();
        assert_eq!(det.input_size(), (4, 4));
        assert_eq!(&*det.labels(), ["cat", "dog's"]);
        assert_eq!(det.provider(), "CPUExecutionProvider");
        let a = input(&[(0, 0, 0.25, 0.5, 0)]);
        let b = input(&[(3, 3, 0.5, 0.25, 1), (1, 2, 0.75, 0.75, 0)]);
        let c = input(&[]);
        let got = det.detect(&[&a, &b, &c]).unwrap(); // 3 inputs in runs of 2
        assert_eq!(got.len(), 3);
        assert_eq!(summary(&got[0]), [(0, 1.0, 2.0)]);
        assert_eq!(summary(&got[1]), [(1, 2.0, 1.0), (0, 3.0, 3.0)]);
        assert!(got[2].is_empty());
        assert!((got[1][0].score - 0.95).abs() < 1e-6);
        assert!(det.detect(&[]).unwrap().is_empty());
    }

    #[test]
    fn fixed_batch_model_takes_any_number_of_inputs() {
        let mut det = load("synthetic_fixed_b2.onnx", |o| o.imgsz(640)).unwrap();
        assert_eq!((det.input_size(), det.run_batch()), ((4, 4), 2), "fixed size ignores imgsz");
        let inputs: Vec<ModelInput> = (0..3).map(|i| input(&[(i, 0, 0.25 * (i + 1) as f32, 0.5, 0)])).collect();
        let refs: Vec<&ModelInput> = inputs.iter().collect();
        let got = det.detect(&refs).unwrap();
        assert_eq!(got.len(), 3);
        for (i, d) in got.iter().enumerate() {
            assert_eq!(summary(d), [(0, (i + 1) as f32, 2.0)], "image {i}");
        }
        assert_eq!(det.detect(&refs[..1]).unwrap().len(), 1);
    }

    #[test]
    fn transposed_output_and_placeholder_names() {
        let mut det = load("synthetic_transposed.onnx", |o| o).unwrap();
        assert_eq!(&*det.labels(), ["class0", "class1"]);
        let got = det.detect(&[&input(&[(2, 1, 0.5, 0.75, 1)])]).unwrap();
        assert_eq!(summary(&got[0]), [(1, 2.0, 3.0)]);
    }

    #[test]
    fn labels_file_overrides_metadata_and_must_fit() {
        let dir = std::env::temp_dir().join(format!("panoptes-model-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let two = dir.join("two.names");
        let three = dir.join("three.names");
        std::fs::write(&two, "left\nright\n").unwrap();
        std::fs::write(&three, "a\nb\nc\n").unwrap();
        let det = load("synthetic_dynamic.onnx", |o| o.labels(Some(two.clone()))).unwrap();
        assert_eq!(&*det.labels(), ["left", "right"]);
        let err = load("synthetic_dynamic.onnx", |o| o.labels(Some(three.clone()))).unwrap_err().to_string();
        assert!(
            err.contains("synthetic_dynamic.onnx") && err.contains("3 names") && err.contains("2 classes"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        let err = load("names_mismatch.onnx", |o| o).unwrap_err().to_string();
        assert!(err.contains("names_mismatch.onnx") && err.contains("`names` metadata lists 3 names"), "{err}");
    }

    #[test]
    fn wrong_inputs_are_refused_with_the_expected_size() {
        let mut det = load("synthetic_dynamic.onnx", |o| o).unwrap();
        let wrong = ModelInput { letterbox: Letterbox::new(8, 8, 8, 8), chw: vec![0.0; 192] };
        let err = det.detect(&[&input(&[]), &wrong]).unwrap_err().to_string();
        assert!(err.contains("input 1 is 8x8") && err.contains("3x4x4"), "{err}");
    }

    #[test]
    fn load_errors_name_the_file_and_the_fix() {
        let missing = load("no-such-model.onnx", |o| o).unwrap_err();
        assert!(matches!(&missing, InferError::ModelMissing { path } if path.ends_with("no-such-model.onnx")));
        assert!(missing.to_string().contains("make setup"));

        let garbage = std::env::temp_dir().join(format!("panoptes-garbage-{}.onnx", std::process::id()));
        std::fs::write(&garbage, b"this is not a protobuf \xff\xfe").unwrap();
        let err = OnnxDetector::load(&ModelOptions::new(&garbage)).unwrap_err();
        std::fs::remove_file(&garbage).unwrap();
        assert!(matches!(&err, InferError::ModelLoad { path, .. } if path == &garbage), "{err}");
        assert!(err.to_string().contains("valid ONNX file"), "{err}");

        let err = load("wrong_layout.onnx", |o| o).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, InferError::ModelLayout { .. }), "{msg}");
        assert!(msg.contains("wrong_layout.onnx") && msg.contains("[1, 10]") && msg.contains("yolo export"), "{msg}");
    }

    #[test]
    fn unavailable_gpu_providers_fall_back_in_order() {
        use ort::ep::ExecutionProvider as _;
        // The CPU wheel of ONNX Runtime has neither TensorRT nor CUDA: both are skipped with a reason.
        load("synthetic_dynamic.onnx", |o| o).unwrap(); // loads the runtime
        if ort::ep::CUDA::is_available().unwrap_or(false) {
            eprintln!("skipped: this ONNX Runtime build has CUDA");
            return;
        }
        let det = load("synthetic_dynamic.onnx", |o| {
            o.execution_providers(vec![ExecutionProvider::Tensorrt, ExecutionProvider::Cuda, ExecutionProvider::Cpu])
                .tensorrt_cache_dir(std::env::temp_dir().join("panoptes-trt-cache-test"))
        })
        .unwrap();
        assert_eq!(det.provider(), "CPUExecutionProvider");
        let err =
            load("synthetic_dynamic.onnx", |o| o.execution_providers(vec![ExecutionProvider::Cuda]).device("gpu7"))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("CUDAExecutionProvider unavailable") && err.contains("devices.gpu7.execution_providers"),
            "{err}"
        );
    }

    /// Inference time per image at batch 1, 4 and 8 for the set-up models (`var/models`). Run by hand:
    /// `cargo test --release -p panoptes-actors bench_models -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing; run by hand"]
    fn bench_models() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        for (file, imgsz) in [("var/models/yolov3-tiny-coco.onnx", 416), ("var/models/fall-detection.onnx", 640)] {
            let path = root.join(file);
            if !path.is_file() {
                eprintln!("{} missing; run scripts/setup.sh", path.display());
                continue;
            }
            let mut det = OnnxDetector::load(&ModelOptions::new(&path).imgsz(imgsz)).unwrap();
            let (w, h) = det.input_size();
            let lb = Letterbox::new(w, h, w, h);
            let input = ModelInput { letterbox: lb, chw: vec![0.45; 3 * w as usize * h as usize] };
            for batch in [1usize, 4, 8] {
                let inputs = vec![&input; batch];
                det.detect(&inputs).unwrap(); // warm-up
                let rounds = 24 / batch;
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    det.detect(&inputs).unwrap();
                }
                let per_image = start.elapsed().as_secs_f64() * 1000.0 / (rounds * batch) as f64;
                eprintln!(
                    "{file} {w}x{h} run batch {} (asked {batch}): {per_image:.1} ms/image",
                    det.run_batch().min(batch)
                );
            }
        }
    }
}
