//! Helpers shared by the integration tests: the real `panoptes` binary on port 0, the loopback RTSP
//! server (`scripts/rtsp_server.py`, GStreamer), and an overlay WebSocket client.
#![allow(dead_code)]

pub mod video;

use futures::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The workspace root (tests run with the package root as working directory).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// An asset prepared by `scripts/setup.sh`; panics with the fix when it is missing.
pub fn asset(rel: &str) -> PathBuf {
    let p = root().join("var").join(rel);
    assert!(p.is_file(), "{} is missing: run `make setup` (scripts/setup.sh) first", p.display());
    p
}

/// Run the ffmpeg CLI quietly with `args` (after `-y`); panics when it fails.
pub fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .status()
        .expect("running ffmpeg: run `make setup`");
    assert!(status.success(), "ffmpeg {args:?} failed");
}

/// The first `secs` seconds of the media asset `src` (a path under `var/`), cut without re-encoding into
/// `dir/clip.mp4`.
pub fn cut_clip(src: &str, dir: &Path, secs: u32) -> PathBuf {
    let out = dir.join("clip.mp4");
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i"])
        .arg(asset(src))
        .args(["-t", &secs.to_string(), "-c", "copy"])
        .arg(&out)
        .status()
        .expect("ffmpeg (installed by scripts/setup.sh)");
    assert!(status.success());
    out
}

/// Reads a child's output lines on a thread, so the child never blocks on a full pipe.
fn pump_lines(out: impl std::io::Read + Send + 'static, tag: &'static str) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            eprintln!("[{tag}] {line}");
            let _ = tx.send(line);
        }
    });
    rx
}

fn wait_for_line(
    rx: &mpsc::Receiver<String>,
    what: &str,
    timeout: Duration,
    f: impl Fn(&str) -> Option<String>,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(v) = f(&line) {
                    return v;
                }
            }
            Err(e) => panic!("waiting for {what}: {e:?}"),
        }
    }
}

/// A running loopback RTSP server.
pub struct RtspServer {
    child: Child,
    pub port: u16,
    mounts: Vec<(String, PathBuf)>,
    looped: bool,
}

impl RtspServer {
    /// Serve each `(mount, file)` on 127.0.0.1 (`port` 0: any free port).
    pub fn start(mounts: &[(&str, &Path)], port: u16) -> Self {
        Self::start_with(mounts, port, false)
    }

    /// [`RtspServer::start`], each file replayed forever when `looped` (one continuous stream, like a camera).
    pub fn start_with(mounts: &[(&str, &Path)], port: u16, looped: bool) -> Self {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(root().join("scripts/rtsp_server.py")).arg("--port").arg(port.to_string());
        if looped {
            cmd.arg("--loop");
        }
        for (m, f) in mounts {
            cmd.arg("--mount").arg(format!("{m}={}", f.display()));
        }
        let mut child =
            cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("starting scripts/rtsp_server.py");
        let rx = pump_lines(child.stdout.take().unwrap(), "rtsp");
        let port = wait_for_line(&rx, "the RTSP server's READY line", Duration::from_secs(20), |l| {
            l.strip_prefix("READY ").and_then(|p| p.trim().parse().ok())
        });
        let port: u16 = port.parse().unwrap();
        let mounts = mounts.iter().map(|(m, f)| (m.to_string(), f.to_path_buf())).collect();
        Self { child, port, mounts, looped }
    }

