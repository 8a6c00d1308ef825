//! The database schema, its migrations, and opening a database: load → migrate → validate.
//!
//! `schema_version` holds one row with the schema's version. [`MIGRATIONS`]`[i]` takes a database from
//! version `i` to `i + 1`, each in its own transaction, so an interrupted upgrade leaves a consistent
//! older version that the next start upgrades again. A database newer than this binary is refused.

use super::StoreError;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::Duration;

/// SQL of each migration; the schema version is the number of migrations applied.
pub const MIGRATIONS: &[&str] = &[
    // v1: the events table.
    "CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL,
        rule TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        track_id INTEGER,
        class TEXT,
        confidence REAL,
        pts_ticks INTEGER NOT NULL,
        pts_rate INTEGER NOT NULL,
        end_pts_ticks INTEGER,
        wall_ms INTEGER NOT NULL,
        bbox TEXT,
        details TEXT NOT NULL,
        snapshot TEXT,
        acknowledged INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX events_camera_wall ON events (camera, wall_ms);
    CREATE INDEX events_kind ON events (kind);
    CREATE INDEX events_wall ON events (wall_ms);",
    // Recording: the index of finished fMP4 segments, and each camera's timeline end (see store::recordings).
    "CREATE TABLE recordings (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        camera TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        codec TEXT NOT NULL,
        clock_rate INTEGER NOT NULL,
        start_ticks INTEGER NOT NULL,
        end_ticks INTEGER NOT NULL,
        start_wall_ms INTEGER NOT NULL,
        end_wall_ms INTEGER NOT NULL,
        frames INTEGER NOT NULL,
        bytes INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX recordings_camera_pts ON recordings (camera, start_ticks);
    CREATE INDEX recordings_camera_wall ON recordings (camera, start_wall_ms);
    CREATE TABLE camera_timelines (
        camera TEXT PRIMARY KEY,
        end_ticks INTEGER NOT NULL,
        clock_rate INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );",
    // Admin state (see `super::admin`): cameras as their config JSON (zones, lines and rules inside), API tokens
    // (SHA-256 of the secret), and flags such as whether the config file has seeded the cameras.
    "CREATE TABLE cameras (
        id TEXT PRIMARY KEY,
        position INTEGER NOT NULL,
        config TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE TABLE tokens (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
        hash TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // Cluster mode: events raised on another node, copied here from the cluster's event stream. The origin's
    // node id, store and event id identify it (a copy arriving twice is one row; a node whose store was
    // replaced numbers its events from 1 again in a new store); `origin_http` is where its snapshot and clip
    // are served. `store_id`: this store's own identity, drawn once.
    "ALTER TABLE events ADD COLUMN origin_node TEXT;
    ALTER TABLE events ADD COLUMN origin_id INTEGER;
    ALTER TABLE events ADD COLUMN origin_http TEXT;
    ALTER TABLE events ADD COLUMN origin_snapshot INTEGER;
    ALTER TABLE events ADD COLUMN origin_store TEXT;
    CREATE UNIQUE INDEX events_origin ON events (origin_node, origin_store, origin_id);
    INSERT INTO settings (key, value) VALUES ('store_id', lower(hex(randomblob(8))));",
    // Webhooks (see `super::webhooks`): per hook, the newest event id it has handled and its counters.
    "CREATE TABLE webhook_cursors (
        hook TEXT PRIMARY KEY,
        after_id INTEGER NOT NULL,
        delivered INTEGER NOT NULL DEFAULT 0,
        given_up INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL
    );",
    // Camera-scoped tokens: the cameras a token is limited to, as a JSON array; NULL: every camera.
    "ALTER TABLE tokens ADD COLUMN cameras TEXT;",
];

/// The schema version this binary writes.
pub const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Columns `events` must have at [`CURRENT_VERSION`] (checked at open).
const EVENT_COLUMNS: &[&str] = &[
    "id",
    "camera",
    "rule",
    "kind",
    "state",
    "track_id",
    "class",
    "confidence",
    "pts_ticks",
    "pts_rate",
    "end_pts_ticks",
    "wall_ms",
    "bbox",
    "details",
    "snapshot",
    "acknowledged",
    "created_ms",
    "origin_node",
    "origin_id",
    "origin_http",
    "origin_snapshot",
    "origin_store",
];

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite { path: path.to_owned(), source }
}

/// Open (creating if needed) the database for writing: WAL, `synchronous=FULL`, migrated and validated.
pub fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir { path: dir.to_owned(), source })?;
    }
    let mut conn = Connection::open(path).map_err(sql(path))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql(path))?;
    let mode: String = conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(sql(path))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Corrupt { path: path.to_owned(), reason: format!("cannot use WAL mode (got {mode})") });
    }
    // FULL: the WAL is fsynced at every commit, so a committed (and then announced) event survives power loss.
    conn.pragma_update(None, "synchronous", "FULL").map_err(sql(path))?;
    conn.pragma_update(None, "foreign_keys", "ON").map_err(sql(path))?;
    migrate(&mut conn, path)?;
    validate(&conn, path)?;
    Ok(conn)
}

