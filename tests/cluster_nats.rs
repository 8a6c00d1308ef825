//! A Panoptes cluster on a real `nats-server` with JetStream on loopback, three `panoptes` processes: the
//! cameras their files seed are created once and spread by capacity, and any node relays any camera's live
//! video and serves every node's events; the leader killed with `kill -9` →
//! another leads and its camera streams again on a survivor within 10 s; a camera added over any node's API
//! is placed, one too big for every node is listed as unplaced with the reason; the killed node rejoins once
//! with no camera run twice; a clean stop hands its cameras over. A node id held by a running node stops
//! start-up with an error naming the setting; a node whose NATS server is not there yet serves its API, says
//! why (naming the setting), and joins once the server is up. On three NATS servers with three replicas,
//! losing the server that leads the cameras' bucket loses nothing.

mod common;

use common::{Nats, Server, asset, config_with_cameras, run_cli};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

const LEASE_SEC: f64 = 2.0;

/// A node of a cluster on `nats_url` whose config file seeds `cameras` (file cameras analysed once a second,
/// each with an intrusion rule for people anywhere in the picture), with one CPU device of `capacity_fps`
/// inferred frames per second.
fn node_config(nats_url: &str, node: &str, cameras: &[&str], capacity_fps: f32) -> String {
    let cameras: String = cameras
        .iter()
        .map(|c| {
            format!(
                "[[cameras]]\nid = \"{c}\"\nfile = \"{}\"\ndetect_fps = 1\n\n\
                 [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
                 [[cameras.rules]]\nid = \"people\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n\n",
                asset("media/vtest-h264.mp4").display()
            )
        })
        .collect();
    config_with_cameras(&format!(
        "{cameras}[cluster]\nnats_url = \"{nats_url}\"\nnode_id = \"{node}\"\nlease_sec = {LEASE_SEC}\n"
    ))
    .replace("max_batch = 4\n", &format!("max_batch = 4\ncapacity_fps = {capacity_fps}\n"))
}

/// Poll `server`'s `GET /api/cluster` until `done` holds (at most `within`); the last answer.
async fn cluster_until(server: &Server, what: &str, within: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let (status, body) = server.get_json("/api/cluster").await;
        assert_eq!(status, 200, "{body}");
        if done(&body) {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {within:?}; last answer {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn node<'a>(cluster: &'a Value, id: &str) -> Vec<&'a Value> {
    cluster["nodes"].as_array().unwrap().iter().filter(|n| n["id"] == id).collect()
}

fn alive(cluster: &Value, id: &str) -> Option<bool> {
    node(cluster, id).first().map(|n| n["alive"].as_bool().unwrap())
}

/// Camera id → the node that runs it, for every camera placed on a live node that reports it running.
fn running(cluster: &Value) -> BTreeMap<String, String> {
    cluster["cameras"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["running"] == true && c["node_alive"] == true)
        .map(|c| (c["id"].as_str().unwrap().to_string(), c["ingest_node"].as_str().unwrap().to_string()))
        .collect()
}

/// Every live node's own list of the cameras it runs, merged: camera → how many nodes run it.
fn runners(cluster: &Value) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for n in cluster["nodes"].as_array().unwrap().iter().filter(|n| n["alive"] == true) {
        for c in n["cameras"].as_array().unwrap() {
            *out.entry(c.as_str().unwrap().to_string()).or_default() += 1;
        }
    }
    out
}

const CAMERAS: [&str; 3] = ["dock", "gate", "yard"];

/// Every event `server` serves (`GET /api/events`, all pages).
async fn all_events(server: &Server) -> Vec<Value> {
    let mut out = vec![];
    let mut after = 0;
    loop {
        let (status, page) = server.get_json(&format!("/api/events?after_id={after}&limit=1000")).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["events"].as_array().unwrap().iter().cloned());
        match page["next_after_id"].as_i64() {
            Some(next) => after = next,
            None => return out,
        }
    }
}

/// The (node, id there) of every event `server` serves: its own as (`node`, id), copies by their origin.
async fn event_keys(server: &Server, node: &str) -> std::collections::BTreeSet<(String, i64)> {
    all_events(server)
        .await
        .iter()
        .map(|e| match e.get("origin") {
            Some(o) => (o["node"].as_str().unwrap().to_string(), o["id"].as_i64().unwrap()),
            None => (node.to_string(), e["id"].as_i64().unwrap()),
        })
        .collect()
}

