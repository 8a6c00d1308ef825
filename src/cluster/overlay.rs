//! `/ws/overlay` on any node: each node publishes the overlay messages of the cameras it analyses on the core
//! NATS subject `panoptes.overlay.<camera>`, and every node with the `api` role relays the messages of cameras
//! analysed elsewhere to its own overlay clients. Best effort, like the overlay itself: what a slow link or
//! client cannot take is dropped, never queued.

use super::planner::Share;
use actix::Addr;
use panoptes_actors::cluster::leader::Part;
use panoptes_actors::hub::{Hub, Relay, Subscribe};
use panoptes_actors::messages::CameraId;
use std::collections::HashSet;
use tokio::sync::watch;

const PREFIX: &str = "panoptes.overlay.";

/// The cameras this node analyses under its share of the plan, recomputed only when the share changes (not
/// for every overlay message).
struct Analysed {
    share: watch::Receiver<Share>,
    cameras: HashSet<String>,
}

impl Analysed {
    fn new(mut share: watch::Receiver<Share>) -> Self {
        share.mark_changed();
        Self { share, cameras: HashSet::new() }
    }

    fn contains(&mut self, camera: &str) -> bool {
        if self.share.has_changed().unwrap_or(false) {
            let share = self.share.borrow_and_update();
            self.cameras = share
                .iter()
                .filter(|(_, p)| matches!(p, Part::Whole | Part::Infer))
                .map(|(c, _)| c.id.to_string())
                .collect();
        }
        self.cameras.contains(camera)
    }
}

/// Start publishing this node's overlay messages and, with `relay`, relaying the others'.
pub async fn start(client: async_nats::Client, hub: Addr<Hub>, share: watch::Receiver<Share>, relay: bool) {
    let (_, mut local) = match hub.send(Subscribe { cameras: None }).await {
        Ok(sub) => sub,
        Err(e) => return tracing::error!(error = %e, "the overlay hub is gone: no overlay for the cluster"),
    };
    let (publisher, mut mine) = (client.clone(), Analysed::new(share.clone()));
    actix::spawn(async move {
        #[derive(serde::Deserialize)]
        struct Head {
            camera: String,
        }
        while let Some(json) = local.recv().await {
            let Ok(Head { camera }) = serde_json::from_str::<Head>(&json) else { continue };
            // Relayed messages come back through the hub: only this node's own cameras go out.
            if mine.contains(&camera) {
                let _ = publisher.publish(format!("{PREFIX}{camera}"), json.as_bytes().to_vec().into()).await;
            }
        }
    });
    if !relay {
        return;
    }
    let mut sub = match client.subscribe(format!("{PREFIX}>")).await {
        Ok(sub) => sub,
        Err(e) => {
            return tracing::error!(error = %e, "cannot follow the cluster's overlay; /ws/overlay shows this node's cameras only");
        }
    };
    let mut here = Analysed::new(share);
    actix::spawn(async move {
        use futures::StreamExt;
        while let Some(msg) = sub.next().await {
            let Some(camera) = msg.subject.as_str().strip_prefix(PREFIX) else { continue };
            if here.contains(camera) {
                continue;
            }
            let (Ok(camera), Ok(json)) = (CameraId::parse(camera), std::str::from_utf8(&msg.payload)) else { continue };
            hub.do_send(Relay { camera, json: json.into() });
        }
    });
}
