//! `panoptes replay --config FILE --camera ID --input FILE [--store-dir DIR]`: run one video file through
//! the whole pipeline (detector, tracker, the camera's rules, event store) as fast as the machine allows,
//! print every event as a JSON line (the alert channel's format) on stdout, and exit once the file has ended
//! and the pipeline has drained.
//!
//! The camera keeps its configured settings (`detect_fps`, `classes`, rules) with its source replaced by the
//! file, read unpaced and not looped. Reading is held in step with the detector: the next picture is read
//! only when the device's batch queue is empty (and the camera's plate and fire/smoke batchers and the OCR
//! worker are idle), so no frame is superseded and the events are those a live
//! run at the same `detect_fps` would give (frames dropped by `detect_fps` are dropped here too, by stream
//! time). Events go to a store of their own — a temporary directory deleted at exit, or `--store-dir` to
//! keep it — never to the operator's database.

use super::TempDir;
use crate::app::start_pipeline;
use anyhow::{Context, bail};
use futures::future::LocalBoxFuture;
use panoptes_actors::alerts::{AlertCursor, Subscribe};
use panoptes_actors::analytics::IdleProbe;
use panoptes_actors::batcher::{BatcherActor, GetStats};
use panoptes_actors::camera::source::{FileSource, Opener, SourceError, VideoSource};
use panoptes_actors::config::{CameraConfig, Config, Source as CameraSource, StoreConfig};
use panoptes_actors::hub::Subscribe as OverlaySubscribe;
use panoptes_actors::media::AccessUnit;
use panoptes_actors::messages::CameraId;
use panoptes_actors::status::StatusBoard;
use panoptes_actors::store::actor::MaxId;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// What a replay plays: a config, one of its cameras, and the video that stands in for its source (also
/// `panoptes eval`'s).
#[derive(clap::Args)]
pub struct Source {
    /// TOML config file (model, devices, the camera's rules); the embedded demo config when absent.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Id of the configured camera whose settings and rules apply to the file.
    #[arg(long)]
    pub camera: String,
    /// The video file (MP4/MKV, H.264 or H.265).
    #[arg(long)]
    pub input: PathBuf,
}

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    source: Source,
    /// Keep the events and their snapshots in this directory (`events.db`, `snapshots/`); by default a
    /// temporary directory is used and deleted at exit.
    #[arg(long)]
    store_dir: Option<PathBuf>,
}

/// The camera's config with its source replaced by `input`, read once.
fn replay_camera(cameras: &[CameraConfig], id: &str, input: &Path) -> anyhow::Result<CameraConfig> {
    let Some(cam) = cameras.iter().find(|c| c.id == id) else {
        let known: Vec<&str> = cameras.iter().map(|c| c.id.as_str()).collect();
        bail!("--camera {id}: no such camera in the config; configured cameras: {}", known.join(", "));
    };
    if !input.is_file() {
        bail!("--input {}: no such file; give a video file (MP4/MKV, H.264 or H.265)", input.display());
    }
    let mut cam = cam.clone();
    cam.source = CameraSource::File { path: input.to_owned(), looped: false };
    cam.enabled = true;
    cam.username = None;
    cam.password = None;
    cam.password_env = None;
    Ok(cam)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let (config, camera, _temp) = prepare(&args.source, args.store_dir.as_deref())?;
    let mut out = std::io::stdout().lock();
    let mut print = |json: &str| -> anyhow::Result<()> {
        writeln!(out, "{json}").and_then(|()| out.flush()).context("writing to stdout")
    };
    let summary = actix::System::new().block_on(replay(config, camera, &mut print, None))?;
    eprintln!("replay: {} frames decoded, {} inferred, {} events", summary.decoded, summary.inferred, summary.events);
    // Then one line per extra batcher: `replay: <device>/<model>: N inferred` (fire frames, vehicle crops).
    for line in summary.analytics {
        eprintln!("{line}");
    }
    summary.outcome.map_err(|e| anyhow::anyhow!("replaying the file failed: {e}"))
}

/// The config and camera of a replay of `source`, its store in `store_dir` or in the
/// returned temporary directory (deleted when dropped).
pub(super) fn prepare(
    source: &Source,
    store_dir: Option<&Path>,
) -> anyhow::Result<(Config, CameraConfig, Option<TempDir>)> {
    let mut config = crate::settings::load(source.config.as_deref())?;
    let camera = replay_camera(&config.cameras, &source.camera, &source.input)?;
    let (dir, temp) = match store_dir {
        Some(d) => (d.to_owned(), None),
        None => {
            let temp = TempDir::new("replay")?;
            (temp.0.clone(), Some(temp))
        }
    };
    config.store = StoreConfig { path: dir.join("events.db"), snapshot_dir: dir.join("snapshots"), retention_days: 0 };
    // A replay analyses a file; it records nothing. The operator named the file on the command line: that
    // file is what the run may read, wherever it lies.
    config.recording.enabled = false;
    config.server.media_roots = vec![source.input.clone()];
    // The camera is started by `replay` with its own opener; it stays in the config (disabled) so that the
    // analytics models it uses are loaded.
    let mut listed = camera.clone();
    listed.enabled = false;
    config.cameras = vec![listed];
    for dev in &mut config.devices {
        // One camera fed one frame at a time: nothing to wait for.
        dev.max_wait_ms = 0;
    }
    Ok((config, camera, temp))
}

