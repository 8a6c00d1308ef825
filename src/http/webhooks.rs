//! `GET /api/webhooks`: each `[[webhooks]]` hook with its filter and where its deliveries stand (delivered,
//! given up, the event being retried and why, the backlog).

use super::AppState;
use actix_web::{HttpResponse, web};
use serde_json::json;

pub async fn list(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "webhooks": state.webhooks.list() }))
}
