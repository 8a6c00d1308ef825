//! The overlay hub: fans each processed frame out to the WebSocket clients watching its camera.
//!
//! A frame is serialised to JSON once, whatever the number of clients. Each client has a bounded
//! queue: when it is full (a slow client) the message is dropped for that client and counted; when
//! it is closed (the client left) the client is unsubscribed. The pipeline never waits for a client.

use crate::geometry::BBox;
use crate::messages::{CameraId, TrackedFrame};
use crate::metric_names as m;
use actix::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Messages per client that may wait before newer ones are dropped.
pub const CLIENT_QUEUE: usize = 64;

/// Subscribe to the overlay of some cameras (of all with `None`). Returns the receiving end and a
/// subscription id for [`Unsubscribe`].
#[derive(Message)]
#[rtype(result = "(u64, mpsc::Receiver<Arc<str>>)")]
pub struct Subscribe {
    pub cameras: Option<Vec<CameraId>>,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub u64);

struct Subscriber {
    cameras: Option<Vec<CameraId>>,
    tx: mpsc::Sender<Arc<str>>,
}

/// An overlay message of a camera analysed on another node of the cluster, as that node serialised it: fanned
/// out to this node's clients of the camera like a local one.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Relay {
    pub camera: CameraId,
    pub json: Arc<str>,
}

/// The latest processed frame of a camera, as the detector saw it.
#[derive(Clone, Debug)]
pub struct LatestPicture {
    pub seq: u64,
    pub pts: crate::time::Pts,
    pub input: Arc<crate::messages::ModelInput>,
}

/// The picture of the latest processed frame of `camera` (`GET /api/cameras/{id}/frame.jpg`).
#[derive(Message)]
#[rtype(result = "Option<LatestPicture>")]
pub struct GetLatestPicture(pub CameraId);

#[derive(Default)]
pub struct Hub {
    next_id: u64,
    subscribers: HashMap<u64, Subscriber>,
    latest: HashMap<CameraId, LatestPicture>,
}

impl Hub {
    fn set_clients_gauge(&self) {
        metrics::gauge!(m::OVERLAY_CLIENTS).set(self.subscribers.len() as f64);
    }
}

impl Actor for Hub {
    type Context = Context<Self>;
}

/// The overlay message for one processed frame (`GET /ws/overlay`), documented in `docs/api.md`.
#[derive(Serialize)]
pub struct OverlayMessage<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub camera: &'a str,
    pub seq: u64,
    pub pts: crate::time::Pts,
    pub pts_sec: f64,
    pub wall_ms: crate::time::WallTime,
    pub width: u32,
    pub height: u32,
    pub tracks: Vec<OverlayTrack<'a>>,
    /// Where detection looked: `null` the whole frame, else the regions inferred (normalised left, top,
    /// width, height; empty: nothing inferred on this frame).
    pub regions: Option<Vec<[f32; 4]>>,
    /// The frame's motion boxes (normalised left, top, width, height; regions mode only).
    pub motion: Vec<[f32; 4]>,
}

#[derive(Serialize)]
pub struct OverlayTrack<'a> {
    pub id: u64,
    pub class_id: u32,
    pub label: &'a str,
    pub score: f32,
    /// Box in normalised frame coordinates (0–1): left, top, width, height.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Not re-detected on this frame because detection did not run where it is; the box is the last seen.
    pub stationary: bool,
}

impl<'a> OverlayMessage<'a> {
    pub fn from_frame(frame: &'a TrackedFrame) -> Self {
        let meta = &frame.meta;
        let (w, h) = (meta.width.max(1) as f32, meta.height.max(1) as f32);
        let norm =
            |b: &BBox| [b.x1 / w, b.y1 / h, b.width() / w, b.height() / h].map(|v| (v * 10_000.0).round() / 10_000.0);
        let coverage = &frame.coverage;
        let regions = coverage.regions.as_ref().map(|rs| rs.iter().map(|r| norm(&r.to_bbox())).collect());
        let motion = coverage.motion.iter().map(norm).collect();
        let tracks = frame
            .tracks
            .iter()
            .map(|t| OverlayTrack {
                id: t.id,
                class_id: t.class_id,
                label: frame.labels.get(t.class_id as usize).map(String::as_str).unwrap_or("?"),
                score: (t.score * 1000.0).round() / 1000.0,
                bbox: norm(&t.bbox),
                stationary: t.stationary,
            })
            .collect();
        Self {
            kind: "overlay",
            camera: &meta.camera,
            seq: meta.seq,
            pts: meta.pts,
            pts_sec: meta.pts.as_secs_f64(),
            wall_ms: meta.wall_ms,
            width: meta.width,
            height: meta.height,
            tracks,
            regions,
            motion,
        }
    }
}

impl Handler<TrackedFrame> for Hub {
    type Result = ();

