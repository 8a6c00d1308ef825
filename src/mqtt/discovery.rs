//! Home Assistant MQTT discovery: the retained config messages under `<discovery_prefix>/<component>/<node_id>/
//! <object_id>/config` that make each camera a device with its sensors (status, last event, a count per zone
//! and class) and binary sensors (motion, occupancy per zone), without configuration on the Home Assistant
//! side. Pure: built from the same camera snapshot as the state messages.

use super::state::{CameraSnapshot, Kind, Message, Topics, level, zones};
use serde_json::{Value, json};

/// Where discovery configs go and how entities are named.
#[derive(Clone, Debug)]
pub struct Discovery {
    /// `[mqtt] discovery_prefix`.
    pub prefix: String,
    /// Names this Panoptes in topics and ids: the topic prefix as one level.
    pub node_id: String,
}

impl Discovery {
    pub fn new(discovery_prefix: &str, topic_prefix: &str) -> Self {
        Self { prefix: discovery_prefix.to_owned(), node_id: level(&topic_prefix.replace('/', "_")) }
    }

    fn config(&self, component: &str, object_id: &str, mut body: Value, device: &Value, topics: &Topics) -> Message {
        let unique_id = format!("{}_{object_id}", self.node_id);
        if let Some(map) = body.as_object_mut() {
            map.insert("unique_id".into(), json!(unique_id));
            map.insert("object_id".into(), json!(unique_id));
            map.insert("availability_topic".into(), json!(topics.availability()));
            map.insert("payload_available".into(), json!("online"));
            map.insert("payload_not_available".into(), json!("offline"));
            map.insert("device".into(), device.clone());
        }
        Message {
            topic: format!("{}/{component}/{}/{object_id}/config", self.prefix, self.node_id),
            payload: body.to_string(),
            retain: true,
            kind: Kind::Discovery,
        }
    }

    /// The discovery configs of `cameras`.
    pub fn messages(&self, topics: &Topics, cameras: &[CameraSnapshot]) -> Vec<Message> {
        let mut out = Vec::new();
        for cam in cameras {
            let c = level(&cam.id);
            let device = json!({
                "identifiers": [format!("{}_{c}", self.node_id)],
                "name": cam.id,
                "manufacturer": "Panoptes",
                "model": "Panoptes camera",
                "sw_version": env!("CARGO_PKG_VERSION"),
            });
            let status = json!({
                "name": "Status",
                "state_topic": topics.status(&cam.id),
                "value_template": "{{ value_json.state }}",
                "json_attributes_topic": topics.status(&cam.id),
                "icon": "mdi:cctv",
            });
            out.push(self.config("sensor", &format!("{c}_status"), status, &device, topics));
            let last_event = json!({
                "name": "Last event",
                "state_topic": topics.camera_events(&cam.id),
                "value_template": "{{ value_json.kind }}",
                "json_attributes_topic": topics.camera_events(&cam.id),
                "icon": "mdi:alert",
            });
            out.push(self.config("sensor", &format!("{c}_last_event"), last_event, &device, topics));
            let Some(live) = &cam.live else { continue };
            let motion = json!({
                "name": "Motion",
                "device_class": "motion",
                "state_topic": topics.motion(&cam.id),
                "payload_on": "ON",
                "payload_off": "OFF",
            });
            out.push(self.config("binary_sensor", &format!("{c}_motion"), motion, &device, topics));
            for z in zones(live) {
                let (zone, counts) = (z.zone, z.counts);
                let z = level(&zone);
                let occupancy = json!({
                    "name": format!("{zone} occupancy"),
                    "device_class": "occupancy",
                    "state_topic": topics.occupied(&cam.id, &zone),
                    "payload_on": "ON",
                    "payload_off": "OFF",
                });
                out.push(self.config("binary_sensor", &format!("{c}_{z}_occupancy"), occupancy, &device, topics));
                for (class, _) in counts {
                    let count = json!({
                        "name": format!("{zone} {} count", class.replace('_', " ")),
                        "state_topic": topics.count(&cam.id, &zone, &class),
                        "state_class": "measurement",
                        "icon": if class == "person" { "mdi:account-multiple" } else { "mdi:counter" },
                    });
                    out.push(self.config("sensor", &format!("{c}_{z}_{class}_count"), count, &device, topics));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panoptes_actors::rules::{LiveState, ZoneState};

    #[test]
    fn each_camera_is_a_device_with_its_sensors_and_binary_sensors() {
        let topics = Topics { prefix: "site/cams".into() };
        let d = Discovery::new("homeassistant", &topics.prefix);
        let live = LiveState {
            objects: 0,
            zones: vec![ZoneState {
                rule: "o".into(),
                zone: "door".into(),
                kind: "occupancy".into(),
                classes: vec!["person".into()],
                count: 1,
                active: false,
            }],
        };
        let cams = [
            CameraSnapshot { id: "gate".into(), state: "online", fps: 10.0, live: Some(live) },
            CameraSnapshot { id: "lot".into(), state: "offline", fps: 0.0, live: None },
        ];
        let msgs = d.messages(&topics, &cams);
        let topics_got: Vec<&str> = msgs.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(
            topics_got,
            [
                "homeassistant/sensor/site_cams/gate_status/config",
                "homeassistant/sensor/site_cams/gate_last_event/config",
                "homeassistant/binary_sensor/site_cams/gate_motion/config",
                "homeassistant/binary_sensor/site_cams/gate_door_occupancy/config",
                "homeassistant/sensor/site_cams/gate_door_person_count/config",
                "homeassistant/sensor/site_cams/lot_status/config",
                "homeassistant/sensor/site_cams/lot_last_event/config",
            ]
        );
        assert!(msgs.iter().all(|m| m.retain && m.kind == Kind::Discovery));
        let count: Value = serde_json::from_str(&msgs[4].payload).unwrap();
        assert_eq!(count["state_topic"], "site/cams/gate/door/person/count");
        assert_eq!(count["unique_id"], "site_cams_gate_door_person_count");
        assert_eq!(count["availability_topic"], "site/cams/availability");
        assert_eq!(count["device"]["identifiers"][0], "site_cams_gate");
        assert_eq!(count["device"]["manufacturer"], "Panoptes");
        let occupancy: Value = serde_json::from_str(&msgs[3].payload).unwrap();
        assert_eq!(
            (&occupancy["device_class"], &occupancy["state_topic"], &occupancy["payload_on"]),
            (&json!("occupancy"), &json!("site/cams/gate/door/occupied"), &json!("ON"))
        );
        let unique: std::collections::HashSet<String> =
            msgs.iter().map(|m| serde_json::from_str::<Value>(&m.payload).unwrap()["unique_id"].to_string()).collect();
        assert_eq!(unique.len(), msgs.len(), "every entity has its own unique_id");
    }
}
