//! The HTTP surface: health, Prometheus metrics, the camera admin API (cameras, zones, lines, rules), tokens,
//! the clock exchange, the events API, recordings and event clips, the overlay, alert and live-video WebSockets,
//! the OpenAPI document and the web console.
//! Handlers stay thin; every failure is an [`ApiError`] with a JSON body. Every route is a row of
//! [`route_table!`] below, which both registers it and documents it in `/api/openapi.json`; the
//! [`auth::require_token`] middleware covers every route, deny by default.

mod ack;
mod admin;
mod alerts;
pub mod auth;
pub mod body;
mod cameras;
mod cluster;
mod error;
mod events;
mod exports;
mod health;
mod live;
mod mqtt;
pub mod openapi;
mod overlay;
mod page;
mod recordings;
mod shapes;
mod time;
mod tokens;
mod webhooks;
mod ws;

pub use error::ApiError;

use crate::control::ControlHandle;
use actix::Addr;
use actix_web::web;
use metrics_exporter_prometheus::PrometheusHandle;
use panoptes_actors::alerts::AlertHub;
use panoptes_actors::analytics::RuleBoard;
use panoptes_actors::batcher::BatcherActor;
use panoptes_actors::config::{LineConfig, RuleConfig, ZoneConfig};
use panoptes_actors::hub::Hub;
use panoptes_actors::record::RecordingHandle;
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
    /// Recording index, clip settings and live video feeds.
    pub recording: RecordingHandle,
    /// Each camera's rule actor and plate/fire status.
    pub rules: RuleBoard,
    /// The control loop: cameras, zones, rules, tokens, acknowledgements.
    pub control: ControlHandle,
    /// What the auth middleware enforces.
    pub auth: auth::AuthPolicy,
    /// The cluster's nodes as this node sees them (this node alone without `[cluster]`).
    pub cluster: crate::cluster::ClusterView,
    /// Web origins besides the server's own whose pages may open the WebSockets (`[server] ws_origins`).
    pub ws_origins: std::sync::Arc<[String]>,
    /// Where file cameras may read (`[server] media_roots`), as the OpenAPI document states it.
    pub media_roots: std::sync::Arc<[std::path::PathBuf]>,
    /// Each webhook's delivery status.
    pub webhooks: crate::webhooks::WebhookBoard,
    /// The MQTT connection's status (empty without `[mqtt]`).
    pub mqtt: crate::mqtt::MqttBoard,
    /// The key that signs evidence exports.
    pub export_key: std::sync::Arc<crate::evidence::ExportKey>,
}

/// Declares every route once: `METHOD "path" => handler, success status, reach, "summary" [, body = "Schema"];`
/// where reach ([`auth::Reach`]) is `no_camera`, `camera("param")`, `filtered` or `everything`.
/// Generates [`ROUTES`] (the OpenAPI document's source and the auth middleware's) and `register` (the actix
/// registration).
macro_rules! route_table {
    (@body) => { None };
    (@body $b:literal) => { Some($b) };
    (@reach no_camera) => { auth::Reach::NoCamera };
    (@reach camera $p:literal) => { auth::Reach::Camera($p) };
    (@reach filtered) => { auth::Reach::Filtered };
    (@reach everything) => { auth::Reach::Everything };
    ($( $method:ident $path:literal => $handler:expr, $status:literal, $reach:ident $(($param:literal))?, $summary:literal $(, body = $body:literal)? ; )*) => {
        /// Every route: method, path, success status, summary, request body schema.
        pub const ROUTES: &[openapi::RouteDoc] = &[$(
            openapi::RouteDoc {
                method: stringify!($method),
                path: $path,
                status: $status,
                reach: route_table!(@reach $reach $($param)?),
                summary: $summary,
                body: route_table!(@body $($body)?),
            }
        ),*];

        fn register(cfg: &mut web::ServiceConfig) {
            $( cfg.route($path, web::method(actix_web::http::Method::$method).to($handler)); )*
        }
    };
}

