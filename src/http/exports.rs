//! Evidence export: `POST /api/exports` packs events (with their snapshots and clips) or a camera's recorded
//! time range (its segments and the events in it) into a signed zip ([`crate::evidence`]);
//! `GET /api/exports/key` publishes the public key that signs them.

use super::events::get_event;
use super::recordings::build_clip;
use super::{ApiError, AppState, body};
use actix_web::{HttpResponse, web};
use panoptes_actors::store::actor::QueryEvents;
use panoptes_actors::store::{EventQuery, StoredEvent};
use serde::Deserialize;
use serde_json::{Value, json};

/// Events one export may name.
const MAX_EVENTS: usize = 100;
/// The longest camera time range one export may cover.
const MAX_RANGE_MS: i64 = 3_600_000;

/// The request: `events`, or `camera` with `start_ms` and `duration_ms`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    #[serde(default)]
    events: Option<Vec<i64>>,
    #[serde(default)]
    camera: Option<String>,
    #[serde(default)]
    start_ms: Option<i64>,
    #[serde(default)]
    duration_ms: Option<i64>,
}

pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "algorithm": "ed25519",
        "public_key": state.export_key.public_hex(),
        "fingerprint": state.export_key.fingerprint(),
    }))
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(e.to_string())
}

async fn read_file(path: std::path::PathBuf) -> Result<Vec<u8>, String> {
    web::block(move || std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display())))
        .await
        .map_err(|e| e.to_string())?
}

pub async fn create(
    http: actix_web::HttpRequest,
    state: web::Data<AppState>,
    bytes: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: Value = body::parse(&bytes)?;
    let req: ExportRequest = body::parse(&bytes)?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut missing: Vec<Value> = Vec::new();
    let events: Vec<StoredEvent> = match (&req.events, &req.camera, req.start_ms, req.duration_ms) {
        (Some(ids), None, None, None) => {
            if ids.is_empty() || ids.len() > MAX_EVENTS {
                return Err(ApiError::Invalid {
                    field: "events".into(),
                    reason: format!("list 1 to {MAX_EVENTS} event ids"),
                });
            }
            let mut events = Vec::with_capacity(ids.len());
            for id in ids {
                events.push(get_event(&http, &state, &id.to_string()).await?);
            }
            events.sort_by_key(|e| e.id);
            events.dedup_by_key(|e| e.id);
            for e in &events {
                match build_clip(&state, e).await {
                    Ok((clip, _)) => files.push((format!("clips/event-{}.mp4", e.id), clip.bytes)),
                    Err(err) => {
                        missing.push(json!({ "what": format!("clips/event-{}.mp4", e.id), "why": err.to_string() }))
                    }
                }
            }
            events
        }
        (None, Some(camera), Some(start), Some(duration)) => {
            if !super::auth::access(&http).allows(camera) {
                return Err(ApiError::no_such_camera(camera));
            }
            if !(1..=MAX_RANGE_MS).contains(&duration) {
                return Err(ApiError::Invalid {
                    field: "duration_ms".into(),
                    reason: format!("must be 1 ms to {} minutes", MAX_RANGE_MS / 60_000),
                });
            }
            let end = start.saturating_add(duration);
            let index = state.recording.index.clone();
            let (cam, dir) = (camera.clone(), state.recording.config.dir.clone());
            let segments = web::block(move || index.by_wall(&cam, start, end, 10_000))
                .await
                .map_err(internal)?
                .map_err(internal)?;
            for s in segments {
                match read_file(dir.join(&s.path)).await {
                    Ok(bytes) => files.push((format!("recordings/{}", s.path), bytes)),
                    Err(why) => missing.push(json!({ "what": format!("recordings/{}", s.path), "why": why })),
                }
            }
            let mut events = Vec::new();
            let mut after = None;
            loop {
                let q = EventQuery {
                    camera: Some(camera.clone()),
                    since_ms: Some(start),
                    until_ms: Some(end),
                    after_id: after,
                    limit: panoptes_actors::store::db::MAX_LIMIT,
                    ..EventQuery::default()
                };
                let page = state.store.ask(QueryEvents(q)).await.map_err(internal)?.map_err(internal)?;
                events.extend(page.events);
                match page.next_after_id {
                    Some(next) if events.len() < 10_000 => after = Some(next),
                    _ => break,
                }
            }
            events.sort_by_key(|e| e.id);
            if events.is_empty() && files.is_empty() && missing.is_empty() {
                return Err(ApiError::NotFound(format!(
                    "camera `{camera}` has no recording and no event between {start} and {end} (Unix ms)"
                )));
            }
            events
        }
        _ => {
            return Err(ApiError::BadRequest(
                "give either `events` (a list of event ids) or `camera` with `start_ms` (Unix ms) and `duration_ms`"
                    .into(),
            ));
        }
    };
    for e in &events {
        let Some(path) = state.store.snapshot_path(e) else { continue };
        match read_file(path).await {
            Ok(bytes) => files.push((format!("snapshots/event-{}.jpg", e.id), bytes)),
            Err(why) => missing.push(json!({ "what": format!("snapshots/event-{}.jpg", e.id), "why": why })),
        }
    }
    let events_json: Vec<Value> =
        events.iter().map(|e| serde_json::to_value(e.view()).unwrap_or(Value::Null)).collect();
    files.insert(0, ("events.json".into(), serde_json::to_vec_pretty(&events_json).map_err(internal)?));
    let (key, node) = (state.export_key.clone(), state.cluster.node_id().to_owned());
    let created_ms = panoptes_actors::time::now_unix_ms();
    let zip = web::block(move || crate::evidence::package(&key, &node, created_ms, request, &files, missing))
        .await
        .map_err(internal)?
        .map_err(internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", format!("attachment; filename=\"panoptes-export-{created_ms}.zip\"")))
        .body(zip))
}
