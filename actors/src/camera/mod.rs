//! The camera actor: one per camera, on its own [`actix::Arbiter`] (a thread with a current-thread
//! tokio runtime, which retina needs), owning the whole ingest path of that camera:
//!
//! ```text
//! source (RTSP / file) → decode (libavcodec) → FrameMeta, seq, metrics → detect_fps gate
//!   → placement? → convert (swscale + letterbox) → batcher.try_send(SubmitFrame)
//! ```
//!
//! # Modules
//! - [`source`]: the [`source::VideoSource`] trait, RTSP (retina) and file (libavformat) sources.
//! - [`nal`]: `avcC`/`hvcC` records and length-prefixed NAL units → Annex B.
//! - [`decode`]: the libavcodec decoder of a session.
//! - [`convert`]: decoded picture → letterboxed model input.
//! - [`rate`]: the `detect_fps` gate on stream time.
//! - [`routing`]: which frames go to detection and to fire/smoke, and why a frame is dropped (pure).
//!
//! # Time
//! The camera owns one [`StreamClock`] for its whole life (held by the actor, so it survives
//! reconnects and supervisor restarts). Every access unit goes through it before decoding: its
//! session-local PTS becomes a PTS on the camera's continuous timeline, and its arrival time becomes
//! its wall time (RTCP sender reports when the camera sends plausible ones, else smoothed arrivals).
//! See `docs/design/time.md`.
//!
//! # Supervision design
//! The retry loop lives inside the actor: `started` spawns one future ([`CameraActor`]'s session
//! loop) that runs `run_once` (open → stream until error or end), then waits the backoff delay and
//! tries again, forever. Each session runs under `catch_unwind`, so a panic in retina, FFmpeg glue
//! or our own code ends that session like any error (logged, counted, backoff, retry) instead of
//! killing the arbiter's event loop; other cameras live on other threads and never notice. The
//! actor also implements [`actix::Supervised`]: if it is ever stopped while its address is still
//! held (a panic in a message handler, a bug), the [`actix::Supervisor`] restarts it and `started`
//! spawns a fresh session loop. Stopping for good: send [`StopCamera`] (cancels the session, which
//! drops the source and frees the decoder and scaler), then drop the address and stop the arbiter.
//!
//! # Frame drops (`panoptes_frames_dropped_total{reason}`)
//! Decided by [`routing::FrameRouter`] (gate and placement) and by the send's outcome:
//! - `rate`: above the camera's `detect_fps`, decided on PTS before any conversion.
//! - `unplaced`: no [`Place`] yet (or `Place(None)`).
//! - `mailbox`: the batcher's mailbox was full (`Recipient::try_send` → `Full`); the batcher's own
//!   latest-frame-wins queue counts `superseded` separately.
//! - `closed`: the batcher is gone (its mailbox is closed) until the next [`Place`].
//!
//! Conversion runs once per frame that passes the gate and has a placement; a frame refused by a
//! full mailbox has been converted for nothing, which is the price of not queueing on this side.

pub mod convert;
pub mod decode;
pub mod nal;
pub mod rate;
pub mod routing;
pub mod source;

use crate::analytics::CameraFeed;
use crate::config::{CameraConfig, DetectionConfig, DetectionMode, Source};
use crate::geometry::BBox;
use crate::health::{self, HealthMonitor};
use crate::infer::preprocess::crop_to_chw;
use crate::media::{AccessUnit, VideoCodec};
use crate::messages::{
    CameraId, Event, EventState, Frame, FrameMeta, NewEvent, Place, Placement, RegionInput, SubmitFrame,
};
use crate::metric_names;
use crate::motion::MotionDetector;
use crate::record::worker::UnitTap;
use crate::regions::{HintBoard, Plan, Scheduler};
use crate::status::{CameraState, CameraStatus, StatusBoard};
use crate::time::backoff::Backoff;
use crate::time::clock_map::MappingSource;
use crate::time::stream::StreamClock;
use crate::time::timeline::Rebase;
use crate::time::{Pts, WallTime};
use actix::prelude::*;
use convert::{ConvertError, Converter};
use decode::{DecodeError, DecodedFrame, Decoder};
use futures::FutureExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use routing::{DropReason, FrameRouter, Route, Targets};
use source::{Opener, RealOpener, SourceError, VideoSource};
use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Stop the camera for good: end the session, free the decoder, mark it stopped.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct StopCamera;

/// Why a session ended with an error.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("camera {camera}: {source}")]
    Convert { camera: CameraId, source: ConvertError },
}

