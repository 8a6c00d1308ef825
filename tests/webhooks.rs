//! Webhooks against a real HTTP receiver on loopback: a receiver that fails, then hangs past the timeout,
//! then recovers after the server was killed with `kill -9`; every event is delivered, signed, in id order,
//! and the hook's status and metrics say what happened.

mod common;

use common::*;
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec-test-4f1d9b";

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answer this status at once.
    Status(u16),
    /// Answer 200 after this long.
    Hang(Duration),
}

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Got {
    hook: String,
    event_id: i64,
    timestamp: i64,
    signature: Option<String>,
    body: Vec<u8>,
    /// Answered 2xx at once (not after a hang the sender gave up on).
    accepted: bool,
}

#[derive(Clone)]
struct Receiver {
    mode: Arc<Mutex<Mode>>,
    got: Arc<Mutex<Vec<Got>>>,
    url: String,
}

impl Receiver {
    fn start() -> Self {
        let (mode, got) = (Arc::new(Mutex::new(Mode::Status(503))), Arc::new(Mutex::new(Vec::new())));
        let (m, g) = (mode.clone(), got.clone());
        let server = actix_web::HttpServer::new(move || {
            let (m, g) = (m.clone(), g.clone());
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest, body: actix_web::web::Bytes| {
                    let (m, g) = (m.clone(), g.clone());
                    async move {
                        let header = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
                        let mode = *m.lock().unwrap();
                        let mut got = Got {
                            hook: header("X-Panoptes-Webhook").unwrap_or_default(),
                            event_id: header("X-Panoptes-Event-Id").and_then(|v| v.parse().ok()).unwrap_or(-1),
                            timestamp: header("X-Panoptes-Timestamp").and_then(|v| v.parse().ok()).unwrap_or(-1),
                            signature: header("X-Panoptes-Signature"),
                            body: body.to_vec(),
                            accepted: false,
                        };
                        match mode {
                            Mode::Status(code) => {
                                got.accepted = (200..300).contains(&code);
                                g.lock().unwrap().push(got);
                                actix_web::HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                                    .finish()
                            }
                            Mode::Hang(d) => {
                                g.lock().unwrap().push(got);
                                actix_web::rt::time::sleep(d).await;
                                actix_web::HttpResponse::Ok().finish()
                            }
                        }
                    }
                },
            ))
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}/hook", server.addrs()[0]);
        actix_web::rt::spawn(server.run());
        Self { mode, got, url }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

fn config(receiver: &Receiver, store: &std::path::Path) -> String {
    let mut toml = config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n\n\
         [[webhooks]]\nid = \"ops\"\nurl = \"{url}\"\nsecret_env = \"PANOPTES_TEST_WEBHOOK_SECRET\"\ncameras = [\"yard\"]\n\
         timeout_sec = 1.0\nretry_initial_sec = 0.2\nretry_max_sec = 1.0\n\n\
         [[webhooks]]\nid = \"fire-only\"\nurl = \"{url}\"\nkinds = [\"fire\"]\n",
        asset("media/vtest-h264.mp4").display(),
        url = receiver.url
    ));
    toml.push_str(&store_section(store));
    toml
}

fn start(receiver: &Receiver, store: &std::path::Path) -> Server {
    Server::start_with_env(&config(receiver, store), &[("PANOPTES_TEST_WEBHOOK_SECRET", SECRET)])
}

async fn hook_status(server: &Server, id: &str) -> Value {
    let (status, body) = server.get_json("/api/webhooks").await;
    assert_eq!(status, 200, "{body}");
    body["webhooks"].as_array().unwrap().iter().find(|h| h["id"] == id).cloned().unwrap_or_else(|| panic!("{body}"))
}

