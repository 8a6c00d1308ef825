//! Recording end to end on real parts: the vtest clip (H.264) over loopback RTSP → `panoptes run` with
//! recording on → an intrusion event → its clip. Checked with the ffmpeg CLI, independently of our own MP4
//! code: the clip's frame at `X-Panoptes-Offset-Sec` is pixel for pixel the recorded frame whose PTS is the
//! event's; every segment is valid and starts at its indexed PTS; Range requests return the right bytes;
//! the live fMP4 stream's `tfdt` times are the overlay's PTS; a `kill -9` leaves the index consistent and
//! the restarted timeline continues after the old segments.

mod common;

use common::video::{packet_pts, recorded_frame, rgb_frame, run, write};
use common::{RtspServer, Server, asset, config_with_cameras, get_bytes, store_section, wait_for};
use futures::{SinkExt, StreamExt};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A camera whose whole picture is one zone with an intrusion rule on persons, and a `[recording]` section.
fn config(url: &str, store: &Path, segment_sec: f64) -> String {
    let mut toml = config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nurl = \"{url}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n"
    ));
    toml.push_str(&store_section(store));
    toml.push_str(&format!(
        "\n[recording]\nenabled = true\ndir = \"{}\"\nsegment_sec = {segment_sec}\nclip_pre_sec = 2.0\nclip_post_sec = 1.0\n",
        store.join("recordings").display()
    ));
    toml
}

fn segments(list: &serde_json::Value) -> Vec<serde_json::Value> {
    list["segments"].as_array().unwrap().clone()
}

/// The camera `yard`'s live video WebSocket (fragments can be large: 16 MiB frames).
async fn live_video(server: &Server) -> impl common::WsConn + use<> {
    let (_, live) = awc::Client::default()
        .ws(format!("ws://{}/ws/live/yard", server.addr))
        .bearer_auth(common::ADMIN_TOKEN)
        .max_frame_size(16 << 20)
        .connect()
        .await
        .expect("live WebSocket");
    live
}

