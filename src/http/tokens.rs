//! API tokens: `GET /api/tokens` (never a secret), `POST /api/tokens {"name","role","cameras"?}` → 201 with
//! the secret (shown once), `DELETE /api/tokens/{id}` → 204. For tokens over every camera only (the auth
//! middleware refuses viewers' writes and camera-scoped tokens).

use super::{ApiError, AppState, body};
use actix_web::{HttpResponse, web};
use panoptes_actors::store::tokens::{Access, Role};

/// Most cameras one token may name.
const MAX_CAMERAS: usize = 1000;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: Role,
    /// The cameras it is limited to; absent: every camera.
    #[serde(default)]
    cameras: Option<Vec<String>>,
}

/// The access a new token asks for; a camera need not exist yet (a token may be made before its camera).
fn access_of(new: &NewToken) -> Result<Access, ApiError> {
    let Some(cameras) = &new.cameras else { return Ok(Access::all(new.role)) };
    if cameras.is_empty() || cameras.len() > MAX_CAMERAS {
        return Err(ApiError::Invalid {
            field: "cameras".into(),
            reason: format!("list 1 to {MAX_CAMERAS} camera ids, or leave it out for every camera"),
        });
    }
    if let Some((i, bad)) = cameras.iter().enumerate().find(|(_, c)| !panoptes_actors::messages::is_valid_id(c)) {
        return Err(ApiError::Invalid {
            field: format!("cameras[{i}]"),
            reason: format!("`{bad}` is not a camera id (1–64 letters, digits, `-` or `_`)"),
        });
    }
    Ok(Access::scoped(new.role, cameras.iter().cloned()))
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
    let access = access_of(&new)?;
    let (info, secret) = state.control.add_token(name.to_string(), access).await?;
    let mut answer = serde_json::to_value(&info).map_err(|e| ApiError::Internal(e.to_string()))?;
    answer["token"] = secret.into();
    Ok(HttpResponse::Created().json(answer))
}

pub async fn delete(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id: i64 =
        id.parse().map_err(|_| ApiError::BadRequest(format!("path parameter `id`: `{id}` is not a token id")))?;
    state.control.delete_token(id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(cameras: Option<&[&str]>) -> NewToken {
        NewToken {
            name: "t".into(),
            role: Role::Viewer,
            cameras: cameras.map(|c| c.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn a_camera_list_is_checked_and_names_the_bad_entry() {
        assert_eq!(access_of(&new(None)).unwrap(), Access::all(Role::Viewer));
        assert_eq!(access_of(&new(Some(&["b", "a"]))).unwrap().cameras, Some(vec!["a".to_string(), "b".into()]));
        let err = access_of(&new(Some(&[]))).unwrap_err().to_string();
        assert!(err.starts_with("`cameras`"), "{err}");
        let err = access_of(&new(Some(&["gate", "no/slash"]))).unwrap_err().to_string();
        assert!(err.starts_with("`cameras[1]`") && err.contains("no/slash"), "{err}");
    }
}
