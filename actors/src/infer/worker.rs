//! The inference worker: one OS thread per device that owns the detector (the ONNX Runtime session)
//! and runs it off the async event loop. `Session::run` blocks for tens of milliseconds; running it on
//! an actix arbiter would stall every actor there.
//!
//! The batcher keeps at most one batch in flight, so the job channel has room for one job and the
//! worker never queues work of its own: admission control stays in the batcher.

use super::{Detector, InferError};
use crate::messages::{Detection, Frame, ModelInput};
use crate::regions::{RegionDetections, merge};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The result of one inference call: the frames back, their detections (one list per frame), and how
/// long the call took.
pub struct BatchResult {
    pub frames: Vec<Frame>,
    /// One list per frame in source-frame pixels; a frame inferred in regions gets its regions' merged.
    pub detections: Vec<Vec<Detection>>,
    /// Model inputs the call ran on (whole frames and regions).
    pub inputs: usize,
    pub elapsed: Duration,
}

struct Job {
    frames: Vec<Frame>,
    reply: oneshot::Sender<Result<BatchResult, InferError>>,
}

/// Handle to a device's inference thread. Dropping the last handle stops the thread.
#[derive(Clone)]
pub struct InferWorker {
    device: Arc<str>,
    labels: Arc<[String]>,
    input_size: (u32, u32),
    jobs: SyncSender<Job>,
}

impl InferWorker {
    /// Move `detector` onto a new thread named `infer-<device>`.
    pub fn spawn(device: &str, detector: Box<dyn Detector>) -> Self {
        let labels = detector.labels();
        let input_size = detector.input_size();
        let (jobs, rx) = sync_channel::<Job>(1);
        let name = format!("infer-{device}");
        let device: Arc<str> = device.into();
        let dev = device.clone();
        std::thread::Builder::new()
            .name(name)
            .spawn(move || {
                let mut detector = detector;
                while let Ok(job) = rx.recv() {
                    let start = Instant::now();
                    let inputs: Vec<&ModelInput> = job.frames.iter().flat_map(frame_inputs).collect();
                    let outcome = catch_unwind(AssertUnwindSafe(|| detector.detect(&inputs)));
                    let inputs = inputs.len();
                    let result = match outcome {
                        Ok(Ok(per_input)) if per_input.len() == inputs => {
                            let detections = per_frame(&job.frames, per_input);
                            Ok(BatchResult { frames: job.frames, detections, inputs, elapsed: start.elapsed() })
                        }
                        Ok(Ok(per_input)) => Err(InferError::Run {
                            path: "(detector)".into(),
                            reason: format!("{} results for {inputs} inputs", per_input.len()),
                        }),
                        Ok(Err(e)) => Err(e),
                        Err(panic) => {
                            let reason = panic
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| panic.downcast_ref::<String>().cloned())
                                .unwrap_or_else(|| "unknown panic".into());
                            tracing::error!(device = %dev, %reason, "inference panicked; the batch is dropped");
                            Err(InferError::Run { path: "(panic)".into(), reason })
                        }
                    };
                    let _ = job.reply.send(result);
                }
            })
            .expect("spawning an inference thread");
        Self { device, labels, input_size, jobs }
    }

    pub fn device(&self) -> &Arc<str> {
        &self.device
    }

    /// Class names of the device's model.
    pub fn labels(&self) -> Arc<[String]> {
        self.labels.clone()
    }

    /// The model's input size `(width, height)`.
    pub fn input_size(&self) -> (u32, u32) {
        self.input_size
    }

    /// Run one batch. Call again only after the previous call completed.
    pub fn infer(&self, frames: Vec<Frame>) -> impl Future<Output = Result<BatchResult, InferError>> + use<> {
        let (reply, rx) = oneshot::channel();
        let sent = self.jobs.try_send(Job { frames, reply });
        let device = self.device.clone();
        async move {
            match sent {
                Ok(()) => rx.await.map_err(|_| InferError::WorkerGone { device: device.to_string() })?,
                Err(TrySendError::Full(_)) => {
                    Err(InferError::Run { path: "(worker)".into(), reason: "a batch is already in flight".into() })
                }
                Err(TrySendError::Disconnected(_)) => Err(InferError::WorkerGone { device: device.to_string() }),
            }
        }
    }
}

/// IoU above which two detections of one class from overlapping regions are the same object.
const REGION_MERGE_IOU: f32 = 0.5;

/// What the detector runs on for `frame`: the whole frame, or each of its regions.
fn frame_inputs(frame: &Frame) -> Vec<&ModelInput> {
    match &frame.regions {
        None => vec![&*frame.input],
        Some(regions) => regions.iter().map(|r| &r.input).collect(),
    }
}

/// Regroup the detector's per-input results into one list per frame: a whole frame's list as it is, the
/// lists of a frame's regions moved to frame pixels and merged.
fn per_frame(frames: &[Frame], per_input: Vec<Vec<Detection>>) -> Vec<Vec<Detection>> {
    let mut results = per_input.into_iter();
    frames
        .iter()
        .map(|frame| match &frame.regions {
            None => results.next().unwrap_or_default(),
            Some(regions) => {
                let parts: Vec<RegionDetections> = regions
                    .iter()
                    .map(|r| {
                        let mut detections = results.next().unwrap_or_default();
                        for d in &mut detections {
                            let (dx, dy) = (r.rect.x as f32, r.rect.y as f32);
                            d.bbox = crate::geometry::BBox {
                                x1: d.bbox.x1 + dx,
                                y1: d.bbox.y1 + dy,
                                x2: d.bbox.x2 + dx,
                                y2: d.bbox.y2 + dy,
                            };
                        }
                        RegionDetections { rect: r.rect, detections }
                    })
                    .collect();
                merge(&parts, frame.meta.width, frame.meta.height, REGION_MERGE_IOU)
            }
        })
        .collect()
}
