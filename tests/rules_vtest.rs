//! Analytics end to end on the real vtest clip (pedestrians on a walkway), played in real time:
//! a zone over the walkway raises intrusion events whose PTS is the PTS of an overlay frame that shows
//! one of the event's tracks inside the zone; loitering with a short dwell fires; occupancy fires when two or more
//! people are in the zone; every event is stored with a snapshot.

mod common;

use common::{Server, asset, config_with_cameras};
use futures::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::time::Duration;

/// The walkway across the middle of the picture, where the pedestrians stand (normalised x, y).
const WALKWAY: [[f64; 2]; 4] = [[0.0, 0.3], [1.0, 0.3], [1.0, 0.8], [0.0, 0.8]];

fn inside(p: (f64, f64)) -> bool {
    let (xs, ys): (Vec<f64>, Vec<f64>) = WALKWAY.iter().map(|q| (q[0], q[1])).unzip();
    let (x0, x1) = (xs.iter().cloned().fold(f64::MAX, f64::min), xs.iter().cloned().fold(f64::MIN, f64::max));
    let (y0, y1) = (ys.iter().cloned().fold(f64::MAX, f64::min), ys.iter().cloned().fold(f64::MIN, f64::max));
    (x0..=x1).contains(&p.0) && (y0..=y1).contains(&p.1)
}

#[actix_web::test]
async fn walkway_rules_fire_on_the_frames_that_show_them() {
    let zone = serde_json::to_string(&WALKWAY).unwrap();
    let server = Server::start(&config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"walkway\"\npolygon = {zone}\n\n\
         [[cameras.rules]]\nid = \"walkway-intrusion\"\nkind = \"intrusion\"\nzone = \"walkway\"\nclasses = [\"person\"]\n\n\
         [[cameras.rules]]\nid = \"walkway-loitering\"\nkind = \"loitering\"\nzone = \"walkway\"\nclasses = [\"person\"]\ndwell_sec = 3.0\n\n\
         [[cameras.rules]]\nid = \"walkway-crowd\"\nkind = \"occupancy\"\nzone = \"walkway\"\nclasses = [\"person\"]\nmin_count = 2\nhold_sec = 1.0\n",
        asset("media/vtest-h264.mp4").display()
    )));
    let mut overlay = server.ws("/ws/overlay?camera=yard").await;
    let mut alerts = server.ws("/ws/alerts").await;

    let mut frames: HashMap<i64, serde_json::Value> = HashMap::new();
    let mut events: Vec<serde_json::Value> = Vec::new();
    let started =
        |events: &[serde_json::Value], kind: &str| events.iter().any(|e| e["kind"] == kind && e["state"] == "start");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while !(started(&events, "intrusion") && started(&events, "loitering") && started(&events, "occupancy")) {
        tokio::select! {
            msg = overlay.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(b))) => {
                    let m: serde_json::Value = serde_json::from_slice(&b).unwrap();
                    frames.insert(m["pts"]["ticks"].as_i64().unwrap(), m);
                }
                Some(Ok(awc::ws::Frame::Ping(b))) => overlay.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("overlay channel ended: {other:?}"),
            },
            msg = alerts.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(b))) => events.push(serde_json::from_slice(&b).unwrap()),
                Some(Ok(awc::ws::Frame::Ping(b))) => alerts.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("alert channel ended: {other:?}"),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("not every rule fired within 150 s: {events:#?}"),
        }
    }

    let intrusions: Vec<_> = events.iter().filter(|e| e["kind"] == "intrusion" && e["state"] == "start").collect();
    for e in &intrusions {
        assert_eq!(e["camera"], "yard");
        assert_eq!(e["class"], "person");
        let ticks = e["pts"]["ticks"].as_i64().unwrap();
        let frame = frames.get(&ticks).unwrap_or_else(|| panic!("no overlay frame has the event's PTS {ticks}: {e}"));
        // The event names the object's first track and lists every track it spans (a fragmented track goes on
        // under a new id): the frame shows one of them.
        let ids = e["details"]["track_ids"].as_array().unwrap_or_else(|| panic!("no details.track_ids: {e}"));
        assert_eq!(ids.first(), Some(&e["track_id"]), "{e}");
        let track =
            frame["tracks"].as_array().unwrap().iter().find(|t| ids.contains(&t["id"])).unwrap_or_else(|| {
                panic!("the overlay frame at PTS {ticks} shows none of the tracks {ids:?}: {frame}")
            });
        let b: Vec<f64> = track["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(inside((b[0] + b[2] / 2.0, b[1] + b[3])), "track {} stands inside the walkway: {b:?}", e["track_id"]);
    }
    let loiter = events.iter().find(|e| e["kind"] == "loitering" && e["state"] == "start").unwrap();
    assert!(loiter["details"]["dwell_sec"].as_f64().unwrap() >= 3.0, "{loiter}");
    let crowd = events.iter().find(|e| e["kind"] == "occupancy" && e["state"] == "start").unwrap();
    assert!(crowd["details"]["count"].as_u64().unwrap() >= 2, "{crowd}");

    // Every announced event is in the store, with its snapshot.
    let (status, stored) = server.get_json("/api/events?camera=yard&limit=1000").await;
    assert_eq!(status, 200);
    let ids: Vec<i64> = stored["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    for e in &events {
        assert!(ids.contains(&e["id"].as_i64().unwrap()), "announced event {} is stored", e["id"]);
    }
    let id = intrusions[0]["id"].as_i64().unwrap();
    let resp = server.request(awc::http::Method::GET, &format!("/api/events/{id}/snapshot.jpg")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}
