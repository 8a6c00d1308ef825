//! A camera's zones, lines and rules over HTTP: `GET /api/cameras/{id}/zones`,
//! `PUT|DELETE /api/cameras/{id}/zones/{zone}` and the same for `lines` and `rules`. The body of a PUT is the
//! item's config without its id (the URL names it). Changes reach the running rule actor without a restart.

use super::{ApiError, AppState, body};
use crate::control::ControlError;
use actix_web::{HttpResponse, web};
use panoptes_actors::config::{CameraConfig, LineConfig, RuleConfig, ZoneConfig, check_id};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One kind of per-camera item.
pub trait Item: Clone + Serialize + DeserializeOwned + Send + 'static {
    /// The list's name in the config and the URL (`zones`).
    const LIST: &'static str;
    fn id(&self) -> &str;
    fn list(cfg: &mut CameraConfig) -> &mut Vec<Self>;
    /// Why deleting `id` would break the camera (a rule still uses the zone), if it would.
    fn in_use(_cfg: &CameraConfig, _id: &str) -> Option<String> {
        None
    }
}

impl Item for ZoneConfig {
    const LIST: &'static str = "zones";
    fn id(&self) -> &str {
        &self.id
    }
    fn list(cfg: &mut CameraConfig) -> &mut Vec<Self> {
        &mut cfg.zones
    }
    fn in_use(cfg: &CameraConfig, id: &str) -> Option<String> {
        cfg.rules.iter().find(|r| r.zone.as_deref() == Some(id)).map(|r| r.id.clone())
    }
}

impl Item for LineConfig {
    const LIST: &'static str = "lines";
    fn id(&self) -> &str {
        &self.id
    }
    fn list(cfg: &mut CameraConfig) -> &mut Vec<Self> {
        &mut cfg.lines
    }
    fn in_use(cfg: &CameraConfig, id: &str) -> Option<String> {
        cfg.rules.iter().find(|r| r.line.as_deref() == Some(id)).map(|r| r.id.clone())
    }
}

impl Item for RuleConfig {
    const LIST: &'static str = "rules";
    fn id(&self) -> &str {
        &self.id
    }
    fn list(cfg: &mut CameraConfig) -> &mut Vec<Self> {
        &mut cfg.rules
    }
}

/// `GET /api/cameras/{id}/<list>`.
pub async fn list<T: Item>(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let mut cfg = state
        .control
        .cameras()
        .await?
        .into_iter()
        .find(|c| c.id.as_str() == id.as_str())
        .ok_or_else(|| ApiError::no_such_camera(&id))?;
    Ok(HttpResponse::Ok().json(T::list(&mut cfg).clone()))
}

/// `PUT /api/cameras/{id}/<list>/{item}`: create or replace.
pub async fn put<T: Item>(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (camera, item_id) = path.into_inner();
    check_id("id", &item_id).map_err(ControlError::from)?;
    let item: T = body::parse_with_id(&bytes, &item_id)?;
    let stored = item.clone();
    state
        .control
        .edit(
            camera,
            Box::new(move |cfg| {
                let list = T::list(cfg);
                match list.iter_mut().find(|i| i.id() == item.id()) {
                    Some(slot) => *slot = item,
                    None => list.push(item),
                }
                Ok(())
            }),
        )
        .await?;
    Ok(HttpResponse::Ok().json(stored))
}

/// `DELETE /api/cameras/{id}/<list>/{item}`.
pub async fn delete<T: Item>(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (camera, item_id) = path.into_inner();
    let cam = camera.clone();
    state
        .control
        .edit(
            camera,
            Box::new(move |cfg| {
                if let Some(rule) = T::in_use(cfg, &item_id) {
                    return Err(ControlError::Conflict(format!(
                        "camera `{cam}`: rule `{rule}` uses {} `{item_id}`; delete or change the rule first",
                        T::LIST.trim_end_matches('s')
                    )));
                }
                let list = T::list(cfg);
                let before = list.len();
                list.retain(|i| i.id() != item_id);
                if list.len() == before {
                    return Err(ControlError::NotFound(format!(
                        "camera `{cam}` has no {} `{item_id}`; GET /api/cameras/{cam}/{} lists them",
                        T::LIST.trim_end_matches('s'),
                        T::LIST
                    )));
                }
                Ok(())
            }),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
