//! Zones and rules changed on a running camera take effect without a restart: a whole-frame zone with an
//! intrusion rule raises events; once the rule and zone are deleted no new ones start. An event can be
//! acknowledged, and that is kept.

mod common;

use awc::http::Method;
use common::{Server, WsConn, asset, config_with_cameras};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;

/// Read the overlay and the alerts until `frames` more overlay messages of `yard` arrived; alerts go to `events`.
async fn run_frames(
    overlay: &mut impl WsConn,
    alerts: &mut impl WsConn,
    events: &mut Vec<Value>,
    frames: usize,
    until: impl Fn(&[Value]) -> bool,
) {
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while seen < frames && !until(events) {
        tokio::select! {
            msg = overlay.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(_))) => seen += 1,
                Some(Ok(awc::ws::Frame::Ping(b))) => overlay.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("overlay ended: {other:?}"),
            },
            msg = alerts.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(b))) => events.push(serde_json::from_slice(&b).unwrap()),
                Some(Ok(awc::ws::Frame::Ping(b))) => alerts.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("alerts ended: {other:?}"),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("timed out; events so far: {events:?}"),
        }
    }
}

fn starts(events: &[Value]) -> usize {
    events.iter().filter(|e| e["rule"] == "anyone" && e["state"] == "start").count()
}

#[actix_web::test]
async fn zone_and_rule_crud_changes_the_events_of_a_running_camera() {
    let server = Server::in_process(&config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n",
        asset("media/vtest-h264.mp4").display()
    )))
    .await;
    let mut overlay = server.ws("/ws/overlay?camera=yard").await;
    let mut alerts = server.ws("/ws/alerts").await;
    let mut events = Vec::new();

    let whole = json!({ "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]] });
    let (status, body) = server.send_json(Method::PUT, "/api/cameras/yard/zones/all", Some(whole)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "all");
    let rule = json!({ "kind": "intrusion", "zone": "all", "classes": ["person"] });
    let (status, body) = server.send_json(Method::PUT, "/api/cameras/yard/rules/anyone", Some(rule)).await;
    assert_eq!(status, 200, "{body}");
    let (_, s) = server.get_json("/api/cameras/yard/status").await;
    assert_eq!(s["rules"], json!([{ "id": "anyone", "kind": "intrusion", "enabled": true }]), "{s}");

    run_frames(&mut overlay, &mut alerts, &mut events, usize::MAX, |e| starts(e) >= 1).await;
    let event = events.iter().find(|e| e["rule"] == "anyone").unwrap().clone();
    assert_eq!(event["camera"], "yard");
    assert_eq!(event["acknowledged"], false);
    let id = event["id"].as_i64().unwrap();
    assert_eq!(event["clip_url"], format!("/api/events/{id}/clip"));

    // Acknowledge it; the store keeps it.
    let (status, acked) = server.send_json(Method::POST, &format!("/api/events/{id}/ack"), None).await;
    assert_eq!((status, &acked["acknowledged"]), (200, &json!(true)), "{acked}");
    let (_, again) = server.get_json(&format!("/api/events/{id}")).await;
    assert_eq!(again["acknowledged"], true);
    let (status, _) = server.send_json(Method::POST, "/api/events/999999/ack", None).await;
    assert_eq!(status, 404);

    // The zone is in use: deleting it first is refused. Delete the rule, then the zone.
    let (status, body) = server.send_json(Method::DELETE, "/api/cameras/yard/zones/all", None).await;
    assert_eq!(status, 409, "{body}");
    let (status, _) = server.send_json(Method::DELETE, "/api/cameras/yard/rules/anyone", None).await;
    assert_eq!(status, 204);
    let (status, _) = server.send_json(Method::DELETE, "/api/cameras/yard/zones/all", None).await;
    assert_eq!(status, 204);
    let (_, zones) = server.get_json("/api/cameras/yard/zones").await;
    assert_eq!(zones, json!([]));

    // Events raised before the change may still be on their way: let 15 frames pass, then 25 more must raise
    // no new start.
    run_frames(&mut overlay, &mut alerts, &mut events, 15, |_| false).await;
    let before = starts(&events);
    run_frames(&mut overlay, &mut alerts, &mut events, 25, |_| false).await;
    assert_eq!(starts(&events), before, "no intrusion starts once the rule is gone: {events:?}");
}
