//! [`Store`]: the event store's pure core over one SQLite connection. The writer owns one opened with
//! [`Store::open`]; each API reader owns one from [`Store::open_reader`].

use super::schema;
use super::{Origin, StoreError, StoredEvent};
use crate::geometry::BBox;
use crate::messages::{Event, EventKind, EventState};
use crate::time::Pts;
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter, types::Value};
use std::path::{Path, PathBuf};

/// Most events one query returns.
pub const MAX_LIMIT: usize = 1000;

/// Filters and cursor of an event query. Events come in id order (oldest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    pub camera: Option<String>,
    /// Only events of these cameras (a camera-scoped token's); `None`: every camera.
    pub within: Option<Vec<String>>,
    pub kind: Option<EventKind>,
    /// Only events whose `wall_ms` is at least this.
    pub since_ms: Option<i64>,
    /// Only events whose `wall_ms` is below this.
    pub until_ms: Option<i64>,
    /// Only events with an id above this (the cursor: the previous page's `next_after_id`).
    pub after_id: Option<i64>,
    /// Most events to return, capped at [`MAX_LIMIT`].
    pub limit: usize,
}

/// One page of a query.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub events: Vec<StoredEvent>,
    /// The cursor for the next page; `None` when this page was the last.
    pub next_after_id: Option<i64>,
}

/// The event store over one connection.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

const COLUMNS: &str = "id, camera, rule, kind, state, track_id, class, confidence, pts_ticks, pts_rate, \
                       end_pts_ticks, wall_ms, bbox, details, snapshot, acknowledged, created_ms, \
                       origin_node, origin_id, origin_http, origin_snapshot, origin_store";

/// The stored (and JSON) name of an event kind; also the `kind` metric label.
pub fn kind_label(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Intrusion => "intrusion",
        EventKind::Loitering => "loitering",
        EventKind::Occupancy => "occupancy",
        EventKind::LineCrossing => "line_crossing",
        EventKind::Plate => "plate",
        EventKind::Fire => "fire",
        EventKind::Smoke => "smoke",
        EventKind::VideoLost => "video_lost",
        EventKind::Frozen => "frozen",
        EventKind::Blinded => "blinded",
        EventKind::Defocused => "defocused",
        EventKind::SceneMoved => "scene_moved",
    }
}

fn state_label(state: EventState) -> &'static str {
    match state {
        EventState::Start => "start",
        EventState::Update => "update",
        EventState::End => "end",
    }
}

fn conversion(col: usize, what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        col,
        rusqlite::types::Type::Text,
        format!("column {col} is not a valid {what}: {e}").into(),
    )
}

fn row_to_event(r: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    let kind: String = r.get(3)?;
    let state: String = r.get(4)?;
    let rate: u32 = r.get(9)?;
    let rate = rate.max(1);
    let bbox: Option<String> = r.get(12)?;
    let details: String = r.get(13)?;
    let origin = match r.get::<_, Option<String>>(17)? {
        Some(node) => Some(Origin {
            node,
            store: r.get::<_, Option<String>>(21)?.unwrap_or_default(),
            id: r.get(18)?,
            http: r.get::<_, Option<String>>(19)?.unwrap_or_default(),
            snapshot: r.get::<_, Option<i64>>(20)?.unwrap_or(0) != 0,
        }),
        None => None,
    };
    Ok(StoredEvent {
        origin,
        id: r.get(0)?,
        event: Event {
            camera: r.get(1)?,
            rule: r.get(2)?,
            kind: serde_json::from_value(kind.clone().into()).map_err(|e| conversion(3, "event kind", e))?,
            state: serde_json::from_value(state.into()).map_err(|e| conversion(4, "event state", e))?,
            track_id: r.get::<_, Option<i64>>(5)?.map(|t| t as u64),
            class: r.get(6)?,
            confidence: r.get::<_, Option<f64>>(7)?.map(|c| c as f32),
            pts: Pts::new(r.get(8)?, rate),
            end_pts: r.get::<_, Option<i64>>(10)?.map(|t| Pts::new(t, rate)),
            wall_ms: r.get(11)?,
            bbox: bbox.map(|b| serde_json::from_str::<BBox>(&b)).transpose().map_err(|e| conversion(12, "box", e))?,
            details: serde_json::from_str(&details).map_err(|e| conversion(13, "JSON", e))?,
        },
        snapshot: r.get(14)?,
        acknowledged: r.get::<_, i64>(15)? != 0,
        created_ms: r.get(16)?,
    })
}

