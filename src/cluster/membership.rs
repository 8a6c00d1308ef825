//! This node's record in the node bucket (renewed every third of its lease) and every node's liveness.
//!
//! The liveness rule is [`panoptes_actors::cluster::node::Liveness`]: a node is alive while its record's
//! revision moves within its lease, on this node's monotonic clock; records replayed when a watch (re)starts
//! are judged there too.

use super::bucket;
use actix::Addr;
use anyhow::bail;
use async_nats::jetstream::kv;
use panoptes_actors::batcher::{BatcherActor, GetStats};
use panoptes_actors::cluster::node::{Liveness, NodeLoad, NodeRecord};
use panoptes_actors::config::NodeRole;
use panoptes_actors::status::StatusBoard;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The JetStream KV bucket of node records (key: node id, value: [`NodeRecord`] as JSON).
pub const NODES_BUCKET: &str = "panoptes_nodes";

/// Records of nodes gone this long are cleared by the server (the bucket's `max_age`; leases are far shorter).
pub const RECORD_MAX_AGE: Duration = Duration::from_secs(600);

/// This node's record as of now.
pub type Announce = Arc<dyn Fn() -> NodeRecord + Send + Sync>;

/// What goes into this node's record.
pub struct RecordSource {
    pub node_id: String,
    pub roles: Vec<String>,
    pub http: String,
    pub ingest_fps: Option<f32>,
    pub infer_fps: f32,
    pub lease_ms: u64,
    pub instance: u64,
    pub status: StatusBoard,
    /// Milliseconds of inference per model input, as [`measure_inference`] last found.
    pub cost: Arc<Mutex<Option<f32>>>,
}

impl RecordSource {
    pub fn now(&self) -> NodeRecord {
        let mut cameras: Vec<String> = self.status.iter().map(|e| e.key().to_string()).collect();
        cameras.sort();
        let now = Instant::now();
        let (decoded, inferred) =
            self.status.iter().fold((0.0, 0.0), |(d, i), s| (d + s.fps_in.rate_at(now), i + s.fps_out.rate_at(now)));
        let load = NodeLoad {
            decoded_fps: decoded as f32,
            inferred_fps: inferred as f32,
            infer_ms_per_input: *self.cost.lock().unwrap_or_else(|e| e.into_inner()),
        };
        let infers = self.roles.iter().any(|r| r == NodeRole::Infer.name());
        NodeRecord {
            id: self.node_id.clone(),
            roles: self.roles.clone(),
            http: self.http.clone(),
            ingest_fps: self.ingest_fps,
            infer_fps: infers.then_some(self.infer_fps),
            cameras,
            lease_ms: self.lease_ms,
            version: env!("CARGO_PKG_VERSION").to_string(),
            instance: self.instance,
            load,
        }
    }
}

/// A number that differs between processes (time and process id mixed): this process's instance.
pub fn new_instance() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    (nanos as u64).rotate_left(17) ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// Refuse to start when another running process holds `node_id`: its record, if any, is read twice a third
/// of a lease apart, and a renewal in between means it is alive. (A record left by this node's previous life,
/// killed or crashed, does not move: the node starts after that short wait.)
pub async fn refuse_a_live_namesake(store: &kv::Store, node_id: &str, lease: Duration) -> anyhow::Result<()> {
    let Some(first) = store.entry(node_id).await? else { return Ok(()) };
    if first.operation != kv::Operation::Put {
        return Ok(());
    }
    actix_web::rt::time::sleep(lease / 3 + Duration::from_millis(250)).await;
    let moved =
        store.entry(node_id).await?.is_some_and(|e| e.revision != first.revision && e.operation == kv::Operation::Put);
    if moved {
        bail!(
            "node id `{node_id}` ([cluster] node_id) is in use by another running node: its record in {NODES_BUCKET} \
             was renewed while this node started; give each node its own node_id"
        );
    }
    Ok(())
}

/// Every `every`, the inference time per model input of `batchers` (this node's devices together) over the
/// last period with work, into `cost`; for as long as the process runs.
pub async fn measure_inference(batchers: Vec<Addr<BatcherActor>>, cost: Arc<Mutex<Option<f32>>>, every: Duration) {
    let mut last = (0.0f64, 0u64);
    loop {
        let mut now = (0.0f64, 0u64);
        for b in &batchers {
            if let Ok(s) = b.send(GetStats).await {
                now.0 += s.infer_secs;
                now.1 += s.inputs_inferred;
            }
        }
        let inputs = now.1.saturating_sub(last.1);
        if inputs > 0 {
            let ms = (now.0 - last.0) * 1000.0 / inputs as f64;
            *cost.lock().unwrap_or_else(|e| e.into_inner()) = Some(ms as f32);
        }
        last = now;
        actix_web::rt::time::sleep(every).await;
    }
}

pub async fn put(store: &kv::Store, record: &NodeRecord) -> anyhow::Result<u64> {
    let json = serde_json::to_vec(record)?;
    Ok(store.put(&record.id, json.into()).await?)
}

/// Set when the node leaves: no renewal is written after (or while) its record is deleted.
pub type Left = Arc<tokio::sync::Mutex<bool>>;

/// Write this node's record every `every`, until the node leaves. A failed write is logged when the reason
/// changes; the next one is tried on time (the client reconnects by itself).
pub async fn renew(store: kv::Store, announce: Announce, every: Duration, left: Left) {
    let mut last_error: Option<String> = None;
    loop {
        actix_web::rt::time::sleep(every).await;
        let left = left.lock().await;
        if *left {
            return;
        }
        let record = announce();
        match put(&store, &record).await {
            Ok(_) if last_error.take().is_some() => {
                tracing::info!(node = %record.id, "renewing this node's record again")
            }
            Ok(_) => {}
            Err(e) => {
                let reason = e.to_string();
                if last_error.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(node = %record.id, error = %reason, "cannot renew this node's record; the others will see it lapse if this lasts a lease");
                }
                last_error = Some(reason);
            }
        }
    }
}

/// Follow the bucket: every record written or deleted updates `liveness`. A record of this node's id from
/// another instance is logged as an error (two processes configured with one node id).
pub async fn watch(
    store: kv::Store,
    reconnects: watch::Receiver<u64>,
    liveness: Arc<Mutex<Liveness>>,
    me: (String, u64),
) {
    let mut warned = false;
    bucket::follow(store, "node records", reconnects, move |entry| {
        let mut l = liveness.lock().unwrap_or_else(|e| e.into_inner());
        match entry.operation {
            kv::Operation::Put => match serde_json::from_slice::<NodeRecord>(&entry.value) {
                Ok(record) => {
                    if entry.seen_current && record.id == me.0 && record.instance != me.1 && !warned {
                        warned = true;
                        tracing::error!(node = %me.0, "another process writes this node's record: two nodes share [cluster] node_id; give each its own");
                    }
                    l.observe(record, entry.revision, Instant::now(), !entry.seen_current);
                }
                Err(e) => {
                    tracing::warn!(key = %entry.key, error = %e, "a node record that is not a Panoptes record; ignored")
                }
            },
            kv::Operation::Delete | kv::Operation::Purge => l.forget(&entry.key),
        }
    })
    .await
}
