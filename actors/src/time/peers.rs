//! The clock offsets to the other Panoptes nodes (`[[peers]]`), shared between the pollers that feed them
//! and everything that maps a time onto a peer's clock (event playback links, `GET /api/time/peers`).
//!
//! A poller (the binary's `peers` module) runs one four-timestamp exchange at a time against a peer's
//! `GET /api/time` and hands it to [`PeerClocks::record`]; a failed exchange is kept as the peer's last
//! error. Each peer has its own [`OffsetEstimator`] (minimum-delay filtering over the recent window).

use super::offset::{Exchange, OffsetConfig, OffsetError, OffsetEstimate, OffsetEstimator};
use dashmap::DashMap;
use serde::Serialize;
use std::sync::Arc;

/// What is known of one peer's clock.
#[derive(Clone, Debug)]
struct PeerClock {
    url: String,
    estimator: OffsetEstimator,
    exchanges: u64,
    last_error: Option<String>,
}

/// One peer as `GET /api/time/peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeerView {
    pub id: String,
    pub url: String,
    /// Peer clock minus this node's clock; `None` before the first good exchange.
    pub estimate: Option<OffsetEstimate>,
    /// Exchanges taken so far (successful ones).
    pub exchanges: u64,
    /// Why the latest exchange failed, if it did.
    pub last_error: Option<String>,
}

/// The offsets to every configured peer. Cheap to clone (shared).
#[derive(Clone, Debug, Default)]
pub struct PeerClocks {
    peers: Arc<DashMap<String, PeerClock>>,
}

impl PeerClocks {
    /// Start tracking a peer (again: its history is reset).
    pub fn add(&self, id: &str, url: &str) {
        let estimator = OffsetEstimator::new(id, OffsetConfig::default());
        self.peers
            .insert(id.to_string(), PeerClock { url: url.to_string(), estimator, exchanges: 0, last_error: None });
    }

    /// Take one exchange with `peer`. An unknown peer or an inconsistent exchange is an error (and the
    /// latter is also kept as the peer's last error).
    pub fn record(&self, peer: &str, exchange: Exchange) -> Result<(), OffsetError> {
        let Some(mut clock) = self.peers.get_mut(peer) else {
            return Err(OffsetError::UnknownPeer { peer: peer.to_string() });
        };
        match clock.estimator.add(exchange) {
            Ok(()) => {
                clock.exchanges += 1;
                clock.last_error = None;
                Ok(())
            }
            Err(e) => {
                clock.last_error = Some(e.to_string());
                Err(e)
            }
        }
    }

    /// Note that an exchange with `peer` could not be made (unreachable, refused, bad reply).
    pub fn record_failure(&self, peer: &str, reason: String) {
        if let Some(mut clock) = self.peers.get_mut(peer) {
            clock.last_error = Some(reason);
        }
    }

    /// The current offset of `peer` (peer clock minus ours) at local time `now_ns`.
    pub fn estimate(&self, peer: &str, now_ns: i64) -> Option<OffsetEstimate> {
        self.peers.get(peer).and_then(|c| c.estimator.estimate(now_ns))
    }

    /// Every peer, sorted by id.
    pub fn views(&self, now_ns: i64) -> Vec<PeerView> {
        let mut views: Vec<PeerView> = self
            .peers
            .iter()
            .map(|e| PeerView {
                id: e.key().clone(),
                url: e.url.clone(),
                estimate: e.estimator.estimate(now_ns),
                exchanges: e.exchanges,
                last_error: e.last_error.clone(),
            })
            .collect();
        views.sort_by(|a, b| a.id.cmp(&b.id));
        views
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(offset_ns: i64, leg_ns: i64, at_ns: i64) -> Exchange {
        // Symmetric legs: the estimate is exact.
        Exchange {
            t0_ns: at_ns,
            t1_ns: at_ns + leg_ns + offset_ns,
            t2_ns: at_ns + leg_ns + offset_ns,
            t3_ns: at_ns + 2 * leg_ns,
        }
    }

    #[test]
    fn a_peer_has_no_estimate_until_its_first_exchange_then_the_offset() {
        let clocks = PeerClocks::default();
        clocks.add("recorder", "http://10.0.0.7:8080");
        assert_eq!(clocks.estimate("recorder", 0), None);
        clocks.record("recorder", exchange(2_500_000_000, 1_000_000, 1_000)).unwrap();
        let e = clocks.estimate("recorder", 2_000_000).unwrap();
        assert!((e.offset_ns - 2_500_000_000).abs() <= e.uncertainty_ns, "{e:?}");
        let views = clocks.views(2_000_000);
        assert_eq!(views.len(), 1);
        assert_eq!((views[0].id.as_str(), views[0].exchanges, views[0].last_error.as_deref()), ("recorder", 1, None));
    }

    #[test]
    fn failures_are_kept_per_peer_and_cleared_by_the_next_good_exchange() {
        let clocks = PeerClocks::default();
        clocks.add("a", "http://a");
        clocks.add("b", "http://b");
        clocks.record_failure("a", "connection refused".into());
        let bad = Exchange { t0_ns: 10, t1_ns: 5, t2_ns: 6, t3_ns: 9 };
        assert!(clocks.record("b", bad).is_err());
        let views = clocks.views(0);
        assert_eq!(views[0].last_error.as_deref(), Some("connection refused"));
        assert!(views[1].last_error.as_deref().unwrap().contains("peer b"), "{views:?}");
        clocks.record("a", exchange(0, 100, 1_000)).unwrap();
        assert_eq!(clocks.views(0)[0].last_error, None);
        assert!(matches!(clocks.record("c", exchange(0, 1, 0)), Err(OffsetError::UnknownPeer { .. })));
    }
}