    /// The server's process id (to stop it with SIGSTOP).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, mount: &str) -> String {
        format!("rtsp://127.0.0.1:{}{mount}", self.port)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Start again on the same port with the same mounts.
    pub fn restart(&mut self) {
        self.stop();
        let mounts: Vec<(&str, &Path)> = self.mounts.iter().map(|(m, f)| (m.as_str(), f.as_path())).collect();
        let again = Self::start_with(&mounts, self.port, self.looped);
        let _ = std::mem::replace(self, again);
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The admin token every test server starts with (`PANOPTES_ADMIN_TOKEN`).
pub const ADMIN_TOKEN: &str = "test-admin-token-7f3c9a";

/// The `panoptes run` process with a config written for the test.
pub struct Server {
    running: Running,
    pub addr: String,
    _config: tempfile::NamedTempFile,
    /// The event store's directory, when the test's config gave none.
    pub store_dir: Option<tempfile::TempDir>,
    /// The child's stderr lines (an in-process server logs to the test's own output: nothing comes here).
    pub stderr: mpsc::Receiver<String>,
}

/// How the server runs: the real binary as a child process, or the application built inside the test.
enum Running {
    Child(Child),
    InProcess,
}

/// `config_toml` in a temporary file, with a `[store]` in a fresh temporary directory when it has none.
fn write_config(config_toml: &str) -> (tempfile::NamedTempFile, Option<tempfile::TempDir>) {
    let mut toml = config_toml.to_string();
    let store_dir = (!toml.contains("[store]")).then(|| {
        let dir = tempfile::tempdir().unwrap();
        toml.push_str(&store_section(dir.path()));
        dir
    });
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    (f, store_dir)
}

/// A config with the COCO model, one single-threaded CPU device, listening on port 0, and `cameras` (TOML).
pub fn config_with_cameras(cameras: &str) -> String {
    format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[model]\npath = \"{}\"\n\n[[devices]]\nid = \"cpu0\"\nintra_threads = 1\nmax_batch = 4\n\n{cameras}",
        asset("models/yolov3-tiny-coco.onnx").display()
    )
}

/// `config` (from [`config_with_cameras`]) with file cameras allowed under `roots` (`[server] media_roots`).
pub fn with_media_roots(config: &str, roots: &[&str]) -> String {
    let list: Vec<String> = roots.iter().map(|r| format!("{r:?}")).collect();
    config.replacen("[server]\n", &format!("[server]\nmedia_roots = [{}]\n", list.join(", ")), 1)
}

impl Server {
    /// Run with `config_toml`; without a `[store]` section the events go to a fresh temporary directory,
    /// never to the operator's `var/`.
    pub fn start(config_toml: &str) -> Self {
        Self::start_with_env(config_toml, &[])
    }

    /// [`Server::start`] with these environment variables set for the server.
    pub fn start_with_env(config_toml: &str, env: &[(&str, &str)]) -> Self {
        let (f, store_dir) = write_config(config_toml);
        let mut child = Command::new(env!("CARGO_BIN_EXE_panoptes"))
            .args(["run", "--config"])
            .arg(f.path())
            .current_dir(root())
            .env("RUST_LOG", "info")
            .env("PANOPTES_ADMIN_TOKEN", ADMIN_TOKEN)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting panoptes");
        let out = pump_lines(child.stdout.take().unwrap(), "panoptes");
        let stderr = pump_lines(child.stderr.take().unwrap(), "panoptes");
        let addr = wait_for_line(&out, "panoptes' listening line", Duration::from_secs(60), |l| {
            l.strip_prefix("panoptes listening on http://").and_then(|r| r.split('/').next()).map(str::to_string)
        });
        Self { running: Running::Child(child), addr, _config: f, store_dir, stderr }
    }

    /// The same server built inside this test (`panoptes::app::Application`, port 0), no child process: for
    /// tests that only talk HTTP and WebSocket to it. It stops when the test's actix system does.
    pub async fn in_process(config_toml: &str) -> Self {
        let (f, store_dir) = write_config(config_toml);
        let config = panoptes::settings::load(Some(f.path())).expect("the test's config");
        let deps = panoptes::app::Deps {
            metrics: panoptes::metrics::detached().unwrap(),
            admin_token: Some(ADMIN_TOKEN.into()),
        };
        let app = panoptes::app::Application::build(config, deps).await.expect("building the application");
        let addr = app.addr().to_string();
        actix_web::rt::spawn(app.run_until_stopped());
        let (_, stderr) = mpsc::channel();
        Self { running: Running::InProcess, addr, _config: f, store_dir, stderr }
    }