#[actix_web::test]
async fn an_event_clip_shows_the_triggering_frame_at_its_offset() {
    let media = asset("media/vtest-h264.mp4");
    let rtsp = RtspServer::start(&[("/vtest", &media)], 0);
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(&config(&rtsp.url("/vtest"), store.path(), 2.0));

    // The live stream and the overlay, read side by side until the live stream has 40 fragments.
    let mut live = live_video(&server).await;
    let (_, mut overlay) = awc::Client::default()
        .ws(format!("ws://{}/ws/overlay?camera=yard", server.addr))
        .bearer_auth(common::ADMIN_TOKEN)
        .connect()
        .await
        .unwrap();
    let mut init_msg: Option<serde_json::Value> = None;
    let mut init_seg: Option<Vec<u8>> = None;
    let mut fragments: Vec<Vec<u8>> = Vec::new();
    let mut overlay_pts: BTreeSet<i64> = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while fragments.len() < 40 {
        tokio::select! {
            msg = live.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(b))) => {
                    assert!(init_msg.is_none() && fragments.is_empty(), "the init message comes first, once");
                    init_msg = Some(serde_json::from_slice(&b).unwrap());
                }
                Some(Ok(awc::ws::Frame::Binary(b))) => {
                    assert!(init_msg.is_some(), "the text init message precedes the binary ones");
                    if init_seg.is_none() { init_seg = Some(b.to_vec()) } else { fragments.push(b.to_vec()) }
                }
                Some(Ok(awc::ws::Frame::Ping(b))) => live.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("live channel ended: {other:?}"),
            },
            msg = overlay.next() => match msg {
                Some(Ok(awc::ws::Frame::Text(b))) => {
                    let m: serde_json::Value = serde_json::from_slice(&b).unwrap();
                    overlay_pts.insert(m["pts"]["ticks"].as_i64().unwrap());
                }
                Some(Ok(awc::ws::Frame::Ping(b))) => overlay.send(awc::ws::Message::Pong(b)).await.unwrap(),
                Some(Ok(_)) => {}
                other => panic!("overlay channel ended: {other:?}"),
            },
            _ = tokio::time::sleep_until(deadline) => panic!("live stream too slow: {} fragments", fragments.len()),
        }
    }
    let init_msg = init_msg.unwrap();
    assert_eq!(init_msg["type"], "init");
    assert_eq!(init_msg["camera"], "yard");
    assert_eq!(init_msg["timescale"], 90_000);
    // vtest-h264.mp4 is High profile (0x64), level 3.1 (0x1f).
    assert_eq!(init_msg["mime"], "video/mp4; codecs=\"avc1.64001f\"", "{init_msg}");
    assert_eq!(init_msg["pts_offset_sec"], 0.0);
    let init_seg = init_seg.unwrap();
    assert_eq!(&init_seg[4..8], b"ftyp");
    // ffprobe reads the live stream as one fMP4: its packet PTS are the overlay's PTS.
    let mut stream = init_seg.clone();
    fragments.iter().for_each(|f| stream.extend_from_slice(f));
    let live_file = write(work.path(), "live.mp4", &stream);
    let live_pts = packet_pts(&live_file);
    assert_eq!(live_pts.len(), fragments.len(), "one picture per fragment");
    let first_key = run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "packet=flags",
            "-of",
            "csv=p=0",
            "-read_intervals",
            "%+#1",
            live_file.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&first_key).starts_with('K'), "the live stream starts at a key frame");
    let (lo, hi) = (live_pts[0], *live_pts.last().unwrap());
    let shown: Vec<i64> = overlay_pts.range(lo..=hi).copied().collect();
    assert!(shown.len() >= 3, "the overlay sent frames during the live window {lo}..{hi}: {overlay_pts:?}");
    for pts in &shown {
        assert!(live_pts.contains(pts), "overlay PTS {pts} is a live fragment's PTS: {live_pts:?}");
    }
    drop(live);
    drop(overlay);

    // An intrusion event, and its clip once the recording covers it.
    let event = wait_for("an intrusion event", Duration::from_secs(120), async || {
        let (_, body) = server.get_json("/api/events?camera=yard&kind=intrusion").await;
        body["events"].as_array().and_then(|e| e.first().cloned())
    })
    .await;
    let id = event["id"].as_i64().unwrap();
    let event_ticks = event["pts"]["ticks"].as_i64().unwrap();
    assert_eq!(event["pts"]["clock_rate"], 90_000);
    let clip_json = wait_for("the clip to cover 1 s after the event", Duration::from_secs(60), async || {
        let (status, body) = server.get_json(&format!("/api/events/{id}/clip.json")).await;
        (status == 200 && body["end_pts"]["ticks"].as_i64().unwrap() >= event_ticks + 90_000).then_some(body)
    })
    .await;
    assert_eq!(clip_json["url"], format!("/api/events/{id}/clip"));
    let (status, headers, clip) = get_bytes(&server, &format!("/api/events/{id}/clip"), None).await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-type").unwrap(), "video/mp4");
    let offset: f64 = headers.get("x-panoptes-offset-sec").unwrap().to_str().unwrap().parse().unwrap();
    assert_eq!(offset, clip_json["offset_sec"].as_f64().unwrap());
    let start = clip_json["start_pts"]["ticks"].as_i64().unwrap();
    assert_eq!(((event_ticks - start) as f64 / 90_000.0), offset);
    assert!((0.0..=3.01).contains(&offset), "at most clip_pre_sec plus a key-frame interval: {offset}");
    let clip_file = write(work.path(), "clip.mp4", &clip);
    let clip_pts = packet_pts(&clip_file);
    assert_eq!(clip_pts[0], 0, "the clip's timeline starts at 0");
    assert!(clip_pts.contains(&(event_ticks - start)), "the clip holds the event's picture");

    // The segment holding the event, decoded on its own by ffmpeg: the picture whose PTS is the event's.
    let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
    let segs = segments(&list);
    let holder = segs
        .iter()
        .find(|s| {
            s["start_pts"]["ticks"].as_i64().unwrap() <= event_ticks
                && event_ticks < s["end_pts"]["ticks"].as_i64().unwrap()
        })
        .unwrap_or_else(|| panic!("a segment holds PTS {event_ticks}: {list}"));
    let (status, _, seg_bytes) = get_bytes(&server, holder["url"].as_str().unwrap(), None).await;
    assert_eq!(status, 200);
    let seg_file = write(work.path(), "holder.mp4", &seg_bytes);
    let truth = recorded_frame(&seg_file, event_ticks);
    let at_offset = rgb_frame(&["-ss", &offset.to_string(), "-i", clip_file.to_str().unwrap()]);
    assert!(at_offset == truth, "the clip's picture at offset {offset} s is the event's picture");
    // The check can fail: the next picture (0.1 s later at 10 fps) differs, people walk.
    let next = rgb_frame(&["-ss", &(offset + 0.1).to_string(), "-i", clip_file.to_str().unwrap()]);
    assert!(next != truth, "neighbouring pictures differ, so the comparison means something");

    // Every segment is valid for ffprobe and starts at its indexed PTS; Range requests return the right bytes.
    // (A loaded machine may not have finished the second segment yet: wait for it.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let segs = loop {
        let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
        let segs = segments(&list);
        if segs.len() >= 2 {
            break segs;
        }
        assert!(tokio::time::Instant::now() < deadline, "a second segment within 60 s: {list}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    for s in &segs {
        let (status, _, bytes) = get_bytes(&server, s["url"].as_str().unwrap(), None).await;
        assert_eq!(status, 200);
        assert_eq!(bytes.len() as i64, s["bytes"].as_i64().unwrap());
        let f = write(work.path(), &format!("seg{}.mp4", s["id"]), &bytes);
        let pts = packet_pts(&f);
        assert_eq!(pts.len() as i64, s["frames"].as_i64().unwrap(), "{s}");
        assert_eq!(pts[0], s["start_pts"]["ticks"].as_i64().unwrap(), "first packet PTS = indexed start: {s}");
        assert!(pts.windows(2).all(|w| w[1] > w[0]));
    }
    let url = holder["url"].as_str().unwrap();
    let (status, headers, part) = get_bytes(&server, url, Some("bytes=100-1099")).await;
    assert_eq!(status, 206);
    assert_eq!(part, seg_bytes[100..1100]);
    let range = format!("bytes 100-1099/{}", seg_bytes.len());
    assert_eq!(headers.get("content-range").unwrap().to_str().unwrap(), range);
    let (status, _, tail) = get_bytes(&server, url, Some("bytes=-10")).await;
    assert_eq!((status, &tail[..]), (206, &seg_bytes[seg_bytes.len() - 10..]));
    let (status, _, _) = get_bytes(&server, url, Some(&format!("bytes={}-", seg_bytes.len()))).await;
    assert_eq!(status, 416);
    // Wall-clock filtering of the listing: up to (not including) the second segment's first picture. (The end
    // of the first segment is no sharp bound: smoothed wall times may start the next one a little before it.)
    let second_start = segs[1]["start_wall_ms"].as_i64().unwrap();
    let (_, early) = server.get_json(&format!("/api/cameras/yard/recordings?end={second_start}")).await;
    assert!(segments(&early).iter().all(|s| s["start_wall_ms"].as_i64().unwrap() < second_start));
    assert!(segments(&early).len() < segs.len(), "{early}");
}

