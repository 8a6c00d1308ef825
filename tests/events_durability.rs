//! Durability of the event store: an event that was announced is on disk, whatever moment the process dies.
//!
//! The parent test runs this test binary again as a child (`child_writes_events_until_killed`, ignored in a
//! normal run) that starts the real store actors on a temporary directory, feeds them events with pictures
//! through the store's intake (the `NewEvent` recipient rules use), and prints each event the *alert hub*
//! delivers. The parent kills the child with SIGKILL in the middle of the stream, then reopens the database:
//! every id the child printed must be there, with its event and its snapshot.

use panoptes_actors::alerts::{AlertCursor, Subscribe};
use panoptes_actors::config::StoreConfig;
use panoptes_actors::geometry::{BBox, Letterbox};
use panoptes_actors::messages::{Event, EventKind, EventState, ModelInput, NewEvent};
use panoptes_actors::store::Store;
use panoptes_actors::time::Pts;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "PANOPTES_DURABILITY_CHILD_DIR";

fn event(seq: u64) -> Event {
    Event {
        camera: "gate".into(),
        rule: format!("rule-{seq}"),
        kind: EventKind::Intrusion,
        state: EventState::Start,
        track_id: Some(seq),
        class: Some("person".into()),
        confidence: Some(0.5),
        pts: Pts::new(seq as i64 * 9_000, 90_000),
        end_pts: None,
        wall_ms: panoptes_actors::time::WallTime::from_unix_ms(1_700_000_000_000 + seq as i64),
        bbox: Some(BBox { x1: 10.0, y1: 10.0, x2: 100.0, y2: 80.0 }),
        details: serde_json::json!({ "seq": seq }),
    }
}

fn picture() -> Arc<ModelInput> {
    let letterbox = Letterbox::new(320, 240, 160, 160);
    Arc::new(ModelInput { letterbox, chw: vec![0.5; 3 * 160 * 160] })
}

/// The child half: ignored in a normal run; the parent runs it with `--ignored --exact`.
#[test]
#[ignore = "run by store_keeps_every_announced_event_through_kill_9 as a child process"]
fn child_writes_events_until_killed() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let dir = Path::new(&dir).to_owned();
    actix::System::new().block_on(async move {
        let config =
            StoreConfig { path: dir.join("events.db"), snapshot_dir: dir.join("snapshots"), retention_days: 0 };
        let (store, alerts) = panoptes_actors::alerts::start_with_store(&config).unwrap();
        let (_sub, live) = alerts.send(Subscribe { camera: None }).await.unwrap();
        let mut cursor = AlertCursor::new(live, None, None);
        let events = store.intake.clone().recipient::<NewEvent>();
        let reader = store.reader.clone();
        // Keep a few events in flight (fewer than the intake's picture bound), so every event has a picture
        // and some are always between the intake and the commit when the kill comes.
        let seen = Arc::new(AtomicU64::new(0));
        let in_flight = seen.clone();
        actix::spawn(async move {
            for seq in 1u64.. {
                while seq > in_flight.load(Ordering::SeqCst) + 8 {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                events.do_send(NewEvent { event: event(seq), picture: Some(picture()) });
            }
        });
        let mut out = std::io::stdout().lock();
        while let Ok(Some(alert)) = cursor.next(&reader).await {
            writeln!(out, "ANNOUNCED {}", alert.json).unwrap();
            out.flush().unwrap();
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
}

#[test]
fn store_keeps_every_announced_event_through_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_writes_events_until_killed", "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, dir.path())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(json) = line.strip_prefix("ANNOUNCED ") {
                let _ = tx.send(serde_json::from_str::<serde_json::Value>(json).unwrap());
            }
        }
    });
    let mut announced = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while announced.len() < 40 {
        let left = deadline.saturating_duration_since(Instant::now());
        announced.push(rx.recv_timeout(left).expect("the child announces events"));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no clean close of SQLite.
    child.wait().unwrap();
    // Lines the child wrote before it died are still in the pipe.
    while let Ok(v) = rx.recv_timeout(Duration::from_secs(2)) {
        announced.push(v);
    }

    let store = Store::open(&dir.path().join("events.db")).unwrap();
    let ids: Vec<i64> = announced.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "announced in id order: {ids:?}");
    for v in &announced {
        let id = v["id"].as_i64().unwrap();
        let stored = store.get(id).unwrap().unwrap_or_else(|| panic!("announced event {id} is not in the store"));
        // The announcement and the stored row describe the same event.
        assert_eq!(serde_json::from_str::<serde_json::Value>(&stored.to_json()).unwrap(), *v);
        let seq = v["details"]["seq"].as_u64().unwrap();
        assert_eq!(stored.event, {
            let mut e = event(seq);
            e.end_pts = None;
            e
        });
        let snapshot = dir.path().join("snapshots").join(stored.snapshot.as_deref().expect("a snapshot"));
        let bytes = std::fs::read(&snapshot).unwrap();
        let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg).unwrap();
        assert_eq!((img.width(), img.height()), (160, 120), "the letterbox padding is cropped");
    }
    // The rules' events are stored in the order they were sent: ids and sequence numbers agree.
    let stored = store.events_after(0, None, 1000).unwrap();
    for (i, e) in stored.iter().enumerate() {
        assert_eq!(e.event.details["seq"], i as u64 + 1, "event {} out of order", e.id);
    }
    assert!(stored.len() >= announced.len());
    eprintln!("{} events announced before the kill, {} committed", announced.len(), stored.len());
}
