//! The inference worker: one OS thread per device that owns the detector (the ONNX Runtime session)
//! and runs it off the async event loop. `Session::run` blocks for tens of milliseconds; running it on
//! an actix arbiter would stall every actor there.
//!
//! The batcher keeps at most one batch in flight, so the job channel has room for one job and the
//! worker never queues work of its own: admission control stays in the batcher.

use super::{Detector, InferError};
use crate::messages::{Detection, Frame};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The result of one inference call: the frames back, their detections (one list per frame), and how
/// long the call took.
pub struct BatchResult {
    pub frames: Vec<Frame>,
    pub detections: Vec<Vec<Detection>>,
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
                    let inputs: Vec<_> = job.frames.iter().map(|f| &f.input).collect();
                    let outcome = catch_unwind(AssertUnwindSafe(|| detector.detect(&inputs)));
                    drop(inputs);
                    let result = match outcome {
                        Ok(Ok(detections)) => {
                            Ok(BatchResult { frames: job.frames, detections, elapsed: start.elapsed() })
                        }
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
