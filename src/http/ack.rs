//! `POST /api/events/{id}/ack`: mark an event acknowledged (kept in the store); answers the event.

use super::{ApiError, AppState};
use actix_web::{HttpResponse, web};
use panoptes_actors::store::actor::GetEvent;

pub async fn acknowledge(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("path parameter `id`: `{id}` is not an event id")))?;
    let missing = || ApiError::NotFound(format!("event {id} does not exist; GET /api/events lists them"));
    if !state.control.acknowledge(id).await? {
        return Err(missing());
    }
    let internal = |e: panoptes_actors::store::StoreError| ApiError::Internal(e.to_string());
    let event = state.store.ask(GetEvent(id)).await.map_err(internal)?.map_err(internal)?.ok_or_else(missing)?;
    Ok(HttpResponse::Ok().json(event.view()))
}
