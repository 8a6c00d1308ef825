//! Clock offsets between the nodes of a cluster, over NATS request/reply (in cluster mode, in place of
//! polling `[[peers]]` over HTTP): each node answers on `panoptes.time.<node id>` with its side of the
//! four-timestamp exchange (`receive_ns`, `transmit_ns`, as `GET /api/time` does), and exchanges with every
//! other live node a burst at first sight, then every [`EVERY`]. The offsets go into the same estimators as
//! `[[peers]]` (`GET /api/time/peers`, `panoptes_peer_clock_offset_seconds`).

use crate::peers::keep_exchanging;
use futures::StreamExt;
use panoptes_actors::cluster::node::Liveness;
use panoptes_actors::time::now_unix_ns;
use panoptes_actors::time::offset::Exchange;
use panoptes_actors::time::peers::PeerClocks;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Time between two exchanges with a node.
pub const EVERY: Duration = Duration::from_secs(5);
/// Longest wait for a node's reply.
const TIMEOUT: Duration = Duration::from_secs(2);

fn subject(node: &str) -> String {
    format!("panoptes.time.{node}")
}

/// Answer this node's time requests, and exchange with every other node as it appears (tasks on the current
/// actix system).
pub async fn start(
    client: async_nats::Client,
    me: String,
    liveness: Arc<Mutex<Liveness>>,
    clocks: PeerClocks,
) -> anyhow::Result<()> {
    let mut requests = client.subscribe(subject(&me)).await?;
    let responder = client.clone();
    actix::spawn(async move {
        while let Some(msg) = requests.next().await {
            let receive_ns = now_unix_ns();
            let Some(reply) = msg.reply else { continue };
            let body = serde_json::json!({ "receive_ns": receive_ns, "transmit_ns": now_unix_ns() });
            let _ = responder.publish(reply, body.to_string().into()).await;
        }
    });
    actix::spawn(async move {
        let mut polled: HashSet<String> = HashSet::new();
        loop {
            let alive = |l: &Mutex<Liveness>| -> Vec<String> {
                let view = l.lock().unwrap_or_else(|e| e.into_inner()).view(Instant::now());
                view.into_iter().filter(|v| v.alive).map(|v| v.record.id).collect()
            };
            for node in alive(&liveness) {
                if node == me || !polled.insert(node.clone()) {
                    continue;
                }
                let (client, clocks, liveness) = (client.clone(), clocks.clone(), liveness.clone());
                let at = subject(&node);
                clocks.add(&node, &format!("nats:{at}"));
                actix::spawn(async move {
                    let reachable = || alive(&liveness).contains(&node);
                    keep_exchanging(&node, &at, EVERY, &clocks, || exchange(&client, &at), reachable).await;
                });
            }
            actix_web::rt::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Ok(())
}

/// One exchange with the node answering on `subject`.
async fn exchange(client: &async_nats::Client, subject: &str) -> Result<Exchange, String> {
    let t0_ns = now_unix_ns();
    let reply = tokio::time::timeout(TIMEOUT, client.request(subject.to_owned(), "".into()))
        .await
        .map_err(|_| format!("no reply within {} s", TIMEOUT.as_secs()))?
        .map_err(|e| e.to_string())?;
    let t3_ns = now_unix_ns();
    let body: serde_json::Value = serde_json::from_slice(&reply.payload).map_err(|e| format!("not JSON: {e}"))?;
    let field = |name: &str| body[name].as_i64().ok_or_else(|| format!("the reply has no integer `{name}`"));
    Ok(Exchange { t0_ns, t1_ns: field("receive_ns")?, t2_ns: field("transmit_ns")?, t3_ns })
}
