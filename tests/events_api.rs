//! The events API and the alert WebSocket of the real `panoptes run`, over a store that already holds
//! events (written with the store's own API before the server starts, as a previous run would have).

mod common;

use common::{Server, config_with_cameras};
use futures::StreamExt;
use panoptes_actors::geometry::{BBox, Letterbox};
use panoptes_actors::messages::{Event, EventKind, EventState, ModelInput};
use panoptes_actors::store::{Store, snapshot};
use panoptes_actors::time::Pts;
use std::path::Path;
use std::time::Duration;

fn event(i: i64) -> Event {
    Event {
        camera: if i % 2 == 0 { "gate".into() } else { "door".into() },
        rule: format!("r{i}"),
        kind: if i % 3 == 0 { EventKind::Loitering } else { EventKind::Intrusion },
        state: EventState::Start,
        track_id: Some(i as u64),
        class: Some("person".into()),
        confidence: Some(0.5),
        pts: Pts::new(i * 90_000, 90_000),
        end_pts: None,
        wall_ms: panoptes_actors::time::WallTime::from_unix_ms(1_000 * i),
        bbox: Some(BBox { x1: 8.0, y1: 8.0, x2: 40.0, y2: 30.0 }),
        details: serde_json::json!({ "i": i }),
    }
}

/// Events 1..=12 in a new store under `dir`; event 2 has a snapshot.
fn fill(dir: &Path) {
    let mut store = Store::open(&dir.join("events.db")).unwrap();
    for i in 1..=12 {
        if i == 2 {
            let input = ModelInput { letterbox: Letterbox::new(64, 48, 64, 64), chw: vec![0.25; 3 * 64 * 64] };
            let jpeg = snapshot::encode(&input, event(i).bbox.as_ref()).unwrap();
            store
                .insert_with(&event(i), 0, |id| {
                    let rel = snapshot::relative_path("gate", id);
                    snapshot::write_atomic(&dir.join("snapshots"), &rel, &jpeg)?;
                    Ok(Some(rel))
                })
                .unwrap();
        } else {
            store.insert(&event(i), 0).unwrap();
        }
    }
}

async fn server(dir: &Path) -> Server {
    let store = format!(
        "[store]\npath = \"{}\"\nsnapshot_dir = \"{}\"\n",
        dir.join("events.db").display(),
        dir.join("snapshots").display()
    );
    Server::in_process(&config_with_cameras(&store)).await
}

async fn get(server: &Server, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let mut resp = server.request(awc::http::Method::GET, path).send().await.expect("HTTP request");
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let body = resp.body().limit(1 << 20).await.unwrap().to_vec();
    (resp.status().as_u16(), ctype, body)
}

#[actix_web::test]
async fn events_are_listed_filtered_paged_and_served_with_snapshots() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let server = server(dir.path()).await;

    // Filters: camera gate (even i), kind intrusion (i not a multiple of 3), wall time 2000 ≤ t < 11000.
    let expected: Vec<i64> = (1..=12).filter(|i| i % 2 == 0 && i % 3 != 0 && (2..11).contains(i)).collect();
    assert_eq!(expected, vec![2, 4, 8, 10]);
    let (status, body) =
        server.get_json("/api/events?camera=gate&kind=intrusion&since_ms=2000&until_ms=11000&limit=3").await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<i64> = body["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, &expected[..3]);
    assert_eq!(body["next_after_id"], 8);
    let (_, body) =
        server.get_json("/api/events?camera=gate&kind=intrusion&since_ms=2000&until_ms=11000&limit=3&after_id=8").await;
    let ids: Vec<i64> = body["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, &expected[3..]);
    assert_eq!(body["next_after_id"], serde_json::Value::Null);

    let (status, e) = server.get_json("/api/events/2").await;
    assert_eq!(status, 200);
    assert_eq!(e["type"], "event");
    assert_eq!(e["rule"], "r2");
    assert_eq!(e["pts"], serde_json::json!({"ticks": 180_000, "clock_rate": 90_000}));
    assert_eq!(e["pts_sec"], 2.0);
    assert_eq!(e["bbox"], serde_json::json!({"x1": 8.0, "y1": 8.0, "x2": 40.0, "y2": 30.0}));
    assert_eq!(e["snapshot_url"], "/api/events/2/snapshot.jpg");
    let (status, ctype, jpeg) = get(&server, "/api/events/2/snapshot.jpg").await;
    assert_eq!((status, ctype.as_deref()), (200, Some("image/jpeg")));
    let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (64, 48));

    let (status, e) = server.get_json("/api/events/3").await;
    assert_eq!((status, &e["snapshot_url"]), (200, &serde_json::Value::Null));
    let (status, _, body) = get(&server, "/api/events/3/snapshot.jpg").await;
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    let (status, body) = server.get_json("/api/events/99").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("99"), "{body}");

    for (query, param) in [("kind=party", "kind"), ("since_ms=yesterday", "since_ms"), ("limit=0", "limit")] {
        let (status, body) = server.get_json(&format!("/api/events?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].as_str().unwrap().contains(&format!("`{param}`")), "{body}");
    }
    let (status, _) = server.get_json("/api/events/abc").await;
    assert_eq!(status, 400);
}

#[actix_web::test]
async fn the_alert_channel_resumes_after_an_id_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    fill(dir.path());
    let server = server(dir.path()).await;
    let mut ws = server.ws("/ws/alerts?after=7").await;
    let mut ids = Vec::new();
    while ids.len() < 5 {
        match tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
            Ok(Some(Ok(awc::ws::Frame::Text(bytes)))) => {
                let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(v["type"], "event");
                assert_eq!(v["rule"], format!("r{}", v["id"]));
                ids.push(v["id"].as_i64().unwrap());
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("alert channel ended after {ids:?}: {other:?}"),
        }
    }
    assert_eq!(ids, vec![8, 9, 10, 11, 12]);
    // Nothing else is pending: no duplicate follows.
    match tokio::time::timeout(Duration::from_millis(500), ws.next()).await {
        Err(_) | Ok(Some(Ok(awc::ws::Frame::Ping(_)))) => {}
        other => panic!("unexpected message after the backlog: {other:?}"),
    }
    let resp = server.request(awc::http::Method::GET, "/ws/alerts?after=-1").send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}
