//! `GET /api/cluster`: the nodes of the cluster (roles, capacities, liveness), the placement leader, and
//! where each camera runs (or why it runs nowhere). A node without `[cluster]` answers with itself alone
//! (`"mode": "standalone"`).

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

/// Which half of a camera a node runs, for [`node_running`].
#[derive(Clone, Copy)]
pub enum Half {
    /// The RTSP session, the recording and the live video.
    Ingest,
    /// Decoding, detection and the overlay.
    Infer,
}

/// The HTTP base URL of the node that runs `half` of `camera` (cluster mode), when that node is alive and not
/// this one: where a request about the camera that this node cannot answer goes.
pub fn node_running(state: &AppState, camera: &str, half: Half) -> Option<String> {
    let plan = state.cluster.plan()?;
    let assignment = plan.assignments.get(camera)?;
    let node = match half {
        Half::Ingest => &assignment.ingest,
        Half::Infer => &assignment.infer,
    };
    if node == state.cluster.node_id() {
        return None;
    }
    state.cluster.nodes().into_iter().find(|n| &n.record.id == node && n.alive).map(|n| n.record.http)
}

pub async fn cluster(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let access = super::auth::access(&req);
    let mut nodes = state.cluster.nodes();
    let runs = |node: &str, camera: &str| {
        nodes.iter().find(|n| n.record.id == node).map(|n| (n.alive, n.record.cameras.iter().any(|c| c == camera)))
    };
    let plan = state.cluster.plan();
    let mut cameras: Vec<serde_json::Value> = match &plan {
        // Alone, every node ingests and infers the cameras it runs.
        None if !state.cluster.clustered() => nodes
            .iter()
            .flat_map(|n| {
                n.record.cameras.iter().map(|c| {
                    json!({ "id": c, "ingest_node": n.record.id, "infer_node": n.record.id, "node_alive": n.alive, "running": true })
                })
            })
            .collect(),
        None => vec![],
        Some(plan) => {
            let placed = plan.assignments.iter().map(|(c, a)| {
                let (alive, running) = runs(&a.ingest, c).unwrap_or((false, false));
                json!({ "id": c, "ingest_node": a.ingest, "infer_node": a.infer, "node_alive": alive, "running": running })
            });
            let unplaced = plan.unplaced.iter().map(|(c, why)| {
                json!({ "id": c, "ingest_node": null, "infer_node": null, "running": false, "unplaced": why })
            });
            placed.chain(unplaced).collect()
        }
    };
    cameras.retain(|c| c["id"].as_str().is_some_and(|id| access.allows(id)));
    cameras.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    for n in &mut nodes {
        n.record.cameras.retain(|c| access.allows(c));
    }
    HttpResponse::Ok().json(json!({
        "mode": if state.cluster.clustered() { "cluster" } else { "standalone" },
        "node": state.cluster.node_id(),
        "waiting": state.cluster.waiting(),
        "leader": plan.as_ref().map(|p| &p.leader),
        "term": plan.as_ref().map(|p| p.term),
        "nodes": nodes,
        "cameras": cameras,
    }))
}
