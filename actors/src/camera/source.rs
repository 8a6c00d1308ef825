//! Where a camera's compressed video comes from: the [`VideoSource`] trait, its real
//! implementations (RTSP through retina, MP4/MKV files through libavformat).
//!
//! A source yields [`AccessUnit`]s: one compressed picture with its codec parameters, key-frame
//! flag, session-local presentation time and arrival time, plus the stream's RTCP sender reports
//! ([`VideoSource::take_sender_reports`]). It does no decoding and keeps no time across sessions: the
//! camera's [`crate::time::stream::StreamClock`] turns these into timeline PTS and wall time.
//! [`Opener`] opens a new source for each session, so the actor's reconnect loop and its tests can
//! swap the real network for a scripted one (`actors/tests/camera_support/fake_source.rs`).

use crate::config::{CameraConfig, ConfigError, Source, Transport};
use crate::media::{AccessUnit, StreamParams, VideoCodec};
use crate::messages::CameraId;
use crate::time::stream::SenderReport;
use crate::time::{Pts, WallTime};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest wait for DESCRIBE / SETUP / PLAY, each.
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence on a playing RTSP session before it counts as dead.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Failures opening or reading a source. Each names the camera and the URL (never with
/// credentials) or path; [`SourceError::hint`] says what to check.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("camera {camera}: credentials unavailable: {source}")]
    Credentials { camera: CameraId, source: ConfigError },
    #[error("camera {camera}: `{url}` is not a valid RTSP URL: {reason}")]
    BadUrl { camera: CameraId, url: String, reason: String },
    #[error("camera {camera}: RTSP {stage} of {url} failed: {source}")]
    Rtsp { camera: CameraId, url: String, stage: &'static str, source: retina::Error },
    #[error("camera {camera}: RTSP {stage} of {url} timed out after {}s", timeout.as_secs())]
    Timeout { camera: CameraId, url: String, stage: &'static str, timeout: Duration },
    #[error("camera {camera}: stream is not video: {location} offers no H.264/H.265 video (found: {found})")]
    NotVideo { camera: CameraId, location: String, found: String },
    #[error("camera {camera}: cannot open {} as a video file: {source}", path.display())]
    OpenFile { camera: CameraId, path: PathBuf, source: ffmpeg_next::Error },
    #[error("camera {camera}: reading {} failed: {source}", path.display())]
    ReadFile { camera: CameraId, path: PathBuf, source: ffmpeg_next::Error },
    #[error("camera {camera}: {} has no video frames to loop over", path.display())]
    EmptyFile { camera: CameraId, path: PathBuf },
    /// Cluster mode: the camera's access units come from its ingest node, and they stopped or never came.
    #[error("camera {camera}: no video from its ingest node on `{subject}`: {reason}")]
    Upstream { camera: CameraId, subject: String, reason: String },
}

impl SourceError {
    /// What the operator should check, in a few words.
    pub fn hint(&self) -> &'static str {
        match self {
            SourceError::Credentials { .. } => "set the environment variable named by password_env",
            SourceError::BadUrl { .. } => "fix the camera's url (rtsp://host:port/path)",
            SourceError::Rtsp { source, .. } => match source.status_code() {
                Some(401) | Some(403) => "check username and password / password_env",
                Some(404) => "check the URL path; the camera does not know this stream",
                Some(_) => "check the URL and the camera's RTSP settings",
                None => "check the camera is powered, reachable at this host and port, and RTSP is enabled",
            },
            SourceError::Timeout { .. } => "check the network path to the camera and that the port is not filtered",
            SourceError::NotVideo { .. } => "point the URL/file at an H.264 or H.265 video stream (not audio or MJPEG)",
            SourceError::OpenFile { .. } => "check the path exists and is an MP4/MKV file with H.264/H.265 video",
            SourceError::ReadFile { .. } => "check the file is complete and readable",
            SourceError::EmptyFile { .. } => "use a file with at least one video frame",
            SourceError::Upstream { .. } => {
                "check that the camera's ingest node runs and streams it (GET /api/cluster) and reaches the same NATS server"
            }
        }
    }
}

/// A session's stream of access units.
pub trait VideoSource {
    /// The next access unit; `Ok(None)` at the end of the stream (a non-looping file, or the server
    /// closing the session cleanly).
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>>;

    /// RTCP sender reports of the video stream received since the last call (RTP time in the same
    /// session-local units as the access units' PTS). Sources without RTCP have none.
    fn take_sender_reports(&mut self) -> Vec<SenderReport> {
        Vec::new()
    }

    /// Whether the units come stamped already: timeline PTS and frame wall time assigned by the camera clock
    /// of the node that ingests the camera (cluster mode), kept as they are.
    fn stamped(&self) -> bool {
        false
    }
}

/// Opens a new session for a camera. One opener serves a camera for its whole life.
pub trait Opener: Send + Sync {
    fn open<'a>(
        &'a self,
        camera: &'a CameraId,
        config: &'a CameraConfig,
    ) -> LocalBoxFuture<'a, Result<Box<dyn VideoSource>, SourceError>>;
}

