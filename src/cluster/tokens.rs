//! The cluster's API tokens: in the KV bucket `panoptes_tokens` (key: the SHA-256 of the secret, value: the
//! token without its secret), so a token made on any node works on every node and a token deleted on one is
//! refused by all within a moment. Each node's authentication cache holds the cluster's tokens once it has
//! joined. A node joining a cluster with no admin token brings its own admin tokens (from its store: the one
//! `auth.admin_token_env` gave, or the one it generated), so nodes started with the same admin token share it.
//! A token's id is the first 48 bits of its hash: the same on every node, and the same token seeded by two
//! nodes is one token.

use super::bucket;
use async_nats::jetstream::{self, kv};
use panoptes_actors::store::tokens::{Access, TokenCache, TokenInfo};
use panoptes_actors::time::now_unix_ms;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The bucket of the cluster's tokens.
pub const TOKENS_BUCKET: &str = "panoptes_tokens";

/// Why a token change failed.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token {0} does not exist; GET /api/tokens lists them")]
    Missing(i64),
    #[error("token {0} is the last admin token for every camera; create another before deleting it")]
    LastAdmin(i64),
    #[error("the cluster's token bucket ({TOKENS_BUCKET}): {0}")]
    Nats(String),
}

/// The cluster's tokens (hash → token), kept current by the bucket's watch.
#[derive(Clone)]
pub struct ClusterTokens {
    store: kv::Store,
    all: Arc<Mutex<BTreeMap<String, TokenInfo>>>,
    /// This node's authentication cache (updated at once by this node's changes, by the watch for others').
    cache: TokenCache,
}

/// A token's cluster id: the first 48 bits of its hash.
fn id_of(hash: &str) -> i64 {
    i64::from_str_radix(hash.get(..12).unwrap_or("0"), 16).unwrap_or(0)
}

fn nats(e: impl std::fmt::Display) -> TokenError {
    TokenError::Nats(e.to_string())
}

impl ClusterTokens {
    /// Open the bucket, bring `local` (this node's tokens with their hashes) when the cluster has no admin
    /// token, and make `cache` hold the cluster's tokens from now on.
    pub async fn open(
        js: &jetstream::Context,
        replicas: usize,
        reconnects: watch::Receiver<u64>,
        cache: TokenCache,
        local: &[(TokenInfo, String)],
    ) -> anyhow::Result<Self> {
        let store = bucket::open(js, TOKENS_BUCKET, "Panoptes API tokens (hashes)", Duration::ZERO, replicas).await?;
        let mut all = BTreeMap::new();
        let mut keys = store.keys().await?;
        use futures::StreamExt;
        while let Some(key) = keys.next().await {
            let key = key?;
            if let Some(value) = store.get(&key).await?
                && let Ok(info) = serde_json::from_slice::<TokenInfo>(&value)
            {
                all.insert(key, info);
            }
        }
        if !all.values().any(|t: &TokenInfo| t.access.is_full_admin()) {
            for (info, hash) in local.iter().filter(|(t, _)| t.access.is_full_admin()) {
                let info = TokenInfo { id: id_of(hash), ..info.clone() };
                match store.create(hash, serde_json::to_vec(&info)?.into()).await {
                    Ok(_) => tracing::info!(token = info.id, "brought this node's admin token to the cluster"),
                    Err(e) if e.kind() == kv::CreateErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e.into()),
                }
                all.insert(hash.clone(), info);
            }
        }
        cache.replace_all(all.iter().map(|(h, t)| (t.clone(), h.clone())));
        let all = Arc::new(Mutex::new(all));
        let (seen, cache_w) = (all.clone(), cache.clone());
        actix::spawn(bucket::follow(store.clone(), "tokens", reconnects, move |entry| {
            let mut all = seen.lock().unwrap_or_else(|e| e.into_inner());
            match entry.operation {
                kv::Operation::Put => {
                    if let Ok(info) = serde_json::from_slice::<TokenInfo>(&entry.value) {
                        cache_w.insert(entry.key.clone(), &info);
                        all.insert(entry.key, info);
                    }
                }
                kv::Operation::Delete | kv::Operation::Purge => {
                    cache_w.remove_hash(&entry.key);
                    all.remove(&entry.key);
                }
            }
        }));
        Ok(Self { store, all, cache })
    }

    /// Every token of the cluster, oldest first.
    pub fn list(&self) -> Vec<TokenInfo> {
        let mut list: Vec<TokenInfo> = self.all.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect();
        list.sort_by_key(|t| (t.created_ms, t.id));
        list
    }

    /// Add a token by the hash of its secret.
    pub async fn add(&self, name: &str, access: &Access, hash: &str) -> Result<TokenInfo, TokenError> {
        let info =
            TokenInfo { id: id_of(hash), name: name.to_string(), access: access.clone(), created_ms: now_unix_ms() };
        let json = serde_json::to_vec(&info).map_err(nats)?;
        self.store.create(hash, json.into()).await.map_err(nats)?;
        self.all.lock().unwrap_or_else(|e| e.into_inner()).insert(hash.to_string(), info.clone());
        self.cache.insert(hash.to_string(), &info);
        Ok(info)
    }

    /// Delete a token (not the last admin token for every camera).
    pub async fn delete(&self, id: i64) -> Result<(), TokenError> {
        let (hash, admins, full_admin) = {
            let all = self.all.lock().unwrap_or_else(|e| e.into_inner());
            let (hash, info) = all.iter().find(|(_, t)| t.id == id).ok_or(TokenError::Missing(id))?;
            (hash.clone(), all.values().filter(|t| t.access.is_full_admin()).count(), info.access.is_full_admin())
        };
        if full_admin && admins == 1 {
            return Err(TokenError::LastAdmin(id));
        }
        self.store.delete(&hash).await.map_err(nats)?;
        self.all.lock().unwrap_or_else(|e| e.into_inner()).remove(&hash);
        self.cache.remove_hash(&hash);
        Ok(())
    }
}
