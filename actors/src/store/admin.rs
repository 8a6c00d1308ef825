//! [`AdminStore`]: the restart-safe state the HTTP admin API changes — cameras (each its config JSON, zones,
//! lines and rules inside), API tokens (hashed) and event acknowledgements — in the same SQLite file as the
//! events, over its own connection (WAL lets it write beside the event writer).
//!
//! The config file only seeds an empty store ([`AdminStore::seed_cameras`]); afterwards the store is the
//! truth. Changes go through an [`AdminTx`], so a change that cannot be applied to the running pipeline is
//! rolled back rather than half-stored.

use super::StoreError;
use super::schema;
use super::tokens::{Access, Role, TokenInfo};
use crate::config::CameraConfig;
use crate::time::now_unix_ms;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::path::{Path, PathBuf};

/// `settings` key set once the cameras have been seeded (from the config file, or left empty).
const SEEDED: &str = "cameras_seeded";

/// The admin state over one read-write connection.
pub struct AdminStore {
    conn: Connection,
    path: PathBuf,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite { path: path.to_owned(), source }
}

fn corrupt(path: &Path, reason: String) -> StoreError {
    StoreError::Corrupt { path: path.to_owned(), reason }
}

impl AdminStore {
    /// Open (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self { conn: schema::open_writer(path)?, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// On the first start (nothing seeded yet) store `cameras` and return true; afterwards change nothing
    /// and return false.
    pub fn seed_cameras(&mut self, cameras: &[CameraConfig]) -> Result<bool, StoreError> {
        let path = self.path.clone();
        let mut tx = self.begin()?;
        let seeded: Option<String> = tx
            .tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [SEEDED], |r| r.get(0))
            .optional()
            .map_err(sql(&path))?;
        if seeded.is_some() {
            return Ok(false);
        }
        for cam in cameras {
            tx.put_camera(cam)?;
        }
        tx.tx
            .execute("INSERT INTO settings (key, value) VALUES (?1, ?2)", params![SEEDED, now_unix_ms().to_string()])
            .map_err(sql(&path))?;
        tx.commit()?;
        Ok(true)
    }

    /// Every stored camera, in the order they were added.
    pub fn cameras(&self) -> Result<Vec<CameraConfig>, StoreError> {
        let mut stmt =
            self.conn.prepare("SELECT id, config FROM cameras ORDER BY position, id").map_err(sql(&self.path))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(sql(&self.path))?
            .collect::<Result<_, _>>()
            .map_err(sql(&self.path))?;
        rows.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json)
                    .map_err(|e| corrupt(&self.path, format!("camera `{id}` has an unreadable stored config: {e}")))
            })
            .collect()
    }

    /// Start a change; dropped without [`AdminTx::commit`], it rolls back.
    pub fn begin(&mut self) -> Result<AdminTx<'_>, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sql(&self.path))?;
        Ok(AdminTx { tx, path: &self.path })
    }

    /// Tokens, without secrets, oldest first.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Ok(self.token_rows()?.into_iter().map(|(info, _)| info).collect())
    }

    /// Tokens with their hashes (to fill the authentication cache).
    pub fn token_rows(&self) -> Result<Vec<(TokenInfo, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, name, role, created_ms, hash, cameras FROM tokens ORDER BY id")
            .map_err(sql(&self.path))?;
        type Row = (i64, String, String, i64, String, Option<String>);
        let rows: Vec<Row> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .map_err(sql(&self.path))?
            .collect::<Result<_, _>>()
            .map_err(sql(&self.path))?;
        rows.into_iter()
            .map(|(id, name, role, created_ms, hash, cameras)| {
                let role = Role::parse(&role)
                    .ok_or_else(|| corrupt(&self.path, format!("token {id} has an unknown role `{role}`")))?;
                let access = match cameras {
                    None => Access::all(role),
                    Some(json) => Access::scoped(
                        role,
                        serde_json::from_str::<Vec<String>>(&json).map_err(|e| {
                            corrupt(&self.path, format!("token {id} has an unreadable camera list `{json}`: {e}"))
                        })?,
                    ),
                };
                Ok((TokenInfo { id, name, access, created_ms }, hash))
            })
            .collect()
    }

    /// Store a token by the hash of its secret.
    pub fn add_token(&mut self, name: &str, access: &Access, hash: &str) -> Result<TokenInfo, StoreError> {
        let created_ms = now_unix_ms();
        let cameras = access.cameras.as_ref().map(|cs| serde_json::Value::from(cs.clone()).to_string());
        self.conn
            .execute(
                "INSERT INTO tokens (name, role, hash, created_ms, cameras) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, access.role.as_str(), hash, created_ms, cameras],
            )
            .map_err(sql(&self.path))?;
        Ok(TokenInfo { id: self.conn.last_insert_rowid(), name: name.to_string(), access: access.clone(), created_ms })
    }

    /// Delete a token; false when there was none with that id.
    pub fn delete_token(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("DELETE FROM tokens WHERE id = ?1", [id]).map_err(sql(&self.path))? > 0)
    }

    /// Mark an event acknowledged; false when there is no such event.
    pub fn acknowledge_event(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.conn.execute("UPDATE events SET acknowledged = 1 WHERE id = ?1", [id]).map_err(sql(&self.path))? > 0)
    }
}

