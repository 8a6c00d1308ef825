//! The web console in a real browser: Debian's chromium, headless, driven by playwright-core (npm) through the
//! scripts in tests/browser/, against the real server and the vtest clip. Screenshots go to target/screens/.
//! Nothing is skipped: without chromium or node_modules the tests fail and say to run `make setup`.
//!
//! - the console's pure modules pass their `node --test` unit tests (PTS matching, live-edge policy, geometry);
//! - the live-video (MSE) client follows the /ws/live contract: a fragmented MP4 of vtest streamed to the page in
//!   real time with a scripted overlay; every presented frame draws the overlay message of its PTS; an HEVC
//!   camera falls back to JPEG (`tests/browser/live.mjs`);
//! - the console shows the vtest camera's moving picture with track boxes painted, and an alert of the walkway
//!   rule with its snapshot (`tests/browser/console.mjs --rule`);
//! - signing in, drawing the walkway zone in the editor and saving it with an intrusion rule raises an alert,
//!   and a camera added from the page shows its picture and goes when removed (`console.mjs --draw-zone
//!   --add-camera`), through the admin API's zone, rule and camera routes;
//! - in cluster mode the console shows the nodes and where each camera runs: a camera split between an ingest
//!   node and an inference node on a real NATS server (`tests/browser/cluster.mjs`).

mod common;

use common::{Nats, Server, asset, config_with_cameras, ffmpeg, root, run_cli, split_node_config};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The token the console is loaded with: the admin token tests/common's `Server` starts the server with.
const TOKEN: &str = common::ADMIN_TOKEN;

/// One browser test at a time: each plays video in real time, and this machine may have two cores.
static BROWSER: Mutex<()> = Mutex::new(());

/// Most time one script may take (its own steps time out sooner, naming the step).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(300);

