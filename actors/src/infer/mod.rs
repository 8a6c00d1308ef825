//! Object detection on ONNX Runtime: loading the runtime library, the model session, pre- and
//! post-processing, and the worker thread that owns a session off the async event loop.

pub mod labels;
pub mod model;
pub mod ocr;
pub mod postprocess;
pub mod preprocess;
pub mod runtime;
pub mod worker;

use crate::messages::{Detection, ModelInput};
use std::path::PathBuf;
use std::sync::Arc;

/// A batch object detector. The real one is [`model::OnnxDetector`]; tests use fakes.
pub trait Detector: Send + 'static {
    /// Class names indexed by class id.
    fn labels(&self) -> Arc<[String]>;
    /// Model input size in pixels, `(width, height)`: what frames are letterboxed to.
    fn input_size(&self) -> (u32, u32);
    /// Detect objects on each input; returns one list per input, in source-frame pixels, after the
    /// confidence threshold and class-aware NMS. Any number of inputs is accepted.
    fn detect(&mut self, inputs: &[&ModelInput]) -> Result<Vec<Vec<Detection>>, InferError>;
}

/// Inference failures, each naming the model file or the runtime library and what to do.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    #[error(
        "ONNX Runtime library not found (looked at: {looked}); run `make setup` to install it into .venv, \
         or set ORT_DYLIB_PATH / runtime.onnxruntime_library to libonnxruntime.so"
    )]
    RuntimeMissing { looked: String },
    #[error("could not load ONNX Runtime from {path}: {reason}")]
    RuntimeLoad { path: PathBuf, reason: String },
    #[error("model file {path} does not exist; run `make setup` or fix model.path")]
    ModelMissing { path: PathBuf },
    #[error("model {path} could not be loaded: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("model {path} is not an Ultralytics detect model: {reason}")]
    ModelLayout { path: PathBuf, reason: String },
    #[error("class names for model {path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    #[error(
        "input {index} is {got_w}x{got_h} ({got_len} floats) but model {path} takes 3x{want_h}x{want_w}; \
         letterbox frames to the detector's input_size()"
    )]
    InputSize { path: PathBuf, index: usize, got_w: u32, got_h: u32, got_len: usize, want_w: u32, want_h: u32 },
    #[error("inference failed on model {path}: {reason}")]
    Run { path: PathBuf, reason: String },
    #[error("the inference worker for device {device} has stopped")]
    WorkerGone { device: String },
}