/// Open an existing, migrated database read-only (the API's readers; the writer opens it first).
pub fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(sql(path))?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(sql(path))?;
    let version = version(&conn, path)?;
    if version != CURRENT_VERSION {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: format!("schema version {version}, expected {CURRENT_VERSION}"),
        });
    }
    validate(&conn, path)?;
    Ok(conn)
}

/// The schema version of a database: 0 when it has no `schema_version` table (a new, empty file).
pub fn version(conn: &Connection, path: &Path) -> Result<i64, StoreError> {
    let has_table: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", [], |r| {
            r.get::<_, i64>(0).map(|n| n > 0)
        })
        .map_err(sql(path))?;
    if !has_table {
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table'", [], |r| r.get(0))
            .map_err(sql(path))?;
        if tables > 0 {
            return Err(StoreError::Corrupt {
                path: path.to_owned(),
                reason: "the file has tables but no schema_version: it is not a Panoptes event store".into(),
            });
        }
        return Ok(0);
    }
    let rows: Vec<i64> = {
        let mut stmt = conn.prepare("SELECT version FROM schema_version").map_err(sql(path))?;
        stmt.query_map([], |r| r.get(0)).map_err(sql(path))?.collect::<Result<_, _>>().map_err(sql(path))?
    };
    match rows.as_slice() {
        [v] => Ok(*v),
        _ => Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: format!("schema_version has {} rows, expected 1", rows.len()),
        }),
    }
}

/// Apply every migration the database lacks, one transaction each. Refuses a newer database.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(path))?;
        let v = version(&tx, path)?;
        if v > CURRENT_VERSION {
            return Err(StoreError::NewerSchema { path: path.to_owned(), found: v, supported: CURRENT_VERSION });
        }
        if v == CURRENT_VERSION {
            return Ok(());
        }
        if v == 0 {
            tx.execute_batch(
                "CREATE TABLE schema_version (version INTEGER NOT NULL); INSERT INTO schema_version VALUES (0);",
            )
            .map_err(sql(path))?;
        }
        tx.execute_batch(MIGRATIONS[v as usize]).map_err(sql(path))?;
        tx.execute("UPDATE schema_version SET version = ?1", [v + 1]).map_err(sql(path))?;
        tx.commit().map_err(sql(path))?;
        tracing::info!(path = %path.display(), from = v, to = v + 1, "event store migrated");
    }
}

/// Check the tables look as this binary expects.
fn validate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let mut columns = Vec::new();
    conn.pragma(None, "table_info", "events", |r| {
        columns.push(r.get::<_, String>(1)?);
        Ok(())
    })
    .map_err(sql(path))?;
    let missing: Vec<&str> = EVENT_COLUMNS.iter().copied().filter(|c| !columns.iter().any(|have| have == c)).collect();
    if !missing.is_empty() {
        return Err(StoreError::Corrupt {
            path: path.to_owned(),
            reason: format!("table events lacks columns {}", missing.join(", ")),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_migrates_to_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/events.db");
        let conn = open_writer(&path).unwrap();
        assert_eq!(version(&conn, &path).unwrap(), CURRENT_VERSION);
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let sync: i64 = conn.pragma_query_value(None, "synchronous", |r| r.get(0)).unwrap();
        assert_eq!(sync, 2, "synchronous=FULL is 2");
        let mut indexes = Vec::new();
        conn.pragma(None, "index_list", "events", |r| {
            indexes.push(r.get::<_, String>(1)?);
            Ok(())
        })
        .unwrap();
        indexes.sort();
        assert_eq!(indexes, ["events_camera_wall", "events_kind", "events_origin", "events_wall"]);
        drop(conn);
        // Opening again is a no-op migration.
        let conn = open_writer(&path).unwrap();
        assert_eq!(version(&conn, &path).unwrap(), CURRENT_VERSION);
    }

    #[test]
    fn a_newer_schema_is_refused_with_the_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        drop(open_writer(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE schema_version SET version = ?1", [CURRENT_VERSION + 3]).unwrap();
        drop(conn);
        let err = open_writer(&path).unwrap_err();
        assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == CURRENT_VERSION + 3), "{err}");
        let text = err.to_string();
        assert!(text.contains("events.db") && text.contains("newer panoptes"), "{text}");
    }

    #[test]
    fn a_foreign_sqlite_file_is_not_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path).unwrap().execute_batch("CREATE TABLE users (name TEXT);").unwrap();
        let err = open_writer(&path).unwrap_err().to_string();
        assert!(err.contains("not a Panoptes event store"), "{err}");
    }

    #[test]
    fn a_damaged_events_table_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        drop(open_writer(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE events; CREATE TABLE events (id INTEGER PRIMARY KEY, camera TEXT);").unwrap();
        drop(conn);
        let err = open_writer(&path).unwrap_err().to_string();
        assert!(err.contains("lacks columns") && err.contains("rule"), "{err}");
    }
}
