//! Authentication, roles and camera scopes, as one middleware over the whole app ([`require_token`]): deny by
//! default, so a route added later is covered without doing anything; only [`is_public`] paths go without a
//! token.
//!
//! A token comes in `Authorization: Bearer <token>` or, for browsers' WebSocket, `<img>` and `<video>`, in
//! the `token` query parameter (removed from the request before the handler sees it). An `admin` token may do
//! everything; a `viewer` token only reads (GET, HEAD) — which includes the WebSocket channels.
//!
//! A token may be limited to some cameras. Every route of the table declares its [`Reach`]: a route about
//! one camera named in its path is answered 404 outside the token's cameras (as if the camera did not exist);
//! a route over many cameras, or about a stored row (an event, a segment), keeps to the token's cameras in
//! its handler, which reads them with [`access`]; a route about the whole installation (tokens, webhooks,
//! adding a camera) needs a token for every camera.

use super::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::ResourceDef;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri, header};
use actix_web::middleware::Next;
use panoptes_actors::store::tokens::{Access, Role, TokenCache};
use std::sync::LazyLock;

/// How far a route reaches into the cameras' data: what decides where a camera-scoped token may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach {
    /// Nothing of any camera (the console's files, health, the clock, the model, the signing key; metrics,
    /// whose camera labels are aside).
    NoCamera,
    /// One camera, named by this path parameter: outside the token's cameras, 404 as for a missing camera.
    Camera(&'static str),
    /// Many cameras, or one known only from a stored row (an event, a segment): the handler keeps to the
    /// token's cameras ([`access`]).
    Filtered,
    /// The whole installation (tokens, webhooks, adding a camera): only a token for every camera.
    Everything,
}

impl Reach {
    /// How the OpenAPI document states it (`x-panoptes-reach`).
    pub fn describe(self) -> String {
        match self {
            Reach::NoCamera => "no-camera".into(),
            Reach::Camera(param) => format!("camera:{param}"),
            Reach::Filtered => "filtered".into(),
            Reach::Everything => "everything".into(),
        }
    }
}

/// The route table as patterns to match a request against (the middleware runs before routing).
static ROUTE_PATTERNS: LazyLock<Vec<(&'static str, ResourceDef, Reach)>> =
    LazyLock::new(|| super::ROUTES.iter().map(|r| (r.method, ResourceDef::new(r.path), r.reach)).collect());

/// The reach of the route a request goes to, and the camera its path names (for [`Reach::Camera`]); `None`
/// for a path no route serves (answered 404 or 405 by the router).
pub fn reach_of(method: &Method, path: &str) -> Option<(Reach, Option<String>)> {
    let method = if method == Method::HEAD { "GET" } else { method.as_str() };
    ROUTE_PATTERNS.iter().filter(|(m, _, _)| *m == method).find_map(|(_, def, reach)| {
        let mut matched = actix_web::dev::Path::new(path);
        if !def.capture_match_info(&mut matched) {
            return None;
        }
        let camera = match reach {
            Reach::Camera(param) => matched.get(param).map(str::to_string),
            _ => None,
        };
        Some((*reach, camera))
    })
}

/// What the request's token may do (every camera, as admin, when authentication is off). A request the
/// middleware did not see may do nothing.
pub fn access(req: &actix_web::HttpRequest) -> Access {
    use actix_web::HttpMessage;
    req.extensions().get::<Access>().cloned().unwrap_or_else(|| Access::scoped(Role::Viewer, []))
}

/// What the middleware enforces (`[auth]`).
#[derive(Clone)]
pub struct AuthPolicy {
    pub enabled: bool,
    pub public_metrics: bool,
    pub tokens: TokenCache,
}

/// Paths served without a token: the web page and its assets, liveness and readiness (which name no camera),
/// and (by default) metrics.
pub fn is_public(method: &Method, path: &str, public_metrics: bool) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    path == "/"
        || path == "/healthz"
        || path == "/readyz"
        || path == "/console"
        || path.starts_with("/console/")
        || (public_metrics && path == "/metrics")
}

fn reads(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The decision for one request (pure): `Ok` lets it through, with what its handler may reach.
pub fn decide(policy: &AuthPolicy, method: &Method, path: &str, token: Option<&str>) -> Result<Access, ApiError> {
    if !policy.enabled || is_public(method, path, policy.public_metrics) {
        return Ok(Access::all(Role::Admin));
    }
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "{method} {path} needs an API token: send `Authorization: Bearer <token>` or `?token=<token>`"
        ))
    })?;
    let access = policy
        .tokens
        .access_of(token)
        .ok_or_else(|| ApiError::Unauthorized("the API token is not valid (unknown or deleted)".into()))?;
    if access.role == Role::Viewer && !reads(method) {
        return Err(ApiError::Forbidden(format!("a viewer token cannot {method} {path}; use an admin token")));
    }
    if let Some(cameras) = &access.cameras {
        match reach_of(method, path) {
            Some((Reach::Camera(_), Some(camera))) if !access.allows(&camera) => {
                return Err(ApiError::no_such_camera(&camera));
            }
            Some((Reach::Everything, _)) => {
                return Err(ApiError::Forbidden(format!(
                    "a token limited to cameras {cameras:?} cannot {method} {path}; use a token for every camera"
                )));
            }
            _ => {}
        }
    }
    Ok(access)
}

