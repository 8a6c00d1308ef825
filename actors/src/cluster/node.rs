//! What a node of a cluster announces of itself, and which nodes are alive.
//!
//! Every node writes its [`NodeRecord`] under its id in the cluster's node bucket and writes it again every
//! third of its lease. Liveness is judged by whoever reads the bucket, on its **own monotonic clock**: a node
//! is alive while its record's revision (the bucket's sequence number, which only the server assigns) has
//! changed within the lease. No node's wall clock is trusted, so a node with a wrong clock is neither kept
//! alive nor declared dead by it. (JetStream KV before server 2.11 has a bucket-wide TTL and no expiry
//! markers: the bucket's `max_age` only clears records of nodes long gone; the lease is checked here.)

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A node's announcement (JSON in the node bucket, and in `GET /api/cluster`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub id: String,
    /// Any of `ingest`, `infer`, `api`.
    pub roles: Vec<String>,
    /// Base URL of its HTTP server as other nodes reach it (`[server] listen` unless `[cluster] advertise`).
    pub http: String,
    /// Decoded frames per second it can ingest (with the `ingest` role).
    pub ingest_fps: Option<f32>,
    /// Inferred frames per second of its devices together (with the `infer` role).
    pub infer_fps: Option<f32>,
    /// The cameras it runs now.
    pub cameras: Vec<String>,
    /// Its lease: renewed every third of it.
    pub lease_ms: u64,
    /// Panoptes version it runs.
    pub version: String,
    /// Drawn at the process's start: a record of this node's id with another instance was written by another
    /// process (a node id used twice, or this node's previous life).
    #[serde(default)]
    pub instance: u64,
    /// What the node measures of its own work now.
    #[serde(default)]
    pub load: NodeLoad,
}

/// A node's measured load and inference cost, as it renews its record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeLoad {
    /// Frames per second its cameras deliver (decoded, or ingested for cameras analysed elsewhere).
    pub decoded_fps: f32,
    /// Frames per second it infers.
    pub inferred_fps: f32,
    /// Milliseconds of inference per model input over the last few seconds of work (its devices together);
    /// `None` before it has inferred anything.
    pub infer_ms_per_input: Option<f32>,
}

/// Which nodes are alive, from the revisions of their records as this node saw them.
#[derive(Debug, Default)]
pub struct Liveness {
    seen: BTreeMap<String, Seen>,
}

#[derive(Debug)]
struct Seen {
    record: NodeRecord,
    revision: u64,
    /// When this node last saw the revision change.
    changed_at: Instant,
}

/// One node in the view: its record, and whether its lease holds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeView {
    #[serde(flatten)]
    pub record: NodeRecord,
    pub alive: bool,
    /// Milliseconds since its record last changed, as this node measured.
    pub last_renewal_ms: u64,
}

impl Liveness {
    /// A read of `id`'s record at bucket revision `revision`, at `now`. `replayed`: read from the bucket's
    /// history when a watch (re)starts rather than as it was written. A replayed record of a node not seen
    /// before was renewed at an unknown time and counts as renewed a lease ago (a node that died before
    /// this one started is never shown alive); one whose revision moved since it was last seen has renewed
    /// meanwhile, and counts as renewed now (a watch restarted after a reconnect shows no live node dead).
    pub fn observe(&mut self, record: NodeRecord, revision: u64, now: Instant, replayed: bool) {
        match self.seen.get_mut(&record.id) {
            Some(s) if s.revision == revision => {}
            Some(s) => {
                s.revision = revision;
                s.changed_at = now;
                s.record = record;
            }
            None => {
                let lease = Duration::from_millis(record.lease_ms);
                let changed_at = if replayed { now.checked_sub(lease).unwrap_or(now) } else { now };
                self.seen.insert(record.id.clone(), Seen { record, revision, changed_at });
            }
        }
    }

    /// `id`'s record was deleted (the node left cleanly, or the bucket's `max_age` cleared it).
    pub fn forget(&mut self, id: &str) {
        self.seen.remove(id);
    }