/// The real opener: RTSP or file as the camera's config says.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealOpener;

impl Opener for RealOpener {
    fn open<'a>(
        &'a self,
        camera: &'a CameraId,
        config: &'a CameraConfig,
    ) -> LocalBoxFuture<'a, Result<Box<dyn VideoSource>, SourceError>> {
        Box::pin(async move {
            Ok(match &config.source {
                Source::Rtsp { url, transport } => {
                    Box::new(RtspSource::open(camera.clone(), config, url, *transport).await?) as Box<dyn VideoSource>
                }
                Source::File { path, looped } => Box::new(FileSource::open(camera.clone(), path, *looped)?),
            })
        })
    }
}

/// The URL as safe to log: user name and password removed.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => url.split('@').next_back().unwrap_or(url).to_owned(),
    }
}

fn system_time_ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// An NTP timestamp (seconds since 1900 in 32.32 fixed point) as Unix milliseconds.
pub fn ntp_to_unix_ms(ntp: u64) -> i64 {
    let since_epoch = ntp.wrapping_sub(retina::UNIX_EPOCH.0) as i64;
    let secs = since_epoch >> 32;
    let frac_ms = ((since_epoch & 0xffff_ffff) * 1000) >> 32;
    secs * 1000 + frac_ms
}

/// An NTP timestamp (seconds since 1900 in 32.32 fixed point) as Unix nanoseconds.
pub fn ntp_to_unix_ns(ntp: u64) -> i64 {
    let since_epoch = ntp.wrapping_sub(retina::UNIX_EPOCH.0) as i64;
    let secs = since_epoch >> 32;
    let frac_ns = (((since_epoch & 0xffff_ffff) as i128 * 1_000_000_000) >> 32) as i64;
    secs * 1_000_000_000 + frac_ns
}

// ---------------------------------------------------------------------------------------------
// RTSP

/// A playing RTSP session (retina), demuxed to the first H.264/H.265 video stream.
pub struct RtspSource {
    camera: CameraId,
    url: String,
    /// `Some` until dropped (see the `Drop` impl).
    demuxed: Option<retina::client::Demuxed>,
    stream_i: usize,
    params: Option<Arc<StreamParams>>,
    /// Sender reports not yet taken by the camera.
    reports: Vec<SenderReport>,
}

async fn with_timeout<T>(
    camera: &CameraId,
    url: &str,
    stage: &'static str,
    fut: impl Future<Output = Result<T, retina::Error>>,
) -> Result<T, SourceError> {
    match tokio::time::timeout(OPEN_TIMEOUT, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(SourceError::Rtsp { camera: camera.clone(), url: url.to_owned(), stage, source }),
        Err(_) => {
            Err(SourceError::Timeout { camera: camera.clone(), url: url.to_owned(), stage, timeout: OPEN_TIMEOUT })
        }
    }
}

