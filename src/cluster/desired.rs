//! The cluster's desired cameras: every camera (with its zones, lines and rules) in the KV bucket
//! `panoptes_cameras`, key = camera id, value = the camera as JSON (the fields of `[[cameras]]`).
//!
//! Any node's admin API writes here (the control loop, in cluster mode); the leader places what is here, and
//! each node runs what is placed on it. A node started with `[[cameras]]` in its config file seeds them with
//! `create`, which only writes absent keys: nodes started with the same file create each camera once, and a
//! camera changed over the API is never reset by a restart. Changes of one camera expect the revision read
//! (compare-and-set), so two admins editing at once cannot lose one another's change silently.

use super::bucket;
use async_nats::jetstream::{self, kv};
use panoptes_actors::config::CameraConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The bucket of desired cameras.
pub const CAMERAS_BUCKET: &str = "panoptes_cameras";

/// Why a change of the desired cameras failed.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    #[error("camera `{0}` already exists")]
    Exists(String),
    #[error("camera `{0}` does not exist")]
    Missing(String),
    #[error("camera `{0}` was changed by another request meanwhile; read it again and retry")]
    Changed(String),
    #[error("the cluster's camera bucket ({CAMERAS_BUCKET}): {0}")]
    Nats(String),
}

/// The desired cameras: written through NATS, read from a cache the bucket's watch keeps current.
#[derive(Clone)]
pub struct DesiredCameras {
    store: kv::Store,
    cache: Arc<Mutex<BTreeMap<String, CameraConfig>>>,
}

impl DesiredCameras {
    /// Open the bucket (`replicas` copies) and start following it (again at each reconnect).
    pub async fn open(
        js: &jetstream::Context,
        replicas: usize,
        reconnects: watch::Receiver<u64>,
    ) -> anyhow::Result<Self> {
        let store =
            bucket::open(js, CAMERAS_BUCKET, "Panoptes cameras (desired state)", Duration::ZERO, replicas).await?;
        let cache: Arc<Mutex<BTreeMap<String, CameraConfig>>> = Arc::default();
        let seen = cache.clone();
        actix::spawn(bucket::follow(store.clone(), "cameras", reconnects, move |entry| {
            let mut cache = seen.lock().unwrap_or_else(|e| e.into_inner());
            match entry.operation {
                kv::Operation::Put => match serde_json::from_slice::<CameraConfig>(&entry.value) {
                    Ok(cfg) => {
                        cache.insert(entry.key, cfg);
                    }
                    Err(e) => {
                        tracing::error!(camera = %entry.key, error = %e, "a camera in the cluster's bucket that this node cannot read; not run here (is this node's version older?)")
                    }
                },
                kv::Operation::Delete | kv::Operation::Purge => {
                    cache.remove(&entry.key);
                }
            }
        }));
        Ok(Self { store, cache })
    }

    /// Create each camera that does not exist yet; the number created.
    pub async fn seed(&self, cameras: &[CameraConfig]) -> Result<usize, DesiredError> {
        let mut created = 0;
        for cfg in cameras {
            match self.create(cfg).await {
                Ok(()) => created += 1,
                Err(DesiredError::Exists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(created)
    }

    /// Every desired camera as this node last heard, by id.
    pub fn list(&self) -> Vec<CameraConfig> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect()
    }

    /// One camera as stored now, with the revision to expect when changing it.
    pub async fn get(&self, id: &str) -> Result<(CameraConfig, u64), DesiredError> {
        let entry = self.store.entry(id).await.map_err(nats)?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                let cfg = serde_json::from_slice(&e.value).map_err(|err| {
                    DesiredError::Nats(format!("camera `{id}` is stored in a form this node cannot read: {err}"))
                })?;
                Ok((cfg, e.revision))
            }
            _ => Err(DesiredError::Missing(id.into())),
        }
    }

    /// Add a camera; fails when its id is taken.
    pub async fn create(&self, cfg: &CameraConfig) -> Result<(), DesiredError> {
        let json = serde_json::to_vec(cfg).map_err(|e| DesiredError::Nats(e.to_string()))?;
        match self.store.create(cfg.id.as_str(), json.into()).await {
            Ok(_) => {
                self.cached(cfg);
                Ok(())
            }
            Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => Err(DesiredError::Exists(cfg.id.to_string())),
            Err(e) => Err(nats(e)),
        }
    }

    /// Replace a camera read at `revision`; fails when it changed since.
    pub async fn update(&self, cfg: &CameraConfig, revision: u64) -> Result<(), DesiredError> {
        let json = serde_json::to_vec(cfg).map_err(|e| DesiredError::Nats(e.to_string()))?;
        match self.store.update(cfg.id.as_str(), json.into(), revision).await {
            Ok(_) => {
                self.cached(cfg);
                Ok(())
            }
            Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                Err(DesiredError::Changed(cfg.id.to_string()))
            }
            Err(e) => Err(nats(e)),
        }
    }

    /// Remove a camera read at `revision`; fails when it changed since.
    pub async fn delete(&self, id: &str, revision: u64) -> Result<(), DesiredError> {
        match self.store.delete_expect_revision(id, Some(revision)).await {
            Ok(()) => {
                self.cache.lock().unwrap_or_else(|e| e.into_inner()).remove(id);
                Ok(())
            }
            Err(e) if e.kind() == kv::DeleteErrorKind::WrongLastRevision => Err(DesiredError::Changed(id.into())),
            Err(e) => Err(nats(e)),
        }
    }

    /// Reflect a write at once (the watch brings the same value a moment later), so a read after a write on
    /// this node sees it.
    fn cached(&self, cfg: &CameraConfig) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).insert(cfg.id.to_string(), cfg.clone());
    }
}

fn nats(e: impl std::fmt::Display) -> DesiredError {
    DesiredError::Nats(e.to_string())
}
