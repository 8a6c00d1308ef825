//! The placement loop, on every node: take or keep the leadership, plan while leading, and hand this node's
//! share of the plan to the control loop (`docs/design/cluster.md`).
//!
//! The bucket `panoptes_placement` holds two keys: `leader` ([`LeaderRecord`], taken by compare-and-set; see
//! [`panoptes_actors::cluster::leader`]) and `plan` ([`PlanRecord`], written by the leader with its term,
//! expecting the revision it last saw). Both are followed by a watch; a tick (a fifth of the lease, at most a
//! second) decides the leadership step, re-plans when leading, and publishes the cameras placed here.

use super::bucket;
use super::desired::DesiredCameras;
use async_nats::jetstream::{self, kv};
use panoptes_actors::cluster::leader::{Fence, Held, LeaderRecord, Part, PlanRecord, Step, step};
use panoptes_actors::cluster::node::Liveness;
use panoptes_actors::cluster::placement::{self, CameraDemand, NodeCapacity, Policy, Role, plan_colocated};
use panoptes_actors::config::CameraConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The bucket of the leadership and the plan.
pub const PLACEMENT_BUCKET: &str = "panoptes_placement";
const LEADER_KEY: &str = "leader";
const PLAN_KEY: &str = "plan";

/// What the placement bucket holds as this node last heard.
#[derive(Default)]
pub struct Placement {
    pub leader: Option<Held>,
    /// The newest plan the fence admitted.
    pub plan: Option<PlanRecord>,
    /// The plan key's revision (0: never written), expected by the leader's next write.
    plan_revision: u64,
    fence: Fence,
}

/// The placement state, shared with `GET /api/cluster`.
pub type SharedPlacement = Arc<Mutex<Placement>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The cameras placed on this node, with their configs and the part of each it runs.
pub type Share = Vec<(CameraConfig, Part)>;

/// Open the bucket, follow it, and start the loop on the current actix system. The receiver yields the
/// cameras this node must run (their full configs, and which part) whenever that changes.
pub async fn start(
    js: &jetstream::Context,
    me: String,
    lease: Duration,
    liveness: Arc<Mutex<Liveness>>,
    desired: DesiredCameras,
    replicas: usize,
    reconnects: watch::Receiver<u64>,
) -> anyhow::Result<(SharedPlacement, watch::Receiver<Share>)> {
    let store =
        bucket::open(js, PLACEMENT_BUCKET, "Panoptes placement (leader and plan)", Duration::ZERO, replicas).await?;
    let shared: SharedPlacement = Arc::default();
    let state = shared.clone();
    actix::spawn(bucket::follow(store.clone(), "placement", reconnects, move |entry| {
        let mut s = lock(&state);
        let put = entry.operation == kv::Operation::Put;
        match entry.key.as_str() {
            LEADER_KEY => {
                s.leader = put
                    .then(|| serde_json::from_slice::<LeaderRecord>(&entry.value).ok())
                    .flatten()
                    .map(|r| Held { node: r.node, revision: entry.revision });
            }
            PLAN_KEY => {
                s.plan_revision = entry.revision;
                match serde_json::from_slice::<PlanRecord>(&entry.value) {
                    Ok(plan) if put && s.fence.admit(plan.term) => s.plan = Some(plan),
                    Ok(plan) if put => {
                        tracing::warn!(term = plan.term, leader = %plan.leader, "ignored a plan of a deposed leader")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "a plan this node cannot read; kept the previous one"),
                }
            }
            other => tracing::debug!(key = other, "an unknown key in the placement bucket"),
        }
    }));
    let (tx, rx) = watch::channel(Vec::new());
    let planner =
        Planner { me, store, lease, liveness, desired, state: shared.clone(), started: Instant::now(), mine: tx };
    actix::spawn(planner.run());
    Ok((shared, rx))
}

struct Planner {
    me: String,
    store: kv::Store,
    lease: Duration,
    liveness: Arc<Mutex<Liveness>>,
    desired: DesiredCameras,
    state: SharedPlacement,
    started: Instant,
    mine: watch::Sender<Share>,
}

impl Planner {
    async fn run(self) {
        let tick = (self.lease / 5).clamp(Duration::from_millis(100), Duration::from_secs(1));
        loop {
            self.lead().await;
            self.publish_mine();
            actix_web::rt::time::sleep(tick).await;
        }
    }

    /// The ids of the nodes alive now, with their capacities.
    fn alive(&self) -> Vec<NodeCapacity> {
        lock(&self.liveness)
            .view(Instant::now())
            .into_iter()
            .filter(|v| v.alive)
            .map(|v| NodeCapacity { id: v.record.id, ingest_fps: v.record.ingest_fps, infer_fps: v.record.infer_fps })
            .collect()
    }

