//! Where each webhook stands, kept in the store so a restart resumes deliveries: the event log is the outbox,
//! and each hook's row holds the newest event id it has handled (delivered, skipped by its filter, or given
//! up), with its counters. A hook seen for the first time starts at the newest event then stored: it is sent
//! what happens from then on, not the history.

use super::StoreError;
use super::schema;
use crate::time::now_unix_ms;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// One hook's position and counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HookCursor {
    /// The newest event id handled; delivery goes on with the next one.
    pub after_id: i64,
    /// Events delivered (a 2xx answer).
    pub delivered: i64,
    /// Events given up after `max_attempts`.
    pub given_up: i64,
}

/// The hooks' rows over their own connection (WAL lets it write beside the event writer).
pub struct HookCursors {
    conn: Connection,
    path: PathBuf,
}

impl HookCursors {
    /// Open (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: schema::open_writer(path)?, path: path.to_owned() })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    /// The row of `hook`; a hook without one gets one at the newest event stored now.
    pub fn load_or_start(&mut self, hook: &str) -> Result<HookCursor, StoreError> {
        let found = self
            .conn
            .query_row("SELECT after_id, delivered, given_up FROM webhook_cursors WHERE hook = ?1", [hook], |r| {
                Ok(HookCursor { after_id: r.get(0)?, delivered: r.get(1)?, given_up: r.get(2)? })
            })
            .optional()
            .map_err(self.sql())?;
        if let Some(c) = found {
            return Ok(c);
        }
        let newest: i64 =
            self.conn.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0)).map_err(self.sql())?;
        let start = HookCursor { after_id: newest, ..HookCursor::default() };
        self.save(hook, &start)?;
        Ok(start)
    }

    /// Keep `cursor` as `hook`'s row (committed and fsynced before it returns).
    pub fn save(&mut self, hook: &str, cursor: &HookCursor) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO webhook_cursors (hook, after_id, delivered, given_up, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hook) DO UPDATE SET after_id = ?2, delivered = ?3, given_up = ?4, updated_ms = ?5",
                params![hook, cursor.after_id, cursor.delivered, cursor.given_up, now_unix_ms()],
            )
            .map_err(self.sql())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Event, EventKind, EventState};
    use crate::store::Store;
    use crate::time::{Pts, WallTime};

    fn event() -> Event {
        Event {
            camera: "gate".into(),
            rule: "r".into(),
            kind: EventKind::Intrusion,
            state: EventState::Start,
            track_id: Some(1),
            class: Some("person".into()),
            confidence: Some(0.9),
            pts: Pts::new(0, 90_000),
            end_pts: None,
            wall_ms: WallTime::from_unix_ms(1),
            bbox: None,
            details: serde_json::json!({}),
        }
    }

    #[test]
    fn a_new_hook_starts_at_the_newest_event_and_its_position_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut events = Store::open(&path).unwrap();
        for _ in 0..3 {
            events.insert(&event(), 1).unwrap();
        }
        let mut hooks = HookCursors::open(&path).unwrap();
        let start = hooks.load_or_start("ops").unwrap();
        assert_eq!(start, HookCursor { after_id: 3, delivered: 0, given_up: 0 }, "history is not sent");
        hooks.save("ops", &HookCursor { after_id: 5, delivered: 2, given_up: 1 }).unwrap();
        drop(hooks);
        let mut hooks = HookCursors::open(&path).unwrap();
        assert_eq!(hooks.load_or_start("ops").unwrap(), HookCursor { after_id: 5, delivered: 2, given_up: 1 });
        assert_eq!(hooks.load_or_start("other").unwrap().after_id, 3, "each hook has its own row");
    }
}
