//! Cluster mode on NATS JetStream (`[cluster]`, `docs/design/cluster.md`).
//!
//! - [`membership`]: this node's record, renewed every third of its lease, and every node's liveness.
//! - [`desired`]: the cameras of the whole cluster (with zones, lines and rules), changed by any node's API.
//! - [`tokens`]: the cluster's API tokens, valid on every node.
//! - [`planner`]: one leader places the cameras on the live nodes; each node runs what is placed on it.
//! - [`units`]: a camera split across two nodes: its access units from the ingest to the inference node.
//! - [`overlay`]: the overlay of cameras analysed on another node, relayed to this node's clients.
//! - [`events`]: every node's events on one stream, copied into every `api` node's store.
//! - [`clock`]: clock offsets between the nodes, over NATS request/reply.
//! - [`bucket`]: opening and following the KV buckets.
//!
//! Without `[cluster]` the view holds this node alone and nothing here talks to NATS.

pub mod bucket;
pub mod clock;
pub mod desired;
pub mod events;
pub mod membership;
pub mod overlay;
pub mod planner;
pub mod tokens;
pub mod units;

use actix::Addr;
use anyhow::Context;
use async_nats::jetstream;
use desired::DesiredCameras;
use membership::{Announce, NODES_BUCKET, RECORD_MAX_AGE, RecordSource};
use panoptes_actors::batcher::BatcherActor;
use panoptes_actors::cluster::leader::PlanRecord;
use panoptes_actors::cluster::node::{Liveness, NodeView};
use panoptes_actors::config::{ClusterConfig, Config, NodeRole};
use panoptes_actors::hub::Hub;
use panoptes_actors::status::StatusBoard;
use panoptes_actors::store::actor::StoreHandle;
use panoptes_actors::store::tokens::{TokenCache, TokenInfo};
use planner::SharedPlacement;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The cluster as this node sees it; cheap to clone, shared by the HTTP workers.
#[derive(Clone)]
pub struct ClusterView {
    node_id: String,
    announce: Announce,
    /// `[cluster]` given.
    clustered: bool,
    /// Set once the node has joined.
    joined: Arc<OnceLock<Membership>>,
    /// Why it has not joined yet (its NATS server unreachable), while it retries.
    waiting: Arc<Mutex<Option<String>>>,
}

/// What exists once the node has joined.
struct Membership {
    liveness: Arc<Mutex<Liveness>>,
    /// The node bucket, to leave it cleanly at shutdown, and the flag that stops the renewals.
    nodes: (async_nats::jetstream::kv::Store, membership::Left),
    desired: DesiredCameras,
    placement: SharedPlacement,
}

/// A node that joined: the cluster's cameras, those placed on it as the plan changes, and the link that
/// runs halves of cameras.
pub struct Joined {
    pub desired: DesiredCameras,
    pub tokens: tokens::ClusterTokens,
    pub placed_here: watch::Receiver<planner::Share>,
    pub units: units::UnitLink,
}

/// Why joining failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The NATS server cannot be reached (yet): worth retrying.
    #[error("{0:#}")]
    Unreachable(anyhow::Error),
    /// Anything else (no JetStream, a node id in use, ...).
    #[error("{0:#}")]
    Failed(anyhow::Error),
}

impl ClusterView {
    /// A node without `[cluster]`.
    pub fn standalone(node_id: String, infer_fps: f32, http: String, status: StatusBoard) -> Self {
        let roles = [NodeRole::Ingest, NodeRole::Infer, NodeRole::Api].map(|r| r.name().to_string()).to_vec();
        let record = RecordSource {
            node_id: node_id.clone(),
            roles,
            http,
            ingest_fps: None,
            infer_fps,
            lease_ms: 0,
            instance: 0,
            status,
            cost: Arc::default(),
        };
        Self::new(node_id, Arc::new(move || record.now()), false)
    }