    /// Every node seen, by id, with its liveness at `now`.
    pub fn view(&self, now: Instant) -> Vec<NodeView> {
        self.seen
            .values()
            .map(|s| {
                let since = now.saturating_duration_since(s.changed_at);
                NodeView {
                    record: s.record.clone(),
                    alive: since <= Duration::from_millis(s.record.lease_ms),
                    last_renewal_ms: since.as_millis() as u64,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, lease_ms: u64) -> NodeRecord {
        NodeRecord {
            id: id.into(),
            roles: vec!["ingest".into(), "infer".into(), "api".into()],
            http: "http://127.0.0.1:8080".into(),
            ingest_fps: Some(500.0),
            infer_fps: Some(20.0),
            cameras: vec![],
            lease_ms,
            version: "test".into(),
            instance: 1,
            load: NodeLoad::default(),
        }
    }

    fn alive(l: &Liveness, now: Instant) -> Vec<(String, bool)> {
        l.view(now).into_iter().map(|v| (v.record.id, v.alive)).collect()
    }

    #[test]
    fn a_node_is_alive_while_its_revision_moves_within_the_lease() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = Liveness::default();
        l.observe(record("a", 3_000), 1, t0, false);
        l.observe(record("b", 3_000), 2, t0, false);
        // a renews (new revision) every second; b's record stays at revision 2.
        for i in 1..=5u32 {
            l.observe(record("a", 3_000), 2 + u64::from(i) * 2, t0 + s * i, false);
            l.observe(record("b", 3_000), 2, t0 + s * i, false);
        }
        assert_eq!(alive(&l, t0 + s * 3), [("a".into(), true), ("b".into(), true)], "b within its lease");
        assert_eq!(alive(&l, t0 + s * 5), [("a".into(), true), ("b".into(), false)], "b's lease lapsed");
        // b comes back: a new revision makes it alive at once.
        l.observe(record("b", 3_000), 20, t0 + s * 6, false);
        assert_eq!(alive(&l, t0 + s * 6), [("a".into(), true), ("b".into(), true)]);
        l.forget("b");
        assert_eq!(alive(&l, t0 + s * 9), [("a".into(), false)], "a stopped renewing at 5 s");
    }

    #[test]
    fn a_replayed_record_is_a_lease_old_unless_it_moved_since_it_was_seen() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut l = Liveness::default();
        // This node starts: c's record (dead long ago, or alive: no way to tell) is replayed.
        l.observe(record("c", 3_000), 5, t0, true);
        assert_eq!(alive(&l, t0 + Duration::from_millis(1)), [("c".into(), false)], "unknown age: not alive yet");
        l.observe(record("c", 3_000), 9, t0 + Duration::from_secs(1), false);
        assert_eq!(alive(&l, t0 + Duration::from_secs(1)), [("c".into(), true)], "its next renewal");
        // The watch restarts after a reconnect: c renewed meanwhile (revision 12), so it stays alive.
        l.observe(record("c", 3_000), 12, t0 + Duration::from_secs(3), true);
        assert_eq!(alive(&l, t0 + Duration::from_secs(3)), [("c".into(), true)]);
        // Replayed at the same revision: nothing new, its lease runs from its last renewal.
        l.observe(record("c", 3_000), 12, t0 + Duration::from_secs(7), true);
        assert_eq!(alive(&l, t0 + Duration::from_secs(7)), [("c".into(), false)]);
    }

    #[test]
    fn the_record_serialises_flat_in_the_view() {
        let mut l = Liveness::default();
        let now = Instant::now();
        l.observe(record("a", 1_000), 7, now, false);
        let v = serde_json::to_value(l.view(now)).unwrap();
        assert_eq!(v[0]["id"], "a");
        assert_eq!(v[0]["alive"], true);
        assert_eq!(v[0]["roles"][1], "infer");
    }
}
