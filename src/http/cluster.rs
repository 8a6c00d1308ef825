//! `GET /api/cluster`: the nodes of the cluster (roles, capacities, liveness) and where each camera runs.
//! A node without `[cluster]` answers with itself alone (`"mode": "standalone"`).

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn cluster(state: web::Data<AppState>) -> HttpResponse {
    let nodes = state.cluster.nodes();
    // Today every node ingests and infers the cameras it runs; the placement core (`cluster::placement`)
    // will assign the two roles to different nodes.
    let mut cameras: Vec<serde_json::Value> = nodes
        .iter()
        .flat_map(|n| {
            n.record.cameras.iter().map(
                |c| json!({ "id": c, "ingest_node": n.record.id, "infer_node": n.record.id, "node_alive": n.alive }),
            )
        })
        .collect();
    cameras.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    HttpResponse::Ok().json(json!({
        "mode": if state.cluster.clustered() { "cluster" } else { "standalone" },
        "node": state.cluster.node_id(),
        "nodes": nodes,
        "cameras": cameras,
    }))
}