    /// A node of the cluster of `config.cluster` (which must be set), before it joins ([`ClusterView::join`]);
    /// `batchers`: its devices, whose inference cost it measures and announces.
    pub fn member(
        config: &Config,
        http: String,
        status: StatusBoard,
        batchers: Vec<Addr<BatcherActor>>,
    ) -> anyhow::Result<Self> {
        let cfg = config.cluster.as_ref().context("a cluster view needs a [cluster] section")?;
        let source = RecordSource {
            node_id: cfg.node_id.clone(),
            roles: cfg.roles.iter().map(|r| r.name().to_string()).collect(),
            http: cfg.advertise.clone().unwrap_or(http),
            ingest_fps: cfg.has(NodeRole::Ingest).then_some(cfg.ingest_fps),
            infer_fps: config.devices.iter().map(|d| d.capacity_fps).sum(),
            lease_ms: Duration::from_secs_f64(cfg.lease_sec).as_millis() as u64,
            instance: membership::new_instance(),
            status,
            cost: Arc::default(),
        };
        actix::spawn(membership::measure_inference(batchers, source.cost.clone(), Duration::from_secs(5)));
        Ok(Self::new(cfg.node_id.clone(), Arc::new(move || source.now()), true))
    }

    fn new(node_id: String, announce: Announce, clustered: bool) -> Self {
        Self { node_id, announce, clustered, joined: Arc::default(), waiting: Arc::default() }
    }

    pub fn clustered(&self) -> bool {
        self.clustered
    }

    /// Why a node of a cluster has not joined it yet (`None`: joined, or alone).
    pub fn waiting(&self) -> Option<String> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The cluster's desired cameras (`None` alone, or before joining).
    pub fn desired(&self) -> Option<&DesiredCameras> {
        self.joined.get().map(|m| &m.desired)
    }

    /// The plan this node obeys (`None` alone, or before the first plan).
    pub fn plan(&self) -> Option<PlanRecord> {
        self.joined.get().and_then(|m| m.placement.lock().unwrap_or_else(|e| e.into_inner()).plan.clone())
    }

    /// Every node known, this one first and always alive (it is answering).
    pub fn nodes(&self) -> Vec<NodeView> {
        let me = NodeView { record: (self.announce)(), alive: true, last_renewal_ms: 0 };
        let mut out = vec![];
        if let Some(m) = self.joined.get() {
            let view = m.liveness.lock().unwrap_or_else(|e| e.into_inner()).view(Instant::now());
            out.extend(view.into_iter().filter(|v| v.record.id != me.record.id));
        }
        out.insert(0, me);
        out
    }

    /// Remove this node's record (a clean shutdown: the others see it leave at once, not after its lease, and
    /// its cameras are placed elsewhere on the leader's next tick).
    pub async fn leave(&self) {
        let Some(Membership { nodes: (store, left), .. }) = self.joined.get() else { return };
        let mut left = left.lock().await;
        *left = true;
        if let Err(e) = store.delete(&self.node_id).await {
            tracing::warn!(node = %self.node_id, error = %e, "could not remove this node's record; it lapses with its lease");
        }
    }
}

/// What of this node's pipeline the cluster code uses.
#[derive(Clone)]
pub struct Local {
    /// The cameras running here (announced in this node's record).
    pub status: StatusBoard,
    /// Where this node's events are (published), and where the others' go (copied).
    pub store: StoreHandle,
    /// This node's overlay (published), and where the others' are relayed.
    pub hub: Addr<Hub>,
    /// This node's authentication cache (the cluster's tokens once joined), and its own tokens with their
    /// hashes (its admin token goes to a cluster that has none).
    pub tokens: TokenCache,
    pub token_rows: Vec<(TokenInfo, String)>,
}

impl ClusterView {
    /// Join the cluster of `config.cluster`: connect, refuse a node id another live process holds, announce
    /// this node, seed the cluster's cameras from `config.cameras` (only those not there yet), and start
    /// renewing, watching, placing, sharing events and overlay (tasks on the current actix system). Errors
    /// name `[cluster] nats_url` and the fix; [`JoinError::Unreachable`] when the server cannot be reached.
    pub async fn join(&self, config: &Config, local: Local) -> Result<Joined, JoinError> {
        let cfg = config.cluster.as_ref().context("join: no [cluster] section").map_err(JoinError::Failed)?;
        let (client, reconnects) = connect(cfg).await.map_err(JoinError::Unreachable)?;
        let joined = self.join_with(config, local, client, reconnects).await.map_err(JoinError::Failed)?;
        *self.waiting.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(joined)
    }

