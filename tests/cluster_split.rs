//! A camera split across two `panoptes` processes on a real `nats-server`: node `rec` has only the ingest
//! role (it holds the camera's session, records it and publishes its access units), node `gpu` only the
//! infer role (it decodes, detects, tracks and raises events). The event `gpu` raises carries the PTS of a
//! frame `rec` recorded: the clip of its copy on `rec`, decoded at the event's offset, is pixel for pixel the
//! recorded frame at the event's PTS (the check `tests/recording_rtsp.rs` makes on one node), and `gpu` serves
//! the same clip for its own event, fetched from `rec`. `rec` never decoded the camera, yet its `/ws/overlay`
//! shows the camera's tracks (relayed from `gpu`). The two nodes measure their clock offset over NATS, and
//! share their API tokens.

mod common;

use common::video::{recorded_frame, rgb_frame, write};
use common::{Nats, Server, get_bytes, send, split_node_config, wait_for};
use serde_json::Value;
use std::time::Duration;

#[actix_web::test]
async fn the_inference_nodes_event_lands_on_the_frame_the_ingest_node_recorded() {
    let nats = Nats::start();
    let (rec_dir, gpu_dir, work) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let rec = Server::start(&split_node_config(&nats.url, "rec", "[\"ingest\", \"api\"]", rec_dir.path()));
    let gpu = Server::start(&split_node_config(&nats.url, "gpu", "[\"infer\", \"api\"]", gpu_dir.path()));

    // The leader places the camera's halves on the two nodes, and both run them.
    let placed = wait_for("yard ingested on rec and inferred on gpu", Duration::from_secs(30), async || {
        let (_, c) = rec.get_json("/api/cluster").await;
        let yard = c["cameras"].as_array()?.iter().find(|c| c["id"] == "yard")?.clone();
        let runs = |n: &str| {
            c["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["id"] == n && x["cameras"].as_array().unwrap().iter().any(|c| c == "yard"))
        };
        (yard["ingest_node"] == "rec" && yard["infer_node"] == "gpu" && runs("rec") && runs("gpu")).then_some(yard)
    })
    .await;
    assert_eq!(placed["running"], true, "{placed}");

    // API tokens are the cluster's: one made on rec works on gpu; deleted on gpu, rec refuses it.
    let (status, made) = rec
        .send_json(
            awc::http::Method::POST,
            "/api/tokens",
            Some(serde_json::json!({ "name": "wall", "role": "viewer" })),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (secret, token_id) = (made["token"].as_str().unwrap().to_string(), made["id"].as_i64().unwrap());
    let status_with = async |server: &Server, token: &str| {
        send(server.request_as(awc::http::Method::GET, "/api/cameras", Some(token)), None).await.0
    };
    wait_for("rec's token accepted by gpu", Duration::from_secs(10), async || {
        (status_with(&gpu, &secret).await == 200).then_some(())
    })
    .await;
    let (_, listed) = gpu.get_json("/api/tokens").await;
    assert!(listed.as_array().unwrap().iter().any(|t| t["id"] == token_id && t["role"] == "viewer"), "{listed}");
    let (status, _) = gpu.send_json(awc::http::Method::DELETE, &format!("/api/tokens/{token_id}"), None).await;
    assert_eq!(status, 204);
    wait_for("the deleted token refused by rec", Duration::from_secs(10), async || {
        (status_with(&rec, &secret).await == 401).then_some(())
    })
    .await;

    // The nodes measure their clock offsets over NATS: on one machine the true offset is 0, within the bound.
    let peer = wait_for("rec's estimate of gpu's clock", Duration::from_secs(20), async || {
        let (_, body) = rec.get_json("/api/time/peers").await;
        body["peers"].as_array()?.iter().find(|p| p["id"] == "gpu" && p["estimate"].is_object()).cloned()
    })
    .await;
    let (offset, bound) =
        (peer["estimate"]["offset_ns"].as_i64().unwrap(), peer["estimate"]["uncertainty_ns"].as_i64().unwrap());
    assert!(offset.abs() <= bound && bound < 50_000_000, "{peer}");
    assert_eq!(peer["url"], "nats:panoptes.time.gpu");

    // gpu raises an intrusion event; rec holds a copy of it (events are cluster-wide).
    let event = wait_for("an intrusion event on gpu", Duration::from_secs(120), async || {
        let (_, body) = gpu.get_json("/api/events?camera=yard&kind=intrusion").await;
        body["events"].as_array()?.iter().find(|e| e.get("origin").is_none()).cloned()
    })
    .await;
    let (gpu_id, event_ticks) = (event["id"].as_i64().unwrap(), event["pts"]["ticks"].as_i64().unwrap());
    assert_eq!(event["pts"]["clock_rate"], 90_000);
    let copy: Value = wait_for("rec's copy of gpu's event", Duration::from_secs(20), async || {
        let (_, body) = rec.get_json("/api/events?camera=yard&kind=intrusion").await;
        body["events"].as_array()?.iter().find(|e| e["origin"]["node"] == "gpu" && e["origin"]["id"] == gpu_id).cloned()
    })
    .await;
    assert_eq!(copy["pts"], event["pts"], "the copy keeps the frame's PTS");
    let id = copy["id"].as_i64().unwrap();

    // rec's clip of the event: the picture at its offset is the recorded picture at the event's PTS.
    let clip_json = wait_for("the clip to cover 1 s after the event", Duration::from_secs(60), async || {
        let (status, body) = rec.get_json(&format!("/api/events/{id}/clip.json")).await;
        (status == 200 && body["end_pts"]["ticks"].as_i64().unwrap() >= event_ticks + 90_000).then_some(body)
    })
    .await;
    let (status, headers, clip) = get_bytes(&rec, &format!("/api/events/{id}/clip"), None).await;
    assert_eq!(status, 200);
    let offset: f64 = headers.get("x-panoptes-offset-sec").unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(offset, clip_json["offset_sec"].as_f64().unwrap());
    let clip_file = write(work.path(), "clip.mp4", &clip);
    let (_, list) = rec.get_json("/api/cameras/yard/recordings").await;
    let holder = list["segments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["start_pts"]["ticks"].as_i64().unwrap() <= event_ticks
                && event_ticks < s["end_pts"]["ticks"].as_i64().unwrap()
        })
        .unwrap_or_else(|| panic!("a segment on rec holds PTS {event_ticks}: {list}"))
        .clone();
    let (status, _, seg_bytes) = get_bytes(&rec, holder["url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    let truth = recorded_frame(&write(work.path(), "holder.mp4", &seg_bytes), event_ticks);
    let at_offset = rgb_frame(&["-ss", &offset.to_string(), "-i", clip_file.to_str().unwrap()]);
    assert!(at_offset == truth, "the clip's picture at offset {offset} s is the picture gpu detected on");
    let next = rgb_frame(&["-ss", &(offset + 0.1).to_string(), "-i", clip_file.to_str().unwrap()]);
    assert!(next != truth, "neighbouring pictures differ, so the comparison means something");

    // gpu serves the clip of its own event too, fetched from rec (the node that records the camera).
    let (status, gpu_clip_json) = gpu.get_json(&format!("/api/events/{gpu_id}/clip.json")).await;
    assert_eq!(status, 200, "{gpu_clip_json}");
    assert_eq!(gpu_clip_json["offset_sec"], clip_json["offset_sec"], "{gpu_clip_json}");
    let (status, headers, gpu_clip) = get_bytes(&gpu, &format!("/api/events/{gpu_id}/clip"), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("x-panoptes-offset-sec").unwrap().to_str().unwrap(), offset.to_string());
    let gpu_clip_file = write(work.path(), "gpu-clip.mp4", &gpu_clip);
    let at_offset = rgb_frame(&["-ss", &offset.to_string(), "-i", gpu_clip_file.to_str().unwrap()]);
    assert!(at_offset == truth, "gpu's clip of its event shows the picture it detected on");

    // The overlay of the camera, analysed on gpu, is served on rec too (relayed over NATS), boxes included.
    let relayed = rec
        .overlay_until("yard", Duration::from_secs(30), |m| {
            m.iter().any(|x| x["tracks"].as_array().is_some_and(|t| !t.is_empty()))
        })
        .await;
    assert!(relayed.iter().all(|m| m["camera"] == "yard" && m["pts"]["clock_rate"] == 90_000), "{relayed:?}");

    // So is its latest analysed picture (the console's JPEG fallback), fetched from gpu.
    let (status, headers, jpeg) = get_bytes(&rec, "/api/cameras/yard/frame.jpg", None).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "image/jpeg");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]) && headers.contains_key("x-panoptes-pts"), "a JPEG with its PTS");

    // gpu records nothing of the camera; rec decoded none of it, gpu decoded and inferred it.
    let (_, gpu_list) = gpu.get_json("/api/cameras/yard/recordings").await;
    assert_eq!(gpu_list["segments"], serde_json::json!([]), "{gpu_list}");
    let (_, on_rec) = rec.get_json("/api/cameras/yard").await;
    let (_, on_gpu) = gpu.get_json("/api/cameras/yard").await;
    assert_eq!(on_rec["status"]["state"], "streaming", "{on_rec}");
    assert_eq!(on_rec["status"]["frames_decoded"], 0, "{on_rec}");
    assert!(on_gpu["status"]["frames_inferred"].as_u64().unwrap() > 0, "{on_gpu}");
}
