//! Polls every `[[peers]]` node's `GET /api/time` and feeds the four timestamps of each exchange into the
//! shared [`PeerClocks`], which estimate the peers' clock offsets (minimum-delay filtering, uncertainty).
//! The exchange loop ([`keep_exchanging`]) also serves the cluster's nodes, exchanged with over NATS.
//!
//! One local task per peer: a burst of exchanges at start (so an estimate exists within a second), then one
//! every `poll_sec`. A failed exchange is recorded as the peer's last error, counted, and logged when the
//! reason changes; polling goes on.

use awc::Client;
use panoptes_actors::config::PeerConfig;
use panoptes_actors::metric_names as m;
use panoptes_actors::time::now_unix_ns;
use panoptes_actors::time::offset::Exchange;
use panoptes_actors::time::peers::PeerClocks;
use std::time::Duration;

/// Exchanges made back to back when polling starts.
const BURST: usize = 4;

/// Start polling each peer (inside the actix system).
pub fn start(peers: &[PeerConfig], clocks: &PeerClocks) {
    for peer in peers {
        clocks.add(&peer.id, &peer.url);
        let token = peer.token_env.as_deref().and_then(|var| match std::env::var(var) {
            Ok(token) => Some(token),
            Err(_) => {
                tracing::warn!(peer = %peer.id, env = var, "peers.token_env names an unset variable; polling without a token");
                None
            }
        });
        actix::spawn(poll(peer.clone(), token, clocks.clone()));
    }
}

async fn poll(peer: PeerConfig, token: Option<String>, clocks: PeerClocks) {
    let client = Client::builder().timeout(Duration::from_secs(5)).finish();
    let url = format!("{}/api/time", peer.url.trim_end_matches('/'));
    let every = Duration::from_secs_f64(peer.poll_sec);
    keep_exchanging(&peer.id, &url, every, &clocks, || exchange(&client, &url, token.as_deref()), || true).await;
}

/// Exchange with peer `id` (reached at `at`) a burst at start, then every `every`, for as long as the process
/// runs, while `reachable()` holds: each result goes into `clocks` and the peer's offset gauges; a failure is
/// recorded as the peer's last error, counted, and logged when the reason changes.
pub async fn keep_exchanging<F: Future<Output = Result<Exchange, String>>>(
    id: &str,
    at: &str,
    every: Duration,
    clocks: &PeerClocks,
    mut exchange: impl FnMut() -> F,
    reachable: impl Fn() -> bool,
) {
    let mut last_error: Option<String> = None;
    for n in 0usize.. {
        let pause = if n + 1 < BURST { Duration::from_millis(50) } else { every };
        if !reachable() {
            tokio::time::sleep(every).await;
            continue;
        }
        let result = match exchange().await {
            Ok(ex) => clocks.record(id, ex).map_err(|e| e.to_string()),
            Err(reason) => {
                let reason = format!("time exchange with peer {id} at {at}: {reason}");
                clocks.record_failure(id, reason.clone());
                Err(reason)
            }
        };
        match result {
            Ok(()) => {
                if let Some(e) = clocks.estimate(id, now_unix_ns()) {
                    metrics::gauge!(m::PEER_CLOCK_OFFSET_SECONDS, "peer" => id.to_owned())
                        .set(e.offset_ns as f64 / 1e9);
                    metrics::gauge!(m::PEER_CLOCK_UNCERTAINTY_SECONDS, "peer" => id.to_owned())
                        .set(e.uncertainty_ns as f64 / 1e9);
                }
                if last_error.take().is_some() {
                    tracing::info!(peer = %id, "time exchanges with the peer work again");
                }
            }
            Err(reason) => {
                metrics::counter!(m::PEER_EXCHANGE_FAILURES, "peer" => id.to_owned()).increment(1);
                if last_error.as_deref() != Some(reason.as_str()) {
                    tracing::warn!(peer = %id, "{reason}; check that the peer is running and reachable");
                    last_error = Some(reason);
                }
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// One exchange: `t0` before sending, the peer's `t1`/`t2`, `t3` when the reply is read.
async fn exchange(client: &Client, url: &str, token: Option<&str>) -> Result<Exchange, String> {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let t0_ns = now_unix_ns();
    let mut response = request.send().await.map_err(|e| e.to_string())?;
    let body = response.body().await.map_err(|e| e.to_string())?;
    let t3_ns = now_unix_ns();
    if !response.status().is_success() {
        return Err(format!("HTTP {} {}", response.status(), String::from_utf8_lossy(&body)));
    }
    let reply: serde_json::Value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    let field = |name: &str| reply[name].as_i64().ok_or_else(|| format!("the reply has no integer `{name}`"));
    Ok(Exchange { t0_ns, t1_ns: field("receive_ns")?, t2_ns: field("transmit_ns")?, t3_ns })
}
