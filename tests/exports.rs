//! Evidence export against the real server: events with their clips and snapshots, and a camera's recorded
//! time range, packed into a signed zip that `panoptes verify` accepts, and refuses once one byte changed.

mod common;

use common::*;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::time::Duration;

fn recorded_server(store: &std::path::Path) -> Server {
    let mut toml = config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n",
        asset("media/vtest-h264.mp4").display()
    ));
    toml.push_str(&store_section(store));
    toml.push_str(&format!(
        "\n[recording]\nenabled = true\ndir = \"{}\"\nsegment_sec = 2.0\nclip_pre_sec = 1.0\nclip_post_sec = 1.0\n",
        store.join("recordings").display()
    ));
    Server::start(&toml)
}

async fn post(server: &Server, body: Value) -> (u16, Vec<u8>) {
    let mut resp = server.request(awc::http::Method::POST, "/api/exports").send_json(&body).await.unwrap();
    (resp.status().as_u16(), resp.body().limit(512 << 20).await.unwrap().to_vec())
}

fn entries(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    (0..archive.len())
        .map(|i| {
            let mut f = archive.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (name, bytes)
        })
        .collect()
}

fn entry<'a>(all: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &all.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("{name} not in the export")).1
}

/// `panoptes verify` on `zip` (written to a file), with `--key` when given: (success, stdout + stderr).
fn verify(zip: &[u8], key: Option<&str>) -> (bool, String) {
    let mut f = tempfile::Builder::new().suffix(".zip").tempfile().unwrap();
    f.write_all(zip).unwrap();
    let path = f.path().to_str().unwrap().to_owned();
    let mut args = vec!["verify", path.as_str()];
    if let Some(k) = key {
        args.extend(["--key", k]);
    }
    let (ok, out, err) = run_cli(&args);
    (ok, out + &err)
}

#[actix_web::test]
async fn exports_are_signed_complete_and_any_changed_byte_fails_verification() {
    let store = tempfile::tempdir().unwrap();
    let server = recorded_server(store.path());
    let (status, key) = server.get_json("/api/exports/key").await;
    assert_eq!(status, 200, "{key}");
    let public = key["public_key"].as_str().unwrap().to_owned();
    assert_eq!(public.len(), 64, "{key}");

    // Two events whose clips are recorded (a segment finishes every 2 s).
    let ids: Vec<i64> = wait_for("two events with recorded clips", Duration::from_secs(90), async || {
        let (_, body) = server.get_json("/api/events?camera=yard&limit=20").await;
        let mut ready = Vec::new();
        for e in body["events"].as_array()?.iter().rev() {
            let id = e["id"].as_i64()?;
            if get_bytes(&server, &format!("/api/events/{id}/clip"), None).await.0 == 200 {
                ready.push(id);
            }
        }
        (ready.len() >= 2).then(|| ready[..2].to_vec())
    })
    .await;

    let (status, zip) = post(&server, json!({ "events": ids })).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    let all = entries(&zip);
    let events: Value = serde_json::from_slice(entry(&all, "events.json")).unwrap();
    let listed: Vec<i64> = events.as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(listed, want);
    for id in &ids {
        let (_, _, clip) = get_bytes(&server, &format!("/api/events/{id}/clip"), None).await;
        assert_eq!(entry(&all, &format!("clips/event-{id}.mp4")), clip.as_slice(), "the clip the API serves");
        let (_, _, jpeg) = get_bytes(&server, &format!("/api/events/{id}/snapshot.jpg"), None).await;
        assert_eq!(entry(&all, &format!("snapshots/event-{id}.jpg")), jpeg.as_slice(), "the snapshot the API serves");
    }
    let manifest: Value = serde_json::from_slice(entry(&all, "manifest.json")).unwrap();
    assert_eq!(manifest["key"]["public_key"], public.as_str(), "{manifest}");
    assert_eq!(manifest["request"], json!({ "events": ids }), "{manifest}");

    let (ok, out) = verify(&zip, Some(&public));
    assert!(ok && out.contains("OK") && out.contains("the expected key"), "{out}");

    // One byte of a clip changed (the zip re-made around it, so only the signed manifest can tell).
    let victim = format!("clips/event-{}.mp4", ids[0]);
    let mut rezipped = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in &all {
        let mut bytes = bytes.clone();
        if *name == victim {
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0x01;
        }
        rezipped.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        rezipped.write_all(&bytes).unwrap();
    }
    let tampered = rezipped.finish().unwrap().into_inner();
    let (ok, out) = verify(&tampered, None);
    assert!(!ok && out.contains(&victim) && out.contains("changed"), "{out}");
    // The untouched export, but another node's key expected.
    let (ok, out) = verify(&zip, Some(&"ab".repeat(32)));
    assert!(!ok && out.contains("not by the expected key"), "{out}");

    // A camera's recorded time range: its segments and its events, signed the same way.
    let now = panoptes_actors::time::now_unix_ms();
    // Listed first: a segment finishing meanwhile may be packed too, but none listed may be missing.
    let (_, listed) = server.get_json(&format!("/api/cameras/yard/recordings?start={}&end={now}", now - 60_000)).await;
    let listed = listed["segments"].as_array().unwrap().clone();
    let (status, zip) =
        post(&server, json!({ "camera": "yard", "start_ms": now - 60_000, "duration_ms": 60_000 })).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&zip));
    let all = entries(&zip);
    // Every segment the recordings API listed for the range, byte for byte.
    let packed: Vec<&(String, Vec<u8>)> = all.iter().filter(|(n, _)| n.starts_with("recordings/")).collect();
    assert!(!listed.is_empty() && packed.len() >= listed.len(), "{} packed, {} listed", packed.len(), listed.len());
    for seg in &listed {
        let (_, _, bytes) = get_bytes(&server, seg["url"].as_str().unwrap(), None).await;
        assert!(packed.iter().any(|(_, b)| *b == bytes), "segment {} is in the export", seg["url"]);
    }
    assert!(serde_json::from_slice::<Value>(entry(&all, "events.json")).unwrap().as_array().unwrap().len() >= 2);
    let (ok, out) = verify(&zip, Some(key["fingerprint"].as_str().unwrap()));
    assert!(ok, "{out}");

    // Bad requests say what to send.
    for (body, status, says) in [
        (json!({}), 400, "either `events`"),
        (json!({ "events": [] }), 400, "events"),
        (json!({ "events": [99_999_999] }), 404, "event 99999999"),
        (json!({ "camera": "yard", "start_ms": 0, "duration_ms": 7_200_000 }), 400, "duration_ms"),
        (json!({ "camera": "yard", "start_ms": 0, "duration_ms": 1000 }), 404, "no recording and no event"),
        (json!({ "events": [1], "camera": "yard" }), 400, "either `events`"),
    ] {
        let (got, answer) = post(&server, body.clone()).await;
        let answer = String::from_utf8_lossy(&answer);
        assert!(got == status && answer.contains(says), "{body} → {got} {answer}");
    }
}
