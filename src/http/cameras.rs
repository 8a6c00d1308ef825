//! Read-only views: `GET /api/system` and `GET /api/cameras/{id}/frame.jpg` (the camera CRUD is in `admin`).

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
pub async fn frame_jpeg(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let Some(camera) = state.status.get(id.as_str()).map(|entry| entry.key().clone()) else {
        return Err(ApiError::NotFound(format!("camera `{id}` does not exist; GET /api/cameras lists them")));
    };
    let latest = state
        .hub
        .send(GetLatestPicture(camera))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("camera `{id}` has no processed frame yet; retry shortly")))?;
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