#[actix_web::test]
async fn kill_9_mid_recording_leaves_the_index_consistent_and_the_timeline_continues() {
    let media = asset("media/vtest-h264.mp4");
    let rtsp = RtspServer::start(&[("/vtest", &media)], 0);
    let store = tempfile::tempdir().unwrap();
    let rec_dir = store.path().join("recordings");
    let toml = config(&rtsp.url("/vtest"), store.path(), 1.0);
    let mut server = Server::start(&toml);
    let before = wait_for("three segments", Duration::from_secs(90), async || {
        let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
        (segments(&list).len() >= 3).then(|| segments(&list))
    })
    .await;
    // A segment is being written right after one was indexed.
    server.kill();
    let parts = || -> Vec<PathBuf> {
        std::fs::read_dir(rec_dir.join("yard"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "part"))
            .collect()
    };
    assert!(!parts().is_empty(), "the killed process left a half-written segment");
    let old_end = before.iter().map(|s| s["end_pts"]["ticks"].as_i64().unwrap()).max().unwrap();

    let server = Server::start(&toml);
    let after = wait_for("a segment recorded after the restart", Duration::from_secs(60), async || {
        let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
        let segs = segments(&list);
        (segs.len() > before.len()).then_some(segs)
    })
    .await;
    // Rows and files agree: every row has its complete file, every finished file has its row.
    let files: BTreeSet<String> = std::fs::read_dir(rec_dir.join("yard"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".mp4"))
        .collect();
    let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
    let rows: BTreeSet<String> =
        segments(&list).iter().map(|s| s["start_pts"]["ticks"].as_i64().unwrap().to_string() + ".mp4").collect();
    assert_eq!(files, rows, "the segment files are exactly the indexed ones");
    assert!(parts().len() <= 1, "only the segment being written is unfinished: {:?}", parts());
    for s in segments(&list) {
        let path = rec_dir.join("yard").join(format!("{}.mp4", s["start_pts"]["ticks"]));
        assert_eq!(packet_pts(&path)[0], s["start_pts"]["ticks"].as_i64().unwrap(), "valid segment {s}");
    }
    // The restarted process continued the timeline: new segments start after every old one.
    for s in &after[before.len()..] {
        assert!(s["start_pts"]["ticks"].as_i64().unwrap() >= old_end, "{s} starts after {old_end}");
    }
}