impl RtspSource {
    /// DESCRIBE, SETUP (TCP interleaved or UDP) and PLAY the camera's first H.264/H.265 stream.
    pub async fn open(
        camera: CameraId,
        config: &CameraConfig,
        url: &str,
        transport: Transport,
    ) -> Result<Self, SourceError> {
        let shown = redact_url(url);
        let parsed = url::Url::parse(url).map_err(|e| SourceError::BadUrl {
            camera: camera.clone(),
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        let creds = config
            .credentials()
            .map_err(|source| SourceError::Credentials { camera: camera.clone(), source })?
            .map(|(username, password)| retina::client::Credentials { username, password });
        let options = retina::client::SessionOptions::default()
            .creds(creds)
            .user_agent(format!("panoptes/{}", env!("CARGO_PKG_VERSION")))
            .teardown(retina::client::TeardownPolicy::Auto);
        let mut session =
            with_timeout(&camera, &shown, "DESCRIBE", retina::client::Session::describe(parsed, options)).await?;
        let chosen = session.streams().iter().enumerate().find_map(|(i, s)| match (s.media(), s.encoding_name()) {
            ("video", "h264") => Some((i, VideoCodec::H264)),
            ("video", "h265") => Some((i, VideoCodec::H265)),
            _ => None,
        });
        let Some((stream_i, codec)) = chosen else {
            let found: Vec<String> =
                session.streams().iter().map(|s| format!("{}/{}", s.media(), s.encoding_name())).collect();
            return Err(SourceError::NotVideo {
                camera,
                location: shown,
                found: if found.is_empty() { "no streams".into() } else { found.join(", ") },
            });
        };
        let transport = match transport {
            Transport::Tcp => retina::client::Transport::Tcp(Default::default()),
            Transport::Udp => retina::client::Transport::Udp(Default::default()),
        };
        let setup =
            retina::client::SetupOptions::default().transport(transport).frame_format(retina::codec::FrameFormat::MP4);
        with_timeout(&camera, &shown, "SETUP", session.setup(stream_i, setup)).await?;
        let playing =
            with_timeout(&camera, &shown, "PLAY", session.play(retina::client::PlayOptions::default())).await?;
        let demuxed = playing.demuxed().map_err(|source| SourceError::Rtsp {
            camera: camera.clone(),
            url: shown.clone(),
            stage: "PLAY",
            source,
        })?;
        tracing::debug!(camera = %camera, url = %shown, %codec, "RTSP session playing");
        Ok(Self { camera, url: shown, demuxed: Some(demuxed), stream_i, params: None, reports: Vec::new() })
    }

    fn demuxed(&mut self) -> &mut retina::client::Demuxed {
        self.demuxed.as_mut().expect("present until drop")
    }

    fn refresh_params(&mut self) {
        let i = self.stream_i;
        let Some(retina::codec::ParametersRef::Video(vp)) =
            self.demuxed().streams().get(i).and_then(|s| s.parameters())
        else {
            return;
        };
        let codec = match vp.codec_params() {
            retina::codec::VideoParametersCodec::H264 { .. } => VideoCodec::H264,
            retina::codec::VideoParametersCodec::H265 { .. } => VideoCodec::H265,
            _ => return,
        };
        let (width, height) = vp.pixel_dimensions();
        let next = StreamParams { codec, extradata: vp.extra_data().to_vec(), width, height };
        if self.params.as_deref() != Some(&next) {
            self.params = Some(Arc::new(next));
        }
    }

    async fn next_unit(&mut self) -> Result<Option<AccessUnit>, SourceError> {
        loop {
            let item = match tokio::time::timeout(IDLE_TIMEOUT, self.demuxed().next()).await {
                Ok(item) => item,
                Err(_) => {
                    return Err(SourceError::Timeout {
                        camera: self.camera.clone(),
                        url: self.url.clone(),
                        stage: "read (no data)",
                        timeout: IDLE_TIMEOUT,
                    });
                }
            };
            match item {
                None => return Ok(None),
                Some(Err(source)) => {
                    return Err(SourceError::Rtsp {
                        camera: self.camera.clone(),
                        url: self.url.clone(),
                        stage: "read",
                        source,
                    });
                }
                Some(Ok(retina::codec::CodecItem::VideoFrame(frame))) => {
                    if frame.stream_id() != self.stream_i {
                        continue;
                    }
                    if frame.has_new_parameters() || self.params.is_none() {
                        self.refresh_params();
                    }
                    let Some(params) = self.params.clone() else { continue };
                    let ts = frame.timestamp();
                    let arrival_ms = system_time_ms(frame.end_ctx().received_wall().into());
                    return Ok(Some(AccessUnit {
                        params,
                        key: frame.is_random_access_point(),
                        pts: Pts::new(ts.elapsed(), ts.clock_rate().get()),
                        wall_ms: WallTime::from_unix_ms(arrival_ms),
                        data: frame.into_data(),
                    }));
                }
                Some(Ok(retina::codec::CodecItem::Rtcp(rtcp))) => {
                    if rtcp.stream_id() != self.stream_i {
                        continue;
                    }
                    let Some(ts) = rtcp.rtp_timestamp() else { continue };
                    if let Some(Ok(Some(sr))) = rtcp.pkts().next().map(|p| p.as_sender_report()) {
                        // A runaway list (nobody taking them) keeps only the latest few.
                        if self.reports.len() >= 64 {
                            self.reports.remove(0);
                        }
                        self.reports.push(SenderReport {
                            rtp: Pts::new(ts.elapsed(), ts.clock_rate().get()),
                            ntp_unix_ns: ntp_to_unix_ns(sr.ntp_timestamp().0),
                        });
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

impl Drop for RtspSource {
    /// retina sends TEARDOWN from a task it `tokio::spawn`s when a session is dropped, which panics
    /// outside a runtime: the case when a camera's arbiter is stopped and its event loop drops the
    /// actor after the runtime has gone. Then drop the session inside a throwaway runtime: the
    /// teardown task is cancelled with it and the connection is closed.
    fn drop(&mut self) {
        let Some(demuxed) = self.demuxed.take() else { return };
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(demuxed);
            return;
        }
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(rt) => {
                let _guard = rt.enter();
                drop(demuxed);
            }
            Err(e) => {
                tracing::warn!(camera = %self.camera, error = %e, "no runtime to close the RTSP session; leaking it");
                std::mem::forget(demuxed);
            }
        }
    }
}

impl VideoSource for RtspSource {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(self.next_unit())
    }

    fn take_sender_reports(&mut self) -> Vec<SenderReport> {
        std::mem::take(&mut self.reports)
    }
}

// ---------------------------------------------------------------------------------------------
// Files

/// Initialise libav* once per process and keep its own logging to real problems.
pub fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        let _ = ffmpeg_next::init();
        ffmpeg_next::log::set_level(ffmpeg_next::log::Level::Fatal);
    });
}

/// The codec configuration record of a demuxed stream.
#[allow(unsafe_code)]
fn stream_extradata(params: &ffmpeg_next::codec::Parameters) -> Vec<u8> {
    // SAFETY: ffmpeg-next exposes no safe accessor for `AVCodecParameters.extradata`. The pointer
    // comes from a live `Parameters` borrowed for this call; libavformat keeps `extradata` either
    // null or pointing at `extradata_size` initialised bytes owned by the parameters, which we only
    // copy out before the borrow ends.
    unsafe {
        let p = params.as_ptr();
        let (data, size) = ((*p).extradata, (*p).extradata_size);
        if data.is_null() || size <= 0 { Vec::new() } else { std::slice::from_raw_parts(data, size as usize).to_vec() }
    }
}

/// A video file played in real time by its timestamps, optionally looped with the timeline
/// continuing to increase (each loop is offset by the file's duration); or, [`FileSource::unpaced`],
/// as fast as it is read (`panoptes replay`).
pub struct FileSource {
    camera: CameraId,
    path: PathBuf,
    looped: bool,
    paced: bool,
    input: ffmpeg_next::format::context::Input,
    stream_index: usize,
    time_base: (i64, i64),
    params: Arc<StreamParams>,
    /// First decode timestamp of the file (90 kHz), subtracted so the timeline starts near 0.
    first_90k: Option<i64>,
    /// Added to every timestamp: the summed length of the loops already played.
    offset_90k: i64,
    /// End of the latest frame of this loop (its PTS plus duration), relative to `first_90k`.
    loop_end_90k: i64,
    last_duration_90k: i64,
    units_this_loop: u64,
    /// Real time at which the timeline's 0 is due.
    start: Option<tokio::time::Instant>,
}

fn open_video(
    camera: &CameraId,
    path: &Path,
) -> Result<(ffmpeg_next::format::context::Input, usize, (i64, i64), StreamParams), SourceError> {
    init_ffmpeg();
    let input = ffmpeg_next::format::input(path).map_err(|source| SourceError::OpenFile {
        camera: camera.clone(),
        path: path.to_owned(),
        source,
    })?;
    let found = || -> String {
        let v: Vec<String> = input
            .streams()
            .map(|s| format!("{:?}/{:?}", s.parameters().medium(), s.parameters().id()).to_lowercase())
            .collect();
        if v.is_empty() { "no streams".into() } else { v.join(", ") }
    };
    let not_video =
        || SourceError::NotVideo { camera: camera.clone(), location: path.display().to_string(), found: found() };
    let stream = input.streams().best(ffmpeg_next::media::Type::Video).ok_or_else(not_video)?;
    let parameters = stream.parameters();
    let codec = match parameters.id() {
        ffmpeg_next::codec::Id::H264 => VideoCodec::H264,
        ffmpeg_next::codec::Id::HEVC => VideoCodec::H265,
        _ => return Err(not_video()),
    };
    let tb = stream.time_base();
    let (num, den) = (i64::from(tb.numerator()), i64::from(tb.denominator()));
    let time_base = if num > 0 && den > 0 { (num, den) } else { (1, 90_000) };
    let (width, height) = {
        let ctx = ffmpeg_next::codec::Context::from_parameters(parameters.clone()).ok();
        ctx.and_then(|c| c.decoder().video().ok()).map(|v| (v.width(), v.height())).unwrap_or((0, 0))
    };
    let params = StreamParams { codec, extradata: stream_extradata(&parameters), width, height };
    let index = stream.index();
    Ok((input, index, time_base, params))
}

impl FileSource {
    pub fn open(camera: CameraId, path: &Path, looped: bool) -> Result<Self, SourceError> {
        let (input, stream_index, time_base, params) = open_video(&camera, path)?;
        Ok(Self {
            camera,
            path: path.to_owned(),
            looped,
            paced: true,
            input,
            stream_index,
            time_base,
            params: Arc::new(params),
            first_90k: None,
            offset_90k: 0,
            loop_end_90k: 0,
            last_duration_90k: 0,
            units_this_loop: 0,
            start: None,
        })
    }

    /// Deliver each unit as soon as it is asked for instead of at its time (timestamps are unchanged).
    pub fn unpaced(mut self) -> Self {
        self.paced = false;
        self
    }

    fn to_90k(&self, ts: i64) -> i64 {
        let (num, den) = self.time_base;
        (i128::from(ts) * i128::from(num) * 90_000 / i128::from(den)) as i64
    }

    /// Start the file again, the timeline continuing after the loop just played.
    fn rewind(&mut self) -> Result<(), SourceError> {
        if self.units_this_loop == 0 || self.loop_end_90k <= 0 {
            return Err(SourceError::EmptyFile { camera: self.camera.clone(), path: self.path.clone() });
        }
        let (input, index, time_base, params) = open_video(&self.camera, &self.path)?;
        self.input = input;
        self.stream_index = index;
        self.time_base = time_base;
        if *self.params != params {
            self.params = Arc::new(params);
        }
        self.offset_90k += self.loop_end_90k;
        self.loop_end_90k = 0;
        self.units_this_loop = 0;
        Ok(())
    }

    async fn next_unit(&mut self) -> Result<Option<AccessUnit>, SourceError> {
        loop {
            let mut packet = ffmpeg_next::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) => {}
                Err(ffmpeg_next::Error::Eof) if self.looped => {
                    self.rewind()?;
                    continue;
                }
                Err(ffmpeg_next::Error::Eof) => return Ok(None),
                Err(source) => {
                    return Err(SourceError::ReadFile { camera: self.camera.clone(), path: self.path.clone(), source });
                }
            }
            if packet.stream() != self.stream_index {
                continue;
            }
            let (Some(data), Some(ts)) = (packet.data(), packet.pts().or(packet.dts())) else { continue };
            let pts_90k = self.to_90k(ts);
            let dts_90k = packet.dts().map_or(pts_90k, |d| self.to_90k(d));
            let first = *self.first_90k.get_or_insert(dts_90k);
            let duration_90k = match self.to_90k(packet.duration()) {
                d if d > 0 => d,
                _ => self.last_duration_90k,
            };
            self.last_duration_90k = duration_90k;
            self.loop_end_90k = self.loop_end_90k.max(pts_90k - first + duration_90k);
            self.units_this_loop += 1;

            // Pace by decode time so B-frame reordering never makes us wait out of order.
            if self.paced {
                let start = *self.start.get_or_insert_with(tokio::time::Instant::now);
                let due_90k = (dts_90k - first + self.offset_90k).max(0) as u64;
                tokio::time::sleep_until(start + Duration::from_micros(due_90k * 100 / 9)).await;
            }

            return Ok(Some(AccessUnit {
                params: self.params.clone(),
                key: packet.is_key(),
                pts: Pts::new(pts_90k - first + self.offset_90k, Pts::VIDEO_CLOCK_RATE),
                wall_ms: WallTime::now(),
                data: data.to_vec(),
            }));
        }
    }
}