    /// The server's process id (a child server only).
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Child(child) => Some(child.id()),
            Running::InProcess => None,
        }
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request to `path` carrying the admin token.
    pub fn request(&self, method: awc::http::Method, path: &str) -> awc::ClientRequest {
        self.request_as(method, path, Some(ADMIN_TOKEN))
    }

    /// A request to `path` with `token` (none: no `Authorization` header).
    pub fn request_as(&self, method: awc::http::Method, path: &str, token: Option<&str>) -> awc::ClientRequest {
        let req = awc::Client::builder().timeout(Duration::from_secs(30)).finish().request(method, self.http(path));
        match token {
            Some(t) => req.insert_header(("Authorization", format!("Bearer {t}"))),
            None => req,
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        self.send_json(awc::http::Method::GET, path, None).await
    }

    /// Send `body` (if any) as JSON with the admin token; the answer's status and JSON body (`null` when empty).
    pub async fn send_json(
        &self,
        method: awc::http::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        send(self.request(method, path), body).await
    }

    /// A WebSocket to `path` (e.g. `/ws/alerts?after=3`) with the admin token.
    pub async fn ws(&self, path: &str) -> impl WsConn + use<> {
        self.ws_as(path, ADMIN_TOKEN).await
    }

    /// A WebSocket to `path` with `token`.
    pub async fn ws_as(&self, path: &str, token: &str) -> impl WsConn + use<> {
        awc::Client::default()
            .ws(format!("ws://{}{path}", self.addr))
            .bearer_auth(token)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("WebSocket {path}: {e}"))
            .1
    }