#[actix_web::test]
async fn cameras_spread_by_capacity_and_move_off_a_killed_node_within_ten_seconds() {
    let nats = Nats::start();
    // Every node's file seeds the same three cameras: each is created once. A node infers 2 fps, so one node
    // cannot take all three cameras (1 fps each), and a full node beside an empty one is relieved.
    let ids = ["node-a", "node-b", "node-c"];
    // Each node keeps its store across a restart, as a real node does.
    let stores: BTreeMap<&str, tempfile::TempDir> = ids.iter().map(|id| (*id, tempfile::tempdir().unwrap())).collect();
    let with_store = |toml: String, id: &str| toml + &common::store_section(stores[id].path());
    let mut servers: BTreeMap<&str, Server> =
        ids.iter().map(|id| (*id, Server::start(&with_store(node_config(&nats.url, id, &CAMERAS, 2.0), id)))).collect();

    let seen = cluster_until(&servers["node-a"], "three cameras on three nodes", Duration::from_secs(30), |c| {
        ids.iter().all(|id| alive(c, id) == Some(true))
            && running(c).len() == 3
            && running(c).values().collect::<std::collections::BTreeSet<_>>().len() == 3
    })
    .await;
    assert_eq!(seen["mode"], "cluster");
    assert_eq!(seen["nodes"][0]["id"], "node-a", "the answering node comes first");
    assert_eq!(node(&seen, "node-b")[0]["roles"], serde_json::json!(["ingest", "infer", "api"]));
    assert_eq!(node(&seen, "node-b")[0]["infer_fps"], 2.0);
    assert_eq!(runners(&seen).values().copied().collect::<Vec<_>>(), [1, 1, 1], "each camera runs once: {seen}");
    // The cameras were seeded once, whichever file came first: every node's API lists the three.
    for server in servers.values() {
        let (status, list) = server.get_json("/api/cameras").await;
        assert_eq!(status, 200);
        let ids: Vec<&str> = list.as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
        assert_eq!(ids, CAMERAS, "{list}");
    }

    // Each node announces what it measures of its work: frames decoded and inferred per second, and the
    // inference time per model input.
    let loaded = cluster_until(&servers["node-a"], "every node's measured load", Duration::from_secs(20), |c| {
        c["nodes"].as_array().unwrap().iter().all(|n| {
            n["load"]["decoded_fps"].as_f64().is_some_and(|f| f > 0.0)
                && n["load"]["infer_ms_per_input"].as_f64().is_some_and(|ms| ms > 0.0)
        })
    })
    .await;
    assert!(
        loaded["nodes"].as_array().unwrap().iter().all(|n| n["load"]["inferred_fps"].as_f64().is_some()),
        "{loaded}"
    );

    // Any node relays the live video of a camera running on another node.
    let (camera, _) = running(&seen).into_iter().find(|(_, n)| n != "node-a").unwrap();
    let (_, mut live) = awc::Client::default()
        .ws(format!("ws://{}/ws/live/{camera}", servers["node-a"].addr))
        .bearer_auth(common::ADMIN_TOKEN)
        .max_frame_size(16 << 20)
        .connect()
        .await
        .expect("the live WebSocket through node-a");
    let mut got = (None, false);
    while got.0.is_none() || !got.1 {
        match tokio::time::timeout(Duration::from_secs(20), live.next()).await {
            Ok(Some(Ok(awc::ws::Frame::Text(b)))) => got.0 = Some(serde_json::from_slice::<Value>(&b).unwrap()),
            Ok(Some(Ok(awc::ws::Frame::Binary(b)))) => got.1 |= &b[4..8] == b"ftyp",
            Ok(Some(Ok(_))) => {}
            other => panic!("live video of {camera} through node-a: {other:?}"),
        }
    }
    let init = got.0.unwrap();
    assert_eq!((init["type"].as_str(), init["camera"].as_str()), (Some("init"), Some(camera.as_str())), "{init}");
    drop(live);

    // Events are cluster-wide: each node's own events are served by every node, with links to the node
    // that raised them.
    let leader = seen["leader"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let announced = loop {
        let own = event_keys(&servers[leader.as_str()], &leader).await;
        let own: std::collections::BTreeSet<_> = own.into_iter().filter(|(n, _)| *n == leader).collect();
        if !own.is_empty() {
            break own;
        }
        assert!(std::time::Instant::now() < deadline, "no event on {leader} within 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let copy = loop {
        let copies: Vec<Value> = all_events(&servers[if leader == "node-a" { "node-b" } else { "node-a" }])
            .await
            .into_iter()
            .filter(|e| e["origin"]["node"] == leader.as_str())
            .collect();
        if let Some(c) = copies.first() {
            break c.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no copy of {leader}'s events elsewhere within 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let http = node(&seen, &leader)[0]["http"].as_str().unwrap().to_string();
    assert!(copy["clip_url"].as_str().unwrap().starts_with(&format!("{http}/api/events/")), "{copy}");

    // Kill the leader with kill -9: another node takes the lead, and the camera it ran streams again on a
    // survivor within 10 s (the lease is 2 s).
    let orphan = running(&seen).into_iter().find(|(_, n)| *n == leader).unwrap().0;
    servers.get_mut(leader.as_str()).unwrap().kill();
    let killed_at = std::time::Instant::now();
    let survivor = ids.iter().copied().find(|id| *id != leader).unwrap();
    let seen =
        cluster_until(&servers[survivor], "the killed leader's camera running again", Duration::from_secs(10), |c| {
            c["leader"] != leader.as_str()
                && running(c).get(&orphan).is_some_and(|n| *n != leader)
                && running(c).len() == 3
        })
        .await;
    eprintln!("camera {orphan} of the killed leader {leader} ran again after {:?}", killed_at.elapsed());
    assert_eq!(alive(&seen, &leader), Some(false), "{seen}");
    let new_home = running(&seen)[&orphan].clone();
    assert_eq!(runners(&seen).values().copied().collect::<Vec<_>>(), [1, 1, 1], "{seen}");
    // The moved camera decodes on its new node.
    let (status, cam) = servers[new_home.as_str()].get_json(&format!("/api/cameras/{orphan}")).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, cam_later) = servers[new_home.as_str()].get_json(&format!("/api/cameras/{orphan}")).await;
    assert!(
        cam_later["status"]["frames_decoded"].as_u64() > cam["status"]["frames_decoded"].as_u64(),
        "{orphan} on {new_home}: {cam} then {cam_later}"
    );
    // Alerts keep flowing on a survivor's /ws/alerts.
    let mut alerts = servers[survivor].ws("/ws/alerts").await;
    let alert = loop {
        match tokio::time::timeout(Duration::from_secs(60), alerts.next()).await {
            Ok(Some(Ok(awc::ws::Frame::Text(bytes)))) => break serde_json::from_slice::<Value>(&bytes).unwrap(),
            Ok(Some(Ok(awc::ws::Frame::Ping(bytes)))) => alerts.send(awc::ws::Message::Pong(bytes)).await.unwrap(),
            Ok(Some(Ok(_))) => {}
            other => panic!("no alert on {survivor} within 60 s of the kill: {other:?}"),
        }
    };
    assert_eq!(alert["type"], "event", "{alert}");

    // A camera added over one node's API is placed where there is room; one asking more than any node has
    // is listed as unplaced, with the reason.
    for (id, fps) in [("lobby", 1), ("stadium", 5)] {
        let camera = serde_json::json!({ "id": id, "file": asset("media/vtest-h264.mp4"), "detect_fps": fps });
        let (status, body) = servers[survivor].send_json(awc::http::Method::POST, "/api/cameras", Some(camera)).await;
        assert_eq!(status, 201, "{body}");
    }
    let seen = cluster_until(&servers[survivor], "lobby placed, stadium unplaced", Duration::from_secs(10), |c| {
        running(c).contains_key("lobby")
            && c["cameras"].as_array().unwrap().iter().any(|c| c["id"] == "stadium" && c["unplaced"].is_string())
    })
    .await;
    let stadium = seen["cameras"].as_array().unwrap().iter().find(|c| c["id"] == "stadium").unwrap();
    assert!(stadium["unplaced"].as_str().unwrap().contains("detect_fps"), "{stadium}");

    // The killed node returns under its id: it rejoins as one node, and no camera runs twice.
    servers.insert(
        ids.iter().copied().find(|id| *id == leader).unwrap(),
        Server::start(&with_store(node_config(&nats.url, &leader, &CAMERAS, 2.0), &leader)),
    );
    let seen = cluster_until(&servers[survivor], "the old leader back", Duration::from_secs(20), |c| {
        alive(c, &leader) == Some(true) && running(c).len() == 4
    })
    .await;
    assert_eq!(node(&seen, &leader).len(), 1, "{seen}");
    // Every event the killed node had announced is served by the survivors (published before the kill, or
    // from its store when it came back).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let held = event_keys(&servers[survivor], survivor).await;
        let missing: Vec<_> = announced.difference(&held).collect();
        if missing.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{survivor} lacks events of {leader}: {missing:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs_f64(LEASE_SEC)).await;
    let (_, seen) = servers[survivor].get_json("/api/cluster").await;
    assert!(runners(&seen).values().all(|n| *n == 1), "a camera runs on two nodes: {seen}");

    // A clean stop removes its record at once, and its cameras are placed on the others.
    let stopping = survivor;
    let status = servers.get_mut(stopping).unwrap().terminate(Duration::from_secs(20));
    assert!(status.success(), "{status}");
    let other = ids.iter().copied().find(|id| *id != stopping && *id != leader).unwrap();
    let seen =
        cluster_until(&servers[other], "the stopped node gone, its cameras elsewhere", Duration::from_secs(10), |c| {
            node(c, stopping).is_empty() && running(c).len() == 4
        })
        .await;
    assert!(running(&seen).values().all(|n| n != stopping), "{seen}");
}

#[test]
fn a_node_id_in_use_by_a_running_node_is_refused() {
    let nats = Nats::start();
    let _first = Server::start(&node_config(&nats.url, "twin", &[], 2.0));
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = node_config(&nats.url, "twin", &[], 2.0) + &common::store_section(dir.path());
    std::io::Write::write_all(&mut f, config.as_bytes()).unwrap();
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok, "a second node started under the id `twin`");
    assert!(stderr.contains("node id `twin`") && stderr.contains("[cluster] node_id"), "{stderr}");
}

#[actix_web::test]
async fn a_node_whose_nats_server_is_unreachable_serves_its_api_and_joins_once_the_server_is_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let node = Server::start(&node_config(&format!("nats://127.0.0.1:{port}"), "late", &["gate"], 20.0));

    // It listens, says why it is not in the cluster (naming the setting and the fix), runs no camera, and
    // refuses camera changes until it has joined; its stored events are served.
    let (status, cluster) = node.get_json("/api/cluster").await;
    assert_eq!(status, 200);
    assert_eq!(cluster["mode"], "cluster");
    let waiting = cluster["waiting"].as_str().unwrap_or_else(|| panic!("{cluster}"));
    assert!(waiting.contains("[cluster] nats_url") && waiting.contains(&format!("127.0.0.1:{port}")), "{waiting}");
    assert!(waiting.contains("nats-server -js"), "the reason says how to fix it: {waiting}");
    let (status, body) = node.get_json("/api/cameras").await;
    assert_eq!(status, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("NATS"), "{body}");
    let (status, _) = node.get_json("/api/events").await;
    assert_eq!(status, 200);
    // Live, not ready: a load balancer sends it no work yet.
    let (status, health) = node.get_json("/healthz").await;
    assert_eq!((status, &health["ready"]), (200, &serde_json::json!(false)), "{health}");
    let (status, ready) = node.get_json("/readyz").await;
    assert_eq!(status, 503, "{ready}");

    // The server comes up on that port: the node joins on its next retry and runs the camera its file seeds.
    let _nats = Nats::start_on(port);
    let seen = cluster_until(&node, "joined, gate running", Duration::from_secs(30), |c| {
        c["waiting"].is_null() && running(c).contains_key("gate")
    })
    .await;
    assert_eq!(seen["leader"], "late", "{seen}");
    let (status, ready) = node.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
}

#[actix_web::test]
async fn on_a_three_server_nats_cluster_with_three_replicas_a_lost_server_loses_nothing() {
    let mut nats = Nats::cluster(3);
    let config = |node: &str, url: &str| {
        node_config(url, node, &CAMERAS, 2.0).replace("[cluster]\n", "[cluster]\nreplicas = 3\n")
    };
    // Each node talks to its own server (and moves to another when it is lost); the third holds replicas.
    let a = Server::start(&config("node-a", &nats[0].url));
    let b = Server::start(&config("node-b", &nats[1].url));
    cluster_until(&a, "three cameras running on two nodes", Duration::from_secs(30), |c| running(c).len() == 3).await;
    let copies_of_b = async || all_events(&a).await.iter().filter(|e| e["origin"]["node"] == "node-b").count();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let before = loop {
        let n = copies_of_b().await;
        if n > 0 {
            break n;
        }
        assert!(std::time::Instant::now() < deadline, "no event of node-b copied to node-a within 60 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    // kill -9 the server leading the cameras' bucket: with one replica the bucket would be gone; with three,
    // the others elect a new leader, and the cameras, the plan and the events go on.
    let leader = nats[0].stream_leader("KV_panoptes_cameras").expect("the cameras' bucket has a leader");
    let lost: usize = leader.trim_start_matches('s').parse().unwrap();
    nats[lost].kill();
    eprintln!("killed NATS server {leader}, the leader of the cameras' bucket");
    // While the servers elect the bucket's new leader (seconds) a change answers 503, saying to retry.
    let lobby = serde_json::json!({ "id": "lobby", "file": asset("media/vtest-h264.mp4"), "detect_fps": 1 });
    let survivor = if lost == 0 { &b } else { &a };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = survivor.send_json(awc::http::Method::POST, "/api/cameras", Some(lobby.clone())).await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(body["error"].as_str().unwrap().contains("panoptes_cameras"), "the error names the bucket: {body}");
        assert!(std::time::Instant::now() < deadline, "no camera stored within 20 s of the server loss: {body}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let seen =
        cluster_until(if lost == 1 { &a } else { &b }, "lobby placed and running", Duration::from_secs(30), |c| {
            running(c).contains_key("lobby") && running(c).len() == 4
        })
        .await;
    assert!(runners(&seen).values().all(|n| *n == 1), "{seen}");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while copies_of_b().await <= before {
        assert!(std::time::Instant::now() < deadline, "node-b's events stopped reaching node-a after the server loss");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
