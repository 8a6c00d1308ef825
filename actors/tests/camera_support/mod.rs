//! Helpers shared by the camera integration tests: media paths, configs, a batcher stand-in that
//! forwards what it receives to the test, bounded waits, and a short-clip cutter.
#![allow(dead_code)]

pub mod fake_source;

use actix::prelude::*;
use panoptes_actors::config::CameraConfig;
use panoptes_actors::geometry::Letterbox;
use panoptes_actors::messages::{FrameMeta, Place, Placement, SubmitFrame};
use panoptes_actors::status::{CameraStatus, StatusBoard};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The longest any test waits for something to happen.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("actors/ has a parent").to_owned()
}

/// A clip under `var/media`, which the project's setup creates.
pub fn media(name: &str) -> PathBuf {
    let p = workspace_root().join("var/media").join(name);
    assert!(p.exists(), "{} is missing: run the project's media setup (make setup) first", p.display());
    p
}

pub fn camera(json: serde_json::Value) -> CameraConfig {
    let c: CameraConfig = serde_json::from_value(json).expect("test camera config parses");
    c.validate().expect("test camera config is valid");
    c
}

/// What the stand-in batcher saw of one frame.
#[derive(Debug, Clone)]
pub struct Seen {
    pub meta: FrameMeta,
    pub letterbox: Letterbox,
    pub chw_len: usize,
}

/// A batcher stand-in: forwards every submitted frame to the test.
pub struct Collector {
    tx: mpsc::UnboundedSender<Seen>,
}

impl Actor for Collector {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // Fake sources deliver without pacing; keep every frame rather than test mailbox drops.
        ctx.set_mailbox_capacity(10_000);
    }
}

impl Handler<SubmitFrame> for Collector {
    type Result = ();
    fn handle(&mut self, msg: SubmitFrame, _ctx: &mut Context<Self>) {
        let f = msg.0;
        let _ = self.tx.send(Seen { meta: f.meta, letterbox: f.input.letterbox, chw_len: f.input.chw.len() });
    }
}

/// Start a collector; returns the placement to give cameras and the receiving end.
pub fn collector(input_size: (u32, u32)) -> (Placement, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let addr = Collector { tx }.start();
    (Placement { device: Arc::from("test-dev"), sink: addr.recipient(), input_size }, rx)
}

pub fn place<A>(addr: &Addr<A>, placement: &Placement)
where
    A: Actor<Context = Context<A>> + Handler<Place>,
{
    addr.do_send(Place(Some(placement.clone())));
}

/// Receive `n` frames of `camera` (others are ignored), failing after [`WAIT`].
pub async fn frames_of(rx: &mut mpsc::UnboundedReceiver<Seen>, camera: &str, n: usize) -> Vec<Seen> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while got.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(s)) if &*s.meta.camera == camera => got.push(s),
            Ok(Some(_)) => {}
            Ok(None) => panic!("collector closed"),
            Err(_) => panic!("camera {camera}: only {} of {n} frames within {WAIT:?}", got.len()),
        }
    }
    got
}

/// Drop whatever is queued so far.
pub fn drain(rx: &mut mpsc::UnboundedReceiver<Seen>) {
    while rx.try_recv().is_ok() {}
}

/// Wait until the camera's status satisfies `pred`, failing after [`WAIT`] with the last status.
pub async fn status_until(
    board: &StatusBoard,
    camera: &str,
    what: &str,
    pred: impl Fn(&CameraStatus) -> bool,
) -> CameraStatus {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let now = board.get(camera).map(|s| s.clone());
        if let Some(s) = &now
            && pred(s)
        {
            return s.clone();
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("camera {camera}: not {what} within {WAIT:?}; status: {now:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// PTS must strictly increase.
pub fn assert_increasing(frames: &[Seen]) {
    for w in frames.windows(2) {
        assert!(
            w[1].meta.pts.to_90k() > w[0].meta.pts.to_90k(),
            "PTS went from {:?} to {:?} (seq {} → {})",
            w[0].meta.pts,
            w[1].meta.pts,
            w[0].meta.seq,
            w[1].meta.seq
        );
        assert!(w[1].meta.seq > w[0].meta.seq);
    }
}

/// Copy the first `packets` video packets of `src` into a new file `dst` (same container format).
pub fn short_clip(src: &Path, dst: &Path, packets: usize) {
    use ffmpeg_next::{codec, encoder, format, media};
    ffmpeg_next::init().unwrap();
    let mut ictx = format::input(src).unwrap();
    let ist = ictx.streams().best(media::Type::Video).unwrap();
    let (index, in_tb, params) = (ist.index(), ist.time_base(), ist.parameters());
    let mut octx = format::output(dst).unwrap();
    {
        let mut ost = octx.add_stream(encoder::find(codec::Id::None)).unwrap();
        ost.set_parameters(params);
    }
    octx.write_header().unwrap();
    let out_tb = octx.stream(0).unwrap().time_base();
    let mut n = 0;
    for (stream, mut packet) in ictx.packets() {
        if stream.index() != index {
            continue;
        }
        if n == packets {
            break;
        }
        packet.rescale_ts(in_tb, out_tb);
        packet.set_position(-1);
        packet.set_stream(0);
        packet.write_interleaved(&mut octx).unwrap();
        n += 1;
    }
    octx.write_trailer().unwrap();
}

/// A fresh temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("panoptes-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The loopback RTSP server (`scripts/rtsp_server.py`, GStreamer), killed on drop.
pub struct RtspServer {
    child: std::process::Child,
    pub port: u16,
}

impl RtspServer {
    /// Serve `mounts` (`("/name", path)`) in a loop on `port` (0: any free port).
    pub fn start(port: u16, mounts: &[(&str, PathBuf)]) -> Self {
        let script = workspace_root().join("scripts/rtsp_server.py");
        assert!(script.exists(), "{} is missing (it comes from the assets branch)", script.display());
        // A port just freed by a killed server may take a moment to be accepted again.
        let mut last = String::new();
        for _ in 0..20 {
            match Self::try_start(port, mounts) {
                Ok(s) => return s,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("RTSP test server did not start on port {port}: {last}");
    }

    fn try_start(port: u16, mounts: &[(&str, PathBuf)]) -> Result<Self, String> {
        use std::io::BufRead;
        use std::process::{Command, Stdio};
        let script = workspace_root().join("scripts/rtsp_server.py");
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(&script).arg("--port").arg(port.to_string()).arg("--loop");
        for (mount, path) in mounts {
            cmd.arg("--mount").arg(format!("{mount}={}", path.display()));
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {} with /usr/bin/python3: {e}", script.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(WAIT).unwrap_or_default();
        match line.trim().strip_prefix("READY ").and_then(|p| p.parse().ok()) {
            Some(port) => Ok(Self { child, port }),
            None => {
                let _ = child.kill();
                let status = child.wait().ok();
                Err(format!("no READY line (got {line:?}, exit {status:?})"))
            }
        }
    }

    pub fn url(&self, mount: &str) -> String {
        format!("rtsp://127.0.0.1:{}{mount}", self.port)
    }

    /// Kill the server abruptly (like a camera losing power).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 with nothing listening.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}