    /// One leadership step, and a plan when this node leads.
    async fn lead(&self) {
        let nodes = self.alive();
        let held = lock(&self.state).leader.clone();
        let holder_alive = held.as_ref().is_some_and(|h| nodes.iter().any(|n| n.id == h.node));
        // A node that does not see its own renewals has a stale view of the cluster (its watch of the node
        // records stopped): it judges nobody lapsed and plans nothing until it sees them again.
        let fresh_view = self.started.elapsed() >= self.lease && nodes.iter().any(|n| n.id == self.me);
        let record = serde_json::to_vec(&LeaderRecord { node: self.me.clone() }).unwrap_or_default();
        match step(&self.me, held.as_ref(), holder_alive, fresh_view) {
            Step::Create => {
                if let Ok(term) = self.store.create(LEADER_KEY, record.into()).await {
                    tracing::info!(node = %self.me, term, "this node leads the cluster's placement");
                    lock(&self.state).leader = Some(Held { node: self.me.clone(), revision: term });
                }
            }
            Step::Claim { expected } => {
                let lapsed = held.map(|h| h.node).unwrap_or_default();
                if let Ok(term) = self.store.update(LEADER_KEY, record.into(), expected).await {
                    tracing::warn!(node = %self.me, term, lapsed = %lapsed, "the leader's lease lapsed: this node leads the cluster's placement");
                    lock(&self.state).leader = Some(Held { node: self.me.clone(), revision: term });
                }
            }
            Step::Lead { term } => self.plan(term, &nodes).await,
            Step::Follow => {}
        }
    }

    /// Plan on the live nodes and the desired cameras; write the plan when it differs from the one in force.
    /// While every node that ingests also infers (and the reverse), each camera runs whole on one node;
    /// otherwise the two halves are placed per role and may run on two nodes.
    async fn plan(&self, term: u64, nodes: &[NodeCapacity]) {
        let cameras = self.desired.list();
        let demands: Vec<CameraDemand> = cameras
            .iter()
            .filter(|c| c.enabled)
            // The stream rate is not known before a node connects: the ingest side is planned on the
            // detection rate too (ingest capacity is far larger than inference capacity).
            .map(|c| CameraDemand { id: c.id.to_string(), decode_fps: c.detect_fps, detect_fps: c.detect_fps })
            .collect();
        let (previous, revision) = {
            let s = lock(&self.state);
            (s.plan.as_ref().map(|p| p.assignments.clone()).unwrap_or_default(), s.plan_revision)
        };
        let colocate = nodes.iter().all(|n| n.ingest_fps.is_some() == n.infer_fps.is_some());
        let p = if colocate {
            plan_colocated(nodes, &demands, &previous, &Policy::default())
        } else {
            placement::plan(nodes, &demands, &previous, &Policy::default())
        };
        let mut unplaced: BTreeMap<String, String> = p
            .unplaced
            .iter()
            .map(|(id, role)| {
                let fps = demands.iter().find(|d| &d.id == id).map_or(0.0, |d| d.detect_fps);
                let nodes = match (colocate, role) {
                    (true, _) => "no live node with both the ingest and infer roles",
                    (false, Role::Ingest) => "no live node with the ingest role",
                    (false, Role::Infer) => "no live node with the infer role",
                };
                let why = format!("{nodes} has room for its {fps} fps (detect_fps); add capacity or lower detect_fps");
                (id.clone(), why)
            })
            .collect();
        for c in cameras.iter().filter(|c| !c.enabled) {
            unplaced.insert(c.id.to_string(), "disabled (enabled = false)".into());
        }
        let plan = PlanRecord { term, leader: self.me.clone(), assignments: p.assignments, unplaced };
        if lock(&self.state).plan.as_ref() == Some(&plan) {
            return;
        }
        let json = match serde_json::to_vec(&plan) {
            Ok(j) => j,
            Err(e) => return tracing::error!(error = %e, "cannot encode the plan"),
        };
        let written = if revision == 0 {
            self.store.create(PLAN_KEY, json.into()).await.map_err(|e| e.to_string())
        } else {
            self.store.update(PLAN_KEY, json.into(), revision).await.map_err(|e| e.to_string())
        };
        match written {
            Ok(rev) => {
                tracing::info!(
                    term,
                    cameras = plan.assignments.len(),
                    unplaced = plan.unplaced.len(),
                    moved = p.changed,
                    "published a placement plan"
                );
                let mut s = lock(&self.state);
                if s.fence.admit(term) {
                    s.plan_revision = s.plan_revision.max(rev);
                    s.plan = Some(plan);
                }
            }
            // Another write came first (a successor, or this node's view lags): the watch brings it; next tick.
            Err(e) => tracing::debug!(error = %e, "the plan key moved; planning again on the next tick"),
        }
    }

    /// Send the configs of the cameras the plan places here, and their parts, when they changed.
    fn publish_mine(&self) {
        let parts: BTreeMap<String, Part> =
            lock(&self.state).plan.as_ref().map(|p| p.share_of(&self.me).into_iter().collect()).unwrap_or_default();
        let mine: Share =
            self.desired.list().into_iter().filter_map(|c| parts.get(c.id.as_str()).map(|part| (c, *part))).collect();
        self.mine.send_if_modified(|current| {
            if *current == mine {
                return false;
            }
            *current = mine;
            true
        });
    }
}
