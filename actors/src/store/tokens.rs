//! API tokens: roles, camera scopes, generating a secret, and the SHA-256 hash the store keeps instead of the
//! secret.

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// What a token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// GET routes and the WebSocket channels.
    Viewer,
}

impl Role {
    /// The stored (and JSON) name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "admin" => Some(Role::Admin),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// What a token may do: its role, over every camera or over some only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Access {
    pub role: Role,
    /// The cameras it may see and (admin) change, sorted; `None`: every camera, and the routes that are not
    /// about one camera (tokens, webhooks, adding cameras).
    #[serde(default)]
    pub cameras: Option<Vec<String>>,
}

impl Access {
    /// A role over every camera.
    pub fn all(role: Role) -> Self {
        Self { role, cameras: None }
    }

    /// A role over these cameras only (sorted, each once).
    pub fn scoped(role: Role, cameras: impl IntoIterator<Item = String>) -> Self {
        let mut cameras: Vec<String> = cameras.into_iter().collect();
        cameras.sort_unstable();
        cameras.dedup();
        Self { role, cameras: Some(cameras) }
    }

    /// Whether this camera's data is within reach.
    pub fn allows(&self, camera: &str) -> bool {
        self.cameras.as_ref().is_none_or(|cs| cs.binary_search_by(|c| c.as_str().cmp(camera)).is_ok())
    }

    /// Limited to some cameras.
    pub fn is_scoped(&self) -> bool {
        self.cameras.is_some()
    }

    /// Admin over every camera: what manages tokens, and what an installation must always keep one of.
    pub fn is_full_admin(&self) -> bool {
        self.role == Role::Admin && self.cameras.is_none()
    }
}

/// A token as stored: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    #[serde(flatten)]
    pub access: Access,
    /// When it was created, Unix milliseconds.
    pub created_ms: i64,
}

/// The stored form of a secret: lowercase hex SHA-256.
pub fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random secret: 32 bytes from the OS generator, as 64 hex characters, prefixed `pt_`.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("pt_{hex}")
}

/// Hashes of the valid tokens → (id, access); filled from the store at start, kept current by the token API.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<RwLock<HashMap<String, (i64, Access)>>>);

impl TokenCache {
    pub fn from_rows(rows: Vec<(TokenInfo, String)>) -> Self {
        let cache = Self::default();
        for (info, hash) in rows {
            cache.insert(hash, &info);
        }
        cache
    }

    pub fn insert(&self, hash: String, info: &TokenInfo) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(hash, (info.id, info.access.clone()));
    }

    pub fn remove(&self, id: i64) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).retain(|_, (i, _)| *i != id);
    }

    /// Forget the token of this hash.
    pub fn remove_hash(&self, hash: &str) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).remove(hash);
    }

    /// Hold exactly these tokens (cluster mode: the cluster's, in place of the local store's).
    pub fn replace_all(&self, rows: impl IntoIterator<Item = (TokenInfo, String)>) {
        let all = rows.into_iter().map(|(info, hash)| (hash, (info.id, info.access))).collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = all;
    }

    /// What a secret may do, if it is a valid token.
    pub fn access_of(&self, secret: &str) -> Option<Access> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(&hash(secret)).map(|(_, access)| access.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        // Reference: `printf abc | sha256sum` (FIPS 180-2 test vector).
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn generated_secrets_differ_and_roles_round_trip() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 3 + 64);
        for role in [Role::Admin, Role::Viewer] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn a_scope_allows_its_cameras_only() {
        let scoped = Access::scoped(Role::Viewer, ["yard".to_string(), "gate".into(), "yard".into()]);
        assert_eq!(scoped.cameras.as_deref(), Some(&["gate".to_string(), "yard".into()][..]));
        assert!(scoped.allows("gate") && scoped.allows("yard"));
        assert!(!scoped.allows("lobby") && !scoped.allows("") && !scoped.allows("gat"));
        assert!(Access::all(Role::Viewer).allows("lobby"));
        assert!(!Access::scoped(Role::Admin, []).allows("yard"), "an empty scope reaches no camera");
    }

    #[test]
    fn token_json_keeps_role_and_cameras_at_the_top_and_reads_tokens_made_before_scopes() {
        let info = TokenInfo {
            id: 3,
            name: "gate desk".into(),
            access: Access::scoped(Role::Viewer, ["gate".into()]),
            created_ms: 9,
        };
        let json = serde_json::to_value(&info).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"id": 3, "name": "gate desk", "role": "viewer", "cameras": ["gate"], "created_ms": 9})
        );
        let old: TokenInfo = serde_json::from_str(r#"{"id":1,"name":"a","role":"admin","created_ms":2}"#).unwrap();
        assert_eq!(old.access, Access::all(Role::Admin));
    }
}