impl SessionError {
    /// What the operator should check.
    pub fn hint(&self) -> &'static str {
        match self {
            SessionError::Source(e) => e.hint(),
            SessionError::Decode(DecodeError::Persistent { .. }) => {
                "check the camera's encoder settings (H.264/H.265 main or high profile) and the network for loss"
            }
            SessionError::Decode(_) => "check the FFmpeg installation (libavcodec with H.264/H.265 decoders)",
            SessionError::Convert { .. } => "check the model input size and the camera's resolution",
        }
    }
}

/// The error and its sources on one line (retina's multi-line messages flattened; a source
/// already quoted by its parent is not repeated).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = s.source();
    }
    let lines: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.join("; ")
}

/// One camera. See the module documentation for the design.
pub struct CameraActor {
    id: CameraId,
    config: Arc<CameraConfig>,
    /// What the camera submits besides its primary frames (plates, fire/smoke).
    feed: CameraFeed,
    status: StatusBoard,
    opener: Arc<dyn Opener>,
    placement: watch::Sender<Option<Placement>>,
    session: Option<SpawnHandle>,
    stopped: bool,
    /// The camera's timeline and clock map, shared with the session loop (same thread).
    clock: Rc<RefCell<StreamClock>>,
    /// Where stamped access units go before decoding (the camera's recorder thread), if anywhere.
    tap: Option<Arc<UnitTap>>,
    /// Where they also go (cluster mode: to the camera's inference node on another machine).
    forward: Option<Arc<UnitTap>>,
    /// Decode and analyse (false: an ingest-only camera, which only stamps, records and forwards).
    analyse: bool,
    /// Where on each frame the detector runs, and the camera's track hints for region planning.
    detection: DetectionConfig,
    hints: HintBoard,
    /// Where camera health events go (the event store), when `[cameras.health]` is on.
    events: Option<Recipient<NewEvent>>,
}

/// How to build a [`CameraActor`]: its config and status board, and what else it is given. Plain data
/// (`Send`): the actor itself is built on its own arbiter's thread by [`CameraBuilder::spawn`].
pub struct CameraBuilder {
    config: CameraConfig,
    status: StatusBoard,
    opener: Arc<dyn Opener>,
    feed: CameraFeed,
    tap: Option<UnitTap>,
    forward: Option<UnitTap>,
    analyse: bool,
    detection: DetectionConfig,
    hints: HintBoard,
    resume: Option<Pts>,
    events: Option<Recipient<NewEvent>>,
}

impl CameraBuilder {
    /// Sessions come from `opener` instead of the configured RTSP URL or file (tests script them).
    pub fn opener(mut self, opener: Arc<dyn Opener>) -> Self {
        self.opener = opener;
        self
    }

    /// Also feed the camera's analytics (full-resolution frames for plates, fire/smoke frames at their rate).
    pub fn feed(mut self, feed: CameraFeed) -> Self {
        self.feed = feed;
        self
    }

