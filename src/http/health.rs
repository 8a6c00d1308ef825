//! `GET /healthz` (liveness plus a per-camera summary) and `GET /metrics` (Prometheus text format).

use super::AppState;
use actix_web::{HttpResponse, web};

pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let cameras: serde_json::Map<String, serde_json::Value> = state
        .status
        .iter()
        .map(|e| (e.key().to_string(), serde_json::to_value(e.value()).unwrap_or_default()))
        .collect();
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "uptime_sec": state.started.elapsed().as_secs(),
        "cameras": cameras,
    }))
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(state.metrics.render())
}