/// The token of a request: the `Authorization: Bearer` header, else the `token` query parameter.
fn token_of(req: &ServiceRequest, query: &[(String, String)]) -> Option<String> {
    let header = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if let Some(value) = header {
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        return Some(if scheme.eq_ignore_ascii_case("bearer") { rest.trim().to_string() } else { String::new() });
    }
    query.iter().find(|(k, _)| k == "token").map(|(_, v)| v.clone())
}

/// The request's URI without the `token` query parameter (handlers never see the secret).
fn without_token(uri: &Uri, query: &[(String, String)]) -> Option<Uri> {
    let rest: Vec<&(String, String)> = query.iter().filter(|(k, _)| k != "token").collect();
    let mut text = uri.path().to_string();
    if !rest.is_empty() {
        let encoded: Vec<String> = rest.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect();
        text.push('?');
        text.push_str(&encoded.join("&"));
    }
    text.parse().ok()
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The token a request came with, kept for handlers that call another node of the cluster on its behalf.
#[derive(Clone)]
struct PresentedToken(String);

/// The token the request presented (header or query), if any.
pub fn presented_token(req: &actix_web::HttpRequest) -> Option<String> {
    use actix_web::HttpMessage;
    req.extensions().get::<PresentedToken>().map(|t| t.0.clone())
}

/// The middleware (`actix_web::middleware::from_fn`).
pub async fn require_token(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let query: Vec<(String, String)> =
        actix_web::web::Query::<Vec<(String, String)>>::from_query(req.query_string()).map(|q| q.0).unwrap_or_default();
    let token = token_of(&req, &query);
    let policy = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map(|s| s.auth.clone())
        .ok_or_else(|| ApiError::Internal("authentication is not configured".into()))?;
    let access = decide(&policy, req.method(), req.path(), token.as_deref())?;
    actix_web::HttpMessage::extensions_mut(&req).insert(access);
    if let Some(t) = token {
        actix_web::HttpMessage::extensions_mut(&req).insert(PresentedToken(t));
    }
    if query.iter().any(|(k, _)| k == "token")
        && let Some(uri) = without_token(req.uri(), &query)
    {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> AuthPolicy {
        use panoptes_actors::store::tokens::{TokenInfo, hash};
        let tokens = TokenCache::default();
        let token = |id, access| TokenInfo { id, name: format!("t{id}"), access, created_ms: 0 };
        tokens.insert(hash("adm"), &token(1, Access::all(Role::Admin)));
        tokens.insert(hash("view"), &token(2, Access::all(Role::Viewer)));
        tokens.insert(hash("gate-adm"), &token(3, Access::scoped(Role::Admin, ["gate".into()])));
        tokens.insert(hash("gate-view"), &token(4, Access::scoped(Role::Viewer, ["gate".into()])));
        AuthPolicy { enabled: true, public_metrics: true, tokens }
    }

    fn status(r: Result<Access, ApiError>) -> u16 {
        use actix_web::ResponseError;
        r.map_or_else(|e| e.status_code().as_u16(), |_| 200)
    }

    #[test]
    fn roles_and_missing_tokens() {
        let p = policy();
        let (get, post, delete) = (Method::GET, Method::POST, Method::DELETE);
        assert_eq!(status(decide(&p, &get, "/api/cameras", None)), 401);
        assert_eq!(status(decide(&p, &get, "/api/cameras", Some(""))), 401);
        assert_eq!(status(decide(&p, &get, "/api/cameras", Some("nope"))), 401);
        assert_eq!(status(decide(&p, &get, "/api/cameras", Some("view"))), 200);
        assert_eq!(status(decide(&p, &get, "/ws/alerts", Some("view"))), 200);
        assert_eq!(status(decide(&p, &post, "/api/cameras", Some("view"))), 403);
        assert_eq!(status(decide(&p, &delete, "/api/tokens/1", Some("view"))), 403);
        assert_eq!(status(decide(&p, &post, "/api/cameras", Some("adm"))), 200);
        // Unknown routes are denied too: deny by default.
        assert_eq!(status(decide(&p, &get, "/api/whatever/new", None)), 401);
        p.tokens.remove(2);
        assert_eq!(status(decide(&p, &get, "/api/cameras", Some("view"))), 401, "a deleted token stops working");
    }

    #[test]
    fn camera_scoped_tokens_reach_their_cameras_only() {
        let p = policy();
        let (get, put, post, delete) = (Method::GET, Method::PUT, Method::POST, Method::DELETE);
        let s = |m: &Method, path: &str, t: &str| status(decide(&p, m, path, Some(t)));
        // A route about one camera named in its path: 404 outside the scope, as for a camera that does not exist.
        assert_eq!(s(&get, "/api/cameras/gate", "gate-view"), 200);
        assert_eq!(s(&get, "/api/cameras/lobby", "gate-view"), 404);
        assert_eq!(s(&Method::HEAD, "/api/cameras/lobby/frame.jpg", "gate-view"), 404);
        assert_eq!(s(&get, "/api/cameras/lobby/recordings", "gate-adm"), 404);
        assert_eq!(s(&get, "/ws/live/lobby", "gate-view"), 404);
        assert_eq!(s(&get, "/ws/live/gate", "gate-view"), 200);
        assert_eq!(s(&put, "/api/cameras/gate/zones/door", "gate-adm"), 200, "a scoped admin changes its cameras");
        assert_eq!(s(&put, "/api/cameras/lobby/zones/door", "gate-adm"), 404);
        assert_eq!(s(&put, "/api/cameras/gate/zones/door", "gate-view"), 403, "viewers still only read");
        // The whole installation: tokens for every camera only.
        assert_eq!(s(&post, "/api/cameras", "gate-adm"), 403);
        assert_eq!(s(&get, "/api/tokens", "gate-adm"), 403, "listing tokens shows other scopes");
        assert_eq!(s(&delete, "/api/tokens/1", "gate-adm"), 403);
        assert_eq!(s(&get, "/api/webhooks", "gate-view"), 403);
        assert_eq!(s(&post, "/api/cameras", "adm"), 200);
        // Filtered and camera-less routes pass; the handler keeps to the scope.
        for path in ["/api/events", "/api/events/7", "/ws/alerts", "/ws/overlay", "/api/cameras", "/api/time"] {
            assert_eq!(s(&get, path, "gate-view"), 200, "{path}");
        }
        let access = decide(&p, &get, "/api/events", Some("gate-view")).unwrap();
        assert!(access.allows("gate") && !access.allows("lobby"));
        assert!(decide(&p, &get, "/api/events", Some("view")).unwrap().allows("lobby"));
    }

    #[test]
    fn every_route_declares_its_reach_and_paths_match_their_row() {
        assert_eq!(reach_of(&Method::GET, "/api/cameras/x/zones"), Some((Reach::Camera("id"), Some("x".into()))));
        assert_eq!(reach_of(&Method::GET, "/ws/live/x"), Some((Reach::Camera("camera"), Some("x".into()))));
        assert_eq!(reach_of(&Method::GET, "/api/events/3/clip"), Some((Reach::Filtered, None)));
        assert_eq!(reach_of(&Method::POST, "/api/cameras"), Some((Reach::Everything, None)));
        assert_eq!(reach_of(&Method::GET, "/api/nothing"), None);
        for r in super::super::ROUTES {
            if let Reach::Camera(param) = r.reach {
                assert!(r.path.contains(&format!("{{{param}}}")), "{} {} names no `{param}`", r.method, r.path);
            }
        }
    }

    #[test]
    fn public_paths_and_switches() {
        let mut p = policy();
        for path in ["/", "/healthz", "/metrics", "/console/app.js"] {
            assert_eq!(status(decide(&p, &Method::GET, path, None)), 200, "{path}");
        }
        assert_eq!(status(decide(&p, &Method::POST, "/healthz", None)), 401, "public means GET only");
        p.public_metrics = false;
        assert_eq!(status(decide(&p, &Method::GET, "/metrics", None)), 401);
        p.enabled = false;
        assert_eq!(status(decide(&p, &Method::DELETE, "/api/cameras/a", None)), 200);
    }

    #[test]
    fn the_token_parameter_is_removed_and_the_rest_kept() {
        let uri: Uri = "/ws/alerts?after=3&token=s%20x&camera=a%2Fb".parse().unwrap();
        let q = actix_web::web::Query::<Vec<(String, String)>>::from_query(uri.query().unwrap()).unwrap().0;
        assert_eq!(without_token(&uri, &q).unwrap().to_string(), "/ws/alerts?after=3&camera=a%2Fb");
        let uri: Uri = "/ws/overlay?token=abc".parse().unwrap();
        let q = actix_web::web::Query::<Vec<(String, String)>>::from_query(uri.query().unwrap()).unwrap().0;
        assert_eq!(without_token(&uri, &q).unwrap().to_string(), "/ws/overlay");
    }
}
