//! `[cluster]`: this node's place in a Panoptes cluster on NATS JetStream (`docs/design/cluster.md`).
//! Without the section, Panoptes runs alone.

use super::{ConfigError, check_id, invalid};
use serde::{Deserialize, Serialize};

/// What a node does in the cluster.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Holds cameras' RTSP sessions, decodes and records them.
    Ingest,
    /// Runs detection, tracking and rules.
    Infer,
    /// Serves the HTTP API and the web console.
    Api,
}

impl NodeRole {
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Ingest => "ingest",
            NodeRole::Infer => "infer",
            NodeRole::Api => "api",
        }
    }
}

/// `[cluster]`: join a cluster through a NATS server with JetStream.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// URL of a NATS server of the cluster (with JetStream enabled), e.g. `nats://10.0.0.2:4222`. Required.
    pub nats_url: String,
    /// This node's id, unique in the cluster (letters, digits, `-`, `_`). Required.
    pub node_id: String,
    /// What this node does: any of `ingest`, `infer`, `api`. Default all three.
    #[serde(default = "default_roles")]
    pub roles: Vec<NodeRole>,
    /// Base URL at which the other nodes reach this node's HTTP server. Default `http://` + `[server] listen`.
    #[serde(default)]
    pub advertise: Option<String>,
    /// Seconds a node counts as alive after it last renewed its record (it renews every third of it).
    /// Default 10.
    #[serde(default = "default_lease_sec")]
    pub lease_sec: f64,
    /// Decoded frames per second this node can ingest (RTSP sessions, decoding, recording together); the
    /// placement keeps the cameras' stream rates within it. Default 500.
    #[serde(default = "default_ingest_fps")]
    pub ingest_fps: f32,
    /// Copies JetStream keeps of the cluster's buckets and event stream (1, 3 or 5; at most the NATS
    /// cluster's servers). Set when the buckets are first made. Default 1.
    #[serde(default = "default_replicas")]
    pub replicas: usize,
}

impl ClusterConfig {
    /// Each check names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_id("cluster.node_id", &self.node_id)?;
        let url = url::Url::parse(&self.nats_url)
            .map_err(|e| invalid("cluster.nats_url", format!("`{}` is not a URL: {e}", self.nats_url)))?;
        if !matches!(url.scheme(), "nats" | "tls") {
            return Err(invalid("cluster.nats_url", "use a nats:// (or tls://) URL, e.g. nats://127.0.0.1:4222"));
        }
        if self.roles.is_empty() {
            return Err(invalid("cluster.roles", "list at least one of \"ingest\", \"infer\", \"api\""));
        }
        if !(self.lease_sec.is_finite() && (1.0..=300.0).contains(&self.lease_sec)) {
            return Err(invalid("cluster.lease_sec", "must be between 1 and 300 seconds"));
        }
        if ![1, 3, 5].contains(&self.replicas) {
            return Err(invalid("cluster.replicas", "must be 1, 3 or 5 (at most the NATS cluster's servers)"));
        }
        if !(self.ingest_fps.is_finite() && self.ingest_fps > 0.0) {
            return Err(invalid("cluster.ingest_fps", "must be positive"));
        }
        if let Some(a) = &self.advertise {
            let ok = url::Url::parse(a).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                return Err(invalid("cluster.advertise", format!("`{a}` is not an http:// or https:// URL")));
            }
        }
        Ok(())
    }

    pub fn has(&self, role: NodeRole) -> bool {
        self.roles.contains(&role)
    }
}

fn default_roles() -> Vec<NodeRole> {
    vec![NodeRole::Ingest, NodeRole::Infer, NodeRole::Api]
}

fn default_lease_sec() -> f64 {
    10.0
}

fn default_ingest_fps() -> f32 {
    500.0
}

fn default_replicas() -> usize {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> ClusterConfig {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn defaults_and_checks_name_the_field() {
        let c = parse(serde_json::json!({ "nats_url": "nats://127.0.0.1:4222", "node_id": "edge-1" }));
        assert_eq!(c.roles, [NodeRole::Ingest, NodeRole::Infer, NodeRole::Api]);
        assert_eq!((c.lease_sec, c.ingest_fps, c.advertise.clone()), (10.0, 500.0, None));
        assert_eq!(c.validate(), Ok(()));
        let err = |v: serde_json::Value| parse(v).validate().unwrap_err().to_string();
        assert!(err(serde_json::json!({ "nats_url": "http://x:4222", "node_id": "a" })).contains("cluster.nats_url"));
        assert!(err(serde_json::json!({ "nats_url": "nats://x:4222", "node_id": "a b" })).contains("cluster.node_id"));
        assert!(
            err(serde_json::json!({ "nats_url": "nats://x", "node_id": "a", "roles": [] })).contains("cluster.roles")
        );
        assert!(
            err(serde_json::json!({ "nats_url": "nats://x", "node_id": "a", "lease_sec": 0.5 }))
                .contains("cluster.lease_sec")
        );
        assert!(
            err(serde_json::json!({ "nats_url": "nats://x", "node_id": "a", "replicas": 2 }))
                .contains("cluster.replicas")
        );
        let bad_role = serde_json::from_value::<ClusterConfig>(
            serde_json::json!({ "nats_url": "nats://x", "node_id": "a", "roles": ["record"] }),
        );
        assert!(bad_role.unwrap_err().to_string().contains("unknown variant `record`"));
    }
}
