//! `POST /api/events/{id}/ack`: mark an event acknowledged (kept in the store); answers the event.

use super::{ApiError, AppState};
use actix_web::{HttpResponse, web};
use panoptes_actors::store::actor::GetEvent;

pub async fn acknowledge(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // Only an event within the token's reach may be acknowledged.
    let event = super::events::get_event(&req, &state, &id).await?;
    if !state.control.acknowledge(event.id).await? {
        return Err(super::events::no_such_event(event.id));
    }
    let internal = |e: panoptes_actors::store::StoreError| ApiError::Internal(e.to_string());
    let event = state
        .store
        .ask(GetEvent(event.id))
        .await
        .map_err(internal)?
        .map_err(internal)?
        .ok_or_else(|| super::events::no_such_event(event.id))?;
    Ok(HttpResponse::Ok().json(event.view()))
}
