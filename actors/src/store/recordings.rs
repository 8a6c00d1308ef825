//! The recording index: one row per finished fMP4 segment (camera, file, PTS range on the camera timeline,
//! wall-clock range, size) and each camera's timeline end, in the event store's SQLite database.
//!
//! A segment file is fsynced and renamed into place before its row is inserted, so a row always names a
//! complete file; [`RecordingIndex::reconcile`] at start removes what a crash left between the two steps
//! (files without rows, rows without files). The row and the camera's timeline end commit in one
//! transaction, so a restarted process continues the timeline after every indexed segment.

use super::{StoreError, schema};
use crate::time::{Pts, WallTime, now_unix_ms};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One indexed segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Segment {
    pub id: i64,
    pub camera: String,
    /// Relative to the recording directory (`<camera>/<start ticks>.mp4`).
    pub path: String,
    /// RFC 6381 codec string (`avc1.640028`).
    pub codec: String,
    /// PTS of the first picture (a key frame), on the camera timeline.
    pub start_pts: Pts,
    /// Just after the last picture ends.
    pub end_pts: Pts,
    pub start_wall_ms: WallTime,
    pub end_wall_ms: WallTime,
    pub frames: i64,
    pub bytes: i64,
}

/// A segment to index (its id comes from the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSegment {
    pub camera: String,
    pub path: String,
    pub codec: String,
    pub start_pts: Pts,
    pub end_pts: Pts,
    pub start_wall_ms: WallTime,
    pub end_wall_ms: WallTime,
    pub frames: i64,
    pub bytes: i64,
}

/// What [`RecordingIndex::reconcile`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub orphan_files: usize,
    pub partial_files: usize,
    pub missing_files: usize,
}

/// The index over its own connection to the store's database (writes from the recorder threads and the
/// retention thread, reads from the API, serialised by a mutex: each call is one short statement).
pub struct RecordingIndex {
    conn: Mutex<Connection>,
    path: PathBuf,
}

const COLUMNS: &str =
    "id, camera, path, codec, clock_rate, start_ticks, end_ticks, start_wall_ms, end_wall_ms, frames, bytes";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Segment> {
    let rate: u32 = r.get(4)?;
    let rate = rate.max(1);
    Ok(Segment {
        id: r.get(0)?,
        camera: r.get(1)?,
        path: r.get(2)?,
        codec: r.get(3)?,
        start_pts: Pts::new(r.get(5)?, rate),
        end_pts: Pts::new(r.get(6)?, rate),
        start_wall_ms: r.get(7)?,
        end_wall_ms: r.get(8)?,
        frames: r.get(9)?,
        bytes: r.get(10)?,
    })
}

