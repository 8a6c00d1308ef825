//! The event store: every event a rule raises, kept durably in an embedded SQLite database, with a JPEG
//! snapshot of the picture that triggered it.
//!
//! - [`schema`]: the tables, their migrations, and the load → migrate → validate sequence at open.
//! - [`db`]: [`Store`], the pure core: insert, query with filters and an id cursor, `events_after` for resume,
//!   retention.
//! - [`recordings`]: the index of recorded video segments and each camera's timeline end.
//! - [`snapshot`]: the picture the detector saw → cropped RGB with the event's box → JPEG, written atomically.
//! - [`admin`]: [`admin::AdminStore`], the state the HTTP admin API changes (cameras, tokens, acknowledgements).
//! - [`tokens`]: API token roles, secrets and their hashes.
//! - [`webhooks`]: each webhook's delivery position (the event log is their outbox).
//! - [`actor`]: the actors around it — a bounded intake on the event loop, one writer thread (SQLite and fsync
//!   block), reader threads for the API — and [`actor::start`], which wires them to the alert hub.
//!
//! # Durability
//! A snapshot is fsynced and renamed into place before the row that references it commits; the row commits
//! with `synchronous=FULL` in WAL mode (the WAL is fsynced at every commit), and only then is the event
//! announced on the alert channel. So an event that a client has seen survives a crash of the process and a
//! power loss; an event lost in a crash was never announced.

pub mod actor;
pub mod admin;
pub mod db;
pub mod playback;
pub mod recordings;
pub mod schema;
pub mod snapshot;
pub mod tokens;
pub mod webhooks;

pub use db::{EventQuery, Page, Store};

use crate::messages::Event;
use crate::time::Pts;
use serde::Serialize;
use std::path::PathBuf;

/// Failures of the event store, each naming the database or file and what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("event store {}: cannot create its directory: {source}; check store.path and permissions", path.display())]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("event store {}: {source}; check store.path points at a writable SQLite file", path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
    #[error(
        "event store {}: its schema is version {found}, newer than this panoptes knows ({supported}); \
         run a newer panoptes or point store.path at another file",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("event store {}: {reason}; restore a backup or point store.path at another file", path.display())]
    Corrupt { path: PathBuf, reason: String },
    #[error("event store: snapshot {}: {source}; check store.snapshot_dir is writable", path.display())]
    Snapshot { path: PathBuf, source: std::io::Error },
    #[error("event store: snapshot of event on camera {camera}: {reason}")]
    Encode { camera: String, reason: String },
    #[error("event store: the store's threads have stopped")]
    Gone,
}

/// An event as stored: the rule's [`Event`] with the id the store gave it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    /// Set on a copy of an event raised on another node of the cluster.
    pub origin: Option<Origin>,
    /// Increasing with commit order, never reused (SQLite `AUTOINCREMENT`).
    pub id: i64,
    pub event: Event,
    /// Path of the JPEG snapshot relative to `store.snapshot_dir` (`<camera>/<id>.jpg`), if one was written.
    pub snapshot: Option<String>,
    pub acknowledged: bool,
    /// When the row was written, Unix milliseconds.
    pub created_ms: i64,
}

/// The JSON form of a stored event, the same on the alert WebSocket, in the REST API and in `panoptes replay`
/// (documented in `docs/api.md`).
#[derive(Serialize)]
pub struct EventView<'a> {
    #[serde(rename = "type")]
    pub kind_tag: &'static str,
    pub id: i64,
    pub camera: &'a str,
    pub rule: &'a str,
    pub kind: crate::messages::EventKind,
    pub state: crate::messages::EventState,
    pub track_id: Option<u64>,
    pub class: Option<&'a str>,
    pub confidence: Option<f32>,
    pub pts: Pts,
    pub pts_sec: f64,
    pub end_pts: Option<Pts>,
    pub wall_ms: crate::time::WallTime,
    pub bbox: Option<crate::geometry::BBox>,
    pub details: &'a serde_json::Value,
    pub snapshot_url: Option<String>,
    /// `/api/events/{id}/clip`: the recorded clip around the event (404 there when nothing was recorded).
    pub clip_url: String,
    pub acknowledged: bool,
    /// The node that raised it, when another node of the cluster did (`id` there, its HTTP base URL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<&'a Origin>,
}

/// The node that raised an event this node holds a copy of (cluster mode): its id, its store's id, the
/// event's id there, its HTTP base URL (where the snapshot and the clip are), and whether it stored a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Origin {
    pub node: String,
    pub store: String,
    pub id: i64,
    pub http: String,
    pub snapshot: bool,
}

impl StoredEvent {
    /// The JSON view of this event. A copy of another node's event links to that node's snapshot and clip.
    pub fn view(&self) -> EventView<'_> {
        let e = &self.event;
        let (snapshot_url, clip_url) = match &self.origin {
            None => (
                self.snapshot.as_ref().map(|_| format!("/api/events/{}/snapshot.jpg", self.id)),
                format!("/api/events/{}/clip", self.id),
            ),
            Some(o) => (
                o.snapshot.then(|| format!("{}/api/events/{}/snapshot.jpg", o.http, o.id)),
                format!("{}/api/events/{}/clip", o.http, o.id),
            ),
        };
        EventView {
            kind_tag: "event",
            id: self.id,
            camera: &e.camera,
            rule: &e.rule,
            kind: e.kind,
            state: e.state,
            track_id: e.track_id,
            class: e.class.as_deref(),
            confidence: e.confidence,
            pts: e.pts,
            pts_sec: e.pts.as_secs_f64(),
            end_pts: e.end_pts,
            wall_ms: e.wall_ms,
            bbox: e.bbox,
            details: &e.details,
            snapshot_url,
            clip_url,
            acknowledged: self.acknowledged,
            origin: self.origin.as_ref(),
        }
    }

    /// The JSON view as one line of text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.view()).unwrap_or_else(|e| {
            // Only a non-finite float could fail here, and serde_json writes those as null; keep a line anyway.
            format!("{{\"type\":\"event\",\"id\":{},\"error\":\"{e}\"}}", self.id)
        })
    }
}

/// Whether `camera` is safe as a directory name (the config's id rule: letters, digits, `-`, `_`).
pub fn safe_camera_dir(camera: &str) -> bool {
    !camera.is_empty()
        && camera.len() <= 64
        && camera.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
