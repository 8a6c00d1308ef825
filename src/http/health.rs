//! Health: `GET /healthz` (liveness and readiness, public, nothing about cameras), `GET /readyz` (readiness as
//! the status code, for load balancers), `GET /api/health` (the per-camera detail, behind the token), and
//! `GET /metrics` (Prometheus text format).

use super::AppState;
use actix_web::{HttpResponse, web};

/// Why this node cannot take work yet, if it cannot: in cluster mode, it has not joined the cluster.
/// A camera that fails does not make the node unready: the others still stream.
fn not_ready(state: &AppState) -> Option<&'static str> {
    state.cluster.waiting().map(|_| "waiting for the cluster")
}

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "ready": not_ready(&state).is_none(),
        "uptime_sec": state.started.elapsed().as_secs(),
    }))
}

pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match not_ready(&state) {
        None => HttpResponse::Ok().json(serde_json::json!({ "ready": true })),
        Some(why) => HttpResponse::ServiceUnavailable().json(serde_json::json!({ "ready": false, "reason": why })),
    }
}

pub async fn detail(req: actix_web::HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let access = super::auth::access(&req);
    let cameras: serde_json::Map<String, serde_json::Value> = state
        .status
        .iter()
        .filter(|e| access.allows(e.key()))
        .map(|e| (e.key().to_string(), serde_json::to_value(e.value()).unwrap_or_default()))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "ready": not_ready(&state).is_none(),
        "waiting": state.cluster.waiting(),
        "uptime_sec": state.started.elapsed().as_secs(),
        "cameras": cameras,
    }))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
