//! `GET /ws/live/{camera}`: the camera's live video as fragmented MP4 (see `docs/api.md`): a text message
//! `{"type":"init", "mime", "codec", "timescale", "pts_offset_sec", "camera"}`, the init segment (binary),
//! then one binary `moof` + `mdat` per picture from a key frame on, whose `tfdt` is the picture's PTS on
//! the overlay's timeline. The init pair is sent again if the stream's parameters change.
//!
//! The client's queue is bounded ([`panoptes_actors::record::live::LIVE_QUEUE`] messages), and so is what it
//! has not read ([`VIDEO_BUDGET`] bytes): past either, a slow client skips to the next key frame. Heartbeat and
//! timeout as on the other channels.
//!
//! In cluster mode, a camera running on another node is served from that node (the node that ingests it,
//! which holds its live feed): the channel is relayed, with the caller's token.

use super::cluster::{Half, node_running};
use super::ws::{Delivery, HEARTBEAT, Liveness, Outlet, VIDEO_BUDGET};
use super::{ApiError, AppState};
use actix_web::web::Bytes;
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
        return match node_running(&state, &camera, Half::Ingest) {
            Some(http) => relay(req, body, camera, http, &state.ws_origins).await,
            None => Err(ApiError::no_such_camera(&camera)),
        };
    };
    let (response, mut outlet, mut stream) = super::ws::upgrade(&req, body, &state.ws_origins, VIDEO_BUDGET, "live")?;
    let mut rx = state.recording.feed(&camera).subscribe();
    actix_web::rt::spawn(async move {
        let clients = metrics::gauge!(m::LIVE_CLIENTS);
        clients.increment(1.0);
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        let mut video = VideoOut::default();
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(msg) => if !video.send(&camera, msg, &mut outlet) { break },
                    None => break,
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut outlet) { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut outlet) { break },
            }
        }
        clients.decrement(1.0);
        outlet.close();
    });
    Ok(response)
}

/// One client's video: what it receives always decodes, so after a fragment finds no room it gets nothing until
/// the next key frame (and, after an init that found no room, until the next init).
#[derive(Default)]
struct VideoOut {
    need_key: bool,
    need_init: bool,
}

impl VideoOut {
    /// Send `msg` if it fits; `false`: the session is over.
    fn send(&mut self, camera: &str, msg: LiveMsg, outlet: &mut Outlet) -> bool {
        let is_init = matches!(msg, LiveMsg::Init(_));
        let sent = match msg {
            LiveMsg::Init(init) => {
                self.need_init = false;
                match outlet.text(init_message(camera, &init).to_string()) {
                    Delivery::Queued => outlet.binary(Bytes::from(init.segment.clone())),
                    other => other,
                }
            }
            LiveMsg::Fragment { .. } if self.need_init => Delivery::Full,
            LiveMsg::Fragment { key: false, .. } if self.need_key => Delivery::Full,
            LiveMsg::Fragment { data, .. } => {
                self.need_key = false;
                outlet.binary(Bytes::from_owner(SharedFragment(data)))
            }
        };
        match sent {
            Delivery::Queued => true,
            Delivery::Full => {
                outlet.dropped();
                self.need_key = true;
                self.need_init |= is_init;
                true
            }
            Delivery::Closed => false,
        }
    }
}

/// A message relayed from another node.
enum Relayed {
    Text(String),
    Binary(Bytes),
}

impl Relayed {
    fn send(&self, outlet: &mut Outlet) -> Delivery {
        match self {
            Relayed::Text(t) => outlet.text(t.clone()),
            Relayed::Binary(b) => outlet.binary(b.clone()),
        }
    }
}

/// A fragment shared by every client (no copy per client).
struct SharedFragment(std::sync::Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedFragment {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Relay `camera`'s live channel from the node at `http` to this client.
async fn relay(
    req: HttpRequest,
    body: web::Payload,
    camera: String,
    http: String,
    origins: &[String],
) -> Result<HttpResponse, ApiError> {
    super::ws::check_origin(&req, origins)?;
    let url = format!("{}/ws/live/{camera}", http.replacen("http", "ws", 1));
    let client = awc::Client::builder().timeout(std::time::Duration::from_secs(5)).finish();
    let mut connect = client.ws(&url).max_frame_size(16 << 20);
    if let Some(token) = super::auth::presented_token(&req) {
        connect = connect.bearer_auth(token);
    }
    let (_, mut remote) = connect.connect().await.map_err(|e| {
        ApiError::Unavailable(format!("camera {camera} runs on {http}, whose live video cannot be reached: {e}"))
    })?;
    let (response, mut outlet, mut stream) = super::ws::upgrade(&req, body, origins, VIDEO_BUDGET, "live")?;
    actix_web::rt::spawn(async move {
        use futures::SinkExt;
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        // Nothing relayed is dropped here (that would break decoding): while this client's backlog is full,
        // the remote is not read, and the node serving the camera skips to a key frame for us.
        let mut held: Option<Relayed> = None;
        loop {
            tokio::select! {
                () = outlet.room(), if held.is_some() => {
                    let msg = held.take().unwrap_or(Relayed::Binary(Bytes::new()));
                    match msg.send(&mut outlet) {
                        Delivery::Queued => {}
                        Delivery::Full => held = Some(msg),
                        Delivery::Closed => break,
                    }
                },
                frame = remote.next(), if held.is_none() => {
                    let msg = match frame {
                        Some(Ok(awc::ws::Frame::Text(b))) => Relayed::Text(String::from_utf8_lossy(&b).into_owned()),
                        Some(Ok(awc::ws::Frame::Binary(b))) => Relayed::Binary(b),
                        Some(Ok(awc::ws::Frame::Ping(b))) => {
                            if remote.send(awc::ws::Message::Pong(b)).await.is_err() { break }
                            continue;
                        }
                        Some(Ok(_)) => continue,
                        _ => break,
                    };
                    match msg.send(&mut outlet) {
                        Delivery::Queued => {}
                        Delivery::Full => held = Some(msg),
                        Delivery::Closed => break,
                    }
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut outlet) { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut outlet) { break },
            }
        }
        outlet.close();
    });
    Ok(response)
}
