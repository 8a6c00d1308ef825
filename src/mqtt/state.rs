//! What Panoptes mirrors to MQTT as live state, as pure functions: the topic names, the retained state
//! messages built from a snapshot of the cameras (status, per-zone counts, occupancy, motion), the change
//! filter that sends only what differs from what the broker already has, and the bounded queue those
//! messages wait in (full: dropped and counted, never waited for).

use panoptes_actors::metric_names as m;
use panoptes_actors::rules::LiveState;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// What a message is, for `panoptes_mqtt_published_total{kind}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Event,
    State,
    Discovery,
    Availability,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Event => "event",
            Kind::State => "state",
            Kind::Discovery => "discovery",
            Kind::Availability => "availability",
        }
    }
}

/// One message to publish (state and discovery messages are retained).
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
    pub kind: Kind,
}

/// A topic level from a name: characters other than letters, digits, `-` and `_` become `_`.
pub fn level(name: &str) -> String {
    let s: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    if s.is_empty() { "_".into() } else { s }
}

/// The topic names under `[mqtt] topic_prefix`.
#[derive(Clone, Debug)]
pub struct Topics {
    pub prefix: String,
}

impl Topics {
    /// `online` / `offline` (the last will), retained.
    pub fn availability(&self) -> String {
        format!("{}/availability", self.prefix)
    }
    /// Every camera's events.
    pub fn events(&self) -> String {
        format!("{}/events", self.prefix)
    }
    pub fn camera_events(&self, camera: &str) -> String {
        format!("{}/{}/events", self.prefix, level(camera))
    }
    /// `{"state": ..., "fps": ...}`, retained.
    pub fn status(&self, camera: &str) -> String {
        format!("{}/{}/status", self.prefix, level(camera))
    }
    /// `ON` while the tracker follows any object, retained.
    pub fn motion(&self, camera: &str) -> String {
        format!("{}/{}/motion", self.prefix, level(camera))
    }
    /// `ON` while a rule on the zone has an open event, retained.
    pub fn occupied(&self, camera: &str, zone: &str) -> String {
        format!("{}/{}/{}/occupied", self.prefix, level(camera), level(zone))
    }
    /// Watched objects of `class` in the zone, retained.
    pub fn count(&self, camera: &str, zone: &str, class: &str) -> String {
        format!("{}/{}/{}/{}/count", self.prefix, level(camera), level(zone), level(class))
    }
}

/// What the status says of a camera: `online` (frames flow), `connecting`, `reconnecting` (waiting before
/// the next attempt) or `offline` (stopped).
pub fn camera_state(state: &panoptes_actors::status::CameraState) -> &'static str {
    use panoptes_actors::status::CameraState as S;
    match state {
        S::Starting | S::Connecting => "connecting",
        S::Streaming => "online",
        S::Backoff { .. } => "reconnecting",
        S::Stopped => "offline",
    }
}

/// One camera as the poller saw it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CameraSnapshot {
    pub id: String,
    /// [`camera_state`].
    pub state: &'static str,
    /// Decoded frames per second.
    pub fps: f64,
    /// Its zone rules; `None` when it runs no rules here.
    pub live: Option<LiveState>,
}

/// The count sensor's class level for a rule watching `classes`: the class, `object` for every class, or
/// the classes joined by `_`.
pub fn class_level(classes: &[String]) -> String {
    if classes.is_empty() { "object".into() } else { level(&classes.join("_")) }
}

/// One zone of a camera's rules, as MQTT shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneSummary {
    pub zone: String,
    /// Count sensors: class level → watched objects inside (the first rule watching that class wins).
    pub counts: Vec<(String, usize)>,
    /// Any rule on the zone has an open event.
    pub active: bool,
}

/// Each zone of a camera's rules, in config order.
pub fn zones(live: &LiveState) -> Vec<ZoneSummary> {
    let mut out: Vec<ZoneSummary> = Vec::new();
    for z in &live.zones {
        let i = match out.iter().position(|s| s.zone == z.zone) {
            Some(i) => i,
            None => {
                out.push(ZoneSummary { zone: z.zone.clone(), counts: Vec::new(), active: false });
                out.len() - 1
            }
        };
        let class = class_level(&z.classes);
        let entry = &mut out[i];
        if !entry.counts.iter().any(|(c, _)| *c == class) {
            entry.counts.push((class, z.count));
        }
        entry.active |= z.active;
    }
    out
}

fn on_off(on: bool) -> String {
    (if on { "ON" } else { "OFF" }).into()
}

/// The retained state messages for `cameras`.
pub fn state_messages(topics: &Topics, cameras: &[CameraSnapshot]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut push =
        |topic: String, payload: String| out.push(Message { topic, payload, retain: true, kind: Kind::State });
    for cam in cameras {
        let fps = (cam.fps * 10.0).round() / 10.0;
        push(topics.status(&cam.id), serde_json::json!({ "state": cam.state, "fps": fps }).to_string());
        let Some(live) = &cam.live else { continue };
        push(topics.motion(&cam.id), on_off(live.objects > 0));
        for z in zones(live) {
            push(topics.occupied(&cam.id, &z.zone), on_off(z.active));
            for (class, count) in z.counts {
                push(topics.count(&cam.id, &z.zone, &class), count.to_string());
            }
        }
    }
    out
}

