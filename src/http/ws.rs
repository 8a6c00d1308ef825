//! What both WebSocket channels share: the client's liveness (a ping every 5 s, closed after 15 s of
//! silence) and the largest frame a client may send.

use actix_ws::{Message, ProtocolError, Session};
use std::time::{Duration, Instant};

pub const HEARTBEAT: Duration = Duration::from_secs(5);
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);
pub const MAX_FRAME_BYTES: usize = 64 * 1024;

/// Tracks when the client was last heard from.
pub struct Liveness {
    last_seen: Instant,
}

impl Liveness {
    pub fn new() -> Self {
        Self { last_seen: Instant::now() }
    }

    /// Handle one message from the client (pings answered, the rest only counts as a sign of life).
    /// `false`: the session is over.
    pub async fn client_message(&mut self, msg: Option<Result<Message, ProtocolError>>, session: &mut Session) -> bool {
        match msg {
            Some(Ok(Message::Ping(bytes))) => {
                self.last_seen = Instant::now();
                session.pong(&bytes).await.is_ok()
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => false,
            Some(Ok(_)) => {
                self.last_seen = Instant::now();
                true
            }
        }
    }

    /// On each heartbeat: give up on a silent client, else ping it. `false`: the session is over.
    pub async fn tick(&mut self, session: &mut Session) -> bool {
        self.last_seen.elapsed() <= CLIENT_TIMEOUT && session.ping(b"").await.is_ok()
    }
}
