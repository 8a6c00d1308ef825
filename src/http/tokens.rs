//! API tokens: `GET /api/tokens` (never a secret), `POST /api/tokens {"name","role"}` → 201 with the secret
//! (shown once), `DELETE /api/tokens/{id}` → 204. Admin only (the auth middleware refuses viewers' writes;
//! listing is a read).

use super::{ApiError, AppState, body};
use actix_web::{HttpResponse, web};
use panoptes_actors::store::tokens::Role;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
}

pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(state.control.tokens().await?))
}

pub async fn create(state: web::Data<AppState>, bytes: web::Bytes) -> Result<HttpResponse, ApiError> {
    let new: NewToken = body::parse(&bytes)?;
    let name = new.name.trim();
    if !name.chars().any(|c| c.is_ascii_alphanumeric()) || name.chars().count() > 100 {
        return Err(ApiError::Invalid {
            field: "name".into(),
            reason: "give 1–100 characters, at least one a letter or digit".into(),
        });
    }
    let (info, secret) = state.control.add_token(name.to_string(), new.role).await?;
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": info.id, "name": info.name, "role": info.role, "created_ms": info.created_ms, "token": secret,
    })))
}

pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id: i64 =
        id.parse().map_err(|_| ApiError::BadRequest(format!("path parameter `id`: `{id}` is not a token id")))?;
    state.control.delete_token(id).await?;
    Ok(HttpResponse::NoContent().finish())
}