/// The messages of `wanted` whose payload differs from what was last sent on their topic (`sent`).
pub fn changed(sent: &HashMap<String, String>, wanted: Vec<Message>) -> Vec<Message> {
    wanted.into_iter().filter(|m| sent.get(&m.topic) != Some(&m.payload)).collect()
}

/// The bounded queue state and discovery messages wait in for the connection: offering never waits; a full
/// queue drops the message and counts it.
#[derive(Clone)]
pub struct StateQueue {
    tx: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl StateQueue {
    /// A queue with room for `capacity` messages, and its receiving end.
    pub fn new(capacity: usize) -> (Self, mpsc::Receiver<Message>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (Self { tx, dropped: Arc::default() }, rx)
    }

    /// Queue `msg`; false (and counted as `queue_full`) when there is no room, false when the receiver is gone.
    pub fn offer(&self, msg: Message) -> bool {
        match self.tx.try_send(msg) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                metrics::counter!(m::MQTT_DROPPED, "reason" => "queue_full").increment(1);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Messages dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panoptes_actors::rules::ZoneState;

    fn topics() -> Topics {
        Topics { prefix: "site/panoptes".into() }
    }

    fn zone(rule: &str, zone: &str, classes: &[&str], count: usize, active: bool) -> ZoneState {
        ZoneState {
            rule: rule.into(),
            zone: zone.into(),
            kind: "occupancy".into(),
            classes: classes.iter().map(|c| c.to_string()).collect(),
            count,
            active,
        }
    }

    #[test]
    fn topic_names_keep_ids_and_replace_what_mqtt_reserves() {
        let t = topics();
        assert_eq!(t.events(), "site/panoptes/events");
        assert_eq!(t.camera_events("gate"), "site/panoptes/gate/events");
        assert_eq!(t.count("gate", "door", "traffic light"), "site/panoptes/gate/door/traffic_light/count");
        assert_eq!(t.occupied("gate", "a+b#"), "site/panoptes/gate/a_b_/occupied");
        assert_eq!(class_level(&[]), "object");
        assert_eq!(class_level(&["car".into(), "person".into()]), "car_person");
    }

    #[test]
    fn state_messages_cover_status_motion_occupancy_and_counts() {
        let live = LiveState {
            objects: 3,
            zones: vec![
                zone("o", "door", &["person"], 2, false),
                zone("i", "door", &[], 3, true),
                zone("o2", "door", &["person"], 9, false), // The first rule for door/person wins.
                zone("p", "yard", &["person"], 0, false),
            ],
        };
        let cams = [
            CameraSnapshot { id: "gate".into(), state: "online", fps: 9.96, live: Some(live) },
            CameraSnapshot { id: "lot".into(), state: "reconnecting", fps: 0.0, live: None },
        ];
        let got: Vec<(String, String)> =
            state_messages(&topics(), &cams).into_iter().map(|m| (m.topic, m.payload)).collect();
        let want = [
            ("site/panoptes/gate/status", r#"{"fps":10.0,"state":"online"}"#),
            ("site/panoptes/gate/motion", "ON"),
            ("site/panoptes/gate/door/occupied", "ON"),
            ("site/panoptes/gate/door/person/count", "2"),
            ("site/panoptes/gate/door/object/count", "3"),
            ("site/panoptes/gate/yard/occupied", "OFF"),
            ("site/panoptes/gate/yard/person/count", "0"),
            ("site/panoptes/lot/status", r#"{"fps":0.0,"state":"reconnecting"}"#),
        ];
        let want: Vec<(String, String)> = want.iter().map(|(t, p)| (t.to_string(), p.to_string())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn only_changes_are_sent_again() {
        let msg = |t: &str, p: &str| Message { topic: t.into(), payload: p.into(), retain: true, kind: Kind::State };
        let sent: HashMap<String, String> = [("a".to_string(), "1".to_string())].into();
        let got = changed(&sent, vec![msg("a", "1"), msg("a2", "1"), msg("b", "2")]);
        assert_eq!(got, vec![msg("a2", "1"), msg("b", "2")]);
        assert_eq!(changed(&sent, vec![msg("a", "2")]), vec![msg("a", "2")]);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (q, mut rx) = StateQueue::new(2);
        let msg = |p: &str| Message { topic: "t".into(), payload: p.into(), retain: true, kind: Kind::State };
        assert!(q.offer(msg("1")) && q.offer(msg("2")));
        let started = std::time::Instant::now();
        assert!(!q.offer(msg("3")), "no room: dropped");
        assert!(started.elapsed() < std::time::Duration::from_millis(50), "offer never waits");
        assert_eq!(q.dropped(), 1);
        assert_eq!(rx.try_recv().unwrap().payload, "1");
        assert!(q.offer(msg("4")), "room again once one was taken");
        assert_eq!(q.dropped(), 1);
    }
}