/// Insert one event row (a copy of another node's: ignored when that node's event is here already); the
/// number of rows inserted.
fn insert_row(
    tx: &rusqlite::Transaction<'_>,
    path: &Path,
    event: &Event,
    created_ms: i64,
    origin: Option<&Origin>,
) -> Result<usize, StoreError> {
    let bbox = event
        .bbox
        .map(|b| serde_json::to_string(&b))
        .transpose()
        .map_err(|e| StoreError::Corrupt { path: path.to_owned(), reason: format!("cannot encode a box: {e}") })?;
    let verb = if origin.is_some() { "INSERT OR IGNORE" } else { "INSERT" };
    tx.execute(
        &format!(
            "{verb} INTO events (camera, rule, kind, state, track_id, class, confidence, pts_ticks, pts_rate, \
             end_pts_ticks, wall_ms, bbox, details, created_ms, origin_node, origin_id, origin_http, origin_snapshot, \
             origin_store) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)"
        ),
        rusqlite::params![
            event.camera,
            event.rule,
            kind_label(event.kind),
            state_label(event.state),
            event.track_id.map(|t| t as i64),
            event.class,
            event.confidence.map(f64::from),
            event.pts.ticks(),
            event.pts.clock_rate(),
            // The end is stored on the start's clock.
            event.end_pts.map(|p| p.ticks_at(event.pts.clock_rate())),
            event.wall_ms,
            bbox,
            event.details.to_string(),
            created_ms,
            origin.map(|o| o.node.as_str()),
            origin.map(|o| o.id),
            origin.map(|o| o.http.as_str()),
            origin.map(|o| i64::from(o.snapshot)),
            origin.map(|o| o.store.as_str()),
        ],
    )
    .map_err(|source| StoreError::Sqlite { path: path.to_owned(), source })
}

/// The event as a read gives it back (its end on the start's clock).
fn as_stored(event: &Event) -> Event {
    let mut event = event.clone();
    event.end_pts = event.end_pts.map(|p| Pts::new(p.ticks_at(event.pts.clock_rate()), event.pts.clock_rate()));
    event
}

