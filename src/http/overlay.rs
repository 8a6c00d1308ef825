//! `GET /ws/overlay?camera=ID`: one JSON message per processed frame (see `docs/api.md`).
//!
//! The session subscribes to the hub with a bounded queue; it pings every 5 s and closes a client
//! that has not answered for 15 s. Messages from the client other than ping/pong/close are ignored.

use super::ws::{HEARTBEAT, Liveness, MAX_FRAME_BYTES};
use super::{ApiError, AppState};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use panoptes_actors::hub::{Subscribe, Unsubscribe};

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayQuery {
    /// Only this camera's frames; all cameras when absent.
    camera: Option<String>,
}

pub async fn overlay(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<OverlayQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let camera = match query.into_inner().camera {
        None => None,
        Some(c) => match state.status.get(c.as_str()) {
            Some(entry) => Some(entry.key().clone()),
            None => {
                return Err(ApiError::NotFound(format!("camera `{c}` does not exist; GET /api/cameras lists them")));
            }
        },
    };
    let (response, mut session, stream) =
        actix_ws::handle(&req, body).map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let (sub, mut rx) = state.hub.send(Subscribe { camera }).await?;
    let hub = state.hub.clone();
    let mut stream = stream.max_frame_size(MAX_FRAME_BYTES);
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(json) => if session.text(json.to_string()).await.is_err() { break },
                    None => break,
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut session).await { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut session).await { break },
            }
        }
        hub.do_send(Unsubscribe(sub));
        let _ = session.close(None).await;
    });
    Ok(response)
}
