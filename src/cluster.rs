//! Cluster membership on NATS JetStream (`[cluster]`, `docs/design/cluster.md`): this node's record in the
//! node bucket, renewed every third of its lease, and the view of every node that `GET /api/cluster` serves.
//!
//! The liveness rule is [`panoptes_actors::cluster::node::Liveness`]: a node is alive while its record's
//! revision moves within its lease, on this node's monotonic clock. Records replayed when the watch starts
//! count as renewed one lease ago: a node that died before this one started is never shown alive.
//! Without `[cluster]` the view holds this node alone.

use anyhow::Context;
use async_nats::jetstream::{self, kv};
use futures::StreamExt;
use panoptes_actors::cluster::node::{Liveness, NodeRecord, NodeView};
use panoptes_actors::config::{ClusterConfig, NodeRole};
use panoptes_actors::status::StatusBoard;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The JetStream KV bucket of node records (key: node id, value: [`NodeRecord`] as JSON).
pub const NODES_BUCKET: &str = "panoptes_nodes";

/// Records of nodes gone this long are cleared by the server (the bucket's `max_age`; leases are far shorter).
const RECORD_MAX_AGE: Duration = Duration::from_secs(600);

/// This node's record as of now.
type Announce = Arc<dyn Fn() -> NodeRecord + Send + Sync>;

/// The cluster as this node sees it; cheap to clone, shared by the HTTP workers.
#[derive(Clone)]
pub struct ClusterView {
    node_id: String,
    announce: Announce,
    /// `None` when running alone.
    liveness: Option<Arc<Mutex<Liveness>>>,
    /// The bucket, to leave it cleanly at shutdown.
    store: Option<kv::Store>,
}

impl ClusterView {
    /// A node without `[cluster]`.
    pub fn standalone(node_id: String, infer_fps: f32, http: String, status: StatusBoard) -> Self {
        let roles = [NodeRole::Ingest, NodeRole::Infer, NodeRole::Api].map(|r| r.name().to_string()).to_vec();
        let record =
            RecordSource { node_id: node_id.clone(), roles, http, ingest_fps: None, infer_fps, lease_ms: 0, status };
        Self { node_id, announce: Arc::new(move || record.now()), liveness: None, store: None }
    }

    pub fn clustered(&self) -> bool {
        self.liveness.is_some()
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Every node known, this one first and always alive (it is answering).
    pub fn nodes(&self) -> Vec<NodeView> {
        let me = NodeView { record: (self.announce)(), alive: true, last_renewal_ms: 0 };
        let mut out = vec![];
        if let Some(l) = &self.liveness {
            let view = l.lock().unwrap_or_else(|e| e.into_inner()).view(Instant::now());
            out.extend(view.into_iter().filter(|v| v.record.id != me.record.id));
        }
        out.insert(0, me);
        out
    }

    /// Remove this node's record (a clean shutdown: the others see it leave at once, not after its lease).
    pub async fn leave(&self) {
        if let Some(store) = &self.store
            && let Err(e) = store.delete(&self.node_id).await
        {
            tracing::warn!(node = %self.node_id, error = %e, "could not remove this node's record; it lapses with its lease");
        }
    }
}

/// What goes into this node's record.
struct RecordSource {
    node_id: String,
    roles: Vec<String>,
    http: String,
    ingest_fps: Option<f32>,
    infer_fps: f32,
    lease_ms: u64,
    status: StatusBoard,
}

impl RecordSource {
    fn now(&self) -> NodeRecord {
        let mut cameras: Vec<String> = self.status.iter().map(|e| e.key().to_string()).collect();
        cameras.sort();
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
        }
    }
}

