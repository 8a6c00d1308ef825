//! `GET /`: the live page (embedded in the binary): one panel per camera showing the latest processed
//! frame with the tracks of that same frame drawn on it (matched by `seq`). Full-rate live video
//! arrives with the time-keeping work (fMP4 over WebSocket).

use actix_web::HttpResponse;

const INDEX_HTML: &str = include_str!("index.html");

pub async fn index() -> HttpResponse {
    HttpResponse::Ok().content_type("text/html; charset=utf-8").body(INDEX_HTML)
}