    /// Hand every stamped access unit (before decoding) to `tap`: the recorder and live feed.
    pub fn tap(mut self, tap: UnitTap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Also hand every stamped access unit to `forward` (cluster mode: published to the camera's inference
    /// node).
    pub fn forward(mut self, forward: UnitTap) -> Self {
        self.forward = Some(forward);
        self
    }

    /// Ingest only: stamp, record and forward the access units, but decode and analyse nothing (cluster
    /// mode: another node infers this camera).
    pub fn ingest_only(mut self) -> Self {
        self.analyse = false;
        self
    }

    /// Detect as `detection` says (whole frames unless set), planning regions from the camera's motion and
    /// the track hints its tracker publishes on `hints`.
    pub fn detection(mut self, detection: DetectionConfig, hints: HintBoard) -> Self {
        self.detection = detection;
        self.hints = hints;
        self
    }

    /// Send camera health events (`[cameras.health]`) to `events` (the event store).
    pub fn events(mut self, events: Recipient<NewEvent>) -> Self {
        self.events = Some(events);
        self
    }

    /// Continue the timeline after `end` (where it ended in an earlier run of the process).
    pub fn resuming_after(mut self, end: Option<Pts>) -> Self {
        self.resume = end;
        self
    }

    /// The actor (not started).
    pub fn build(self) -> CameraActor {
        let id = self.config.id.clone();
        self.status.entry(id.clone()).or_default();
        let (placement, _) = watch::channel(None);
        let clock = Rc::new(RefCell::new(StreamClock::default()));
        if let Some(end) = self.resume {
            clock.borrow_mut().resume_after(end);
        }
        CameraActor {
            id,
            config: Arc::new(self.config),
            feed: self.feed,
            status: self.status,
            opener: self.opener,
            placement,
            session: None,
            stopped: false,
            clock,
            tap: self.tap.map(Arc::new),
            forward: self.forward.map(Arc::new),
            analyse: self.analyse,
            detection: self.detection,
            hints: self.hints,
            events: self.events,
        }
    }

    /// Start the camera, supervised, on a new arbiter (its own thread). To remove it: optionally
    /// `send(StopCamera)` (a clean RTSP TEARDOWN), then drop the address and stop the arbiter.
    pub fn spawn(self) -> (Addr<CameraActor>, Arbiter) {
        let arbiter = Arbiter::new();
        let addr = Supervisor::start_in_arbiter(&arbiter.handle(), move |_| self.build());
        (addr, arbiter)
    }
}

impl CameraActor {
    /// A camera reading its configured RTSP URL or file, detecting on whole frames, with nothing else
    /// attached until the builder says so.
    pub fn builder(config: CameraConfig, status: StatusBoard) -> CameraBuilder {
        CameraBuilder {
            config,
            status,
            opener: Arc::new(RealOpener),
            feed: CameraFeed::default(),
            tap: None,
            forward: None,
            analyse: true,
            detection: DetectionConfig { mode: DetectionMode::FullFrame, ..DetectionConfig::default() },
            hints: HintBoard::default(),
            resume: None,
            events: None,
        }
    }

    fn start_session(&mut self, ctx: &mut Context<Self>) {
        let session = Session {
            id: self.id.clone(),
            config: self.config.clone(),
            feed: self.feed.clone(),
            status: self.status.clone(),
            opener: self.opener.clone(),
            placement: self.placement.subscribe(),
            seq: 0,
            clock: self.clock.clone(),
            clock_metrics: ClockMetrics::new(&self.id),
            tap: self.tap.clone(),
            forward: self.forward.clone(),
            analyse: self.analyse,
            detection: self.detection.clone(),
            hints: self.hints.clone(),
            health: match (&self.events, self.config.health.enabled) {
                (Some(events), true) => Some(HealthWatch::new(self.config.health.clone(), events.clone())),
                _ => None,
            },
        };
        self.session = Some(ctx.spawn(actix::fut::wrap_future(session.run_forever())));
    }
}

impl Actor for CameraActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        if !self.stopped {
            self.start_session(ctx);
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.session = None;
        if let Some(mut s) = self.status.get_mut(&self.id) {
            s.state = CameraState::Stopped;
        }
        metrics::gauge!(metric_names::CAMERA_CONNECTED, "camera" => self.id.to_string()).set(0.0);
    }
}

impl Supervised for CameraActor {
    fn restarting(&mut self, _ctx: &mut Context<Self>) {
        if !self.stopped {
            tracing::warn!(camera = %self.id, "camera actor restarted by its supervisor");
        }
        self.session = None;
    }
}

impl Handler<Place> for CameraActor {
    type Result = ();

    fn handle(&mut self, msg: Place, _ctx: &mut Context<Self>) {
        if let Some(mut s) = self.status.get_mut(&self.id) {
            s.device = msg.0.as_ref().map(|p| p.device.to_string());
        }
        self.placement.send_replace(msg.0);
    }
}

impl Handler<StopCamera> for CameraActor {
    type Result = ();

    fn handle(&mut self, _msg: StopCamera, ctx: &mut Context<Self>) {
        self.stopped = true;
        if let Some(h) = self.session.take() {
            ctx.cancel_future(h);
        }
        tracing::info!(camera = %self.id, "camera stopped");
        ctx.stop();
    }
}

/// Everything a session loop needs, detached from the actor so it can run as one future.
struct Session {
    id: CameraId,
    config: Arc<CameraConfig>,
    feed: CameraFeed,
    status: StatusBoard,
    opener: Arc<dyn Opener>,
    placement: watch::Receiver<Option<Placement>>,
    /// Counts every decoded frame of the camera, across sessions.
    seq: u64,
    clock: Rc<RefCell<StreamClock>>,
    clock_metrics: ClockMetrics,
    tap: Option<Arc<UnitTap>>,
    forward: Option<Arc<UnitTap>>,
    analyse: bool,
    detection: DetectionConfig,
    hints: HintBoard,
    /// Camera health, when `[cameras.health]` is on (kept across sessions: a loss spans them).
    health: Option<HealthWatch>,
}

/// A camera's health monitor, the pace of its samples, and where its events go.
struct HealthWatch {
    monitor: HealthMonitor,
    events: Recipient<NewEvent>,
    /// The monitor's clock: seconds since this instant.
    epoch: Instant,
    next_sample: Instant,
    /// The last picture's PTS and wall time (a video loss is stamped with them).
    last: Option<(Pts, WallTime)>,
}

/// How often a picture is judged.
const HEALTH_SAMPLE: Duration = Duration::from_millis(500);

impl HealthWatch {
    fn new(cfg: crate::config::HealthConfig, events: Recipient<NewEvent>) -> Self {
        let now = Instant::now();
        Self { monitor: HealthMonitor::new(cfg), events, epoch: now, next_sample: now, last: None }
    }

