//! The HTTP surface: health, Prometheus metrics, the camera list, the clock exchange, the events API, the
//! overlay and alert WebSockets and the web page.
//! Handlers stay thin; every failure is an [`ApiError`] with a JSON body.

mod alerts;
mod cameras;
mod error;
mod events;
mod health;
mod overlay;
mod page;
mod time;
mod ws;

pub use error::ApiError;

use actix::Addr;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use panoptes_actors::alerts::AlertHub;
use panoptes_actors::analytics::RuleBoard;
use panoptes_actors::batcher::BatcherActor;
use panoptes_actors::hub::Hub;
use panoptes_actors::status::StatusBoard;
use panoptes_actors::store::actor::StoreHandle;
use std::sync::Arc;
use std::time::Instant;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub status: StatusBoard,
    pub hub: Addr<Hub>,
    pub batchers: Vec<(Arc<str>, Addr<BatcherActor>)>,
    pub metrics: PrometheusHandle,
    pub labels: Arc<[String]>,
    pub started: Instant,
    pub store: StoreHandle,
    pub alerts: Addr<AlertHub>,
    /// Each camera's rule actor and plate/fire status.
    pub rules: RuleBoard,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(page::index))
        .route("/healthz", web::get().to(health::healthz))
        .route("/metrics", web::get().to(health::metrics))
        .route("/api/cameras", web::get().to(cameras::list))
        .route("/api/cameras/{id}/status", web::get().to(cameras::status))
        .route("/api/cameras/{id}/frame.jpg", web::get().to(cameras::frame_jpeg))
        .route("/api/system", web::get().to(cameras::system))
        .route("/api/time", web::get().to(time::time))
        .route("/api/time/peers", web::get().to(time::peers))
        .route("/api/events", web::get().to(events::list))
        .route("/api/events/{id}", web::get().to(events::one))
        .route("/api/events/{id}/snapshot.jpg", web::get().to(events::snapshot))
        .route("/ws/overlay", web::get().to(overlay::overlay))
        .route("/ws/alerts", web::get().to(alerts::alerts))
        .default_service(web::to(error::not_found));
}
