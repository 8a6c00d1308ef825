//! Cluster membership on a real `nats-server` with JetStream on loopback: two `panoptes` processes join, each
//! sees the other with its cameras; one killed with `kill -9` is shown dead within its lease and comes back
//! as one node when restarted; one stopped cleanly leaves the list at once. A NATS server that is not there
//! stops start-up with an error naming `[cluster] nats_url`.

mod common;

use common::{Server, asset, config_with_cameras, run_cli};
use serde_json::Value;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LEASE_SEC: f64 = 2.0;

/// `nats-server -js` on a free loopback port with its JetStream store in a temporary directory.
struct Nats {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Nats {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nats-server (Debian package nats-server; scripts/setup.sh installs it)");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "nats-server did not listen on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { child, url: format!("nats://127.0.0.1:{port}"), _dir: dir }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A node with one file camera (analysed once a second) in a cluster on `nats_url`.
fn node_config(nats_url: &str, node: &str, camera: &str) -> String {
    config_with_cameras(&format!(
        "[[cameras]]\nid = \"{camera}\"\nfile = \"{}\"\ndetect_fps = 1\n\n\
         [cluster]\nnats_url = \"{nats_url}\"\nnode_id = \"{node}\"\nlease_sec = {LEASE_SEC}\n",
        asset("media/vtest-h264.mp4").display()
    ))
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

#[actix_web::test]
async fn nodes_join_a_killed_node_lapses_with_its_lease_and_rejoins_once() {
    let nats = Nats::start();
    let a = Server::start(&node_config(&nats.url, "node-a", "gate"));
    let mut b = Server::start(&node_config(&nats.url, "node-b", "dock"));

    // Each node sees both, with the cameras each runs.
    for (server, me) in [(&a, "node-a"), (&b, "node-b")] {
        let seen = cluster_until(server, "both nodes alive with their cameras", Duration::from_secs(20), |c| {
            alive(c, "node-a") == Some(true)
                && alive(c, "node-b") == Some(true)
                && c["cameras"].as_array().is_some_and(|cams| cams.len() == 2)
        })
        .await;
        assert_eq!(seen["mode"], "cluster");
        assert_eq!(seen["node"], me);
        assert_eq!(seen["nodes"][0]["id"], me, "the answering node comes first");
        let b_node = node(&seen, "node-b")[0];
        assert_eq!(b_node["roles"], serde_json::json!(["ingest", "infer", "api"]));
        assert_eq!(b_node["lease_ms"], 2000);
        assert_eq!(b_node["cameras"], serde_json::json!(["dock"]));
        let cams: Vec<(&str, &str)> = seen["cameras"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["id"].as_str().unwrap(), c["ingest_node"].as_str().unwrap()))
            .collect();
        assert_eq!(cams, [("dock", "node-b"), ("gate", "node-a")]);
    }

    // kill -9: B renews no more; A shows it dead once its lease has run out (bounded well above the lease,
    // this is not a timing test), and its camera as on a dead node.
    b.kill();
    let seen = cluster_until(&a, "node-b dead after kill -9", Duration::from_secs_f64(LEASE_SEC * 4.0), |c| {
        alive(c, "node-b") == Some(false)
    })
    .await;
    assert!(node(&seen, "node-b")[0]["last_renewal_ms"].as_u64().unwrap() >= 1000, "{seen}");
    let dock = seen["cameras"].as_array().unwrap().iter().find(|c| c["id"] == "dock").unwrap();
    assert_eq!(dock["node_alive"], false);

    // B restarts under the same id: alive again, listed once.
    let mut b = Server::start(&node_config(&nats.url, "node-b", "dock"));
    let seen = cluster_until(&a, "node-b back", Duration::from_secs(20), |c| alive(c, "node-b") == Some(true)).await;
    assert_eq!(node(&seen, "node-b").len(), 1, "{seen}");

    // A clean stop removes its record: A drops it at once (well before its lease would run out).
    let status = b.terminate(Duration::from_secs(20));
    assert!(status.success(), "{status}");
    let seen = cluster_until(&a, "node-b gone after SIGTERM", Duration::from_secs_f64(LEASE_SEC), |c| {
        node(c, "node-b").is_empty()
    })
    .await;
    assert_eq!(alive(&seen, "node-a"), Some(true));
}

#[test]
fn an_unreachable_nats_server_stops_start_up_naming_the_setting() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config =
        node_config(&format!("nats://127.0.0.1:{port}"), "lonely", "gate") + &common::store_section(dir.path());
    std::io::Write::write_all(&mut f, config.as_bytes()).unwrap();
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok, "started without its NATS server");
    assert!(stderr.contains("[cluster] nats_url") && stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("nats-server -js"), "the error says how to fix it: {stderr}");
}
