//! `GET /api/mqtt`: the `[mqtt]` connection's status (connected, last error, event position, published and
//! dropped counts); `{"mqtt": null}` without `[mqtt]`.

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn status(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "mqtt": state.mqtt.get() }))
}
