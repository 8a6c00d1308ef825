//! Read-only views: `GET /api/system` and `GET /api/cameras/{id}/frame.jpg` (the camera CRUD is in `admin`).

use super::cluster::{Half, node_running};
use super::{ApiError, AppState};
use actix_web::{HttpResponse, web};
use panoptes_actors::batcher::GetStats;
use panoptes_actors::hub::GetLatestPicture;
use panoptes_actors::store::snapshot;

pub async fn system(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut devices = Vec::new();
    for (_, batcher) in &state.batchers {
        devices.push(batcher.send(GetStats).await?);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_sec": state.started.elapsed().as_secs(),
        "devices": devices,
        "labels": &*state.labels,
    })))
}

/// `GET /api/cameras/{id}/frame.jpg`: the latest processed frame as the detector saw it (model
/// resolution). `X-Panoptes-Seq` and `X-Panoptes-Pts` name the frame, so a client draws the overlay
/// message with that `seq` on it.
pub async fn frame_jpeg(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let camera = state.status.get(id.as_str()).map(|entry| entry.key().clone());
    let latest = match camera {
        Some(camera) => state.hub.send(GetLatestPicture(camera)).await?,
        None => None,
    };
    let Some(latest) = latest else {
        // Cluster mode: the camera is analysed on another node.
        if let Some(http) = node_running(&state, &id, Half::Infer) {
            return relay_frame(&req, &http, &id).await;
        }
        return Err(match state.status.contains_key(id.as_str()) {
            true => ApiError::NotFound(format!("camera `{id}` has no processed frame yet; retry shortly")),
            false => ApiError::no_such_camera(&id),
        });
    };
    let bytes = web::block(move || snapshot::encode(&latest.input, None))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(format!("JPEG encoding failed: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Panoptes-Seq", latest.seq.to_string()))
        .insert_header(("X-Panoptes-Pts", format!("{}/{}", latest.pts.ticks(), latest.pts.clock_rate())))
        .body(bytes))
}

/// `GET {http}/api/cameras/{id}/frame.jpg` on the node that analyses the camera, with the caller's token.
async fn relay_frame(req: &actix_web::HttpRequest, http: &str, id: &str) -> Result<HttpResponse, ApiError> {
    let mut get = awc::Client::default()
        .get(format!("{http}/api/cameras/{id}/frame.jpg"))
        .timeout(std::time::Duration::from_secs(10));
    if let Some(token) = super::auth::presented_token(req) {
        get = get.bearer_auth(token);
    }
    let unavailable =
        |e: String| ApiError::Unavailable(format!("camera {id} is analysed on {http}, which cannot be reached: {e}"));
    let mut res = get.send().await.map_err(|e| unavailable(e.to_string()))?;
    let body = res.body().limit(64 << 20).await.map_err(|e| unavailable(e.to_string()))?;
    let mut out = HttpResponse::build(res.status());
    for name in ["content-type", "cache-control", "x-panoptes-seq", "x-panoptes-pts"] {
        if let Some(v) = res.headers().get(name) {
            out.insert_header((name, v.clone()));
        }
    }
    Ok(out.body(body))
}