impl RecordingIndex {
    /// Open (creating and migrating) the store's database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: Mutex::new(schema::open_writer(path)?), path: path.to_owned() })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite { path: self.path.clone(), source }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Index a finished segment and move the camera's timeline end past it, in one transaction.
    pub fn insert(&self, s: &NewSegment) -> Result<i64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.sql())?;
        tx.execute(
            "INSERT INTO recordings (camera, path, codec, clock_rate, start_ticks, end_ticks, start_wall_ms, \
             end_wall_ms, frames, bytes, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            params![
                s.camera,
                s.path,
                s.codec,
                s.start_pts.clock_rate(),
                s.start_pts.ticks(),
                s.end_pts.ticks(),
                s.start_wall_ms,
                s.end_wall_ms,
                s.frames,
                s.bytes,
                now_unix_ms()
            ],
        )
        .map_err(self.sql())?;
        let id = tx.last_insert_rowid();
        Self::advance_timeline(&tx, &s.camera, s.end_pts).map_err(self.sql())?;
        tx.commit().map_err(self.sql())?;
        Ok(id)
    }

    fn advance_timeline(conn: &Connection, camera: &str, end: Pts) -> rusqlite::Result<()> {
        conn.execute(
            "INSERT INTO camera_timelines (camera, end_ticks, clock_rate, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (camera) DO UPDATE SET
               end_ticks = max(end_ticks, excluded.end_ticks), clock_rate = excluded.clock_rate,
               updated_ms = excluded.updated_ms",
            params![camera, end.ticks(), end.clock_rate(), now_unix_ms()],
        )?;
        Ok(())
    }

    /// Record that the camera's timeline reached `end` (never moves it back).
    pub fn note_timeline_end(&self, camera: &str, end: Pts) -> Result<(), StoreError> {
        Self::advance_timeline(&self.conn(), camera, end).map_err(self.sql())
    }

    /// Where the camera's timeline ended in an earlier run: past its last indexed segment and its last
    /// noted end.
    pub fn timeline_end(&self, camera: &str) -> Result<Option<Pts>, StoreError> {
        let conn = self.conn();
        let noted: Option<(i64, u32)> = conn
            .query_row("SELECT end_ticks, clock_rate FROM camera_timelines WHERE camera = ?1", [camera], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(self.sql())?;
        let recorded: Option<(i64, u32)> = conn
            .query_row(
                "SELECT end_ticks, clock_rate FROM recordings WHERE camera = ?1 ORDER BY end_ticks DESC LIMIT 1",
                [camera],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.sql())?;
        Ok([noted, recorded].into_iter().flatten().map(|(t, r)| Pts::new(t, r.max(1))).max_by_key(|p| p.to_90k()))
    }

    pub fn get(&self, id: i64) -> Result<Option<Segment>, StoreError> {
        self.conn()
            .query_row(&format!("SELECT {COLUMNS} FROM recordings WHERE id = ?1"), [id], row)
            .optional()
            .map_err(self.sql())
    }

    /// Segments of `camera` overlapping the wall-clock range `[start_ms, end_ms)`, oldest first.
    pub fn by_wall(&self, camera: &str, start_ms: i64, end_ms: i64, limit: usize) -> Result<Vec<Segment>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM recordings WHERE camera = ?1 AND end_wall_ms > ?2 AND start_wall_ms < ?3 \
                 ORDER BY start_ticks LIMIT ?4"
            ))
            .map_err(self.sql())?;
        stmt.query_map(params![camera, start_ms, end_ms, limit as i64], row)
            .map_err(self.sql())?
            .collect::<Result<_, _>>()
            .map_err(self.sql())
    }

    /// Segments of `camera` overlapping the PTS range `[start, end)` (ticks at the segments' clock rate),
    /// in timeline order.
    pub fn by_pts(&self, camera: &str, start: i64, end: i64) -> Result<Vec<Segment>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM recordings WHERE camera = ?1 AND end_ticks > ?2 AND start_ticks < ?3 \
                 ORDER BY start_ticks"
            ))
            .map_err(self.sql())?;
        stmt.query_map(params![camera, start, end], row)
            .map_err(self.sql())?
            .collect::<Result<_, _>>()
            .map_err(self.sql())
    }

    /// Every segment, oldest (by wall clock) first.
    pub fn all_oldest_first(&self) -> Result<Vec<Segment>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare(&format!("SELECT {COLUMNS} FROM recordings ORDER BY end_wall_ms, id")).map_err(self.sql())?;
        stmt.query_map([], row).map_err(self.sql())?.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Remove a row (its file is deleted by the caller first).
    pub fn delete(&self, id: i64) -> Result<(), StoreError> {
        self.conn().execute("DELETE FROM recordings WHERE id = ?1", [id]).map_err(self.sql())?;
        Ok(())
    }

    /// Make the index and the directory agree after a crash: delete unfinished files (`*.part`) and files
    /// without a row, and rows whose file is gone. Call before any recorder starts.
    pub fn reconcile(&self, dir: &Path) -> Result<Reconciled, StoreError> {
        let mut out = Reconciled::default();
        let rows = self.all_oldest_first()?;
        let known: HashSet<&str> = rows.iter().map(|s| s.path.as_str()).collect();
        for camera_dir in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if !camera_dir.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            for file in std::fs::read_dir(camera_dir.path()).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let rel = format!("{}/{name}", camera_dir.file_name().to_string_lossy());
                if name.ends_with(".part") {
                    out.partial_files += usize::from(std::fs::remove_file(file.path()).is_ok());
                } else if name.ends_with(".mp4") && !known.contains(rel.as_str()) {
                    out.orphan_files += usize::from(std::fs::remove_file(file.path()).is_ok());
                }
            }
        }
        for s in &rows {
            if !dir.join(&s.path).is_file() {
                self.delete(s.id)?;
                out.missing_files += 1;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(camera: &str, path: &str, start: i64, end: i64, wall: i64) -> NewSegment {
        NewSegment {
            camera: camera.into(),
            path: path.into(),
            codec: "avc1.640028".into(),
            start_pts: Pts::new(start, 90_000),
            end_pts: Pts::new(end, 90_000),
            start_wall_ms: crate::time::WallTime::from_unix_ms(wall),
            end_wall_ms: crate::time::WallTime::from_unix_ms(wall + (end - start) / 90),
            frames: 10,
            bytes: 1000,
        }
    }

    #[test]
    fn segments_are_found_by_pts_and_wall_ranges() {
        let dir = tempfile::tempdir().unwrap();
        let idx = RecordingIndex::open(&dir.path().join("events.db")).unwrap();
        idx.insert(&seg("gate", "gate/0.mp4", 0, 180_000, 1_000_000)).unwrap();
        let b = idx.insert(&seg("gate", "gate/180000.mp4", 180_000, 360_000, 1_002_000)).unwrap();
        idx.insert(&seg("door", "door/0.mp4", 0, 90_000, 1_000_000)).unwrap();
        let ids = |v: Vec<Segment>| v.into_iter().map(|s| s.path).collect::<Vec<_>>();
        assert_eq!(ids(idx.by_pts("gate", 170_000, 190_000).unwrap()), ["gate/0.mp4", "gate/180000.mp4"]);
        assert_eq!(ids(idx.by_pts("gate", 180_000, 190_000).unwrap()), ["gate/180000.mp4"], "end is exclusive");
        assert_eq!(ids(idx.by_wall("gate", 1_002_500, 1_003_000, 10).unwrap()), ["gate/180000.mp4"]);
        assert!(idx.by_wall("gate", 2_000_000, 3_000_000, 10).unwrap().is_empty());
        let got = idx.get(b).unwrap().unwrap();
        assert_eq!((got.start_pts, got.end_pts), (Pts::new(180_000, 90_000), Pts::new(360_000, 90_000)));
        assert_eq!(idx.timeline_end("gate").unwrap(), Some(Pts::new(360_000, 90_000)));
        idx.note_timeline_end("gate", Pts::new(400_000, 90_000)).unwrap();
        idx.note_timeline_end("gate", Pts::new(10, 90_000)).unwrap();
        assert_eq!(idx.timeline_end("gate").unwrap(), Some(Pts::new(400_000, 90_000)), "never moves back");
        assert_eq!(idx.timeline_end("nobody").unwrap(), None);
    }

    #[test]
    fn reconcile_removes_what_a_crash_left_half_done() {
        let dir = tempfile::tempdir().unwrap();
        let rec = dir.path().join("rec");
        std::fs::create_dir_all(rec.join("gate")).unwrap();
        let idx = RecordingIndex::open(&dir.path().join("events.db")).unwrap();
        std::fs::write(rec.join("gate/0.mp4"), b"kept").unwrap();
        idx.insert(&seg("gate", "gate/0.mp4", 0, 90_000, 0)).unwrap();
        idx.insert(&seg("gate", "gate/90000.mp4", 90_000, 180_000, 1_000)).unwrap(); // file lost
        std::fs::write(rec.join("gate/180000.mp4"), b"renamed, never indexed").unwrap();
        std::fs::write(rec.join("gate/270000.mp4.part"), b"being written").unwrap();
        let r = idx.reconcile(&rec).unwrap();
        assert_eq!(r, Reconciled { orphan_files: 1, partial_files: 1, missing_files: 1 });
        let left: Vec<String> = std::fs::read_dir(rec.join("gate"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["0.mp4"]);
        assert_eq!(idx.all_oldest_first().unwrap().len(), 1);
        assert_eq!(idx.reconcile(&rec).unwrap(), Reconciled::default(), "a second pass finds nothing");
    }
}