    fn handle(&mut self, frame: TrackedFrame, _ctx: &mut Context<Self>) {
        let camera = frame.meta.camera.clone();
        if let Some(input) = &frame.input {
            let latest = LatestPicture { seq: frame.meta.seq, pts: frame.meta.pts, input: input.clone() };
            self.latest.insert(camera.clone(), latest);
        }
        self.fan_out(&camera, || match serde_json::to_string(&OverlayMessage::from_frame(&frame)) {
            Ok(s) => Some(s.into()),
            Err(e) => {
                tracing::error!(camera = %camera, error = %e, "overlay message could not be serialised");
                None
            }
        });
        metrics::histogram!(m::END_TO_END_SECONDS, "camera" => camera.to_string())
            .record(frame.meta.decoded_at.elapsed().as_secs_f64());
    }
}

impl Hub {
    /// Send `camera`'s message (serialised once, only when someone watches the camera) to its clients.
    fn fan_out(&mut self, camera: &CameraId, json: impl FnOnce() -> Option<Arc<str>>) {
        let interested: Vec<u64> = self
            .subscribers
            .iter()
            .filter(|(_, s)| s.cameras.as_ref().is_none_or(|cs| cs.contains(camera)))
            .map(|(id, _)| *id)
            .collect();
        if interested.is_empty() {
            return;
        }
        let Some(json) = json() else { return };
        let mut closed = Vec::new();
        for id in interested {
            match self.subscribers[&id].tx.try_send(json.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    metrics::counter!(m::OVERLAY_DROPPED, "camera" => camera.to_string()).increment(1);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => closed.push(id),
            }
        }
        for id in closed {
            self.subscribers.remove(&id);
        }
        self.set_clients_gauge();
    }
}

impl Handler<Relay> for Hub {
    type Result = ();

    fn handle(&mut self, Relay { camera, json }: Relay, _ctx: &mut Context<Self>) {
        self.fan_out(&camera, || Some(json));
    }
}

impl Handler<Subscribe> for Hub {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        self.next_id += 1;
        self.subscribers.insert(self.next_id, Subscriber { cameras: msg.cameras, tx });
        self.set_clients_gauge();
        MessageResult((self.next_id, rx))
    }
}

impl Handler<GetLatestPicture> for Hub {
    type Result = Option<LatestPicture>;

    fn handle(&mut self, GetLatestPicture(camera): GetLatestPicture, _ctx: &mut Context<Self>) -> Self::Result {
        self.latest.get(&camera).cloned()
    }
}

impl Handler<Unsubscribe> for Hub {
    type Result = ();

    fn handle(&mut self, Unsubscribe(id): Unsubscribe, _ctx: &mut Context<Self>) {
        self.subscribers.remove(&id);
        self.set_clients_gauge();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::BBox;
    use crate::messages::{FrameMeta, Track};
    use crate::time::Pts;

    fn frame(camera: &str, seq: u64) -> TrackedFrame {
        TrackedFrame {
            meta: FrameMeta {
                camera: camera.parse().unwrap(),
                seq,
                pts: Pts::new(9_000 * seq as i64, 90_000),
                wall_ms: crate::time::WallTime::from_unix_ms(1_700_000_000_000),
                width: 200,
                height: 100,
                decoded_at: std::time::Instant::now(),
            },
            tracks: vec![Track {
                id: 7,
                class_id: 1,
                score: 0.9,
                bbox: BBox { x1: 20.0, y1: 10.0, x2: 60.0, y2: 60.0 },
                stationary: false,
            }],
            coverage: Default::default(),
            labels: vec!["person".to_string(), "car".to_string()].into(),
            input: None,
            full: None,
        }
    }

    #[actix::test]
    async fn fans_out_by_camera_and_normalises_boxes() {
        let hub = Hub::default().start();
        let (_, mut lobby) = hub.send(Subscribe { cameras: Some(vec!["lobby".parse().unwrap()]) }).await.unwrap();
        let (_, mut all) = hub.send(Subscribe { cameras: None }).await.unwrap();
        hub.send(frame("gate", 1)).await.unwrap();
        hub.send(frame("lobby", 2)).await.unwrap();
        let msg: serde_json::Value = serde_json::from_str(&lobby.recv().await.unwrap()).unwrap();
        assert_eq!(msg["camera"], "lobby");
        assert_eq!(msg["seq"], 2);
        assert_eq!(msg["pts"]["ticks"], 18_000);
        assert_eq!(msg["tracks"][0]["label"], "car");
        assert_eq!(msg["tracks"][0]["box"], serde_json::json!([0.1, 0.1, 0.2, 0.5]));
        assert!(lobby.try_recv().is_err(), "the gate frame is not for the lobby subscriber");
        let first: serde_json::Value = serde_json::from_str(&all.recv().await.unwrap()).unwrap();
        assert_eq!(first["camera"], "gate");
    }

    #[actix::test]
    async fn slow_clients_lose_messages_but_stay_bounded() {
        let hub = Hub::default().start();
        let (_, mut rx) = hub.send(Subscribe { cameras: None }).await.unwrap();
        for seq in 0..(CLIENT_QUEUE as u64 + 10) {
            hub.send(frame("a", seq)).await.unwrap();
        }
        let mut got = 0;
        while rx.try_recv().is_ok() {
            got += 1;
        }
        assert_eq!(got, CLIENT_QUEUE);
    }
}
