//! `GET /ws/overlay?camera=ID`: one JSON message per processed frame (see `docs/api.md`).
//!
//! The session subscribes to the hub with a bounded queue; what the client has not read is bounded in bytes
//! ([`TEXT_BUDGET`]): past it, frames are dropped for that client (`panoptes_ws_dropped_total`), the newest
//! getting through once it reads again. It pings every 5 s and closes a client that has not answered, or not
//! read, for 15 s. Messages from the client other than ping/pong/close are ignored.

use super::ws::{Delivery, HEARTBEAT, Liveness, TEXT_BUDGET};
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
    let access = super::auth::access(&req);
    let cameras = match query.into_inner().camera {
        // Every camera within the token's reach.
        None => access.cameras.map(|cs| cs.iter().filter_map(|c| c.parse().ok()).collect()),
        Some(c) if !access.allows(&c) => return Err(ApiError::no_such_camera(&c)),
        Some(c) => match state.status.get(c.as_str()) {
            Some(entry) => Some(vec![entry.key().clone()]),
            // Cluster mode: a camera analysed on another node, whose overlay is relayed here.
            None => match state.cluster.desired().and_then(|d| d.list().into_iter().find(|cfg| cfg.id.as_str() == c)) {
                Some(cfg) => Some(vec![cfg.id]),
                None => {
                    return Err(ApiError::no_such_camera(&c));
                }
            },
        },
    };
    let (response, mut outlet, mut stream) = super::ws::upgrade(&req, body, &state.ws_origins, TEXT_BUDGET, "overlay")?;
    let (sub, mut rx) = state.hub.send(Subscribe { cameras }).await?;
    let hub = state.hub.clone();
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(json) => match outlet.text(json.to_string()) {
                        Delivery::Queued => {}
                        Delivery::Full => outlet.dropped(),
                        Delivery::Closed => break,
                    },
                    None => break,
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut outlet) { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut outlet) { break },
            }
        }
        hub.do_send(Unsubscribe(sub));
        outlet.close();
    });
    Ok(response)
}