async fn event_ids(server: &Server) -> BTreeSet<i64> {
    let (_, body) = server.get_json("/api/events?camera=yard&limit=1000").await;
    body["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

#[actix_web::test]
async fn events_are_delivered_signed_in_order_through_failures_timeouts_and_a_crash() {
    let receiver = Receiver::start();
    let store = tempfile::tempdir().unwrap();
    let mut server = start(&receiver, store.path());

    // 1. The receiver answers 503: the first event is retried with backoff, and the status says so.
    wait_for("three failed attempts", Duration::from_secs(60), async || (receiver.got().len() >= 3).then_some(()))
        .await;
    let ops = hook_status(&server, "ops").await;
    assert_eq!(ops["delivered"], 0, "{ops}");
    assert!(ops["last_error"].as_str().unwrap().contains("503"), "{ops}");
    assert!(ops["retrying"]["attempts"].as_u64().unwrap() >= 1, "{ops}");
    assert_eq!(ops["signed"], true, "{ops}");
    let first = receiver.got()[0].event_id;
    assert!(
        receiver.got().iter().all(|g| g.event_id == first && g.hook == "ops"),
        "later events wait behind the first"
    );

    // 2. The receiver hangs past timeout_sec: a timeout is a failure too.
    receiver.set(Mode::Hang(Duration::from_secs(3)));
    wait_for("a timed-out attempt", Duration::from_secs(20), async || {
        let ops = hook_status(&server, "ops").await;
        ops["last_error"].as_str().unwrap_or("").contains("no answer within").then_some(())
    })
    .await;

    // 3. kill -9 while the event is pending; the receiver recovers; the restarted server resumes from the store.
    server.kill();
    receiver.set(Mode::Status(200));
    let server = start(&receiver, store.path());
    let stored = event_ids(&server).await;
    assert!(stored.contains(&first), "the pending event is in the store");
    let stored = wait_for("events stored after the restart", Duration::from_secs(60), async || {
        let ids = event_ids(&server).await;
        (ids.len() > stored.len()).then_some(ids)
    })
    .await;
    wait_for("every stored event delivered", Duration::from_secs(60), async || {
        let delivered: BTreeSet<i64> = receiver.got().iter().filter(|g| g.accepted).map(|g| g.event_id).collect();
        stored.is_subset(&delivered).then_some(())
    })
    .await;

    // In order, each once (nothing was accepted before the crash), each signed over its timestamp and body.
    let accepted: Vec<Got> = receiver.got().into_iter().filter(|g| g.accepted).collect();
    let ids: Vec<i64> = accepted.iter().map(|g| g.event_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "delivered in id order, each once: {ids:?}");
    assert_eq!(ids[0], first, "the pending event first");
    for g in &accepted {
        let body: Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!((body["id"].as_i64(), body["camera"].as_str()), (Some(g.event_id), Some("yard")), "{body}");
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{}.", g.timestamp).as_bytes());
        mac.update(&g.body);
        let want: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(g.signature.as_deref(), Some(format!("sha256={want}").as_str()), "event {}", g.event_id);
        let age = panoptes_actors::time::now_unix_ms() / 1000 - g.timestamp;
        assert!((0..120).contains(&age), "the timestamp is the sending time: {age} s old");
    }
    assert!(receiver.got().iter().all(|g| g.hook == "ops"), "the fire-only hook sends no intrusion event");

    let ops = hook_status(&server, "ops").await;
    assert!(ops["delivered"].as_u64().unwrap() >= stored.len() as u64, "{ops}");
    assert!(ops["after_id"].as_i64().unwrap() >= *stored.last().unwrap(), "{ops}");
    let fire = hook_status(&server, "fire-only").await;
    assert_eq!(fire["delivered"], 0, "{fire}");
    assert!(fire["after_id"].as_i64().unwrap() >= *stored.last().unwrap(), "not wanted is handled: {fire}");
    let (_, _, text) = get_bytes(&server, "/metrics", None).await;
    let text = String::from_utf8_lossy(&text);
    assert!(
        text.lines().any(|l| l.starts_with("panoptes_webhook_deliveries_total")
            && l.contains("hook=\"ops\"")
            && l.contains("result=\"delivered\"")),
        "{text}"
    );
}

#[actix_web::test]
async fn a_bad_webhook_url_is_refused_at_start_naming_the_field() {
    let receiver =
        Receiver { mode: Arc::new(Mutex::new(Mode::Status(200))), got: Arc::default(), url: "ftp://x/y".into() };
    let store = tempfile::tempdir().unwrap();
    let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(f.path(), config(&receiver, store.path())).unwrap();
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("webhooks.ops.url") && stderr.contains("http://"), "{stderr}");
}

#[actix_web::test]
async fn an_event_refused_max_attempts_times_is_given_up_and_the_hook_moves_on() {
    let receiver = Receiver::start(); // answers 503 throughout
    let store = tempfile::tempdir().unwrap();
    let toml = config(&receiver, store.path()).replace(
        "timeout_sec = 1.0\nretry_initial_sec = 0.2\nretry_max_sec = 1.0\n",
        "timeout_sec = 1.0\nretry_initial_sec = 0.1\nretry_max_sec = 0.2\nmax_attempts = 2\n",
    );
    let server = Server::start_with_env(&toml, &[("PANOPTES_TEST_WEBHOOK_SECRET", SECRET)]);
    let ops = wait_for("two events given up", Duration::from_secs(60), async || {
        let ops = hook_status(&server, "ops").await;
        (ops["given_up"].as_i64().unwrap_or(0) >= 2).then_some(ops)
    })
    .await;
    assert_eq!(ops["delivered"], 0, "{ops}");
    assert!(ops["after_id"].as_i64().unwrap() >= 2, "moved past them: {ops}");
    // Each given-up event was tried exactly max_attempts times, one after the other.
    let got = receiver.got();
    let ids: Vec<i64> = got.iter().map(|g| g.event_id).take(4).collect();
    assert_eq!(ids, [ids[0], ids[0], ids[2], ids[2]], "{ids:?}");
    assert!(ids[2] > ids[0], "{ids:?}");
    let (_, _, text) = get_bytes(&server, "/metrics", None).await;
    let text = String::from_utf8_lossy(&text);
    assert!(text.lines().any(|l| l.contains("panoptes_webhook_deliveries_total") && l.contains("result=\"given_up\"")));
}
