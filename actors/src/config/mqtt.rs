//! `[mqtt]`: an MQTT broker that stored events, camera status and zone counts are published to, with Home
//! Assistant discovery (`docs/integrations.md`). Off unless the section is present.

use super::{ConfigError, invalid};
use serde::Deserialize;

/// The MQTT connection and what is published.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// The broker: `mqtt://host:port` (plain TCP, port 1883 by default) or `mqtts://host:port` (TLS checked
    /// against the system's root certificates, port 8883 by default). Required.
    pub url: String,
    /// The MQTT client id. Default `panoptes-<hostname>`. Two clients with the same id push each other off
    /// the broker: give each Panoptes node its own.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Environment variable holding the user name. Default none (no credentials are sent).
    #[serde(default)]
    pub username_env: Option<String>,
    /// Environment variable holding the password (sent only with a user name). Default none.
    #[serde(default)]
    pub password_env: Option<String>,
    /// The first level of every topic Panoptes publishes (`<topic_prefix>/events`, ...). Default `panoptes`.
    #[serde(default = "default_topic_prefix")]
    pub topic_prefix: String,
    /// Quality of service of every message: 0 (at most once) or 1 (at least once; events are then kept
    /// until the broker acknowledges them). Default 1.
    #[serde(default = "default_qos")]
    pub qos: u8,
    /// Publish Home Assistant MQTT discovery configs, so cameras appear as devices with their sensors.
    /// Default true.
    #[serde(default = "default_true")]
    pub discovery: bool,
    /// Home Assistant's discovery prefix. Default `homeassistant`.
    #[serde(default = "default_discovery_prefix")]
    pub discovery_prefix: String,
    /// Room for state messages (camera status, counts, discovery) waiting for the broker; when full, a
    /// message is dropped and counted (`panoptes_mqtt_dropped_total{reason="queue_full"}`) and sent again
    /// with the next change. Events do not use it (they wait in the event store). Default 1000.
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Longest wait between reconnect attempts, seconds; the wait starts at 0.5 s and doubles (with jitter)
    /// per failed attempt. Default 30.
    #[serde(default = "default_retry_max_sec")]
    pub retry_max_sec: f64,
    /// Seconds between keep-alive pings; a broker that stops answering is noticed within about 1.5 times
    /// this. Default 30.
    #[serde(default = "default_keep_alive_sec")]
    pub keep_alive_sec: u64,
    /// With `mqtts://`: a PEM file of the certificate authorities that sign the broker's certificate, trusted
    /// in place of the system's root certificates (a broker with a private CA). Default none: the system's.
    #[serde(default)]
    pub ca_file: Option<std::path::PathBuf>,
}

fn default_topic_prefix() -> String {
    "panoptes".into()
}
fn default_qos() -> u8 {
    1
}
fn default_true() -> bool {
    true
}
fn default_discovery_prefix() -> String {
    "homeassistant".into()
}
fn default_queue() -> usize {
    1000
}
fn default_retry_max_sec() -> f64 {
    30.0
}
fn default_keep_alive_sec() -> u64 {
    30
}

/// The broker's address, from [`MqttConfig::url`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    host: String,
    port: u16,
    tls: bool,
}

