//! Camera administration: `GET/POST /api/cameras`, `GET/PUT/DELETE /api/cameras/{id}` and
//! `GET /api/cameras/{id}/status`. Changes go to the control loop (validated, stored, applied); answers never
//! carry a password or URL credentials.

use super::{ApiError, AppState, body};
use actix_web::{HttpResponse, web};
use panoptes_actors::config::CameraConfig;

/// A camera's config as the API shows it: no `password` (a parsed camera has no credentials in its URL).
pub fn public_config(cfg: &CameraConfig) -> serde_json::Value {
    let mut v = serde_json::to_value(cfg).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("password");
    }
    v
}

fn status_of(state: &AppState, cfg: &CameraConfig) -> serde_json::Value {
    if !cfg.enabled {
        return serde_json::json!({ "state": "disabled" });
    }
    state
        .status
        .get(cfg.id.as_str())
        .and_then(|s| serde_json::to_value(s.value()).ok())
        .unwrap_or_else(|| serde_json::json!({ "state": "starting" }))
}

fn view(state: &AppState, cfg: &CameraConfig) -> serde_json::Value {
    let mut v = public_config(cfg);
    v["status"] = status_of(state, cfg);
    v
}

fn no_passwords(cfg: &CameraConfig) -> Result<(), ApiError> {
    if cfg.password.is_some() {
        return Err(ApiError::Invalid {
            field: "password".into(),
            reason: "the API does not take passwords; name an environment variable of the server in `password_env`"
                .into(),
        });
    }
    Ok(())
}

async fn find(state: &AppState, id: &str) -> Result<CameraConfig, ApiError> {
    state.control.cameras().await?.into_iter().find(|c| c.id == id).ok_or_else(|| ApiError::no_such_camera(id))
}

pub async fn list(req: actix_web::HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let access = super::auth::access(&req);
    let cameras = state.control.cameras().await?;
    Ok(HttpResponse::Ok()
        .json(cameras.iter().filter(|c| access.allows(c.id.as_str())).map(|c| view(&state, c)).collect::<Vec<_>>()))
}

pub async fn one(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let cfg = find(&state, &id).await?;
    Ok(HttpResponse::Ok().json(view(&state, &cfg)))
}

pub async fn create(state: web::Data<AppState>, bytes: web::Bytes) -> Result<HttpResponse, ApiError> {
    let cfg: CameraConfig = body::parse_object(&bytes, None, &["status"])?;
    no_passwords(&cfg)?;
    let cfg = state.control.add_camera(cfg).await?;
    Ok(HttpResponse::Created().insert_header(("Location", format!("/api/cameras/{}", cfg.id))).json(view(&state, &cfg)))
}

pub async fn replace(
    state: web::Data<AppState>,
    id: web::Path<String>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let cfg: CameraConfig = body::parse_object(&bytes, Some(&id), &["status"])?;
    no_passwords(&cfg)?;
    let cfg = state.control.replace_camera(cfg).await?;
    Ok(HttpResponse::Ok().json(view(&state, &cfg)))
}

pub async fn remove(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    state.control.remove_camera(id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/cameras/{id}/status`: the camera's status and each rule's state (running, or why not).
pub async fn status(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let cfg = find(&state, &id).await?;
    let mut v = status_of(&state, &cfg);
    let running = state.control.rule_status(cfg.id.to_string()).await?;
    let rules: Vec<serde_json::Value> = cfg
        .rules
        .iter()
        .map(|r| {
            let mut rule = serde_json::json!({ "id": r.id, "kind": r.kind });
            match &running {
                None => {
                    rule["enabled"] = false.into();
                    rule["reason"] = "the camera is disabled".into();
                }
                Some(s) => {
                    rule["enabled"] = s.active.contains(&r.id).into();
                    if let Some(d) = s.disabled.iter().find(|d| d.rule == r.id) {
                        rule["reason"] = d.reason.clone().into();
                    }
                }
            }
            rule
        })
        .collect();
    // Then the camera's plate and fire/smoke sections, each with whether it runs and why not.
    let analytics = state.rules.get(cfg.id.as_str()).map(|e| e.value().1.clone()).unwrap_or_default();
    let mut rules = rules;
    rules.extend(analytics.iter().filter_map(|entry| serde_json::to_value(entry).ok()));
    v["id"] = cfg.id.as_str().into();
    v["rules"] = rules.into();
    Ok(HttpResponse::Ok().json(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_leave() {
        let in_url = serde_json::json!({ "id": "a", "url": "rtsp://u:secret@h/s" });
        assert!(serde_json::from_value::<CameraConfig>(in_url).is_err(), "credentials in a URL are refused");
        let cfg: CameraConfig = serde_json::from_value(serde_json::json!({
            "id": "a", "url": "rtsp://h/s", "username": "u", "password": "hunter2"
        }))
        .unwrap();
        let text = public_config(&cfg).to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"username\":\"u\""), "{text}");
    }
}