/// One change of the admin state, applied atomically by [`AdminTx::commit`].
pub struct AdminTx<'a> {
    tx: Transaction<'a>,
    path: &'a Path,
}

impl AdminTx<'_> {
    /// Insert or replace a camera (a new camera goes last; a replaced one keeps its place).
    pub fn put_camera(&mut self, camera: &CameraConfig) -> Result<(), StoreError> {
        let json = serde_json::to_string(camera)
            .map_err(|e| corrupt(self.path, format!("camera `{}` cannot be serialised: {e}", camera.id)))?;
        self.tx
            .execute(
                "INSERT INTO cameras (id, position, config, updated_ms)
                 VALUES (?1, (SELECT coalesce(max(position), 0) + 1 FROM cameras), ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET config = excluded.config, updated_ms = excluded.updated_ms",
                params![camera.id.as_str(), json, now_unix_ms()],
            )
            .map_err(sql(self.path))?;
        Ok(())
    }

    /// Delete a camera; false when there was none.
    pub fn delete_camera(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(self.tx.execute("DELETE FROM cameras WHERE id = ?1", [id]).map_err(sql(self.path))? > 0)
    }

    pub fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().map_err(sql(self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tokens;

    fn camera(id: &str) -> CameraConfig {
        serde_json::from_value(serde_json::json!({
            "id": id, "url": "rtsp://127.0.0.1:8554/x", "username": "u", "password": "hunter2",
            "zones": [{ "id": "z", "polygon": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]] }],
        }))
        .unwrap()
    }

    #[test]
    fn seeding_happens_once_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut store = AdminStore::open(&path).unwrap();
        assert!(store.seed_cameras(&[camera("a"), camera("b")]).unwrap());
        drop(store);
        let mut store = AdminStore::open(&path).unwrap();
        assert!(!store.seed_cameras(&[camera("c")]).unwrap(), "a second seed is ignored");
        let ids: Vec<String> = store.cameras().unwrap().into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(store.cameras().unwrap()[0], camera("a"), "the whole config round-trips, password included");
    }

    #[test]
    fn a_dropped_change_rolls_back_and_a_committed_one_keeps_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AdminStore::open(&dir.path().join("p.db")).unwrap();
        store.seed_cameras(&[camera("a"), camera("b")]).unwrap();
        {
            let mut tx = store.begin().unwrap();
            tx.put_camera(&camera("c")).unwrap();
            assert!(tx.delete_camera("a").unwrap());
        }
        let ids: Vec<String> = store.cameras().unwrap().into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["a", "b"], "dropped without commit: nothing changed");
        let mut tx = store.begin().unwrap();
        let mut a = camera("a");
        a.detect_fps = 2.0;
        tx.put_camera(&a).unwrap();
        tx.put_camera(&camera("c")).unwrap();
        assert!(!tx.delete_camera("zz").unwrap());
        tx.commit().unwrap();
        let cams = store.cameras().unwrap();
        assert_eq!(cams.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(cams[0].detect_fps, 2.0);
    }

    #[test]
    fn tokens_are_kept_by_hash() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = AdminStore::open(&dir.path().join("p.db")).unwrap();
        let secret = tokens::generate();
        let info = store.add_token("ci", &Access::all(Role::Viewer), &tokens::hash(&secret)).unwrap();
        let rows = store.token_rows().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, info);
        assert_eq!(rows[0].1, tokens::hash(&secret));
        assert_ne!(rows[0].1, secret);
        assert!(
            store.add_token("dup", &Access::all(Role::Admin), &tokens::hash(&secret)).is_err(),
            "hashes are unique"
        );
        let gate = Access::scoped(Role::Viewer, ["gate".to_string(), "dock".into()]);
        let scoped = store.add_token("gate desk", &gate, &tokens::hash("s")).unwrap();
        assert_eq!(store.token_rows().unwrap()[1].0, scoped, "the scope is kept");
        assert!(store.delete_token(scoped.id).unwrap());
        assert!(store.delete_token(info.id).unwrap());
        assert!(!store.delete_token(info.id).unwrap());
        assert!(store.tokens().unwrap().is_empty());
    }
}