impl Broker {
    pub fn host(&self) -> &str {
        &self.host
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    /// `mqtts://`: TLS.
    pub fn tls(&self) -> bool {
        self.tls
    }
}

/// Whether `s` can be a topic level: not empty, no `/`, no wildcard (`+`, `#`), no NUL.
fn topic_level_ok(s: &str) -> bool {
    !s.is_empty() && !s.contains(['/', '+', '#', '\0'])
}

impl MqttConfig {
    /// The broker's host, port and whether TLS is used.
    pub fn broker(&self) -> Result<Broker, ConfigError> {
        let url = url::Url::parse(&self.url).map_err(|e| {
            invalid("mqtt.url", format!("`{}` is not a URL: {e}; e.g. mqtt://localhost:1883", self.url))
        })?;
        let tls = match url.scheme() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            _ => return Err(invalid("mqtt.url", "use mqtt://host:port, or mqtts://host:port for TLS")),
        };
        let host = match url.host_str() {
            Some(h) if !h.is_empty() => h.trim_start_matches('[').trim_end_matches(']').to_owned(),
            _ => return Err(invalid("mqtt.url", "name the broker's host, e.g. mqtt://localhost:1883")),
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid(
                "mqtt.url",
                "no credentials in the URL: put them in environment variables named by username_env and password_env",
            ));
        }
        if !matches!(url.path(), "" | "/") {
            return Err(invalid("mqtt.url", "a broker URL has no path: mqtt://host:port"));
        }
        Ok(Broker { host, port: url.port().unwrap_or(if tls { 8883 } else { 1883 }), tls })
    }

    /// Each check names the field (`mqtt.<field>`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.broker()?;
        if let Some(id) = &self.client_id
            && (id.is_empty() || id.len() > 23 * 8)
        {
            return Err(invalid("mqtt.client_id", "must be 1 to 184 characters (or leave it out)"));
        }
        for (field, var) in [("mqtt.username_env", &self.username_env), ("mqtt.password_env", &self.password_env)] {
            if let Some(var) = var
                && (var.is_empty() || var.contains('='))
            {
                return Err(invalid(field, "name an environment variable, e.g. PANOPTES_MQTT_PASSWORD"));
            }
        }
        if self.password_env.is_some() && self.username_env.is_none() {
            return Err(invalid(
                "mqtt.password_env",
                "MQTT sends a password only with a user name: set username_env too",
            ));
        }
        for (field, prefix) in
            [("mqtt.topic_prefix", &self.topic_prefix), ("mqtt.discovery_prefix", &self.discovery_prefix)]
        {
            if !prefix.split('/').all(topic_level_ok) {
                return Err(invalid(
                    field,
                    format!(
                        "`{prefix}` is not a topic prefix: no empty level, no `+`, `#`; e.g. `panoptes` or `site/panoptes`"
                    ),
                ));
            }
        }
        if self.qos > 1 {
            return Err(invalid("mqtt.qos", "must be 0 (at most once) or 1 (at least once)"));
        }
        if !(1..=1_000_000).contains(&self.queue) {
            return Err(invalid("mqtt.queue", "must be between 1 and 1000000 messages"));
        }
        if !(self.retry_max_sec.is_finite() && (0.5..=3600.0).contains(&self.retry_max_sec)) {
            return Err(invalid("mqtt.retry_max_sec", "must be between 0.5 and 3600 seconds"));
        }
        if !(5..=3600).contains(&self.keep_alive_sec) {
            return Err(invalid("mqtt.keep_alive_sec", "must be between 5 and 3600 seconds"));
        }
        if let Some(path) = &self.ca_file {
            if !self.broker()?.tls() {
                return Err(invalid("mqtt.ca_file", "is for a TLS broker: use an mqtts:// url, or leave ca_file out"));
            }
            let pem = std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "mqtt.ca_file",
                    format!("cannot read {}: {e}; give a PEM file of CA certificates", path.display()),
                )
            })?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(invalid(
                    "mqtt.ca_file",
                    format!("{} holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path.display()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn mqtt(extra: Value) -> Result<MqttConfig, String> {
        let mut v = json!({ "url": "mqtt://broker.lan" });
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let c: MqttConfig = serde_json::from_value(v).map_err(|e| e.to_string())?;
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    #[test]
    fn defaults_and_broker_addresses() {
        let c = mqtt(json!({})).unwrap();
        assert_eq!(
            (c.topic_prefix.as_str(), c.qos, c.discovery, c.discovery_prefix.as_str()),
            ("panoptes", 1, true, "homeassistant")
        );
        assert_eq!((c.queue, c.retry_max_sec, c.keep_alive_sec, c.client_id.clone()), (1000, 30.0, 30, None));
        assert_eq!(c.broker().unwrap(), Broker { host: "broker.lan".into(), port: 1883, tls: false });
        let c = mqtt(json!({ "url": "mqtts://10.0.0.2:9999" })).unwrap();
        assert_eq!(c.broker().unwrap(), Broker { host: "10.0.0.2".into(), port: 9999, tls: true });
        assert_eq!(mqtt(json!({ "url": "mqtts://h" })).unwrap().broker().unwrap().port, 8883);
        assert!(mqtt(json!({ "topic_prefix": "site/cams" })).is_ok());
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = |extra: Value| mqtt(extra).unwrap_err();
        assert!(err(json!({ "url": "http://h" })).contains("mqtt.url"));
        assert!(err(json!({ "url": "mqtt://u:p@h" })).contains("username_env"));
        assert!(err(json!({ "url": "nonsense" })).contains("mqtt.url"));
        assert!(err(json!({ "qos": 2 })).contains("mqtt.qos"));
        assert!(err(json!({ "topic_prefix": "a/+/b" })).contains("mqtt.topic_prefix"));
        assert!(err(json!({ "discovery_prefix": "" })).contains("mqtt.discovery_prefix"));
        assert!(err(json!({ "queue": 0 })).contains("mqtt.queue"));
        assert!(err(json!({ "password_env": "P" })).contains("set username_env too"));
        assert!(err(json!({ "username_env": "" })).contains("mqtt.username_env"));
        assert!(err(json!({ "colour": 1 })).contains("colour"));
        assert!(err(json!({ "ca_file": "/etc/hostname" })).contains("use an mqtts:// url"));
        let no_file = err(json!({ "url": "mqtts://h", "ca_file": "/nonexistent/ca.pem" }));
        assert!(no_file.contains("mqtt.ca_file") && no_file.contains("/nonexistent/ca.pem"), "{no_file}");
        let not_pem = err(json!({ "url": "mqtts://h", "ca_file": "/etc/hostname" }));
        assert!(not_pem.contains("no PEM certificate"), "{not_pem}");
    }
}