route_table! {
    GET "/" => page::index, 200, no_camera, "The web console (public; it asks for a token)";
    GET "/console/{file}" => page::asset, 200, no_camera, "The web console's embedded assets (public)";
    GET "/healthz" => health::healthz, 200, no_camera, "Liveness and readiness (public; no camera detail)";
    GET "/readyz" => health::readyz, 200, no_camera, "Readiness: 200 ready, 503 not yet (public)";
    GET "/api/health" => health::detail, 200, filtered, "Liveness, readiness and every camera's state";
    GET "/metrics" => health::metrics, 200, no_camera, "Prometheus metrics (public unless auth.public_metrics = false)";
    GET "/api/openapi.json" => openapi::serve, 200, no_camera, "This OpenAPI document";
    GET "/api/system" => cameras::system, 200, no_camera, "Version, uptime, devices and their queue depths, model labels";
    GET "/api/time" => time::time, 200, no_camera, "Server wall clock (for clock-offset estimation)";
    GET "/api/time/peers" => time::peers, 200, no_camera, "Estimated clock offsets to the [[peers]] nodes";
    GET "/api/cluster" => cluster::cluster, 200, filtered, "The cluster's nodes (roles, capacities, liveness) and where each camera runs";
    GET "/api/cameras" => admin::list, 200, filtered, "Every camera's config (no passwords) with its status";
    POST "/api/cameras" => admin::create, 201, everything, "Add a camera; it starts at once", body = "Camera";
    GET "/api/cameras/{id}" => admin::one, 200, camera("id"), "One camera's config and status";
    PUT "/api/cameras/{id}" => admin::replace, 200, camera("id"), "Replace a camera's config; restarts only that camera", body = "CameraReplace";
    DELETE "/api/cameras/{id}" => admin::remove, 204, camera("id"), "Remove a camera; stops it and frees its decoder, tracker and rules";
    GET "/api/cameras/{id}/status" => admin::status, 200, camera("id"), "A camera's status and the state of each of its rules";
    GET "/api/cameras/{id}/frame.jpg" => cameras::frame_jpeg, 200, camera("id"), "The latest processed frame (JPEG)";
    GET "/api/cameras/{id}/zones" => shapes::list::<ZoneConfig>, 200, camera("id"), "A camera's zones";
    PUT "/api/cameras/{id}/zones/{zone}" => shapes::put::<ZoneConfig>, 200, camera("id"), "Create or replace a zone (applied live)", body = "Zone";
    DELETE "/api/cameras/{id}/zones/{zone}" => shapes::delete::<ZoneConfig>, 204, camera("id"), "Delete a zone no rule uses";
    GET "/api/cameras/{id}/lines" => shapes::list::<LineConfig>, 200, camera("id"), "A camera's lines";
    PUT "/api/cameras/{id}/lines/{line}" => shapes::put::<LineConfig>, 200, camera("id"), "Create or replace a line (applied live)", body = "Line";
    DELETE "/api/cameras/{id}/lines/{line}" => shapes::delete::<LineConfig>, 204, camera("id"), "Delete a line no rule uses";
    GET "/api/cameras/{id}/rules" => shapes::list::<RuleConfig>, 200, camera("id"), "A camera's rules";
    PUT "/api/cameras/{id}/rules/{rule}" => shapes::put::<RuleConfig>, 200, camera("id"), "Create or replace a rule (applied live)", body = "Rule";
    DELETE "/api/cameras/{id}/rules/{rule}" => shapes::delete::<RuleConfig>, 204, camera("id"), "Delete a rule (its open events end)";
    GET "/api/tokens" => tokens::list, 200, everything, "API tokens (never their secrets)";
    POST "/api/tokens" => tokens::create, 201, everything, "Create a token; the answer shows its secret once", body = "NewToken";
    DELETE "/api/tokens/{id}" => tokens::delete, 204, everything, "Delete a token (not the last admin token)";
    GET "/api/webhooks" => webhooks::list, 200, everything, "Each webhook's filter and delivery status";
    GET "/api/mqtt" => mqtt::status, 200, everything, "The MQTT connection: connected, last error, published and dropped counts";
    POST "/api/exports" => exports::create, 200, filtered, "A signed evidence zip of events, or of a camera's recorded time range", body = "Export";
    GET "/api/exports/key" => exports::key, 200, no_camera, "The public key that signs evidence exports";
    GET "/api/events" => events::list, 200, filtered, "Stored events by camera, kind, time range; paginated by after_id";
    GET "/api/events/{id}" => events::one, 200, filtered, "One event";
    GET "/api/events/{id}/snapshot.jpg" => events::snapshot, 200, filtered, "An event's snapshot (JPEG)";
    POST "/api/events/{id}/ack" => ack::acknowledge, 200, filtered, "Acknowledge an event";
    GET "/api/events/{id}/clip" => recordings::clip, 200, filtered, "The recorded clip around an event (fMP4), X-Panoptes-Offset-Sec";
    GET "/api/events/{id}/clip.json" => recordings::clip_json, 200, filtered, "Where an event's clip is and the triggering frame's offset";
    GET "/api/cameras/{id}/recordings" => recordings::list, 200, camera("id"), "A camera's recorded segments (?start=&end= wall ms)";
    GET "/api/cameras/{id}/clip" => recordings::clip_at, 200, camera("id"), "The recorded clip around a picture of the camera timeline (?pts=&rate=), fMP4";
    GET "/api/recordings/{segment}" => recordings::segment, 200, filtered, "One recorded segment (fMP4), with Range support";
    GET "/ws/live/{camera}" => live::live, 101, camera("camera"), "WebSocket: live fMP4 video of a camera (init, then fragments)";
    GET "/ws/overlay" => overlay::overlay, 101, filtered, "WebSocket: tracks of every processed frame (?camera=)";
    GET "/ws/alerts" => alerts::alerts, 101, filtered, "WebSocket: stored events as they commit (?after=&camera=)";
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    register(cfg);
    cfg.default_service(web::to(error::not_found));
}