impl Store {
    /// Open (creating, migrating and validating) the database at `path` for writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: schema::open_writer(path)?, path: path.to_owned() })
    }

    /// Open the database at `path` read-only; the writer must have opened (migrated) it first.
    pub fn open_reader(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: schema::open_reader(path)?, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// Insert an event and commit it (durably: `synchronous=FULL`). `before_commit` runs inside the
    /// transaction with the new id and returns the snapshot path to record (relative to the snapshot
    /// directory); if it fails, nothing is committed.
    pub fn insert_with(
        &mut self,
        event: &Event,
        created_ms: i64,
        before_commit: impl FnOnce(i64) -> Result<Option<String>, StoreError>,
    ) -> Result<StoredEvent, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        insert_row(&tx, &path, event, created_ms, None)?;
        let id = tx.last_insert_rowid();
        let snapshot = before_commit(id)?;
        if let Some(s) = &snapshot {
            tx.execute("UPDATE events SET snapshot = ?1 WHERE id = ?2", rusqlite::params![s, id]).map_err(err)?;
        }
        tx.commit().map_err(err)?;
        Ok(StoredEvent { origin: None, id, event: as_stored(event), snapshot, acknowledged: false, created_ms })
    }

    /// Insert and commit a copy of an event raised on another node (cluster mode), unless a copy of it is
    /// here already (same origin node and id): `None` then.
    pub fn import(
        &mut self,
        event: &Event,
        origin: &Origin,
        created_ms: i64,
    ) -> Result<Option<StoredEvent>, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        if insert_row(&tx, &path, event, created_ms, Some(origin))? == 0 {
            return Ok(None);
        }
        let id = tx.last_insert_rowid();
        tx.commit().map_err(err)?;
        let event = as_stored(event);
        Ok(Some(StoredEvent {
            origin: Some(origin.clone()),
            id,
            event,
            snapshot: None,
            acknowledged: false,
            created_ms,
        }))
    }

    /// Insert an event without a snapshot.
    pub fn insert(&mut self, event: &Event, created_ms: i64) -> Result<StoredEvent, StoreError> {
        self.insert_with(event, created_ms, |_| Ok(None))
    }

    /// One event by id.
    pub fn get(&self, id: i64) -> Result<Option<StoredEvent>, StoreError> {
        self.conn
            .query_row(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"), [id], row_to_event)
            .optional()
            .map_err(self.err())
    }

    /// Events matching the query, oldest first, at most `limit` (capped at [`MAX_LIMIT`]).
    pub fn query(&self, q: &EventQuery) -> Result<Page, StoreError> {
        let limit = q.limit.clamp(1, MAX_LIMIT);
        let mut clauses = Vec::new();
        let mut args: Vec<Value> = Vec::new();
        if let Some(c) = &q.camera {
            args.push(Value::Text(c.clone()));
            clauses.push(format!("camera = ?{}", args.len()));
        }
        if let Some(cameras) = &q.within {
            let marks: Vec<String> = cameras
                .iter()
                .map(|c| {
                    args.push(Value::Text(c.clone()));
                    format!("?{}", args.len())
                })
                .collect();
            clauses.push(format!("camera IN ({})", marks.join(", ")));
        }
        if let Some(k) = q.kind {
            args.push(Value::Text(kind_label(k).to_owned()));
            clauses.push(format!("kind = ?{}", args.len()));
        }
        if let Some(t) = q.since_ms {
            args.push(Value::Integer(t));
            clauses.push(format!("wall_ms >= ?{}", args.len()));
        }
        if let Some(t) = q.until_ms {
            args.push(Value::Integer(t));
            clauses.push(format!("wall_ms < ?{}", args.len()));
        }
        if let Some(a) = q.after_id {
            args.push(Value::Integer(a));
            clauses.push(format!("id > ?{}", args.len()));
        }
        let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
        args.push(Value::Integer(limit as i64));
        let sql = format!("SELECT {COLUMNS} FROM events {filter} ORDER BY id LIMIT ?{}", args.len());
        let mut stmt = self.conn.prepare_cached(&sql).map_err(self.err())?;
        let events: Vec<StoredEvent> = stmt
            .query_map(params_from_iter(args), row_to_event)
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        let next_after_id = if events.len() == limit { events.last().map(|e| e.id) } else { None };
        Ok(Page { events, next_after_id })
    }

    /// Events with an id above `after_id` (of one camera, or all), in id order: what a resuming alert
    /// client missed.
    pub fn events_after(
        &self,
        after_id: i64,
        camera: Option<&str>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let q = EventQuery { camera: camera.map(str::to_owned), after_id: Some(after_id), limit, ..Default::default() };
        Ok(self.query(&q)?.events)
    }

    /// The highest id ever committed (0 for an empty store; ids are never reused).
    /// This store's identity, drawn once when it was made (the cluster tells its events from those of a store
    /// the same node had before).
    pub fn store_id(&self) -> Result<String, StoreError> {
        self.conn.query_row("SELECT value FROM settings WHERE key = 'store_id'", [], |r| r.get(0)).map_err(self.err())
    }

    pub fn max_id(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT coalesce(max(id), 0) FROM events", [], |r| r.get::<_, i64>(0))
            .and_then(|m| {
                let seq: Option<i64> = self
                    .conn
                    .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'events'", [], |r| r.get(0))
                    .optional()?;
                Ok(m.max(seq.unwrap_or(0)))
            })
            .map_err(self.err())
    }

    /// Delete events created before `created_before_ms`; returns the snapshot paths of the deleted rows.
    pub fn prune(&mut self, created_before_ms: i64) -> Result<Vec<String>, StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite { path: path.clone(), source };
        let tx = self.conn.transaction().map_err(err)?;
        let snapshots: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT snapshot FROM events WHERE created_ms < ?1 AND snapshot IS NOT NULL")
                .map_err(err)?;
            stmt.query_map([created_before_ms], |r| r.get(0)).map_err(err)?.collect::<Result<_, _>>().map_err(err)?
        };
        tx.execute("DELETE FROM events WHERE created_ms < ?1", [created_before_ms]).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(snapshots)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(camera: &str, kind: EventKind, wall_ms: i64) -> Event {
        Event {
            camera: camera.into(),
            rule: "r1".into(),
            kind,
            state: EventState::Start,
            track_id: Some(7),
            class: Some("person".into()),
            confidence: Some(0.75),
            pts: Pts::new(90_000 * 3, 90_000),
            end_pts: None,
            wall_ms: crate::time::WallTime::from_unix_ms(wall_ms),
            bbox: Some(BBox { x1: 1.5, y1: 2.0, x2: 30.0, y2: 40.25 }),
            details: json!({"dwell_sec": 12.5}),
        }
    }

    fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("events.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn a_copy_of_another_nodes_event_is_stored_once_and_links_to_its_origin() {
        let (_dir, mut store) = temp_store();
        let local = store.insert(&event("gate", EventKind::Intrusion, 1_000), 5).unwrap();
        let origin = Origin {
            node: "edge-2".into(),
            store: "5eed".into(),
            id: 41,
            http: "http://10.0.0.6:8080".into(),
            snapshot: true,
        };
        let copy = store.import(&event("dock", EventKind::Loitering, 2_000), &origin, 6).unwrap().unwrap();
        assert_eq!(copy.id, local.id + 1);
        assert_eq!(store.import(&event("dock", EventKind::Loitering, 2_000), &origin, 7).unwrap(), None, "twice");
        let other = Origin { node: "edge-3".into(), ..origin.clone() };
        assert!(store.import(&event("yard", EventKind::Loitering, 2_000), &other, 8).unwrap().is_some());
        let new_store = Origin { store: "f00d".into(), ..origin.clone() };
        assert!(
            store.import(&event("dock", EventKind::Loitering, 3_000), &new_store, 9).unwrap().is_some(),
            "the same node and id from the node's new store is another event"
        );
        assert_eq!(store.store_id().unwrap().len(), 16);
        let read = store.get(copy.id).unwrap().unwrap();
        assert_eq!(read, copy);
        let view = serde_json::to_value(read.view()).unwrap();
        assert_eq!(view["snapshot_url"], "http://10.0.0.6:8080/api/events/41/snapshot.jpg");
        assert_eq!(view["clip_url"], "http://10.0.0.6:8080/api/events/41/clip");
        assert_eq!(view["origin"]["node"], "edge-2");
        let mine = serde_json::to_value(store.get(local.id).unwrap().unwrap().view()).unwrap();
        assert_eq!((mine["clip_url"].as_str(), mine.get("origin")), (Some("/api/events/1/clip"), None));
        assert_eq!(store.max_id().unwrap(), 4);
    }

    #[test]
    fn stored_names_are_the_json_names() {
        let kinds = [
            EventKind::Intrusion,
            EventKind::Loitering,
            EventKind::Occupancy,
            EventKind::LineCrossing,
            EventKind::Plate,
            EventKind::Fire,
            EventKind::Smoke,
            EventKind::VideoLost,
            EventKind::Frozen,
            EventKind::Blinded,
            EventKind::Defocused,
            EventKind::SceneMoved,
        ];
        for k in kinds {
            assert_eq!(serde_json::to_value(k).unwrap(), kind_label(k));
        }
        for s in [EventState::Start, EventState::Update, EventState::End] {
            assert_eq!(serde_json::to_value(s).unwrap(), state_label(s));
        }
    }

    #[test]
    fn an_inserted_event_reads_back_equal() {
        let (_dir, mut store) = temp_store();
        let mut e = event("gate", EventKind::Loitering, 1_000);
        e.state = EventState::End;
        e.end_pts = Some(Pts::new(9_000, 90_000));
        e.track_id = None;
        e.class = None;
        let stored = store.insert(&e, 5).unwrap();
        assert_eq!(stored.id, 1);
        let got = store.get(1).unwrap().unwrap();
        assert_eq!(got, stored);
        assert_eq!(got.event, e);
        assert!(store.get(2).unwrap().is_none());
    }

    #[test]
    fn end_pts_is_kept_on_the_start_clock() {
        let (_dir, mut store) = temp_store();
        let mut e = event("gate", EventKind::Loitering, 1_000);
        e.end_pts = Some(Pts::new(2_000, 1_000)); // 2 s on a 1 kHz clock
        let stored = store.insert(&e, 5).unwrap();
        assert_eq!(store.get(stored.id).unwrap().unwrap().event.end_pts, Some(Pts::new(180_000, 90_000)));
    }

    #[test]
    fn filters_and_the_id_cursor_page_through_matching_events() {
        let (_dir, mut store) = temp_store();
        // 30 events: cameras alternate a/b, kinds cycle over three, wall time 100 ms apart.
        let kinds = [EventKind::Intrusion, EventKind::Loitering, EventKind::LineCrossing];
        for i in 0..30 {
            let cam = if i % 2 == 0 { "a" } else { "b" };
            store.insert(&event(cam, kinds[i % 3], 1_000 + 100 * i as i64), 0).unwrap();
        }
        // Independent reference: the same filter over the inputs, by index (id = index + 1).
        let expected: Vec<i64> = (0..30usize)
            .filter(|i| i % 2 == 0 && kinds[i % 3] == EventKind::Intrusion)
            .filter(|i| (1_000 + 100 * *i as i64) >= 1_300 && (1_000 + 100 * *i as i64) < 3_700)
            .map(|i| i as i64 + 1)
            .collect();
        assert_eq!(expected, vec![7, 13, 19, 25]);
        let mut q = EventQuery {
            camera: Some("a".into()),
            kind: Some(EventKind::Intrusion),
            since_ms: Some(1_300),
            until_ms: Some(3_700),
            limit: 3,
            ..Default::default()
        };
        let first = store.query(&q).unwrap();
        assert_eq!(first.events.iter().map(|e| e.id).collect::<Vec<_>>(), &expected[..3]);
        assert_eq!(first.next_after_id, Some(19));
        q.after_id = first.next_after_id;
        let second = store.query(&q).unwrap();
        assert_eq!(second.events.iter().map(|e| e.id).collect::<Vec<_>>(), &expected[3..]);
        assert_eq!(second.next_after_id, None);
        let all = store.query(&EventQuery { limit: 10_000, ..Default::default() }).unwrap();
        assert_eq!(all.events.len(), 30, "limit is capped at MAX_LIMIT, above 30");
        let within = |cams: &[&str]| {
            let q = EventQuery {
                within: Some(cams.iter().map(|c| c.to_string()).collect()),
                limit: 100,
                ..Default::default()
            };
            store.query(&q).unwrap().events.iter().map(|e| e.event.camera.to_string()).collect::<Vec<_>>()
        };
        assert_eq!(within(&["b"]), vec!["b"; 15], "a scope keeps its cameras' events");
        assert_eq!(within(&["a", "b", "c"]).len(), 30);
        assert!(within(&[]).is_empty(), "an empty scope sees nothing");
    }

    #[test]
    fn events_after_resumes_in_id_order_for_one_camera() {
        let (_dir, mut store) = temp_store();
        for i in 0..10 {
            store.insert(&event(if i < 5 { "a" } else { "b" }, EventKind::Intrusion, i), 0).unwrap();
        }
        let ids = |v: Vec<StoredEvent>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(ids(store.events_after(3, None, 4).unwrap()), vec![4, 5, 6, 7]);
        assert_eq!(ids(store.events_after(3, Some("a"), 100).unwrap()), vec![4, 5]);
        assert_eq!(ids(store.events_after(10, None, 100).unwrap()), Vec::<i64>::new());
        assert_eq!(store.max_id().unwrap(), 10);
    }

    #[test]
    fn reopening_keeps_events_and_ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let mut store = Store::open(&path).unwrap();
            for i in 0..3 {
                store.insert(&event("a", EventKind::Occupancy, i), 10 * i).unwrap();
            }
            // Retention removes the two oldest rows.
            assert!(store.prune(15).unwrap().is_empty());
        }
        let mut store = Store::open(&path).unwrap();
        let left: Vec<i64> = store.events_after(0, None, 100).unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(left, vec![3]);
        store.prune(1_000).unwrap();
        assert_eq!(store.max_id().unwrap(), 3);
        assert_eq!(store.insert(&event("a", EventKind::Occupancy, 0), 0).unwrap().id, 4);
        let reader = Store::open_reader(&path).unwrap();
        assert_eq!(reader.get(4).unwrap().unwrap().event.kind, EventKind::Occupancy);
    }

    #[test]
    fn a_failing_snapshot_step_commits_nothing() {
        let (_dir, mut store) = temp_store();
        let err = store
            .insert_with(&event("a", EventKind::Fire, 0), 0, |id| {
                assert_eq!(id, 1);
                Err(StoreError::Snapshot { path: "x.jpg".into(), source: std::io::Error::other("disk full") })
            })
            .unwrap_err();
        assert!(err.to_string().contains("disk full"));
        assert!(store.get(1).unwrap().is_none());
        let stored = store.insert_with(&event("a", EventKind::Fire, 0), 0, |_| Ok(Some("a/1.jpg".into()))).unwrap();
        assert_eq!(store.get(stored.id).unwrap().unwrap().snapshot.as_deref(), Some("a/1.jpg"));
    }
}
