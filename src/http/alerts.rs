//! `GET /ws/alerts[?after=ID][&camera=ID]`: every stored event as a JSON message (see `docs/api.md`).
//!
//! With `after`, the client first receives the events above that id it missed (from the store), then the
//! live feed, with no gap and no duplicate ([`AlertCursor`]); without it, only events from now on. A client
//! that reads too slowly re-reads what it missed from the store instead of losing it. Heartbeats as on the
//! overlay channel: a ping every 5 s, closed after 15 s of silence.

use super::ws::{Delivery, HEARTBEAT, Liveness, TEXT_BUDGET};
use super::{ApiError, AppState};
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt;
use panoptes_actors::alerts::{AlertCursor, Subscribe, Unsubscribe};

/// `after` and `camera` from the query string; errors name the parameter.
pub fn parse_query(pairs: &[(String, String)]) -> Result<(Option<i64>, Option<String>), ApiError> {
    let (mut after, mut camera) = (None, None);
    for (key, value) in pairs {
        match key.as_str() {
            "after" => {
                after = Some(value.parse::<i64>().ok().filter(|a| *a >= 0).ok_or_else(|| {
                    ApiError::BadRequest(format!("query parameter `after`: `{value}` is not an event id (0 or more)"))
                })?)
            }
            "camera" => camera = Some(value.clone()),
            other => {
                return Err(ApiError::BadRequest(format!("unknown query parameter `{other}`; known: after, camera")));
            }
        }
    }
    Ok((after, camera))
}

pub async fn alerts(
    req: HttpRequest,
    body: web::Payload,
    query: web::Query<Vec<(String, String)>>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (after, camera) = parse_query(&query)?;
    let access = super::auth::access(&req);
    if let Some(c) = &camera
        && (!state.status.contains_key(c.as_str()) || !access.allows(c))
    {
        return Err(ApiError::no_such_camera(c));
    }
    let (response, mut outlet, mut stream) = super::ws::upgrade(&req, body, &state.ws_origins, TEXT_BUDGET, "alerts")?;
    let (sub, live) = state.alerts.send(Subscribe { camera: camera.clone() }).await?;
    let mut cursor = AlertCursor::new(live, camera, after);
    let hub = state.alerts.clone();
    let reader = state.store.reader.clone();
    actix_web::rt::spawn(async move {
        let mut heartbeat = tokio::time::interval(HEARTBEAT);
        let mut liveness = Liveness::new();
        // An alert is never dropped: while the client's backlog is full, the next one waits (and the cursor
        // reads what the live queue could not hold from the store).
        let mut waiting: Option<String> = None;
        loop {
            tokio::select! {
                () = outlet.room(), if waiting.is_some() => {
                    let json = waiting.take().unwrap_or_default();
                    match outlet.text(json.clone()) {
                        Delivery::Queued => {}
                        Delivery::Full => waiting = Some(json),
                        Delivery::Closed => break,
                    }
                },
                next = cursor.next(&reader), if waiting.is_none() => match next {
                    // Another camera's event, outside the token's reach.
                    Ok(Some(alert)) if !access.allows(&alert.camera) => {}
                    Ok(Some(alert)) => match outlet.text(alert.json.to_string()) {
                        Delivery::Queued => {}
                        Delivery::Full => waiting = Some(alert.json.to_string()),
                        Delivery::Closed => break,
                    },
                    Ok(None) => break,
                    Err(e) => {
                        tracing::error!(error = %e, "alert client: reading missed events failed");
                        let msg = serde_json::json!({ "type": "error", "error": e.to_string() });
                        let _ = outlet.text(msg.to_string());
                        break;
                    }
                },
                msg = stream.next() => if !liveness.client_message(msg, &mut outlet) { break },
                _ = heartbeat.tick() => if !liveness.tick(&mut outlet) { break },
            }
        }
        hub.do_send(Unsubscribe(sub));
        outlet.close();
    });
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_must_be_an_id_and_unknown_parameters_are_named() {
        let p = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert_eq!(parse_query(&p("after", "12")).unwrap(), (Some(12), None));
        assert_eq!(parse_query(&p("camera", "gate")).unwrap(), (None, Some("gate".into())));
        let err = parse_query(&p("after", "-3")).unwrap_err().to_string();
        assert!(err.contains("`after`") && err.contains("-3"), "{err}");
        let err = parse_query(&p("since", "1")).unwrap_err().to_string();
        assert!(err.contains("`since`"), "{err}");
    }
}
