//! A camera split across two nodes: its ingest node publishes every stamped access unit on the core NATS
//! subject `panoptes.units.<camera>` ([`panoptes_actors::cluster::wire`]); its inference node subscribes
//! and analyses them as any camera's, keeping their timeline PTS and wall time, so its events land on the
//! frames the ingest node recorded.
//!
//! Live video is best effort: the ingest side's queue is bounded (a full queue skips to the next key
//! unit, counted in `panoptes_units_forward_dropped_total`), and core NATS drops what a slow subscriber
//! cannot take. A unit must fit in the server's `max_payload` (1 MiB by default; raise it for
//! cameras whose key frames are larger).

use futures::StreamExt;
use futures::future::LocalBoxFuture;
use panoptes_actors::camera::source::{Opener, SourceError, VideoSource};
use panoptes_actors::cluster::wire::{self, UnitReader};
use panoptes_actors::config::CameraConfig;
use panoptes_actors::media::AccessUnit;
use panoptes_actors::messages::CameraId;
use panoptes_actors::metric_names;
use panoptes_actors::record::worker::UnitTap;
use std::sync::Arc;
use std::time::Duration;

/// Units that may wait on the ingest side before it skips to the next key unit.
const QUEUE: usize = 256;
/// Silence after which the inference side ends the session (and the camera retries with backoff).
const SILENCE: Duration = Duration::from_secs(10);

pub fn subject(camera: &str) -> String {
    format!("panoptes.units.{camera}")
}

/// Publish `camera`'s units from a thread of its own: the tap the camera hands them to.
pub fn publisher(client: async_nats::Client, camera: &CameraId) -> std::io::Result<UnitTap> {
    let dropped = metrics::counter!(metric_names::UNITS_FORWARD_DROPPED, "camera" => camera.to_string());
    let (tap, rx) = UnitTap::counted(QUEUE, dropped);
    let (subject, camera) = (subject(camera.as_str()), camera.to_string());
    std::thread::Builder::new().name(format!("units-{camera}")).spawn(move || {
        let mut failing = false;
        while let Ok(au) = rx.recv() {
            let sent = futures::executor::block_on(client.publish(subject.clone(), wire::encode(&au).into()));
            match sent {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(camera, subject, bytes = au.data.len(), error = %e, "cannot publish the camera's video to its inference node");
                }
                Err(_) => {}
            }
        }
    })?;
    Ok(tap)
}

/// Opens sessions on the units another node publishes.
pub struct UnitOpener {
    pub client: async_nats::Client,
}

impl Opener for UnitOpener {
    fn open<'a>(
        &'a self,
        camera: &'a CameraId,
        _config: &'a CameraConfig,
    ) -> LocalBoxFuture<'a, Result<Box<dyn VideoSource>, SourceError>> {
        Box::pin(async move {
            let subject = subject(camera.as_str());
            let upstream =
                |reason: String| SourceError::Upstream { camera: camera.clone(), subject: subject.clone(), reason };
            let sub = self.client.subscribe(subject.clone()).await.map_err(|e| upstream(e.to_string()))?;
            Ok(Box::new(UnitSource { camera: camera.clone(), subject, sub, reader: UnitReader::default() })
                as Box<dyn VideoSource>)
        })
    }
}

struct UnitSource {
    camera: CameraId,
    subject: String,
    sub: async_nats::Subscriber,
    reader: UnitReader,
}

impl VideoSource for UnitSource {
    fn next(&mut self) -> LocalBoxFuture<'_, Result<Option<AccessUnit>, SourceError>> {
        Box::pin(async move {
            loop {
                let upstream = |reason: String| SourceError::Upstream {
                    camera: self.camera.clone(),
                    subject: self.subject.clone(),
                    reason,
                };
                let msg = match tokio::time::timeout(SILENCE, self.sub.next()).await {
                    Ok(Some(msg)) => msg,
                    Ok(None) => return Err(upstream("the subscription ended".into())),
                    Err(_) => return Err(upstream(format!("nothing for {} s", SILENCE.as_secs()))),
                };
                match self.reader.read(&msg.payload) {
                    Ok(Some(au)) => return Ok(Some(au)),
                    Ok(None) => {} // before the first key unit
                    Err(e) => {
                        tracing::warn!(camera = %self.camera, error = %e, "an access unit that cannot be read; skipped")
                    }
                }
            }
        })
    }

    fn stamped(&self) -> bool {
        true
    }
}

/// What a node needs to run halves of cameras: its NATS connection.
#[derive(Clone)]
pub struct UnitLink {
    client: async_nats::Client,
}

impl UnitLink {
    pub fn new(client: async_nats::Client) -> Self {
        Self { client }
    }

    /// The tap an ingest-only camera publishes through.
    pub fn publisher(&self, camera: &CameraId) -> std::io::Result<UnitTap> {
        publisher(self.client.clone(), camera)
    }

    /// The NATS connection.
    pub fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// The opener of an inference-only camera.
    pub fn opener(&self) -> Arc<dyn Opener> {
        Arc::new(UnitOpener { client: self.client.clone() })
    }
}
