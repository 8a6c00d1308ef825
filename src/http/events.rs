//! The events API: `GET /api/events` (filtered, paginated by an id cursor), `GET /api/events/{id}` and
//! `GET /api/events/{id}/snapshot.jpg` (see `docs/api.md`). Queries go to the store's reader threads.

use super::{ApiError, AppState};
use actix_web::{HttpRequest, HttpResponse, web};
use panoptes_actors::messages::EventKind;
use panoptes_actors::store::actor::{GetEvent, QueryEvents};
use panoptes_actors::store::db::MAX_LIMIT;
use panoptes_actors::store::{EventQuery, StoreError, StoredEvent};

/// Events per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

fn internal(e: StoreError) -> ApiError {
    ApiError::Internal(e.to_string())
}

fn bad(param: &str, value: &str, what: &str) -> ApiError {
    ApiError::BadRequest(format!("query parameter `{param}`: `{value}` is not {what}"))
}

fn int(param: &str, value: &str) -> Result<i64, ApiError> {
    value.parse().map_err(|_| bad(param, value, "an integer"))
}

/// The query string of `GET /api/events` as an [`EventQuery`]; every error names the parameter.
pub fn parse_query(pairs: &[(String, String)]) -> Result<EventQuery, ApiError> {
    let mut q = EventQuery { limit: DEFAULT_LIMIT, ..Default::default() };
    for (key, value) in pairs {
        match key.as_str() {
            "camera" if panoptes_actors::messages::is_valid_id(value) => q.camera = Some(value.clone()),
            "camera" => return Err(bad("camera", value, "a camera id (1–64 letters, digits, `-` or `_`)")),
            "kind" => {
                q.kind = Some(serde_json::from_value::<EventKind>(value.as_str().into()).map_err(|_| {
                    bad(
                        "kind",
                        value,
                        "an event kind (intrusion, loitering, occupancy, line_crossing, plate, fire, smoke)",
                    )
                })?)
            }
            "since_ms" => q.since_ms = Some(int("since_ms", value)?),
            "until_ms" => q.until_ms = Some(int("until_ms", value)?),
            "after_id" => {
                let id = int("after_id", value)?;
                if id < 0 {
                    return Err(bad("after_id", value, "an event id (0 or more)"));
                }
                q.after_id = Some(id);
            }
            "limit" => {
                let n: usize = value.parse().map_err(|_| bad("limit", value, "a positive integer"))?;
                if n == 0 {
                    return Err(bad("limit", value, "a positive integer"));
                }
                q.limit = n.min(MAX_LIMIT);
            }
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown query parameter `{other}`; known: camera, kind, since_ms, until_ms, after_id, limit"
                )));
            }
        }
    }
    // until_ms before since_ms is an empty range: it lists nothing.
    Ok(q)
}

fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::BadRequest(format!("path parameter `id`: `{raw}` is not an event id")))
}

/// The error for an event that does not exist, or is of a camera outside the token's reach (the same).
pub(super) fn no_such_event(id: i64) -> ApiError {
    ApiError::NotFound(format!("event {id} does not exist; GET /api/events lists them"))
}

/// An event by the id of a path, if it exists and its camera is within the request's reach.
pub(super) async fn get_event(req: &HttpRequest, state: &AppState, raw_id: &str) -> Result<StoredEvent, ApiError> {
    let id = parse_id(raw_id)?;
    state
        .store
        .ask(GetEvent(id))
        .await
        .map_err(internal)?
        .map_err(internal)?
        .filter(|e| super::auth::access(req).allows(&e.event.camera))
        .ok_or_else(|| no_such_event(id))
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, ApiError> {
    let mut q = parse_query(&query)?;
    q.within = super::auth::access(&req).cameras;
    let page = state.store.ask(QueryEvents(q)).await.map_err(internal)?.map_err(internal)?;
    let events: Vec<_> = page.events.iter().map(StoredEvent::view).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "events": events, "next_after_id": page.next_after_id })))
}

pub async fn one(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event = get_event(&req, &state, &id).await?;
    Ok(HttpResponse::Ok().json(event.view()))
}

pub async fn snapshot(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let event = get_event(&req, &state, &id).await?;
    let no_snapshot = || ApiError::NotFound(format!("event {} has no snapshot", event.id));
    let path = state.store.snapshot_path(&event).ok_or_else(no_snapshot)?;
    let read = web::block(move || std::fs::read(&path).map_err(|e| (path, e)))
        .await
        .map_err(|e| ApiError::Internal(format!("reading a snapshot: {e}")))?;
    match read {
        Ok(bytes) => Ok(HttpResponse::Ok().content_type("image/jpeg").body(bytes)),
        Err((_, e)) if e.kind() == std::io::ErrorKind::NotFound => Err(no_snapshot()),
        Err((path, e)) => Err(ApiError::Internal(format!("reading snapshot {}: {e}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_filter_is_parsed() {
        let q = parse_query(&pairs(&[
            ("camera", "gate"),
            ("kind", "line_crossing"),
            ("since_ms", "10"),
            ("until_ms", "20"),
            ("after_id", "5"),
            ("limit", "7"),
        ]))
        .unwrap();
        assert_eq!(
            q,
            EventQuery {
                camera: Some("gate".into()),
                kind: Some(EventKind::LineCrossing),
                since_ms: Some(10),
                until_ms: Some(20),
                after_id: Some(5),
                limit: 7,
                within: None,
            }
        );
        assert_eq!(parse_query(&[]).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(parse_query(&pairs(&[("limit", "999999")])).unwrap().limit, MAX_LIMIT);
    }

    #[test]
    fn bad_parameters_are_named() {
        for (k, v) in [
            ("kind", "party"),
            ("since_ms", "yesterday"),
            ("after_id", "-1"),
            ("limit", "0"),
            ("limit", "x"),
            ("camera", "0.5"),
        ] {
            let err = parse_query(&pairs(&[(k, v)])).unwrap_err().to_string();
            assert!(err.contains(&format!("`{k}`")) && err.contains(v), "{err}");
        }
        let err = parse_query(&pairs(&[("cam", "gate")])).unwrap_err().to_string();
        assert!(err.contains("`cam`") && err.contains("known"), "{err}");
        // An empty range is no error: it lists nothing.
        assert!(parse_query(&pairs(&[("since_ms", "20"), ("until_ms", "10")])).is_ok());
        assert!(parse_id("0").is_err() && parse_id("abc").is_err() && parse_id("12").is_ok());
    }
}