/// Chromium and playwright-core are in place, or the test fails saying how to get them.
fn require_browser() {
    let chromium = std::env::var("PANOPTES_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "{chromium} is missing: run `make setup` (installs Debian's chromium)");
    let playwright = root().join("node_modules/playwright-core/package.json");
    assert!(playwright.is_file(), "{} is missing: run `make setup` (npm ci)", playwright.display());
}

/// target/screens/<run>: the screenshots of one test.
fn screens(run: &str) -> PathBuf {
    let dir = root().join("target/screens").join(run);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `node args...` in the repository root; returns (success, stdout). Output is echoed for the test log.
fn node(args: &[&str]) -> (bool, String) {
    let mut child = Command::new("node")
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node (Debian package nodejs): run `make setup`");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).map(|_| s)
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        stderr.read_to_string(&mut s).map(|_| s)
    });
    let deadline = Instant::now() + SCRIPT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("node {args:?} ran longer than {SCRIPT_TIMEOUT:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let (out, err) = (out.join().unwrap().unwrap(), err.join().unwrap().unwrap());
    eprintln!("--- node {args:?}: {status}\n{out}{err}");
    (status.success(), out)
}

/// The vtest camera, with the walkway zone and its intrusion rule when `with_rule`.
fn vtest_server(with_rule: bool) -> Server {
    Server::start(&vtest_config(with_rule))
}

/// The config of [`vtest_server`].
fn vtest_config(with_rule: bool) -> String {
    let rules = if with_rule {
        "[[cameras.zones]]\nid = \"walkway\"\npolygon = [[0.0, 0.3], [1.0, 0.3], [1.0, 0.8], [0.0, 0.8]]\n\n\
         [[cameras.rules]]\nid = \"walkway-intrusion\"\nkind = \"intrusion\"\nzone = \"walkway\"\nclasses = [\"person\"]\n"
    } else {
        ""
    };
    config_with_cameras(&format!(
        "[[cameras]]\nid = \"vtest\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n{rules}",
        asset("media/vtest-h264.mp4").display()
    ))
}

fn assert_steps(out: &str, steps: &[&str]) {
    for step in steps {
        assert!(out.lines().any(|l| l.starts_with(&format!("STEP {step} ok"))), "step `{step}` did not pass:\n{out}");
    }
}

#[test]
fn console_modules_pass_their_unit_tests() {
    let (ok, out) = node(&["--test", "src/http/console/"]);
    assert!(ok, "node --test src/http/console/ failed:\n{out}");
    assert!(out.contains("# fail 0") && !out.contains("# pass 0"), "{out}");
}

#[test]
fn live_video_client_plays_the_contract_stream_with_the_overlay_in_sync() {
    require_browser();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = vtest_server(false); // serves the console; the page's channels are scripted by live.mjs
    let dir = tempfile::tempdir().unwrap();
    let (mp4, jpg) = (dir.path().join("vtest-frag.mp4"), dir.path().join("frame.jpg"));
    let vtest = asset("media/vtest-h264.mp4");
    // A fragment per key frame (every second), as a live fMP4 stream is cut.
    ffmpeg(&[
        "-i",
        vtest.to_str().unwrap(),
        "-t",
        "20",
        "-an",
        "-c",
        "copy",
        "-movflags",
        "frag_keyframe+empty_moov+default_base_moof",
        "-f",
        "mp4",
        mp4.to_str().unwrap(),
    ]);
    ffmpeg(&["-i", vtest.to_str().unwrap(), "-frames:v", "1", jpg.to_str().unwrap()]);
    let screens = screens("live-video");
    let (ok, out) = node(&[
        "tests/browser/live.mjs",
        &server.http(""),
        mp4.to_str().unwrap(),
        jpg.to_str().unwrap(),
        screens.to_str().unwrap(),
    ]);
    assert!(ok, "tests/browser/live.mjs failed (screenshot in {}):\n{out}", screens.display());
    assert_steps(&out, &["load", "fallback", "playing", "sync"]);
}

#[test]
fn console_shows_boxes_on_the_moving_picture_and_the_alerts_of_a_configured_rule() {
    require_browser();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = vtest_server(true);
    let screens = screens("configured-rule");
    let (ok, out) = node(&[
        "tests/browser/console.mjs",
        &server.http(""),
        TOKEN,
        screens.to_str().unwrap(),
        "--camera",
        "vtest",
        "--rule",
        "walkway-intrusion",
    ]);
    assert!(ok, "tests/browser/console.mjs failed (screenshots in {}):\n{out}", screens.display());
    assert_steps(&out, &["load", "live", "boxes", "alert", "event", "export"]);
    // The zip the Export evidence button downloaded verifies under the server's key.
    let (_, key) = actix_web::rt::System::new().block_on(server.get_json("/api/exports/key"));
    let zip = screens.join("export.zip");
    let (verified, stdout, stderr) =
        run_cli(&["verify", zip.to_str().unwrap(), "--key", key["public_key"].as_str().unwrap()]);
    assert!(verified, "{stdout}{stderr}");
}

#[test]
fn console_draws_a_zone_and_sees_the_alert_of_its_rule() {
    require_browser();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = vtest_server(false);
    let screens = screens("drawn-zone");
    let (ok, out) = node(&[
        "tests/browser/console.mjs",
        &server.http(""),
        TOKEN,
        screens.to_str().unwrap(),
        "--camera",
        "vtest",
        "--draw-zone",
        "walkway",
        "--add-camera",
        asset("media/street.mp4").to_str().unwrap(),
    ]);
    assert!(ok, "tests/browser/console.mjs failed (screenshots in {}):\n{out}", screens.display());
    assert_steps(&out, &["login", "load", "live", "boxes", "zone", "alert", "event", "cameras"]);
}

#[test]
fn console_shows_the_cluster_and_where_each_camera_runs() {
    require_browser();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let nats = Nats::start();
    let (rec_dir, gpu_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rec = Server::start(&split_node_config(&nats.url, "rec", "[\"ingest\", \"api\"]", rec_dir.path()));
    let _gpu = Server::start(&split_node_config(&nats.url, "gpu", "[\"infer\", \"api\"]", gpu_dir.path()));
    let screens = screens("cluster");
    let (ok, out) =
        node(&["tests/browser/cluster.mjs", &rec.http(""), TOKEN, screens.to_str().unwrap(), "yard", "rec", "gpu"]);
    assert!(ok, "tests/browser/cluster.mjs failed (screenshots in {}):\n{out}", screens.display());
    assert!(out.contains("RESULT") && out.contains("\"running\""), "{out}");
}

#[test]
fn console_shows_a_webhook_retrying_and_why() {
    require_browser();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    // A hook whose receiver is not there (a port nothing listens on): the first event is retried. And an
    // MQTT broker that is not there either.
    let (a, b) =
        (std::net::TcpListener::bind("127.0.0.1:0").unwrap(), std::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let (closed, no_broker) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    drop((a, b));
    let server = Server::start(&format!(
        "{}\n[[webhooks]]\nid = \"ops\"\nurl = \"http://{closed}/hook\"\nretry_initial_sec = 0.5\nretry_max_sec = 2.0\n\n\
         [mqtt]\nurl = \"mqtt://{no_broker}\"\nretry_max_sec = 2.0\n",
        vtest_config(true)
    ));
    let screens = screens("webhooks");
    let (ok, out) = node(&[
        "tests/browser/webhooks.mjs",
        &server.http(""),
        TOKEN,
        screens.to_str().unwrap(),
        "ops",
        "retrying event",
    ]);
    assert!(ok, "tests/browser/webhooks.mjs failed (screenshots in {}):\n{out}", screens.display());
    assert!(
        out.contains("cannot reach") && out.contains("(unsigned)"),
        "the row says why and that it is unsigned: {out}"
    );
    assert!(
        out.contains(&format!("mqtt://{no_broker} (QoS 1, Home Assistant discovery)")) && out.contains("not connected"),
        "the MQTT row names the broker and says it is not connected: {out}"
    );
    // The events waiting for the broker are counted while it is away.
    actix_web::rt::System::new().block_on(common::wait_for(
        "the MQTT backlog to count the events waiting for the broker",
        Duration::from_secs(30),
        async || {
            let (_, m) = server.get_json("/api/mqtt").await;
            (m["mqtt"]["backlog"].as_i64()? > 0 && m["mqtt"]["connected"] == false).then_some(())
        },
    ));
}