impl VideoSource for FileSource {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(self.next_unit())
    }
}

/// Read every access unit of a file at once, unpaced: fixtures for fakes and benchmarks.
pub fn read_all_units(camera: &CameraId, path: &Path) -> Result<Vec<AccessUnit>, SourceError> {
    let mut src = FileSource::open(camera.clone(), path, false)?;
    let mut out = Vec::new();
    loop {
        let mut packet = ffmpeg_next::Packet::empty();
        match packet.read(&mut src.input) {
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => return Ok(out),
            Err(source) => return Err(SourceError::ReadFile { camera: camera.clone(), path: path.to_owned(), source }),
        }
        if packet.stream() != src.stream_index {
            continue;
        }
        let (Some(data), Some(ts)) = (packet.data(), packet.pts().or(packet.dts())) else { continue };
        out.push(AccessUnit {
            params: src.params.clone(),
            key: packet.is_key(),
            pts: Pts::new(src.to_90k(ts), Pts::VIDEO_CLOCK_RATE),
            wall_ms: WallTime::now(),
            data: data.to_vec(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("rtsp://admin:pw@10.0.0.1:554/s"), "rtsp://10.0.0.1:554/s");
        assert_eq!(redact_url("rtsp://10.0.0.1/s"), "rtsp://10.0.0.1/s");
        assert!(!redact_url("not a url admin:pw@x").contains("pw"));
    }

    #[test]
    fn ntp_converts_to_unix_ms() {
        // 2000-01-01T00:00:00.5Z: 946 684 800 s after the Unix epoch, half a second of fraction.
        let ntp = ((2_208_988_800u64 + 946_684_800) << 32) | (1u64 << 31);
        assert_eq!(ntp_to_unix_ms(ntp), 946_684_800_500);
    }

    #[test]
    fn ntp_converts_to_unix_ns() {
        // 2000-01-01T00:00:00.25Z.
        let ntp = ((2_208_988_800u64 + 946_684_800) << 32) | (1u64 << 30);
        assert_eq!(ntp_to_unix_ns(ntp), 946_684_800_250_000_000);
    }
}
