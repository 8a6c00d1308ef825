//! Everything the server sends a WebSocket client goes through an [`Outlet`]: a send never waits, and what a
//! client has not read yet is bounded in bytes, not only in messages.
//!
//! actix-ws queues up to 32 messages per session whatever their size, and a send waits while that queue is
//! full, so a client that stops reading used to hold 32 video fragments and freeze its session's loop (its
//! heartbeat included). Here the response body is wrapped to count the bytes the connection has taken
//! ([`counted`]); the bytes handed to the session minus those taken are the client's backlog. A message that
//! would take the backlog past the budget is not sent ([`Delivery::Full`]): each channel then drops it or waits for
//! room, as suits it. A client whose backlog has not moved for [`super::CLIENT_TIMEOUT`] is closed.

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::web::Bytes;
use actix_ws::Session;
use futures::FutureExt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::sync::Notify;

/// Backlog budget of the text channels (overlay, alerts): some hundreds of messages.
pub const TEXT_BUDGET: u64 = 256 * 1024;
/// Backlog budget of the live video channel: about a second of a 1080p stream.
pub const VIDEO_BUDGET: u64 = 1024 * 1024;

/// What became of a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// Not sent: the client's backlog is at its budget.
    Full,
    /// The session is over.
    Closed,
}

/// Bytes the connection has taken from the session, shared with the wrapped response body.
#[derive(Default)]
pub(super) struct Taken {
    bytes: AtomicU64,
    moved: Notify,
}

/// The response body of a WebSocket session, counting the bytes the connection takes into `taken`.
pub(super) fn counted(body: BoxBody, taken: Arc<Taken>) -> BoxBody {
    BoxBody::new(Counted { inner: body, taken })
}

struct Counted {
    inner: BoxBody,
    taken: Arc<Taken>,
}

impl MessageBody for Counted {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.inner.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Ok(bytes))) = &polled {
            self.taken.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            self.taken.moved.notify_one();
        }
        polled
    }
}

/// The sending side of one client's session; see the module documentation.
pub struct Outlet {
    session: Session,
    taken: Arc<Taken>,
    /// Bytes handed to the session, as frames.
    handed: u64,
    budget: u64,
    /// The bytes taken when the backlog last moved, and when.
    moved: (u64, Instant),
    /// The bytes taken when a send last found no room.
    full_at: Option<u64>,
    dropped: metrics::Counter,
}

impl Outlet {
    pub(super) fn new(session: Session, taken: Arc<Taken>, budget: u64, channel: &'static str) -> Self {
        let dropped = metrics::counter!(panoptes_actors::metric_names::WS_DROPPED, "channel" => channel);
        Self { session, taken, handed: 0, budget, moved: (0, Instant::now()), full_at: None, dropped }
    }

    /// Bytes sent to the client that it has not taken yet (in the session's queue and its encoder).
    pub fn backlog(&self) -> u64 {
        self.handed.saturating_sub(self.taken.bytes.load(Ordering::Relaxed))
    }

    /// Send a text message unless the backlog is at its budget.
    pub fn text(&mut self, text: String) -> Delivery {
        let len = frame_len(text.len());
        self.send(len, false, |s| s.text(text).now_or_never())
    }

    /// Send a binary message unless the backlog is at its budget.
    pub fn binary(&mut self, bytes: Bytes) -> Delivery {
        let len = frame_len(bytes.len());
        self.send(len, false, |s| s.binary(bytes).now_or_never())
    }

    /// Count a message the channel chose not to send (`panoptes_ws_dropped_total`).
    pub fn dropped(&self) {
        self.dropped.increment(1);
    }

    /// Ping the client (a control frame: not held to the budget, but never waited for either).
    pub fn ping(&mut self) -> Delivery {
        self.send(frame_len(0), true, |s| s.ping(b"").now_or_never())
    }

    /// Answer a client's ping.
    pub fn pong(&mut self, payload: &[u8]) -> Delivery {
        let len = frame_len(payload.len().min(125));
        self.send(len, true, |s| s.pong(payload).now_or_never())
    }

    fn send<F>(&mut self, len: u64, control: bool, send: F) -> Delivery
    where
        F: FnOnce(&mut Session) -> Option<Result<(), actix_ws::Closed>>,
    {
        let full = !control && self.backlog() + len > self.budget;
        // Else the session's own queue may be full (many small messages): as good as over budget.
        let sent = if full { None } else { send(&mut self.session) };
        match sent {
            Some(Ok(())) => {
                self.handed += len;
                self.full_at = None;
                Delivery::Queued
            }
            None => {
                self.full_at = Some(self.taken.bytes.load(Ordering::Relaxed));
                Delivery::Full
            }
            Some(Err(_)) => Delivery::Closed,
        }
    }

    /// Wait until the backlog is at most half the budget and, after a send found no room, the client has read
    /// something since (for channels that must not drop: alerts, relays).
    pub async fn room(&self) {
        loop {
            let taken = self.taken.bytes.load(Ordering::Relaxed);
            if self.backlog() <= self.budget / 2 && self.full_at != Some(taken) {
                return;
            }
            self.taken.moved.notified().await;
        }
    }

    /// True when the client has a backlog that has not moved for [`super::CLIENT_TIMEOUT`]: it stopped reading.
    pub fn stalled(&mut self) -> bool {
        let taken = self.taken.bytes.load(Ordering::Relaxed);
        if taken != self.moved.0 || self.backlog() == 0 {
            self.moved = (taken, Instant::now());
        }
        self.moved.1.elapsed() > super::CLIENT_TIMEOUT
    }

    /// End the session (a close frame when there is room for it); what it held goes back to the system.
    pub fn close(self) {
        let Self { session, .. } = self;
        let _ = session.close(None).now_or_never();
        crate::memory::give_back_soon();
    }
}

/// Bytes of a server frame (unmasked) carrying `payload` bytes: RFC 6455's 2-byte header, plus 2 or 8 bytes of
/// extended length.
fn frame_len(payload: usize) -> u64 {
    let header = match payload {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    (header + payload) as u64
}

#[cfg(test)]
mod tests {
    use super::frame_len;

    #[test]
    fn frame_lengths_follow_rfc_6455() {
        assert_eq!(frame_len(0), 2);
        assert_eq!(frame_len(125), 127);
        assert_eq!(frame_len(126), 130);
        assert_eq!(frame_len(65535), 65539);
        assert_eq!(frame_len(65536), 65546);
    }
}