/// What a replay did once the file has ended and the pipeline has drained.
pub(super) struct Summary {
    pub decoded: u64,
    pub inferred: u64,
    /// Model inputs inferred for those frames (a frame inferred in regions counts one per region).
    pub inputs: u64,
    pub events: i64,
    /// One line per extra batcher: `replay: <device>/<model>: N inferred` (fire frames, vehicle crops).
    pub analytics: Vec<String>,
    /// How the file ended: `Err` says why it stopped early.
    pub outcome: Result<(), String>,
}

/// Where a replay hands each JSON line (an event, an overlay message).
pub(super) type LineSink<'a> = dyn FnMut(&str) -> anyhow::Result<()> + 'a;

/// Replay `camera` (see [`prepare`]) through the whole pipeline: each event's JSON (the alert channel's
/// format) goes to `on_alert` as it is stored, and each processed frame's overlay message (the
/// `/ws/overlay` JSON) to `overlay`, when given.
pub(super) async fn replay(
    config: Config,
    camera: CameraConfig,
    on_alert: &mut LineSink<'_>,
    mut overlay: Option<&mut LineSink<'_>>,
) -> anyhow::Result<Summary> {
    let mut pipeline = start_pipeline(&config).await.context("starting the pipeline")?;
    let (ended_tx, mut ended) = oneshot::channel();
    let cursor_camera: CameraId = camera.id.clone();
    let opener = ReplayOpener {
        id: camera.id.clone(),
        path: match &camera.source {
            CameraSource::File { path, .. } => path.clone(),
            CameraSource::Rtsp { .. } => bail!("replay reads a file; camera {} has an RTSP source", camera.id),
        },
        status: pipeline.status.clone(),
        batchers: pipeline.batchers.clone(),
        analytics: pipeline.analytics.probe(),
        ended: Arc::new(Mutex::new(Some(ended_tx))),
    };
    let (_sub, live) = pipeline.alerts.send(Subscribe { camera: None }).await.context("alert hub")?;
    let mut cursor = AlertCursor::new(live, None, Some(0));
    // The overlay hub drops messages for a client that falls behind: the loop below reads them as they come,
    // and the replay reads one picture at a time, so none wait long.
    let (_overlay_sub, mut frames) = match overlay {
        Some(_) => pipeline
            .hub
            .send(OverlaySubscribe { cameras: Some(vec![cursor_camera.clone()]) })
            .await
            .context("overlay hub")?,
        None => (0, tokio::sync::mpsc::channel(1).1),
    };
    let reader = pipeline.store.reader.clone();
    pipeline.add_camera_with_opener(camera, Arc::new(opener)).await.context("starting the camera")?;
    let outcome = loop {
        tokio::select! {
            next = cursor.next(&reader) => match next? {
                Some(alert) => on_alert(&alert.json)?,
                None => bail!("the alert hub stopped"),
            },
            Some(frame) = frames.recv(), if overlay.is_some() => {
                if let Some(f) = overlay.as_mut() {
                    f(&frame)?;
                }
            }
            end = &mut ended => break end.unwrap_or_else(|_| Err("the camera stopped".into())),
        }
    };
    pipeline.drain().await;
    while let Ok(frame) = frames.try_recv() {
        if let Some(f) = overlay.as_mut() {
            f(&frame)?;
        }
    }
    let decoded = pipeline.status.get(&cursor_camera).map(|s| s.frames_decoded).unwrap_or(0);
    let (mut inferred, mut inputs) = (0, 0);
    for (_, batcher) in &pipeline.batchers {
        if let Ok(stats) = batcher.send(GetStats).await {
            inferred += stats.frames_inferred;
            inputs += stats.inputs_inferred;
        }
    }
    let mut analytics = Vec::new();
    for (label, batcher) in pipeline.analytics.batchers() {
        let n = batcher.send(GetStats).await.map(|s| s.frames_inferred).unwrap_or(0);
        analytics.push(format!("replay: {label}: {n} inferred"));
    }
    pipeline.stop().await;
    let newest = pipeline.store.ask(MaxId).await??;
    while cursor.last_id() < newest {
        match cursor.next(&reader).await? {
            Some(alert) => on_alert(&alert.json)?,
            None => bail!("the alert hub stopped"),
        }
    }
    Ok(Summary { decoded, inferred, inputs, events: newest, analytics, outcome })
}

/// Where the camera's session reports, once, how the file ended (`Err`: why it stopped early).
type Ended = Arc<Mutex<Option<oneshot::Sender<Result<(), String>>>>>;

