//! The OCR worker: one OS thread that owns the [`PlateReader`] (an ONNX Runtime session) and reads plate crops
//! off the async event loop. Its job queue is bounded: a full queue refuses the job (the caller drops the
//! crop and counts it), so the plate path never piles up work.

use super::PlateRead;
use crate::infer::ocr::{PlateLayout, PlateReader};
use crate::metric_names as m;
use actix::Recipient;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::time::Instant;

/// One plate crop to read.
pub struct OcrJob {
    pub crop_id: u64,
    /// Packed RGB24, `width * height * 3` bytes.
    pub rgb: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub layout: PlateLayout,
    pub reply: Recipient<PlateRead>,
}

/// Why a job was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The queue is full (`reason = "ocr_full"`).
    Full,
    /// The worker has stopped (`reason = "ocr_gone"`).
    Gone,
}

/// Handle to the OCR thread. Dropping every handle stops it.
#[derive(Clone)]
pub struct OcrWorker {
    jobs: SyncSender<OcrJob>,
    pending: Arc<AtomicUsize>,
}

impl OcrWorker {
    /// Move `reader` onto a new thread `ocr` with room for `capacity` waiting jobs.
    pub fn spawn(reader: PlateReader, capacity: usize) -> Self {
        let (jobs, rx) = sync_channel::<OcrJob>(capacity.max(1));
        let pending = Arc::new(AtomicUsize::new(0));
        let left = pending.clone();
        std::thread::Builder::new()
            .name("ocr".into())
            .spawn(move || {
                let mut reader = reader;
                let seconds = metrics::histogram!(m::OCR_SECONDS);
                while let Ok(job) = rx.recv() {
                    let start = Instant::now();
                    let outcome = catch_unwind(AssertUnwindSafe(|| {
                        reader.read_plate(&job.rgb, job.width, job.height, job.layout)
                    }));
                    seconds.record(start.elapsed().as_secs_f64());
                    let result = match outcome {
                        Ok(Ok(text)) => Ok(text),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("the OCR model panicked".to_string()),
                    };
                    job.reply.do_send(PlateRead { crop_id: job.crop_id, result });
                    left.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .expect("spawning the OCR thread");
        Self { jobs, pending }
    }

    /// Queue a job without waiting.
    pub fn submit(&self, job: OcrJob) -> Result<(), Refused> {
        self.pending.fetch_add(1, Ordering::SeqCst);
        match self.jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => Refused::Full,
                    TrySendError::Disconnected(_) => Refused::Gone,
                })
            }
        }
    }

    /// Jobs queued or being read.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }
}
