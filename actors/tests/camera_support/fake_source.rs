//! Scripted camera sources ([`FakeOpener`]) for the session-loop test. They live with the tests (not behind
//! a feature of the crate) so the test build and the binary's build compile the crate alike.
//! A scripted failure is reported as the file source's read error on a path named after it
//! (`scripted/<reason>`), so the camera's status shows the reason.

use futures::future::LocalBoxFuture;
use panoptes_actors::camera::source::{Opener, SourceError, VideoSource};
use panoptes_actors::config::CameraConfig;
use panoptes_actors::media::AccessUnit;
use panoptes_actors::messages::CameraId;
use std::collections::VecDeque;
use std::sync::Mutex;

/// One scripted session of [`FakeOpener`].
pub enum FakeSession {
    /// Opening fails with this reason.
    FailOpen(String),
    /// Opening succeeds; these units are delivered (no pacing), then the session ends with an
    /// error (`Some`) or a clean end of stream (`None`).
    Play { units: Vec<AccessUnit>, end: Option<String> },
    /// Opening succeeds; these units are delivered, then reading panics with this message.
    Panic { units: Vec<AccessUnit>, message: String },
}

/// A scripted opener for tests: each `open` takes the next session from the script; once it is
/// used up, every further `open` fails with "script finished".
#[derive(Default)]
pub struct FakeOpener {
    script: Mutex<VecDeque<FakeSession>>,
    opens: std::sync::atomic::AtomicUsize,
}

impl FakeOpener {
    pub fn new(script: impl IntoIterator<Item = FakeSession>) -> Self {
        Self { script: Mutex::new(script.into_iter().collect()), opens: Default::default() }
    }

    /// How many times `open` was called.
    pub fn opens(&self) -> usize {
        self.opens.load(std::sync::atomic::Ordering::SeqCst)
    }
}

struct FakeSource {
    camera: CameraId,
    units: VecDeque<AccessUnit>,
    end: Option<String>,
    panic: Option<String>,
}

impl VideoSource for FakeSource {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(async move {
            tokio::task::yield_now().await;
            match self.units.pop_front() {
                Some(u) => Ok(Some(u)),
                None if self.panic.is_some() => panic!("{}", self.panic.take().unwrap_or_default()),
                None => match self.end.take() {
                    Some(reason) => Err(scripted(self.camera.clone(), &reason)),
                    None => Ok(None),
                },
            }
        })
    }
}

impl Opener for FakeOpener {
    fn open<'a>(
        &'a self,
        camera: &'a CameraId,
        _config: &'a CameraConfig,
    ) -> LocalBoxFuture<'a, Result<Box<dyn VideoSource>, SourceError>> {
        self.opens.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let next = self.script.lock().unwrap_or_else(|e| e.into_inner()).pop_front();
        let camera = camera.clone();
        Box::pin(async move {
            match next {
                Some(FakeSession::FailOpen(reason)) => Err(scripted(camera, &reason)),
                Some(FakeSession::Play { units, end }) => {
                    Ok(Box::new(FakeSource { camera, units: units.into(), end, panic: None }) as Box<dyn VideoSource>)
                }
                Some(FakeSession::Panic { units, message }) => {
                    Ok(Box::new(FakeSource { camera, units: units.into(), end: None, panic: Some(message) })
                        as Box<dyn VideoSource>)
                }
                None => Err(scripted(camera, "script finished")),
            }
        })
    }
}

/// A scripted failure, as the read error of a file named after its reason.
fn scripted(camera: CameraId, reason: &str) -> SourceError {
    let path = std::path::PathBuf::from(format!("scripted/{reason}"));
    SourceError::ReadFile { camera, path, source: ffmpeg_next::Error::Other { errno: 5 } }
}