    /// Send SIGTERM and wait (at most `timeout`) for the process to exit; its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let Running::Child(child) = &mut self.running else { panic!("terminate: an in-process server is no process") };
        let pid = child.id().to_string();
        let ok = Command::new("kill").args(["-TERM", &pid]).status().expect("running kill").success();
        assert!(ok, "kill -TERM {pid} failed");
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().expect("waiting for panoptes") {
                return status;
            }
            assert!(Instant::now() < deadline, "panoptes did not exit within {timeout:?} of SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Collect overlay messages until `done` says enough, or panic after `timeout`.
    pub async fn overlay_until(
        &self,
        camera: &str,
        timeout: Duration,
        mut done: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let mut ws = self.ws(&format!("/ws/overlay?camera={camera}")).await;
        let mut msgs = Vec::new();
        let deadline = tokio::time::Instant::now() + timeout;
        while !done(&msgs) {
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Ok(Some(Ok(awc::ws::Frame::Text(bytes)))) => msgs.push(serde_json::from_slice(&bytes).unwrap()),
                // The server closes clients that stay silent for 15 s: answer its pings.
                Ok(Some(Ok(awc::ws::Frame::Ping(bytes)))) => ws.send(awc::ws::Message::Pong(bytes)).await.unwrap(),
                Ok(Some(Ok(_))) => {}
                Ok(other) => panic!("overlay WebSocket of {camera} ended: {other:?}"),
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting on the overlay of {camera}; got {} messages",
                    msgs.len()
                ),
            }
        }
        msgs
    }

    pub fn kill(&mut self) {
        if let Running::Child(child) = &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client WebSocket connection (awc's framed socket).
pub trait WsConn:
    futures::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
    + futures::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
    + Unpin
{
}
impl<T> WsConn for T where
    T: futures::Stream<Item = Result<awc::ws::Frame, awc::error::WsProtocolError>>
        + futures::Sink<awc::ws::Message, Error = awc::error::WsProtocolError>
        + Unpin
{
}

/// Send a request with an optional JSON body; the status and the JSON answer (`null` when empty).
pub async fn send(req: awc::ClientRequest, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let mut resp = match body {
        Some(b) => req.send_json(&b).await,
        None => req.send().await,
    }
    .expect("HTTP request");
    let status = resp.status().as_u16();
    let bytes = resp.body().limit(1 << 22).await.expect("HTTP body");
    let json = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
    };
    (status, json)
}

/// A `[store]` section keeping events and snapshots in `dir`.
pub fn store_section(dir: &Path) -> String {
    format!(
        "\n[store]\npath = \"{}\"\nsnapshot_dir = \"{}\"\n",
        dir.join("events.db").display(),
        dir.join("snapshots").display()
    )
}

/// Runs `panoptes` with `args` to completion; returns (success, stdout, stderr).
pub fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_panoptes")).args(args).current_dir(root()).output().expect("running panoptes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The longest run of consecutive messages in which one track id stays present with `label`.
pub fn longest_track_run(msgs: &[serde_json::Value], label: &str) -> (u64, usize) {
    use std::collections::HashMap;
    let mut run: HashMap<u64, usize> = HashMap::new();
    let mut best = (0, 0);
    for m in msgs {
        let ids: Vec<u64> = m["tracks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["label"] == label)
            .map(|t| t["id"].as_u64().unwrap())
            .collect();
        run.retain(|id, _| ids.contains(id));
        for id in ids {
            let n = run.entry(id).or_insert(0);
            *n += 1;
            if *n > best.1 {
                best = (id, *n);
            }
        }
    }
    best
}

/// `GET path` (with an optional `Range`): status, headers and the whole body (up to 256 MiB).
pub async fn get_bytes(
    server: &Server,
    path: &str,
    range: Option<&str>,
) -> (u16, awc::http::header::HeaderMap, Vec<u8>) {
    let mut req = server.request(awc::http::Method::GET, path);
    if let Some(r) = range {
        req = req.insert_header(("Range", r));
    }
    let mut resp = req.send().await.expect("HTTP request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.body().limit(256 << 20).await.expect("body").to_vec();
    (status, headers, body)
}

/// Poll `f` every 250 ms until it gives a value, or panic after `timeout`.
pub async fn wait_for<T>(what: &str, timeout: Duration, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `nats-server -js` on a free loopback port with its JetStream store in a temporary directory.
pub struct Nats {
    child: Child,
    pub url: String,
    /// Its monitoring port (servers of a cluster only).
    monitor: Option<u16>,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Nats {
    /// One server alone.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// One server alone on `port`.
    pub fn start_on(port: u16) -> Self {
        Self::spawn(port, &[], None)
    }

    /// `n` servers in one JetStream cluster (`panoptes`) on loopback, returned once JetStream has elected its
    /// meta leader (streams with replicas can be made).
    pub fn cluster(n: usize) -> Vec<Self> {
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let all = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect::<Vec<_>>().join(",");
        let servers: Vec<Self> = routes
            .iter()
            .enumerate()
            .map(|(i, route)| {
                let (name, listen, monitor) = (format!("s{i}"), format!("nats://127.0.0.1:{route}"), free_port());
                let args = ["-n", &name, "--cluster_name", "panoptes", "-cluster", &listen, "-routes", &all];
                Self::spawn(free_port(), &args, Some(monitor))
            })
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !servers.iter().all(Self::has_meta_leader) {
            assert!(std::time::Instant::now() < deadline, "the NATS cluster elected no JetStream leader within 30 s");
            std::thread::sleep(Duration::from_millis(200));
        }
        servers
    }

    fn spawn(port: u16, extra: &[&str], monitor: Option<u16>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("nats-server");
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"]).arg(dir.path()).args(extra);
        if let Some(m) = monitor {
            cmd.args(["-m", &m.to_string()]);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server (Debian package nats-server; scripts/setup.sh installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nats-server did not listen on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("nats://127.0.0.1:{port}"), monitor, _dir: dir }
    }

    /// This server's JetStream report (`/jsz` with `query`), as JSON.
    fn jsz(&self, query: &str) -> Option<serde_json::Value> {
        let port = self.monitor?;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
        let request = format!("GET /jsz{query} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
        s.write_all(request.as_bytes()).ok()?;
        let mut response = String::new();
        std::io::Read::read_to_string(&mut s, &mut response).ok()?;
        serde_json::from_str(response.split_once("\r\n\r\n")?.1).ok()
    }

    /// Whether this server knows the JetStream meta leader (a server alone always does).
    fn has_meta_leader(&self) -> bool {
        self.monitor.is_none() || self.jsz("").is_some_and(|j| j["meta_cluster"]["leader"].is_string())
    }

    /// The name (`s<i>`) of the server leading `stream`'s replicas, as this server reports it.
    pub fn stream_leader(&self, stream: &str) -> Option<String> {
        let jsz = self.jsz("?accounts=true&streams=true")?;
        jsz["account_details"].as_array()?.iter().find_map(|account| {
            let s = account["stream_detail"].as_array()?.iter().find(|s| s["name"] == stream)?;
            s["cluster"]["leader"].as_str().map(str::to_owned)
        })
    }

    /// Kill the server (`kill -9`).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A node of a cluster on `nats_url` with `roles` (a TOML array) whose file seeds the camera `yard` (the vtest
/// clip, people analysed 5 times a second, an intrusion rule over the whole picture), recorded in 2 s segments
/// under `store`.
pub fn split_node_config(nats_url: &str, node: &str, roles: &str, store: &Path) -> String {
    let mut toml = config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n\n\
         [cluster]\nnats_url = \"{nats_url}\"\nnode_id = \"{node}\"\nroles = {roles}\nlease_sec = 2.0\n",
        asset("media/vtest-h264.mp4").display()
    ));
    toml.push_str(&store_section(store));
    toml.push_str(&format!(
        "\n[recording]\nenabled = true\ndir = \"{}\"\nsegment_sec = 2.0\nclip_pre_sec = 2.0\nclip_post_sec = 1.0\n",
        store.join("recordings").display()
    ));
    toml
}

/// Debian's `mosquitto` MQTT broker on a loopback port, its config and persistence in a temporary directory
/// (saved every second, so a subscriber's session survives `kill -9`); killed on drop.
pub struct Mosquitto {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    /// A broker on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// A broker on `port` (nothing started yet there: see [`Mosquitto::restart`]).
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, "")
    }

    /// A broker on `port` with `extra` lines of config after its own (another listener, say).
    pub fn start_with(port: u16, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nautosave_interval 1\n{extra}",
            dir.path().display()
        );
        std::fs::write(dir.path().join("mosquitto.conf"), conf).unwrap();
        // Started as root, mosquitto runs as the user `mosquitto`, which must write its persistence file here.
        let _ = std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777));
        let mut broker = Self { child: None, port, dir };
        broker.restart();
        broker
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Whether the broker has saved its state (sessions, subscriptions, retained messages) at least once.
    pub fn saved(&self) -> bool {
        self.dir.path().join("mosquitto.db").exists()
    }

    /// Start the broker again on the same port with the same directory.
    pub fn restart(&mut self) {
        self.kill();
        // Debian installs it in /usr/sbin, which a non-login PATH may lack.
        let program = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists());
        let child = Command::new(program.unwrap_or("mosquitto"))
            .arg("-c")
            .arg(self.dir.path().join("mosquitto.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting mosquitto (Debian package mosquitto; scripts/setup.sh installs it)");
        self.child = Some(child);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "mosquitto did not listen on port {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kill the broker (`kill -9`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A port on loopback nothing listens on (at the time of asking).
pub fn unused_port() -> u16 {
    free_port()
}