    fn secs(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }

    /// Raise a health event of `camera` (with `picture` as its snapshot, when there is one).
    fn raise(
        &self,
        camera: &CameraId,
        change: health::Change,
        at: (Pts, WallTime),
        picture: Option<Arc<crate::messages::ModelInput>>,
    ) {
        let state = if change.started { EventState::Start } else { EventState::End };
        tracing::warn!(camera = %camera, kind = ?change.kind, started = change.started, details = %change.details, "camera health");
        let event = Event {
            camera: camera.to_string(),
            rule: "health".into(),
            kind: change.kind,
            state,
            track_id: None,
            class: None,
            confidence: None,
            pts: at.0,
            end_pts: (!change.started).then_some(at.0),
            wall_ms: at.1,
            bbox: None,
            details: change.details,
        };
        if let Err(e) = self.events.try_send(NewEvent { event, picture }) {
            tracing::warn!(camera = %camera, error = %e, "a camera health event could not be queued for the store");
        }
    }
}

/// The clock's gauges and counters of one camera.
struct ClockMetrics {
    drift_ppm: metrics::Gauge,
    skew_seconds: metrics::Gauge,
    rtcp: metrics::Gauge,
    gaps: metrics::Counter,
    rebases: [metrics::Counter; 3],
    /// Timeline gaps already counted.
    gaps_counted: u64,
    /// Access units stamped, to publish every [`CLOCK_PUBLISH_EVERY`].
    units: u64,
}

impl ClockMetrics {
    fn new(camera: &CameraId) -> Self {
        let c = camera.to_string();
        let rebase = |reason: &'static str| metrics::counter!(metric_names::TIMELINE_DISCONTINUITIES, "camera" => c.clone(), "reason" => reason);
        Self {
            drift_ppm: metrics::gauge!(metric_names::CLOCK_DRIFT_PPM, "camera" => c.clone()),
            skew_seconds: metrics::gauge!(metric_names::CLOCK_SKEW_SECONDS, "camera" => c.clone()),
            rtcp: metrics::gauge!(metric_names::CLOCK_RTCP, "camera" => c.clone()),
            gaps: metrics::counter!(metric_names::TIMELINE_GAPS, "camera" => c.clone()),
            rebases: [rebase("session"), rebase("forward_jump"), rebase("backward_jump")],
            gaps_counted: 0,
            units: 0,
        }
    }
}

/// Frames between two publications of the clock's status and gauges (and at every re-base).
const CLOCK_PUBLISH_EVERY: u64 = 25;

/// Per-session state: metric handles, gates, converters, and when frames started flowing.
struct Flow {
    /// Which frames go to detection and to fire/smoke.
    router: FrameRouter,
    converter: Converter,
    streaming_since: Option<Instant>,
    codec: Option<VideoCodec>,
    decoded: metrics::Counter,
    /// `panoptes_frames_dropped_total` of the camera.
    dropped: DropCounters,
    /// `panoptes_analytics_dropped_total{stage="fire"}` of the camera.
    fire_dropped: DropCounters,
    /// Fire/smoke frames' converter (another input size).
    fire_converter: Converter,
    /// Full-resolution RGB for plates and regions.
    full_converter: Converter,
    /// What to infer on each admitted frame, and the count of each choice.
    scheduler: Scheduler,
    plans: DetectionPlans,
    /// The camera's motion detector, for the current frame size (regions mode with motion on).
    motion: Option<MotionDetector>,
    /// The last picture converted to the model input (reused on still frames).
    last_input: Option<Arc<crate::messages::ModelInput>>,
    motion_area: metrics::Gauge,
    lighting_changes: metrics::Counter,
}

/// One drop counter a [`DropReason`], registered on its first drop (a reason that never happens adds no
/// series).
struct DropCounters {
    make: Box<dyn Fn(&'static str) -> metrics::Counter>,
    by_reason: [Option<metrics::Counter>; DropReason::ALL.len()],
}

impl DropCounters {
    fn new(make: impl Fn(&'static str) -> metrics::Counter + 'static) -> Self {
        Self { make: Box::new(make), by_reason: Default::default() }
    }

    fn count(&mut self, reason: DropReason) {
        self.by_reason[reason as usize].get_or_insert_with(|| (self.make)(reason.label())).increment(1);
    }
}

/// `panoptes_detection_plans_total` of one camera.
struct DetectionPlans {
    whole: metrics::Counter,
    regions: metrics::Counter,
    nothing: metrics::Counter,
}

impl DetectionPlans {
    fn new(camera: &CameraId) -> Self {
        let c = |plan: &'static str| metrics::counter!(metric_names::DETECTION_PLANS, "camera" => camera.to_string(), "plan" => plan);
        Self { whole: c("whole"), regions: c("regions"), nothing: c("nothing") }
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl Session {
    fn location(&self) -> String {
        match &self.config.source {
            Source::Rtsp { url, .. } => source::redact_url(url),
            Source::File { path, .. } => path.display().to_string(),
        }
    }

    fn update(&self, f: impl FnOnce(&mut CameraStatus)) {
        f(&mut self.status.entry(self.id.clone()).or_default());
    }

    /// Open, stream, back off, forever.
    async fn run_forever(mut self) {
        let mut backoff =
            Backoff::new(self.config.backoff_initial_ms, self.config.backoff_max_ms, StdRng::from_os_rng());
        let location = self.location();
        let connected = metrics::gauge!(metric_names::CAMERA_CONNECTED, "camera" => self.id.to_string());
        let errors = metrics::counter!(metric_names::CAMERA_ERRORS, "camera" => self.id.to_string());
        loop {
            self.update(|s| s.state = CameraState::Connecting);
            let (c, f) = (self.id.to_string(), self.id.to_string());
            let mut flow = Flow {
                router: FrameRouter::new(self.config.detect_fps, self.feed.fire.as_ref().map(|f| f.fps)),
                converter: Converter::new(),
                streaming_since: None,
                codec: None,
                decoded: metrics::counter!(metric_names::FRAMES_DECODED, "camera" => self.id.to_string()),
                dropped: DropCounters::new(
                    move |reason| metrics::counter!(metric_names::FRAMES_DROPPED, "camera" => c.clone(), "reason" => reason),
                ),
                fire_dropped: DropCounters::new(
                    move |reason| metrics::counter!(metric_names::ANALYTICS_DROPPED, "camera" => f.clone(), "stage" => "fire", "reason" => reason),
                ),
                fire_converter: Converter::new(),
                full_converter: Converter::new(),
                scheduler: Scheduler::new(&self.detection),
                plans: DetectionPlans::new(&self.id),
                motion: None,
                last_input: None,
                motion_area: metrics::gauge!(metric_names::MOTION_AREA, "camera" => self.id.to_string()),
                lighting_changes: metrics::counter!(metric_names::MOTION_LIGHTING_CHANGES, "camera" => self.id.to_string()),
            };
            let outcome = AssertUnwindSafe(self.run_once(&mut flow, &connected)).catch_unwind().await;
            connected.set(0.0);
            self.health_lost();
            let streamed = flow.streaming_since.map(|t| t.elapsed()).unwrap_or_default();
            backoff.session_ended(streamed);
            let delay = backoff.next_delay();
            let is_file = matches!(self.config.source, Source::File { .. });
            let (what, hint) = match &outcome {
                Ok(Ok(())) if is_file => ("reached the end of the file".to_owned(), "set loop_file = true to loop it"),
                Ok(Ok(())) => {
                    ("the server ended the session".to_owned(), "check the camera or RTSP server is still running")
                }
                Ok(Err(e)) => (error_chain(e), e.hint()),
                Err(p) => (
                    format!("camera {}: session panicked: {}", self.id, panic_message(p.as_ref())),
                    "this is a bug; please report it with this log line",
                ),
            };
            // A file ending is expected; an RTSP session ending is a failure of the camera.
            if !(is_file && matches!(outcome, Ok(Ok(())))) {
                errors.increment(1);
            }
            let retry_in_ms = delay.as_millis() as u64;
            let prefix = format!("camera {}: ", self.id);
            let what = what.strip_prefix(&prefix).unwrap_or(&what);
            let line = format!("camera {} ({location}): {what}; to fix: {hint}", self.id);
            tracing::warn!(camera = %self.id, source = %location, retry_in_ms, "{line}; retrying in {retry_in_ms} ms");
            self.update(|s| {
                s.state = CameraState::Backoff { retry_in_ms };
                s.reconnects += 1;
                s.last_error = Some(line);
            });
            // A video loss due within the delay is declared on time.
            match self.health_lost_in().filter(|due| *due < delay) {
                Some(due) => {
                    tokio::time::sleep(due).await;
                    self.health_still_lost();
                    tokio::time::sleep(delay - due).await;
                }
                None => tokio::time::sleep(delay).await,
            }
        }
    }

    /// One session: open the source and stream until an error or the end.
    async fn run_once(&mut self, flow: &mut Flow, connected: &metrics::Gauge) -> Result<(), SessionError> {
        let mut source = self.opener.open(&self.id, &self.config).await?;
        let mut decoder = Decoder::new(self.id.clone());
        let mut decoded = Vec::new();
        self.clock.borrow_mut().start_session();
        // A source that delivers units stamped on another node's camera clock keeps their PTS and wall time.
        let stamped = source.stamped();
        while let Some(mut au) = source.next().await? {
            if !stamped {
                self.stamp(&mut au, source.as_mut());
            }
            for tap in [&self.tap, &self.forward].into_iter().flatten() {
                tap.offer(&au);
            }
            flow.codec = Some(au.params.codec);
            if !self.analyse {
                self.ingested(&au, flow, connected);
                continue;
            }
            decoder.decode(&au, &mut decoded)?;
            for frame in decoded.drain(..) {
                self.deliver(frame, flow, connected)?;
            }
        }
        Ok(())
    }

    /// Session-local PTS and arrival time → timeline PTS and wall time; publish the clock now and then.
    fn stamp(&mut self, au: &mut AccessUnit, source: &mut dyn VideoSource) {
        let mut clock = self.clock.borrow_mut();
        for report in source.take_sender_reports() {
            clock.on_sender_report(report);
        }
        let stamped = clock.on_unit(au.pts, au.wall_ms.unix_ns());
        au.pts = stamped.pts;
        au.wall_ms = WallTime::from_unix_ns(stamped.wall.unix_ns);
        let m = &mut self.clock_metrics;
        m.units += 1;
        if let Some(r) = stamped.rebase {
            let i = match r {
                Rebase::Session => 0,
                Rebase::ForwardJump { .. } => 1,
                Rebase::BackwardJump { .. } => 2,
            };
            m.rebases[i].increment(1);
            if i > 0 {
                tracing::warn!(camera = %self.id, rebase = ?r, pts = ?stamped.pts, "camera timestamps jumped; timeline re-based");
            }
        }
        if stamped.rebase.is_none() && !m.units.is_multiple_of(CLOCK_PUBLISH_EVERY) {
            return;
        }
        let st = clock.status();
        drop(clock);
        m.drift_ppm.set(st.map.drift_ppm.unwrap_or(0.0));
        m.rtcp.set(if st.map.source == MappingSource::Rtcp { 1.0 } else { 0.0 });
        if let Some(skew) = st.map.camera_skew_ms {
            m.skew_seconds.set(skew / 1e3);
        }
        m.gaps.increment(st.timeline.gaps - m.gaps_counted);
        m.gaps_counted = st.timeline.gaps;
        self.update(|s| s.clock = Some(st));
    }

    /// An ingest-only camera's unit, counted in its status (decoded and analysed on another node).
    fn ingested(&mut self, au: &AccessUnit, flow: &mut Flow, connected: &metrics::Gauge) {
        let first = flow.streaming_since.is_none();
        if first {
            flow.streaming_since = Some(Instant::now());
            connected.set(1.0);
            tracing::info!(camera = %self.id, codec = ?flow.codec, "camera streaming (ingest only: analysed on another node)");
        }
        let (codec, width, height) = (au.params.codec.short_name().to_owned(), au.params.width, au.params.height);
        self.update(|s| {
            if first {
                s.state = CameraState::Streaming;
                s.last_error = None;
                s.codec = Some(codec);
            }
            if width > 0 {
                (s.width, s.height) = (width, height);
            }
            s.fps_in.tick(std::time::Instant::now());
        });
    }

    fn deliver(&mut self, d: DecodedFrame, flow: &mut Flow, connected: &metrics::Gauge) -> Result<(), SessionError> {
        let (width, height) = (d.frame.width(), d.frame.height());
        let meta = FrameMeta {
            camera: self.id.clone(),
            seq: self.seq,
            pts: d.pts,
            wall_ms: d.wall_ms,
            width,
            height,
            decoded_at: Instant::now(),
        };
        self.seq += 1;
        flow.decoded.increment(1);
        let first = flow.streaming_since.is_none();
        if first {
            flow.streaming_since = Some(Instant::now());
            connected.set(1.0);
            tracing::info!(camera = %self.id, codec = ?flow.codec, width, height, "camera streaming");
        }
        let codec = flow.codec.map(|c| c.short_name().to_owned());
        self.update(|s| {
            if first {
                s.state = CameraState::Streaming;
                s.last_error = None;
                s.codec = codec;
            }
            s.width = width;
            s.height = height;
            s.frames_decoded += 1;
            s.fps_in.tick(std::time::Instant::now());
            s.count_dropped();
        });
        self.judge_health(&d, flow);
        let placement = self.placement.borrow().clone();
        let fire_sink = placement.as_ref().and_then(|p| self.feed.fire.as_ref()?.sinks.get(&p.device).cloned());
        let routes = flow.router.route(d.pts, Targets { detector: placement.is_some(), fire: fire_sink.is_some() });
        match (routes.fire, fire_sink) {
            (Route::Send, Some(sink)) => {
                if let Some(reason) = self.send_fire(&d, &meta, flow, &sink) {
                    flow.fire_dropped.count(reason);
                }
            }
            (Route::Drop(reason), _) => flow.fire_dropped.count(reason),
            _ => {}
        }
        let placement = match (routes.detect, placement) {
            (Route::Send, Some(placement)) => placement,
            (Route::Drop(reason), _) => {
                flow.dropped.count(reason);
                if reason == DropReason::Rate {
                    self.update(|s| {
                        s.frames_skipped += 1;
                        s.count_dropped();
                    });
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let convert_error = |source| SessionError::Convert { camera: self.id.clone(), source };
        let (plan, motion) = self.plan(&d, flow, placement.input_size);
        // A still frame (nothing to infer) reuses the last picture: converting it would cost more than all
        // else the camera does for it, and the scene has not changed.
        let input = match (&plan, &flow.last_input) {
            (Plan::Nothing, Some(last))
                if (last.letterbox.src_w, last.letterbox.src_h) == (d.frame.width(), d.frame.height())
                    && (last.letterbox.dst_w, last.letterbox.dst_h) == placement.input_size =>
            {
                last.clone()
            }
            _ => Arc::new(flow.converter.convert(&d.frame, placement.input_size).map_err(convert_error)?),
        };
        flow.last_input = Some(input.clone());
        let needs_full = self.feed.full_frame || matches!(plan, Plan::Regions(_) | Plan::Tiles(_));
        let full = if needs_full {
            Some(Arc::new(flow.full_converter.full_rgb(&d.frame).map_err(convert_error)?))
        } else {
            None
        };
        let regions = match plan {
            Plan::Whole => None,
            Plan::Nothing => Some(Vec::new()),
            Plan::Regions(rects) | Plan::Tiles(rects) => {
                let rgb = full.as_deref().expect("converted above for regions");
                let (w, h) = placement.input_size;
                Some(rects.into_iter().map(|rect| RegionInput { rect, input: crop_to_chw(rgb, rect, w, h) }).collect())
            }
        };
        let full = if self.feed.full_frame { full } else { None };
        if let Some(reason) =
            DropReason::of_send(placement.sink.try_send(SubmitFrame(Frame { meta, input, regions, motion, full })))
        {
            flow.dropped.count(reason);
        }
        Ok(())
    }

    /// Twice a second, judge the picture's health; raise what starts or ends, with this picture as the snapshot.
    fn judge_health(&mut self, d: &DecodedFrame, flow: &mut Flow) {
        let Some(watch) = self.health.as_mut() else { return };
        watch.last = Some((d.pts, d.wall_ms));
        let now = Instant::now();
        if now < watch.next_sample {
            return;
        }
        watch.next_sample = now + HEALTH_SAMPLE;
        let Some((luma, stride)) = convert::luma_plane(&d.frame) else { return };
        let (w, h) = (d.frame.width() as usize, d.frame.height() as usize);
        let Some(thumb) = health::Thumb::from_luma(luma, stride, w, h) else { return };
        let secs = watch.secs();
        let changes = watch.monitor.picture(secs, thumb);
        if changes.is_empty() {
            return;
        }
        let size = self.placement.borrow().as_ref().map_or((640, 640), |p| p.input_size);
        let picture = flow.converter.convert(&d.frame, size).ok().map(Arc::new);
        for change in changes {
            watch.raise(&self.id, change, (d.pts, d.wall_ms), picture.clone());
        }
    }

    /// The session ended at `now`: a video loss may begin; raised once it has lasted `lost_sec`.
    fn health_lost(&mut self) {
        if let Some(watch) = self.health.as_mut() {
            let secs = watch.secs();
            watch.monitor.lost(secs);
        }
        self.health_still_lost();
    }

    fn health_still_lost(&mut self) {
        let Some(watch) = self.health.as_mut() else { return };
        let secs = watch.secs();
        if let Some(change) = watch.monitor.still_lost(secs) {
            let at = watch.last.unwrap_or((Pts::new(0, 90_000), WallTime::now()));
            // Stamped with the last picture's PTS, and the time the loss is declared.
            watch.raise(&self.id, change, (at.0, WallTime::now()), None);
        }
    }

    /// Seconds until a video loss would be declared (`None`: none pending).
    fn health_lost_in(&self) -> Option<Duration> {
        let watch = self.health.as_ref()?;
        watch.monitor.lost_in(watch.secs()).map(Duration::from_secs_f64)
    }

    /// What to infer on an admitted frame: the scheduler's choice from the frame's motion boxes and the
    /// camera's track hints, counted by kind; and the motion boxes.
    fn plan(&self, d: &DecodedFrame, flow: &mut Flow, input_size: (u32, u32)) -> (Plan, Vec<BBox>) {
        let size = (d.frame.width(), d.frame.height());
        let motion = match flow.scheduler.mode() {
            DetectionMode::FullFrame => None,
            DetectionMode::Regions => self.motion(d, flow),
        };
        let (plan, motion) = match motion {
            // Whole frames: full_frame mode, motion off, or a pixel format without an 8-bit luma plane.
            None => (Plan::Whole, Vec::new()),
            Some(motion) => {
                let hints = self.hints.get(&self.id);
                let side = input_size.0.min(input_size.1);
                (flow.scheduler.decide(d.pts.as_secs_f64(), size, side, &motion, &hints), motion)
            }
        };
        match &plan {
            Plan::Whole | Plan::Tiles(_) => flow.plans.whole.increment(1),
            Plan::Regions(_) => flow.plans.regions.increment(1),
            Plan::Nothing => flow.plans.nothing.increment(1),
        }
        (plan, motion)
    }

    /// The frame's motion boxes, or `None` when the camera cannot tell (motion off, a pixel format without
    /// an 8-bit luma plane, a frame too small).
    fn motion(&self, d: &DecodedFrame, flow: &mut Flow) -> Option<Vec<BBox>> {
        if !self.config.motion.enabled {
            return None;
        }
        let (luma, stride) = convert::luma_plane(&d.frame)?;
        let size = (d.frame.width(), d.frame.height());
        if flow.motion.as_ref().is_none_or(|m| m.frame_size() != size) {
            flow.motion = match MotionDetector::new(&self.config.motion, size.0, size.1) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(camera = %self.id, error = %e, "no motion detection; frames are inferred whole");
                    None
                }
            };
        }
        let motion = flow.motion.as_mut()?.detect(luma, stride);
        flow.motion_area.set(f64::from(motion.area_fraction));
        if motion.lighting_change {
            flow.lighting_changes.increment(1);
        }
        Some(motion.boxes)
    }

    /// Convert the frame for the fire/smoke model and send it to the fire batcher of the camera's device;
    /// why it did not arrive, if it did not. Fire frames never stop the session.
    fn send_fire(
        &self,
        d: &DecodedFrame,
        meta: &FrameMeta,
        flow: &mut Flow,
        sink: &Recipient<SubmitFrame>,
    ) -> Option<DropReason> {
        let input_size = self.feed.fire.as_ref()?.input_size;
        let input = match flow.fire_converter.convert(&d.frame, input_size) {
            Ok(input) => input,
            Err(e) => {
                tracing::warn!(camera = %self.id, error = %e, "fire/smoke frame conversion failed");
                return Some(DropReason::Convert);
            }
        };
        let frame = Frame { meta: meta.clone(), input: Arc::new(input), regions: None, motion: Vec::new(), full: None };
        DropReason::of_send(sink.try_send(SubmitFrame(frame)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {inner}")]
    struct Outer {
        #[source]
        inner: Inner,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("inner\n\nconn: 1.2.3.4")]
    struct Inner;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper")]
    struct Wrapper(#[source] Inner);

    #[test]
    fn error_chain_is_one_line_without_repeats() {
        assert_eq!(error_chain(&Outer { inner: Inner }), "outer: inner; conn: 1.2.3.4");
        assert_eq!(error_chain(&Wrapper(Inner)), "wrapper: inner; conn: 1.2.3.4");
    }

    #[test]
    fn file_errors_name_the_camera_and_path_with_a_hint() {
        let dir = std::env::temp_dir().join(format!("panoptes-camera-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notes.txt");
        std::fs::write(&path, "this is not a video\n".repeat(100)).unwrap();
        let err = match source::FileSource::open("door".parse().unwrap(), &path, true) {
            Err(e) => SessionError::from(e),
            Ok(_) => panic!("a text file opened as video"),
        };
        let line = error_chain(&err);
        assert!(line.contains("camera door") && line.contains("notes.txt"), "{line}");
        assert!(err.hint().contains("MP4/MKV") || err.hint().contains("H.264"), "{}", err.hint());
        let _ = std::fs::remove_dir_all(dir);
    }
}
