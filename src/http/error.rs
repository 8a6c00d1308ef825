//! One error type for every HTTP handler: a status code and a JSON body `{"error": "..."}`, plus `"field"` (the
//! path of the bad field, e.g. `zones[0].polygon`) when a request body is invalid.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A request body with a bad field: 400 naming it.
    #[error("`{field}`: {reason}")]
    Invalid { field: String, reason: String },
    /// No token, or an unknown one: 401.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role may not do this: 403.
    #[error("{0}")]
    Forbidden(String),
    /// The request contradicts the current state (duplicate id, a zone still used): 409.
    #[error("{0}")]
    Conflict(String),
    /// The server is shutting down: 503.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A camera that does not exist, or is outside the token's cameras: the two answer alike, so a
    /// camera-scoped token learns nothing of the others.
    pub fn no_such_camera(camera: &str) -> Self {
        ApiError::NotFound(format!("camera `{camera}` does not exist; GET /api/cameras lists them"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) | ApiError::Invalid { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(reason) = self {
            tracing::error!(%reason, "request failed");
        }
        let mut body = serde_json::json!({ "error": self.to_string() });
        if let ApiError::Invalid { field, .. } = self {
            body["field"] = field.clone().into();
        }
        let mut resp = HttpResponse::build(self.status_code());
        if let ApiError::Unauthorized(_) = self {
            resp.insert_header(("WWW-Authenticate", "Bearer"));
        }
        resp.json(body)
    }
}

impl From<actix::MailboxError> for ApiError {
    fn from(e: actix::MailboxError) -> Self {
        ApiError::Internal(format!("pipeline actor unavailable: {e}"))
    }
}

impl From<crate::control::ControlError> for ApiError {
    fn from(e: crate::control::ControlError) -> Self {
        use crate::control::ControlError as C;
        match e {
            C::NotFound(m) => ApiError::NotFound(m),
            C::Conflict(m) => ApiError::Conflict(m),
            C::Invalid { field, reason } => ApiError::Invalid { field, reason },
            C::Stopped => ApiError::Unavailable("the server is shutting down".into()),
            C::Cluster(m) => ApiError::Unavailable(m),
            e @ (C::Store(_) | C::Pipeline(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

/// Requests no route took: 405 with `Allow` when the path is a route's under other methods, else 404.
pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    let allowed = allowed_methods(req.path());
    if allowed.is_empty() {
        return Err(ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())));
    }
    let allow = allowed.join(", ");
    Ok(HttpResponse::MethodNotAllowed().insert_header(("Allow", allow.clone())).json(serde_json::json!({
        "error": format!("{} is not allowed on {}; allowed: {allow}", req.method(), req.path())
    })))
}

/// The methods the route table declares for `path` (its `{param}` segments match any one segment).
pub fn allowed_methods(path: &str) -> Vec<&'static str> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut methods: Vec<&'static str> = super::ROUTES
        .iter()
        .filter(|r| {
            let pattern: Vec<&str> = r.path.trim_end_matches('/').split('/').collect();
            pattern.len() == segments.len()
                && pattern.iter().zip(&segments).all(|(p, s)| (p.starts_with('{') && !s.is_empty()) || p == s)
        })
        .map(|r| r.method)
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn a_routes_path_under_another_method_names_the_allowed_ones() {
        assert_eq!(allowed_methods("/healthz"), ["GET"]);
        assert_eq!(allowed_methods("/"), ["GET"]);
        assert_eq!(allowed_methods("/api/cameras"), ["GET", "POST"]);
        assert_eq!(allowed_methods("/api/cameras/gate"), ["DELETE", "GET", "PUT"]);
        assert!(allowed_methods("/api/nothing").is_empty());
        assert!(allowed_methods("/api/cameras/gate/unknown").is_empty());
    }
}