    /// Note why the node has not joined yet.
    pub fn set_waiting(&self, reason: String) {
        *self.waiting.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason);
    }

    async fn join_with(
        &self,
        config: &Config,
        local: Local,
        client: async_nats::Client,
        reconnects: watch::Receiver<u64>,
    ) -> anyhow::Result<Joined> {
        let Local { store, hub, tokens, token_rows, .. } = local;
        let cfg = config.cluster.as_ref().context("join: no [cluster] section")?;
        let js = jetstream::new(client.clone());
        let bucket_error = |name: &str| format!("cannot open the JetStream bucket {name} at {}; {HINT}", cfg.nats_url);
        let description = "Panoptes cluster nodes (renewed leases)";
        let nodes = bucket::open(&js, NODES_BUCKET, description, RECORD_MAX_AGE, cfg.replicas)
            .await
            .with_context(|| bucket_error(NODES_BUCKET))?;
        let lease = Duration::from_secs_f64(cfg.lease_sec);
        membership::refuse_a_live_namesake(&nodes, &cfg.node_id, lease).await?;
        let record = (self.announce)();
        membership::put(&nodes, &record)
            .await
            .with_context(|| format!("cannot write this node's record in {NODES_BUCKET}"))?;
        let liveness = Arc::new(Mutex::new(Liveness::default()));
        let left = membership::Left::default();
        actix::spawn(membership::renew(nodes.clone(), self.announce.clone(), lease / 3, left.clone()));
        let me = (cfg.node_id.clone(), record.instance);
        actix::spawn(membership::watch(nodes.clone(), reconnects.clone(), liveness.clone(), me));

        let desired = DesiredCameras::open(&js, cfg.replicas, reconnects.clone())
            .await
            .with_context(|| bucket_error(desired::CAMERAS_BUCKET))?;
        let tokens = tokens::ClusterTokens::open(&js, cfg.replicas, reconnects.clone(), tokens, &token_rows)
            .await
            .with_context(|| bucket_error(tokens::TOKENS_BUCKET))?;
        let seed = &config.cameras;
        let created = desired.seed(seed).await?;
        if !seed.is_empty() {
            tracing::info!(
                created,
                given = seed.len(),
                "seeded the cluster's cameras from the config file (existing ones are kept as they are)"
            );
        }
        let max_age = Duration::from_secs(u64::from(config.store.retention_days) * 86_400);
        let settings = events::StreamSettings { max_age, replicas: cfg.replicas };
        let api = cfg.has(NodeRole::Api);
        events::start(&js, &cfg.node_id, &record.http, &store, api, settings).await.with_context(|| {
            format!("cannot open the JetStream stream {} at {}; {HINT}", events::EVENTS_STREAM, cfg.nats_url)
        })?;
        let (placement, placed_here) = planner::start(
            &js,
            cfg.node_id.clone(),
            lease,
            liveness.clone(),
            desired.clone(),
            cfg.replicas,
            reconnects,
        )
        .await
        .with_context(|| bucket_error(planner::PLACEMENT_BUCKET))?;
        overlay::start(client.clone(), hub, placed_here.clone(), api).await;
        let clocks = store.links.peers.clone();
        clock::start(client.clone(), cfg.node_id.clone(), liveness.clone(), clocks)
            .await
            .with_context(|| format!("cannot serve this node's clock on NATS at {}", cfg.nats_url))?;
        tracing::info!(node = %cfg.node_id, nats = %cfg.nats_url, lease_sec = cfg.lease_sec, "joined the cluster");
        let membership = Membership { liveness, nodes: (nodes, left), desired: desired.clone(), placement };
        if self.joined.set(membership).is_err() {
            anyhow::bail!("node {} joined its cluster twice", cfg.node_id);
        }
        Ok(Joined { desired, tokens, placed_here, units: units::UnitLink::new(client) })
    }
}

const HINT: &str = "start it with JetStream (`nats-server -js`) or fix [cluster] nats_url";

/// Connect to the cluster's NATS server. Every (re)connection is counted on the receiver, so the bucket
/// watches start again on the server now in use.
async fn connect(cfg: &ClusterConfig) -> anyhow::Result<(async_nats::Client, watch::Receiver<u64>)> {
    let (reconnected, reconnects) = watch::channel(0u64);
    let client = async_nats::ConnectOptions::new()
        .name(format!("panoptes {}", cfg.node_id))
        .event_callback(move |event| {
            let reconnected = reconnected.clone();
            async move {
                if matches!(event, async_nats::Event::Connected) {
                    reconnected.send_modify(|n| *n += 1);
                }
            }
        })
        .connection_timeout(Duration::from_secs(5))
        .connect(cfg.nats_url.as_str())
        .await
        .with_context(|| format!("cannot reach the NATS server at {} ([cluster] nats_url); {HINT}", cfg.nats_url))?;
    Ok((client, reconnects))
}
