//! What the WebSocket channels share: the client's liveness (a ping every 5 s, closed after 15 s of
//! silence or of not reading), the largest frame a client may send, which web pages may open them
//! ([`check_origin`]), and a sending side bounded in bytes ([`Outlet`]).

mod outlet;

use actix_ws::{Message, MessageStream, ProtocolError};
pub use outlet::{Delivery, Outlet, TEXT_BUDGET, VIDEO_BUDGET};
use std::sync::Arc;
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
    pub fn client_message(&mut self, msg: Option<Result<Message, ProtocolError>>, outlet: &mut Outlet) -> bool {
        match msg {
            Some(Ok(Message::Ping(bytes))) => {
                self.last_seen = Instant::now();
                outlet.pong(&bytes) != Delivery::Closed
            }
            Some(Ok(Message::Close(_))) | Some(Err(_)) | None => false,
            Some(Ok(_)) => {
                self.last_seen = Instant::now();
                true
            }
        }
    }

    /// On each heartbeat: give up on a silent client or one that stopped reading, else ping it. `false`: the
    /// session is over.
    pub fn tick(&mut self, outlet: &mut Outlet) -> bool {
        self.last_seen.elapsed() <= CLIENT_TIMEOUT && !outlet.stalled() && outlet.ping() != Delivery::Closed
    }
}

/// Upgrade to a WebSocket, after [`check_origin`]: the response, the sending side with a backlog of at most
/// `budget` bytes (`channel` names it in `panoptes_ws_dropped_total`), and the client's messages.
pub fn upgrade(
    req: &actix_web::HttpRequest,
    body: actix_web::web::Payload,
    allowed: &[String],
    budget: u64,
    channel: &'static str,
) -> Result<(actix_web::HttpResponse, Outlet, MessageStream), super::ApiError> {
    check_origin(req, allowed)?;
    let (response, session, stream) = actix_ws::handle(req, body)
        .map_err(|e| super::ApiError::BadRequest(format!("not a WebSocket upgrade: {e}")))?;
    let taken = Arc::new(outlet::Taken::default());
    let response = response.map_body(|_, body| outlet::counted(body, taken.clone()));
    Ok((response, Outlet::new(session, taken, budget, channel), stream.max_frame_size(MAX_FRAME_BYTES)))
}

/// Refuse a WebSocket upgrade from a page of another site: its `Origin` must be this server's own (the
/// request's `Host`) or one of `[server] ws_origins`. A request without `Origin` (not a browser) passes; the
/// token check applies to it as to every request.
pub fn check_origin(req: &actix_web::HttpRequest, allowed: &[String]) -> Result<(), super::ApiError> {
    let Some(origin) = req.headers().get("origin") else { return Ok(()) };
    let origin = origin.to_str().unwrap_or("").trim_end_matches('/');
    let host = req.headers().get("host").and_then(|h| h.to_str().ok()).unwrap_or("");
    let own = origin.split_once("://").is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host));
    if own || allowed.iter().any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    Err(super::ApiError::Forbidden(format!(
        "a page of {origin} may not open this server's WebSockets; add it to [server] ws_origins to allow it"
    )))
}

#[cfg(test)]
mod tests {
    use super::check_origin;
    use actix_web::test::TestRequest;

    #[test]
    fn only_the_servers_own_pages_and_the_listed_origins_may_open_websockets() {
        let req = |origin: Option<&str>| {
            let r = TestRequest::get().uri("/ws/overlay").insert_header(("host", "10.0.0.5:8080"));
            match origin {
                Some(o) => r.insert_header(("origin", o)).to_http_request(),
                None => r.to_http_request(),
            }
        };
        let wall = vec!["https://wall.example.com".to_string()];
        assert!(check_origin(&req(None), &[]).is_ok(), "no Origin: not a browser");
        assert!(check_origin(&req(Some("http://10.0.0.5:8080")), &[]).is_ok(), "the console itself");
        assert!(check_origin(&req(Some("https://wall.example.com")), &wall).is_ok(), "a listed origin");
        let e = check_origin(&req(Some("https://evil.example")), &wall).unwrap_err().to_string();
        assert!(e.contains("evil.example") && e.contains("ws_origins"), "{e}");
        assert!(check_origin(&req(Some("http://10.0.0.5:9090")), &[]).is_err(), "another port is another origin");
    }
}
