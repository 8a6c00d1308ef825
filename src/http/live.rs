//! `GET /ws/live/{camera}`: the camera's live video as fragmented MP4 (see `docs/api.md`): a text message
//! `{"type":"init", "mime", "codec", "timescale", "pts_offset_sec", "camera"}`, the init segment (binary),
//! then one binary `moof` + `mdat` per picture from a key frame on, whose `tfdt` is the picture's PTS on
//! the overlay's timeline. The init pair is sent again if the stream's parameters change.
//!
//! The client's queue is bounded ([`panoptes_actors::record::live::LIVE_QUEUE`]); a slow client skips to the
//! next key frame. Heartbeat and timeout as on the other channels.

use super::ws::{HEARTBEAT, Liveness, MAX_FRAME_BYTES};
use super::{ApiError, AppState};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use panoptes_actors::metric_names as m;
use panoptes_actors::record::live::{LiveInit, LiveMsg};

/// The init message of a stream.
pub fn init_message(camera: &str, init: &LiveInit) -> serde_json::Value {
    serde_json::json!({
        "type": "init",
        "camera": camera,
        "mime": format!("video/mp4; codecs=\"{}\"", init.codec),
        "codec": init.codec,
        "timescale": init.timescale,
        // Presentation times are the PTS themselves (composition offsets carry any reordering).
        "pts_offset_sec": 0.0,
    })
}

pub async fn live(
    req: HttpRequest,
    body: web::Payload,
    camera: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let camera = camera.into_inner();
    let Some(camera) = state.status.get(camera.as_str()).map(|entry| entry.key().clone()) else {
        return Err(ApiError::NotFound(format!("camera `{camera}` does not exist; GET /api/cameras lists them")));
    };
    let (response, mut session, stream) =
        actix_ws::handle(&req, body).map_err(|e| ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let mut rx = state.recording.feed(&camera).subscribe();
    let mut stream = stream.max_frame_size(MAX_FRAME_BYTES);
    actix_web::rt::spawn(async move {
        let clients = metrics::gauge!(m::LIVE_CLIENTS);
        clients.increment(1.0);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(LiveMsg::Init(init)) => {
                        if session.text(init_message(&camera, &init).to_string()).await.is_err()
                            || session.binary(init.segment.clone()).await.is_err()
                        {
                            break;
                        }
                    }
                    Some(LiveMsg::Fragment(f)) => if session.binary(f.as_ref().clone()).await.is_err() { break },
                    None => break,
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut session).await { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut session).await { break },
            }
        }
        clients.decrement(1.0);
        let _ = session.close(None).await;
    });
    Ok(response)
}