/// Opens the file once, unpaced, behind a gate that reads the next picture only when the camera is placed
/// and its device's batch queue is empty. Reports the end of the file (or why it stopped) on `ended`.
struct ReplayOpener {
    id: CameraId,
    path: PathBuf,
    status: StatusBoard,
    batchers: Vec<(Arc<str>, actix::Addr<BatcherActor>)>,
    analytics: IdleProbe,
    ended: Ended,
}

fn report(ended: &Ended, outcome: Result<(), String>) {
    if let Some(tx) = ended.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let _ = tx.send(outcome);
    }
}

impl Opener for ReplayOpener {
    fn open<'a>(
        &'a self,
        camera: &'a CameraId,
        _config: &'a CameraConfig,
    ) -> LocalBoxFuture<'a, Result<Box<dyn VideoSource>, SourceError>> {
        Box::pin(async move {
            let first = self.ended.lock().unwrap_or_else(|e| e.into_inner()).is_some();
            if !first {
                // The file has been read (or failed); the camera retries after its backoff: give it nothing.
                return Ok(Box::new(Idle) as Box<dyn VideoSource>);
            }
            match FileSource::open(camera.clone(), &self.path, false) {
                Ok(file) => Ok(Box::new(Gated {
                    inner: file.unpaced(),
                    id: self.id.clone(),
                    status: self.status.clone(),
                    batchers: self.batchers.clone(),
                    analytics: self.analytics.clone(),
                    ended: self.ended.clone(),
                    done: false,
                }) as Box<dyn VideoSource>),
                Err(e) => {
                    report(&self.ended, Err(panoptes_actors::camera::error_chain(&e)));
                    Err(e)
                }
            }
        })
    }
}

/// A source that never yields (the replay is over).
struct Idle;

impl VideoSource for Idle {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(futures::future::pending())
    }
}

struct Gated {
    inner: FileSource,
    id: CameraId,
    status: StatusBoard,
    batchers: Vec<(Arc<str>, actix::Addr<BatcherActor>)>,
    analytics: IdleProbe,
    ended: Ended,
    done: bool,
}

impl Gated {
    /// Wait until the camera is placed on a device whose batch queue is empty, and the plate and fire/smoke
    /// batchers and the OCR worker are idle (so their frames are not superseded either).
    ///
    /// The allocator records the device in the status board just after it sends the camera its `Place`, so
    /// once the device shows there, `Place` is in the camera actor's mailbox. This source runs inside that
    /// actor, which reads its mailbox only while the session is pending; the reply to `GetStats` may already
    /// be there when it is first polled (the batcher's thread can answer before this one resumes), so yield
    /// once more: the actor then handles `Place` before the next frame is decoded.
    async fn wait_for_room(&self) {
        loop {
            let device = self.status.get(&self.id).and_then(|s| s.device.clone());
            if let Some(batcher) = device.and_then(|d| self.batchers.iter().find(|(id, _)| **id == *d)) {
                match batcher.1.send(GetStats).await {
                    Ok(stats) if stats.queue_depth == 0 && self.analytics.idle().await => {
                        tokio::task::yield_now().await;
                        return;
                    }
                    Ok(_) => {}
                    Err(_) => return,
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
}

impl VideoSource for Gated {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(async move {
            if self.done {
                return futures::future::pending().await;
            }
            self.wait_for_room().await;
            let unit = self.inner.next().await;
            match &unit {
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Hold the session open so the camera does not log an end and reopen; the replay stops it.
                    self.done = true;
                    report(&self.ended, Ok(()));
                    return futures::future::pending().await;
                }
                Err(e) => report(&self.ended, Err(panoptes_actors::camera::error_chain(e))),
            }
            unit
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn camera(json: &str) -> CameraConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_camera_keeps_its_settings_and_reads_the_file_once() {
        let dir = std::env::temp_dir();
        let input = dir.join(format!("panoptes-replay-test-{}.mp4", std::process::id()));
        std::fs::write(&input, b"x").unwrap();
        let cams = vec![
            camera(
                r#"{"id": "gate", "url": "rtsp://127.0.0.1/x", "username": "u", "password_env": "P", "detect_fps": 2.5}"#,
            ),
            camera(r#"{"id": "door", "file": "a.mp4"}"#),
        ];
        let cam = replay_camera(&cams, "gate", &input).unwrap();
        assert_eq!(cam.source, CameraSource::File { path: input.clone(), looped: false });
        assert!(cam.username.is_none() && cam.password_env.is_none());
        assert_eq!(cam.detect_fps, 2.5);
        cam.validate().unwrap();
        let err = replay_camera(&cams, "yard", &input).unwrap_err().to_string();
        assert!(err.contains("yard") && err.contains("gate, door"), "{err}");
        let err = replay_camera(&cams, "gate", Path::new("/nonexistent.mp4")).unwrap_err().to_string();
        assert!(err.contains("/nonexistent.mp4"), "{err}");
        std::fs::remove_file(&input).unwrap();
    }
}
