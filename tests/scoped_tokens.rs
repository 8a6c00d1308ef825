//! Camera-scoped tokens against the real server. An admin token limited to camera `gate` walks every route of
//! the OpenAPI document, and nothing of camera `lobby` shows: a route about a `lobby` camera, event or segment
//! answers exactly as for one that does not exist; lists, health, the cluster view, exports and both
//! WebSockets carry `gate` only; writes aimed at `lobby` change nothing. Metrics are aside (their labels name
//! every camera; `docs/api.md` says so).

mod common;

use awc::http::Method;
use common::*;
use serde_json::{Value, json};
use std::time::Duration;

const SEEN: &str = "gate";
const HIDDEN: &str = "lobby";
const MISSING: &str = "nosuch";
/// An event or segment id no row has.
const NO_ROW: i64 = 1 << 40;

fn server(store: &std::path::Path) -> Server {
    let camera = |id: &str| {
        format!(
            "[[cameras]]\nid = \"{id}\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
             [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
             [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n\n",
            asset("media/vtest-h264.mp4").display()
        )
    };
    let mut toml = config_with_cameras(&(camera(SEEN) + &camera(HIDDEN)));
    toml.push_str(&store_section(store));
    toml.push_str(&format!(
        "\n[recording]\nenabled = true\ndir = \"{}\"\nsegment_sec = 2.0\nclip_pre_sec = 1.0\nclip_post_sec = 1.0\n",
        store.join("recordings").display()
    ));
    Server::start(&toml)
}

/// The answer to `method path` with `token`: status and body as text.
async fn answer(server: &Server, method: Method, path: &str, token: &str, body: Option<&Value>) -> (u16, String) {
    let req = server.request_as(method, path, Some(token));
    let mut resp = match body {
        Some(b) => req.send_json(b).await,
        None => req.send().await,
    }
    .unwrap_or_else(|e| panic!("{path}: {e}"));
    let bytes = resp.body().limit(256 << 20).await.unwrap();
    (resp.status().as_u16(), String::from_utf8_lossy(&bytes).into_owned())
}

/// `lobby`'s rows that the walk aims at.
struct Hidden {
    event: i64,
    segment: i64,
}

/// One request of the walk, aimed at `lobby`'s data, and the same request aimed at data that does not exist
/// (equal when the route names nothing of a camera).
struct Probe {
    hidden: (String, Option<Value>),
    missing: (String, Option<Value>),
}

/// The probes of one route of the document. Panics on a path parameter it does not know, so a new route
/// cannot pass unwalked.
fn probes(method: &str, template: &str, h: &Hidden) -> Vec<Probe> {
    let fill = |hidden: bool| -> String {
        let segments: Vec<String> = template
            .split('/')
            .map(|seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                None => seg.to_string(),
                Some("id") if template.starts_with("/api/cameras/") => (if hidden { HIDDEN } else { MISSING }).into(),
                Some("id") if template.starts_with("/api/events/") => {
                    (if hidden { h.event } else { NO_ROW }).to_string()
                }
                // Token routes are refused to a scoped token whatever the id.
                Some("id") if template.starts_with("/api/tokens/") => "1".into(),
                Some("segment") => (if hidden { h.segment } else { NO_ROW }).to_string(),
                Some("camera") => (if hidden { HIDDEN } else { MISSING }).into(),
                Some("zone" | "line" | "rule") => (if hidden { "all" } else { MISSING }).into(),
                Some("file") => "app.js".into(),
                Some(other) => panic!("{method} {template}: the walk does not know path parameter `{other}`; add it"),
            })
            .collect();
        segments.join("/")
    };
    let (hidden, missing) = (fill(true), fill(false));
    match (method, template) {
        ("post", "/api/exports") => vec![
            Probe {
                hidden: (hidden.clone(), Some(json!({ "events": [h.event] }))),
                missing: (missing.clone(), Some(json!({ "events": [NO_ROW] }))),
            },
            Probe {
                hidden: (hidden, Some(json!({ "camera": HIDDEN, "start_ms": 0, "duration_ms": 3_600_000 }))),
                missing: (missing, Some(json!({ "camera": MISSING, "start_ms": 0, "duration_ms": 3_600_000 }))),
            },
        ],
        ("post" | "put", _) => vec![Probe { hidden: (hidden, Some(json!({}))), missing: (missing, Some(json!({}))) }],
        _ => vec![Probe { hidden: (hidden, None), missing: (missing, None) }],
    }
}

#[actix_web::test]
async fn a_token_for_one_camera_sees_nothing_of_another_on_any_route() {
    let store = tempfile::tempdir().unwrap();
    let server = server(store.path());

    // `lobby` has an event with a snapshot and a recorded segment; `gate` has events too.
    let hidden = wait_for("events of both cameras and a segment of lobby", Duration::from_secs(120), async || {
        let (_, page) = server.get_json("/api/events?limit=1000").await;
        let events = page["events"].as_array()?;
        events.iter().find(|e| e["camera"] == SEEN)?;
        let event = events.iter().find(|e| e["camera"] == HIDDEN && e["snapshot_url"].is_string())?["id"].as_i64()?;
        let (_, recs) = server.get_json(&format!("/api/cameras/{HIDDEN}/recordings?start=0&end={}", i64::MAX)).await;
        let segment = recs["segments"].as_array()?.first()?["id"].as_i64()?;
        Some(Hidden { event, segment })
    })
    .await;

    let (status, made) = server
        .send_json(
            Method::POST,
            "/api/tokens",
            Some(json!({ "name": "gate desk", "role": "admin", "cameras": [SEEN] })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["cameras"], json!([SEEN]), "{made}");
    let token = made["token"].as_str().unwrap().to_owned();

    let (_, doc) = server.get_json("/api/openapi.json").await;
    let mut walked = 0;
    for (template, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let reach =
                op["x-panoptes-reach"].as_str().unwrap_or_else(|| panic!("{method} {template} states no reach"));
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            walked += 1;
            if template == "/metrics" || template == "/ws/overlay" || template == "/ws/alerts" {
                continue; // labels aside; the WebSockets are walked below, as WebSockets
            }
            for p in probes(method, template, &hidden) {
                let (path, body) = &p.hidden;
                let got = answer(&server, m.clone(), path, &token, body.as_ref()).await;
                let what = format!("{method} {path} {body:?} with a token for {SEEN}");
                if p.hidden == p.missing {
                    // Names nothing of a camera: it must show nothing of lobby.
                    assert!(!got.1.contains(HIDDEN), "{what} shows {HIDDEN}: {}", got.1);
                    if reach == "everything" {
                        assert_eq!(got.0, 403, "{what} is for tokens over every camera: {got:?}");
                    } else {
                        assert!(got.0 < 300, "{what}: {got:?}");
                    }
                    if reach == "filtered" && m == Method::GET {
                        // The control: an admin for every camera does see lobby here.
                        let all = answer(&server, m.clone(), path, ADMIN_TOKEN, None).await;
                        assert!(all.1.contains(HIDDEN), "{method} {path} shows no {HIDDEN} even to the admin: {all:?}");
                    }
                } else {
                    // About lobby's data: answered exactly as data that does not exist.
                    let (mpath, mbody) = &p.missing;
                    let missing = answer(&server, m.clone(), mpath, &token, mbody.as_ref()).await;
                    assert!(got.0 >= 400, "{what}: {got:?}");
                    let as_missing = got
                        .1
                        .replace(HIDDEN, MISSING)
                        .replace(&format!("event {}", hidden.event), &format!("event {NO_ROW}"))
                        .replace(&format!("segment {}", hidden.segment), &format!("segment {NO_ROW}"));
                    assert_eq!((got.0, as_missing), missing, "{what} answers unlike {mpath} {mbody:?}");
                }
            }
        }
    }
    assert!(walked >= 40, "the document has {walked} operations");

    // The overlay without a camera: gate's frames only, while lobby's frames flow (the admin sees them).
    let frames_of = async |token: &str, want: &str| {
        let mut ws = server.ws_as("/ws/overlay", token).await;
        let mut cameras = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while cameras.iter().filter(|c| *c == want).count() < 20 {
            use futures::{SinkExt, StreamExt};
            match tokio::time::timeout_at(deadline, ws.next()).await {
                Ok(Some(Ok(awc::ws::Frame::Text(b)))) => {
                    let msg: Value = serde_json::from_slice(&b).unwrap();
                    cameras.push(msg["camera"].as_str().unwrap().to_owned());
                }
                Ok(Some(Ok(awc::ws::Frame::Ping(b)))) => ws.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Ok(Some(Ok(_))) => {}
                other => panic!("overlay: {other:?} after {} frames", cameras.len()),
            }
        }
        cameras
    };
    assert!(frames_of(ADMIN_TOKEN, HIDDEN).await.iter().any(|c| c == HIDDEN));
    let scoped = frames_of(&token, SEEN).await;
    assert!(scoped.iter().all(|c| c == SEEN), "the overlay showed {scoped:?} to a token for {SEEN}");
    let refused = awc::Client::default()
        .ws(server.http(&format!("/ws/overlay?camera={HIDDEN}")).replace("http://", "ws://"))
        .bearer_auth(&token)
        .connect()
        .await;
    let status = match refused {
        Err(awc::error::WsClientError::InvalidResponseStatus(s)) => Some(s.as_u16()),
        _ => None,
    };
    assert_eq!(status, Some(404), "the overlay of {HIDDEN} with a token for {SEEN}");

    // The alerts replayed from the start: every stored gate event, and no lobby event.
    let (_, page) = server.get_json("/api/events?limit=1000").await;
    let gate_ids: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["camera"] == SEEN)
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let mut ws = server.ws_as("/ws/alerts?after=0", &token).await;
    let mut got: Vec<(i64, String)> = Vec::new();
    while !gate_ids.iter().all(|id| got.iter().any(|(g, _)| g == id)) {
        use futures::StreamExt;
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(awc::ws::Frame::Text(b)))) => {
                let e: Value = serde_json::from_slice(&b).unwrap();
                got.push((e["id"].as_i64().unwrap(), e["camera"].as_str().unwrap().to_owned()));
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("alerts: {other:?} after {got:?}; wanted {gate_ids:?}"),
        }
    }
    assert!(got.iter().all(|(_, c)| c == SEEN), "alerts of another camera reached a token for {SEEN}: {got:?}");

    // What the token does see: its camera, its events, in full.
    let (status, cams) = send(server.request_as(Method::GET, "/api/cameras", Some(&token)), None).await;
    assert_eq!(status, 200);
    assert_eq!(cams.as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>(), vec![json!(SEEN)]);
    let (status, _) =
        send(server.request_as(Method::GET, &format!("/api/events/{}", gate_ids[0]), Some(&token)), None).await;
    assert_eq!(status, 200);

    // Nothing the walk aimed at lobby changed it.
    let (status, lobby) = server.get_json(&format!("/api/cameras/{HIDDEN}")).await;
    assert_eq!(status, 200, "the DELETE aimed at {HIDDEN} must not have removed it: {lobby}");
    assert_eq!(lobby["zones"][0]["id"], "all", "{lobby}");
    assert_eq!(lobby["rules"][0]["id"], "anyone", "{lobby}");
    let (_, event) = server.get_json(&format!("/api/events/{}", hidden.event)).await;
    assert_eq!(event["acknowledged"], false, "the ack aimed at a {HIDDEN} event must not have landed: {event}");
    let (_, tokens) = server.get_json("/api/tokens").await;
    assert_eq!(tokens.as_array().unwrap().len(), 2, "{tokens}");
}
