//! Two real `panoptes run` nodes on loopback: node A polls node B's `GET /api/time` (`[[peers]]`) and
//! estimates B's clock offset with its uncertainty; A's camera is recorded by a MediaMTX on B's machine
//! (`[cameras.playback]` with `peer = "b"`), so A's events carry a playback link on B's clock.
//! Both nodes share this machine's clock: the true offset is 0 and must lie within the reported bound.

mod common;

use common::{Server, asset, config_with_cameras};
use std::process::Command;
use std::time::Duration;

/// Unix milliseconds of an RFC 3339 time, parsed by GNU date (an independent parser).
fn gnu_date_ms(rfc3339: &str) -> i64 {
    let out = Command::new("date").args(["-u", "-d", rfc3339, "+%s%3N"]).output().expect("running date");
    assert!(out.status.success(), "date could not parse {rfc3339}");
    String::from_utf8_lossy(&out.stdout).trim().parse().expect("date prints milliseconds")
}

#[actix_web::test]
async fn a_node_estimates_its_peers_offset_and_links_events_on_the_peers_clock() {
    let b = Server::start(&config_with_cameras(""));
    let cameras = format!(
        "[[peers]]\nid = \"b\"\nurl = \"http://{}\"\npoll_sec = 0.2\ntoken_env = \"PANOPTES_ADMIN_TOKEN\"\n\n\
         [[cameras]]\nid = \"vtest\"\nfile = \"{}\"\ndetect_fps = 4\nclasses = [\"person\"]\n\n\
         [cameras.playback]\nurl = \"http://mediamtx:9996\"\npath = \"vtest\"\npeer = \"b\"\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n",
        b.addr,
        asset("media/vtest-h264.mp4").display()
    );
    let a = Server::start(&config_with_cameras(&cameras));

    // The offset estimate converges within the start burst.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let peer = loop {
        let (status, body) = a.get_json("/api/time/peers").await;
        assert_eq!(status, 200, "{body}");
        let peer = body["peers"][0].clone();
        assert_eq!(peer["id"], "b", "{body}");
        if peer["exchanges"].as_u64().unwrap_or(0) >= 4 {
            break peer;
        }
        assert!(tokio::time::Instant::now() < deadline, "no exchanges with peer b: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let estimate = &peer["estimate"];
    let (offset_ns, uncertainty_ns) =
        (estimate["offset_ns"].as_i64().unwrap(), estimate["uncertainty_ns"].as_i64().unwrap());
    eprintln!("peer b: offset {offset_ns} ns ± {uncertainty_ns} ns after {} exchanges", peer["exchanges"]);
    assert!(offset_ns.abs() <= uncertainty_ns, "true offset 0 outside the bound: {peer}");
    assert!(uncertainty_ns < 50_000_000, "loopback exchanges should bound the offset within 50 ms: {peer}");
    assert!(peer["last_error"].is_null(), "{peer}");

    // An event of A's camera links to B's recorder, on B's clock.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let event = loop {
        let (status, body) = a.get_json("/api/events?camera=vtest&kind=intrusion").await;
        assert_eq!(status, 200, "{body}");
        if let Some(event) = body["events"].as_array().and_then(|e| e.first()) {
            break event.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "no intrusion event on vtest within 60 s");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let link = &event["details"]["playback"];
    let start = link["start"].as_str().unwrap_or_else(|| panic!("no playback link: {event}"));
    let url = link["url"].as_str().unwrap();
    assert!(url.starts_with("http://mediamtx:9996/get?path=vtest&start="), "{url}");
    assert!(url.ends_with("&duration=15"), "{url}");
    assert_eq!(link["peer"], "b");
    assert_eq!(link["event_offset_sec"], 5.0);
    let applied_ms = link["peer_offset_ms"].as_f64().expect("the peer's offset was applied");
    let wall_ms = event["wall_ms"].as_i64().unwrap();
    let expected = wall_ms as f64 + applied_ms - 5000.0;
    assert!(
        (gnu_date_ms(start) as f64 - expected).abs() <= 1.0,
        "start {start} vs wall {wall_ms} + {applied_ms} ms − 5 s"
    );
}