/// Join the cluster: connect, open the node bucket, announce this node, and keep renewing and watching
/// (tasks on the current actix system). Fails with a message naming `[cluster] nats_url` when the server
/// cannot be reached or has no JetStream.
pub async fn join(
    cfg: &ClusterConfig,
    http: String,
    infer_fps: f32,
    status: StatusBoard,
) -> anyhow::Result<ClusterView> {
    let hint = "start it with JetStream (`nats-server -js`) or fix [cluster] nats_url";
    let client = async_nats::ConnectOptions::new()
        .name(format!("panoptes {}", cfg.node_id))
        .connection_timeout(Duration::from_secs(5))
        .connect(cfg.nats_url.as_str())
        .await
        .with_context(|| format!("cannot reach the NATS server at {} ([cluster] nats_url); {hint}", cfg.nats_url))?;
    let js = jetstream::new(client);
    let store = open_bucket(&js)
        .await
        .with_context(|| format!("cannot open the JetStream bucket {NODES_BUCKET} at {}; {hint}", cfg.nats_url))?;
    let lease = Duration::from_secs_f64(cfg.lease_sec);
    let source = RecordSource {
        node_id: cfg.node_id.clone(),
        roles: cfg.roles.iter().map(|r| r.name().to_string()).collect(),
        http: cfg.advertise.clone().unwrap_or(http),
        ingest_fps: cfg.has(NodeRole::Ingest).then_some(cfg.ingest_fps),
        infer_fps,
        lease_ms: lease.as_millis() as u64,
        status,
    };
    let announce: Announce = Arc::new(move || source.now());
    put(&store, &announce()).await.with_context(|| format!("cannot write this node's record in {NODES_BUCKET}"))?;
    let liveness = Arc::new(Mutex::new(Liveness::default()));
    actix::spawn(renew(store.clone(), announce.clone(), lease / 3));
    actix::spawn(watch(store.clone(), liveness.clone(), lease));
    tracing::info!(node = %cfg.node_id, nats = %cfg.nats_url, lease_sec = cfg.lease_sec, "joined the cluster");
    Ok(ClusterView { node_id: cfg.node_id.clone(), announce, liveness: Some(liveness), store: Some(store) })
}

/// Open the node bucket, creating its stream when missing. The stream is made here, with the settings of a
/// KV bucket (one value per key, rollups, direct gets), rather than by `create_or_update_key_value`, whose
/// account query needs fields that servers before 2.10 do not send (Debian 12 ships 2.9).
async fn open_bucket(js: &jetstream::Context) -> anyhow::Result<kv::Store> {
    js.get_or_create_stream(jetstream::stream::Config {
        name: format!("KV_{NODES_BUCKET}"),
        description: Some("Panoptes cluster nodes (renewed leases)".into()),
        subjects: vec![format!("$KV.{NODES_BUCKET}.>")],
        max_messages_per_subject: 1,
        max_age: RECORD_MAX_AGE,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: jetstream::stream::DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    })
    .await?;
    Ok(js.get_key_value(NODES_BUCKET).await?)
}

async fn put(store: &kv::Store, record: &NodeRecord) -> anyhow::Result<u64> {
    let json = serde_json::to_vec(record)?;
    Ok(store.put(&record.id, json.into()).await?)
}

/// Write this node's record every `every`, for as long as the process runs. A failed write is logged when
/// the reason changes; the next one is tried on time (the client reconnects by itself).
async fn renew(store: kv::Store, announce: Announce, every: Duration) {
    let mut last_error: Option<String> = None;
    loop {
        actix_web::rt::time::sleep(every).await;
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

/// Follow the bucket: every record written or deleted updates `liveness`. Restarts the watch when it ends.
async fn watch(store: kv::Store, liveness: Arc<Mutex<Liveness>>, lease: Duration) {
    loop {
        match store.watch_all().await {
            Ok(mut entries) => {
                while let Some(entry) = entries.next().await {
                    let Ok(entry) = entry else { break };
                    let mut l = liveness.lock().unwrap_or_else(|e| e.into_inner());
                    match entry.operation {
                        kv::Operation::Put => match serde_json::from_slice::<NodeRecord>(&entry.value) {
                            Ok(record) => {
                                let now = Instant::now();
                                // A replayed record was renewed at an unknown time: count it as a lease ago.
                                let seen = if entry.seen_current { now } else { now.checked_sub(lease).unwrap_or(now) };
                                l.observe(record, entry.revision, seen);
                            }
                            Err(e) => {
                                tracing::warn!(key = %entry.key, error = %e, "a node record that is not a Panoptes record; ignored")
                            }
                        },
                        kv::Operation::Delete | kv::Operation::Purge => l.forget(&entry.key),
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot watch the cluster's node records; retrying"),
        }
        actix_web::rt::time::sleep(Duration::from_secs(1)).await;
    }
}
