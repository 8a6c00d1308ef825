//! MQTT against a real broker on loopback (Debian `mosquitto`, started here): every stored event arrives on
//! the events topics, Home Assistant discovery configs are retained, zone counts and camera status are
//! published; a broker killed with `kill -9` and restarted loses no event and repeats none beyond those
//! the server reports it had in flight; an unreachable broker at start is retried, never fatal; a bad
//! `[mqtt]` is refused naming the field; a TLS broker with a private CA is reached through `ca_file`, and
//! refused (its certificate unknown) without it.

mod common;

use common::*;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One message a subscriber got.
#[derive(Clone, Debug)]
struct Got {
    topic: String,
    payload: String,
    retain: bool,
}

/// A subscriber to `filters` on the broker at `port` (its own persistent session, so messages published
/// while it reconnects are queued for it), recording what it gets.
struct Subscriber {
    got: Arc<Mutex<Vec<Got>>>,
    subscribed: Arc<Mutex<bool>>,
}

impl Subscriber {
    fn start(port: u16, id: &str, filters: &[&str], clean: bool) -> Self {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_clean_session(clean);
        opts.set_keep_alive(Duration::from_secs(5));
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut eventloop) = AsyncClient::new(opts, 100);
        let (got, subscribed) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(false)));
        let (g, s) = (got.clone(), subscribed.clone());
        let filters: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        actix_web::rt::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) if !ack.session_present => {
                        for f in &filters {
                            let _ = client.try_subscribe(f.clone(), QoS::AtLeastOnce);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => *s.lock().unwrap() = true,
                    Ok(Event::Incoming(Packet::Publish(p))) => g.lock().unwrap().push(Got {
                        topic: p.topic.clone(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self { got, subscribed }
    }

    async fn ready(&self) {
        let s = self.subscribed.clone();
        wait_for("the subscription", Duration::from_secs(10), async || (*s.lock().unwrap()).then_some(())).await;
    }

    fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// Event ids received on `topic`, in arrival order.
    fn event_ids(&self, topic: &str) -> Vec<i64> {
        self.got()
            .iter()
            .filter(|g| g.topic == topic)
            .map(|g| serde_json::from_str::<Value>(&g.payload).unwrap()["id"].as_i64().unwrap())
            .collect()
    }

    /// The latest payload on each topic.
    fn latest(&self) -> BTreeMap<String, Got> {
        self.got().into_iter().map(|g| (g.topic.clone(), g)).collect()
    }
}

fn config(broker_url: &str) -> String {
    config_with_cameras(&format!(
        "[[cameras]]\nid = \"yard\"\nfile = \"{}\"\ndetect_fps = 5\nclasses = [\"person\"]\n\n\
         [[cameras.zones]]\nid = \"all\"\npolygon = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]\n\n\
         [[cameras.rules]]\nid = \"anyone\"\nkind = \"intrusion\"\nzone = \"all\"\nclasses = [\"person\"]\n\n\
         [[cameras.rules]]\nid = \"crowd\"\nkind = \"occupancy\"\nzone = \"all\"\nclasses = [\"person\"]\nmin_count = 2\nhold_sec = 0.5\n\n\
         [mqtt]\nurl = \"{broker_url}\"\nclient_id = \"panoptes-test\"\nretry_max_sec = 1.0\nkeep_alive_sec = 5\n",
        asset("media/vtest-h264.mp4").display(),
    ))
}

async fn mqtt_status(server: &Server) -> Value {
    let (status, body) = server.get_json("/api/mqtt").await;
    assert_eq!(status, 200, "{body}");
    body["mqtt"].clone()
}

async fn stored_ids(server: &Server) -> BTreeSet<i64> {
    let (_, body) = server.get_json("/api/events?camera=yard&limit=1000").await;
    body["events"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

/// Wait until every event stored now has arrived on both events topics; returns the stored ids.
async fn all_stored_arrive(server: &Server, sub: &Subscriber, what: &str) -> BTreeSet<i64> {
    let stored = stored_ids(server).await;
    wait_for(what, Duration::from_secs(60), async || {
        let all: BTreeSet<i64> = sub.event_ids("panoptes/events").into_iter().collect();
        let camera: BTreeSet<i64> = sub.event_ids("panoptes/yard/events").into_iter().collect();
        (stored.is_subset(&all) && stored.is_subset(&camera)).then_some(())
    })
    .await;
    stored
}

#[actix_web::test]
async fn events_state_and_discovery_reach_a_real_broker_through_a_broker_restart() {
    let mut broker = Mosquitto::start();
    let sub = Subscriber::start(broker.port, "test-sub", &["panoptes/#", "homeassistant/#"], false);
    sub.ready().await;
    let server = Server::start(&config(&broker.url()));

    // 1. Connected; events arrive on both topics as the alert JSON, each once, in id order.
    let first = wait_for("three events stored", Duration::from_secs(90), async || {
        let ids = stored_ids(&server).await;
        (ids.len() >= 3).then_some(ids)
    })
    .await;
    let _ = first;
    let stored = all_stored_arrive(&server, &sub, "the first events on the broker").await;
    let ids = sub.event_ids("panoptes/events");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in id order, each once: {ids:?}");
    let one = sub.got().into_iter().find(|g| g.topic == "panoptes/yard/events").unwrap();
    let one: Value = serde_json::from_str(&one.payload).unwrap();
    assert_eq!(
        (one["type"].as_str(), one["camera"].as_str(), one["rule"].is_string()),
        (Some("event"), Some("yard"), true),
        "{one}"
    );
    wait_for("the broker's acknowledgements counted", Duration::from_secs(10), async || {
        let s = mqtt_status(&server).await;
        (s["connected"] == true && s["published_events"].as_u64() >= Some(2 * stored.len() as u64)).then_some(())
    })
    .await;

    // 2. Live state: camera status, the zone's person count, occupancy and motion, and availability.
    let latest = wait_for("status, count and occupancy states", Duration::from_secs(30), async || {
        let l = sub.latest();
        [
            "panoptes/yard/status",
            "panoptes/yard/all/person/count",
            "panoptes/yard/all/occupied",
            "panoptes/yard/motion",
            "panoptes/availability",
        ]
        .iter()
        .all(|t| l.contains_key(*t))
        .then_some(l)
    })
    .await;
    assert!(
        latest["panoptes/yard/all/person/count"].payload.parse::<u32>().is_ok(),
        "{:?}",
        latest["panoptes/yard/all/person/count"]
    );
    assert!(["ON", "OFF"].contains(&latest["panoptes/yard/all/occupied"].payload.as_str()));
    let cam: Value = serde_json::from_str(&latest["panoptes/yard/status"].payload).unwrap();
    assert!(cam["state"].is_string() && cam["fps"].is_number(), "{cam}");
    assert_eq!(latest["panoptes/availability"].payload, "online");

    // 3. Discovery configs are retained: a newcomer gets them, with what Home Assistant needs.
    let late = Subscriber::start(broker.port, "test-late", &["homeassistant/#"], true);
    late.ready().await;
    let configs = wait_for("retained discovery configs", Duration::from_secs(10), async || {
        let got = late.got();
        (got.len() >= 5).then_some(got)
    })
    .await;
    assert!(configs.iter().all(|g| g.retain), "retained: {configs:?}");
    let by_topic: BTreeMap<String, Value> =
        configs.iter().map(|g| (g.topic.clone(), serde_json::from_str(&g.payload).unwrap())).collect();
    for t in [
        "homeassistant/sensor/panoptes/yard_status/config",
        "homeassistant/sensor/panoptes/yard_last_event/config",
        "homeassistant/sensor/panoptes/yard_all_person_count/config",
        "homeassistant/binary_sensor/panoptes/yard_all_occupancy/config",
        "homeassistant/binary_sensor/panoptes/yard_motion/config",
    ] {
        let c = by_topic.get(t).unwrap_or_else(|| panic!("no {t} in {:?}", by_topic.keys()));
        for key in ["name", "unique_id", "state_topic", "availability_topic"] {
            assert!(c[key].is_string(), "{t} lacks {key}: {c}");
        }
        assert_eq!(c["availability_topic"], "panoptes/availability");
        assert_eq!(c["device"]["identifiers"][0], "panoptes_yard", "{c}");
        assert_eq!(c["device"]["manufacturer"], "Panoptes", "{c}");
    }
    assert_eq!(
        by_topic["homeassistant/sensor/panoptes/yard_all_person_count/config"]["state_topic"],
        "panoptes/yard/all/person/count"
    );

    // 4. kill -9 the broker (once it has saved the subscriber's session); events accumulate in the store.
    wait_for("the broker's first save", Duration::from_secs(10), async || broker.saved().then_some(())).await;
    broker.kill();
    let before = wait_for("the server to notice the broker is gone", Duration::from_secs(30), async || {
        let s = mqtt_status(&server).await;
        (s["connected"] == false && s["last_error"].is_string()).then_some(s)
    })
    .await;
    let at_kill = stored_ids(&server).await;
    wait_for("events stored while the broker is down", Duration::from_secs(90), async || {
        let ids = stored_ids(&server).await;
        (ids.len() > at_kill.len() + 1).then_some(())
    })
    .await;
    let down = mqtt_status(&server).await;
    assert_eq!(down["connected"], false, "{down}");
    assert!(
        down["backlog"].as_i64().unwrap() > 0 || down["after_id"].as_i64() < stored_ids(&server).await.last().copied(),
        "{down}"
    );

    // 5. The broker comes back on the same port: every event stored arrives, none twice except those the
    //    server reports as in flight when the connection dropped (QoS 1 may repeat exactly those).
    broker.restart();
    wait_for("the server to reconnect", Duration::from_secs(30), async || {
        let s = mqtt_status(&server).await;
        (s["connected"] == true && s["connects"].as_u64() >= Some(2)).then_some(())
    })
    .await;
    let stored = all_stored_arrive(&server, &sub, "every stored event after the broker restart").await;
    assert!(stored.len() > at_kill.len(), "events were raised while the broker was down");
    let status = mqtt_status(&server).await;
    let resent: BTreeSet<i64> =
        status["resent_event_ids"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    for topic in ["panoptes/events", "panoptes/yard/events"] {
        let ids = sub.event_ids(topic);
        let mut seen = BTreeSet::new();
        let twice: BTreeSet<i64> = ids.iter().filter(|id| !seen.insert(**id)).copied().collect();
        assert!(
            twice.is_subset(&resent),
            "{topic}: {twice:?} arrived twice, but only {resent:?} were in flight at the drop ({before})"
        );
    }
    // The state came back too (sent in full after the reconnect), and the metrics say what happened.
    let (_, _, text) = get_bytes(&server, "/metrics", None).await;
    let text = String::from_utf8_lossy(&text);
    assert!(text.lines().any(|l| l.starts_with("panoptes_mqtt_connected") && l.ends_with(" 1")), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("panoptes_mqtt_published_total") && l.contains("kind=\"event\"")),
        "{text}"
    );
}

#[actix_web::test]
async fn an_unreachable_broker_at_start_is_retried_and_never_stops_the_server() {
    let port = unused_port();
    let mut server = Server::start(&config(&format!("mqtt://127.0.0.1:{port}")));
    let status = wait_for("a failed connection attempt", Duration::from_secs(30), async || {
        let s = mqtt_status(&server).await;
        s["last_error"].is_string().then_some(s)
    })
    .await;
    assert_eq!(status["connected"], false, "{status}");
    let (code, _) = server.get_json("/api/health").await;
    assert_eq!(code, 200, "the server runs on");
    let line = wait_for_stderr(&mut server, "cannot connect to the broker", Duration::from_secs(10));
    assert!(line.contains(&format!("127.0.0.1:{port}")) && line.contains("[mqtt] url"), "{line}");
    // The broker appears: the server connects on its own.
    let _broker = Mosquitto::start_on(port);
    wait_for("the connection once the broker runs", Duration::from_secs(30), async || {
        (mqtt_status(&server).await["connected"] == true).then_some(())
    })
    .await;
}

/// A private CA and a broker certificate for 127.0.0.1 signed by it, made with the openssl CLI in `dir`:
/// (ca.pem, server.pem, server.key).
fn private_ca(dir: &std::path::Path) -> [std::path::PathBuf; 3] {
    let openssl = |args: &[&str]| {
        let out = std::process::Command::new("openssl").args(args).current_dir(dir).output().expect("running openssl");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let subj = |cn: &str| format!("/CN={cn}");
    let ca_subj = subj("panoptes test CA");
    openssl(&[
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
        &ca_subj,
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        &subj("127.0.0.1"),
    ]);
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n").unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    // Started as root, mosquitto reads them as the user `mosquitto`.
    for f in ["ca.pem", "server.pem", "server.key"] {
        std::fs::set_permissions(dir.join(f), std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    ["ca.pem", "server.pem", "server.key"].map(|f| dir.join(f))
}

#[actix_web::test]
async fn a_tls_broker_with_a_private_ca_is_reached_through_ca_file_and_refused_without_it() {
    let certs = tempfile::tempdir().unwrap();
    let [ca, cert, key] = private_ca(certs.path());
    let tls_port = unused_port();
    // A plain listener for the test's subscriber, and a TLS one for the server.
    let broker = Mosquitto::start_with(
        unused_port(),
        &format!(
            "listener {tls_port} 127.0.0.1\ncafile {}\ncertfile {}\nkeyfile {}\n",
            ca.display(),
            cert.display(),
            key.display()
        ),
    );
    let sub = Subscriber::start(broker.port, "tls-sub", &["panoptes/#"], true);
    sub.ready().await;
    let url = format!("mqtts://127.0.0.1:{tls_port}");

    // The system's roots do not know the private CA: the handshake is refused, and the status says why.
    let server = Server::start(&config(&url));
    let refused = wait_for("a refused TLS handshake", Duration::from_secs(30), async || {
        let s = mqtt_status(&server).await;
        s["last_error"].as_str().map(str::to_owned)
    })
    .await;
    assert!(refused.contains("invalid peer certificate") && refused.contains("[mqtt] ca_file"), "{refused}");
    assert_eq!(mqtt_status(&server).await["connected"], false);
    drop(server);

    // Trusting it through ca_file: connected over TLS, and the events come through.
    let server = Server::start(&format!("{}ca_file = \"{}\"\n", config(&url), ca.display()));
    wait_for("a connection over TLS", Duration::from_secs(30), async || {
        (mqtt_status(&server).await["connected"] == true).then_some(())
    })
    .await;
    wait_for("an event over TLS", Duration::from_secs(90), async || {
        (!sub.event_ids("panoptes/events").is_empty()).then_some(())
    })
    .await;
    all_stored_arrive(&server, &sub, "every stored event over TLS").await;
}

#[actix_web::test]
async fn a_bad_mqtt_section_is_refused_at_start_naming_the_field() {
    let f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    std::fs::write(f.path(), config("http://127.0.0.1:1883")).unwrap();
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("mqtt.url") && stderr.contains("mqtt://"), "{stderr}");
    std::fs::write(f.path(), config("mqtt://127.0.0.1:1883").replace("keep_alive_sec = 5", "qos = 3")).unwrap();
    let (ok, _, stderr) = run_cli(&["run", "--config", f.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("mqtt.qos"), "{stderr}");
}

/// The first line of the server's stderr containing `needle`, waiting up to `timeout`.
fn wait_for_stderr(server: &mut Server, needle: &str, timeout: Duration) -> String {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match server.stderr.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return line,
            Ok(_) => {}
            Err(_) => panic!("no stderr line containing {needle:?} within {timeout:?}"),
        }
    }
}