#[actix_web::test]
async fn h265_is_recorded_as_hvc1_and_served_live() {
    let media = asset("media/vtest-h265.mp4");
    let rtsp = RtspServer::start(&[("/v265", &media)], 0);
    let store = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let server = Server::start(&config(&rtsp.url("/v265"), store.path(), 1.0));

    let mut live = live_video(&server).await;
    let init = loop {
        match tokio::time::timeout(Duration::from_secs(60), live.next()).await.expect("the live init message") {
            Some(Ok(awc::ws::Frame::Text(b))) => break serde_json::from_slice::<serde_json::Value>(&b).unwrap(),
            Some(Ok(awc::ws::Frame::Ping(b))) => live.send(awc::ws::Message::Pong(b)).await.unwrap(),
            Some(Ok(_)) => {}
            other => panic!("live channel ended: {other:?}"),
        }
    };
    // vtest-h265.mp4 is HEVC Main (profile 1, compatible with Main and Main 10: flags 0x60000000 → "6"), level 3
    // (level_idc 90), main tier.
    let mime = init["mime"].as_str().unwrap();
    assert!(mime.starts_with("video/mp4; codecs=\"hvc1.1.6.L90"), "{init}");
    drop(live);

    let segs = wait_for("two H.265 segments", Duration::from_secs(60), async || {
        let (_, list) = server.get_json("/api/cameras/yard/recordings").await;
        (segments(&list).len() >= 2).then(|| segments(&list))
    })
    .await;
    for s in &segs {
        assert!(s["codec"].as_str().unwrap().starts_with("hvc1.1.6.L90"), "{s}");
        let (status, _, bytes) = get_bytes(&server, s["url"].as_str().unwrap(), None).await;
        assert_eq!(status, 200);
        let f = write(work.path(), &format!("seg{}.mp4", s["id"]), &bytes);
        let probe = run(
            "ffprobe",
            &[
                "-v",
                "error",
                "-show_entries",
                "stream=codec_name,codec_tag_string,width,height",
                "-of",
                "csv=p=0",
                f.to_str().unwrap(),
            ],
        );
        assert_eq!(String::from_utf8(probe).unwrap().trim(), "hevc,hvc1,768,576");
        // Every picture decodes without an error.
        let out = Command::new("ffmpeg")
            .args(["-v", "error", "-nostdin", "-i", f.to_str().unwrap(), "-f", "null", "-"])
            .output()
            .unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let pts = packet_pts(&f);
        assert_eq!(pts[0], s["start_pts"]["ticks"].as_i64().unwrap(), "{s}");
        assert_eq!(pts.len() as i64, s["frames"].as_i64().unwrap());
    }
}
