//! Authentication and roles, as one middleware over the whole app ([`require_token`]): deny by default, so a
//! route added later is covered without doing anything; only [`is_public`] paths go without a token.
//!
//! A token comes in `Authorization: Bearer <token>` or, for browsers' WebSocket, `<img>` and `<video>`, in
//! the `token` query parameter (removed from the request before the handler sees it). An `admin` token may do
//! everything; a `viewer` token only reads (GET, HEAD) — which includes the WebSocket channels.

use super::ApiError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, Uri, header};
use actix_web::middleware::Next;
use panoptes_actors::store::tokens::{Role, TokenCache};

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

/// The decision for one request (pure): `Ok` lets it through.
pub fn decide(policy: &AuthPolicy, method: &Method, path: &str, token: Option<&str>) -> Result<(), ApiError> {
    if !policy.enabled || is_public(method, path, policy.public_metrics) {
        return Ok(());
    }
    let token = token.filter(|t| !t.is_empty()).ok_or_else(|| {
        ApiError::Unauthorized(format!(
            "{method} {path} needs an API token: send `Authorization: Bearer <token>` or `?token=<token>`"
        ))
    })?;
    match policy.tokens.role_of(token) {
        None => Err(ApiError::Unauthorized("the API token is not valid (unknown or deleted)".into())),
        Some(Role::Viewer) if !reads(method) => {
            Err(ApiError::Forbidden(format!("a viewer token cannot {method} {path}; use an admin token")))
        }
        Some(_) => Ok(()),
    }
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
    decide(&policy, req.method(), req.path(), token.as_deref())?;
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
        let tokens = TokenCache::default();
        tokens.insert(panoptes_actors::store::tokens::hash("adm"), 1, Role::Admin);
        tokens.insert(panoptes_actors::store::tokens::hash("view"), 2, Role::Viewer);
        AuthPolicy { enabled: true, public_metrics: true, tokens }
    }

    fn status(r: Result<(), ApiError>) -> u16 {
        use actix_web::ResponseError;
        r.map_or_else(|e| e.status_code().as_u16(), |()| 200)
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
