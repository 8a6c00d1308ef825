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
            e @ (C::Store(_) | C::Pipeline(_)) => ApiError::Internal(e.to_string()),
        }
    }
}

pub async fn not_found(req: actix_web::HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!("no route for {} {}", req.method(), req.path())))
}
