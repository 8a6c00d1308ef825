//! API tokens: roles, generating a secret, and the SHA-256 hash the store keeps instead of the secret.

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

/// A token as stored: never the secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub role: Role,
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

/// Hashes of the valid tokens → (id, role); filled from the store at start, kept current by the token API.
#[derive(Clone, Default)]
pub struct TokenCache(Arc<RwLock<HashMap<String, (i64, Role)>>>);

impl TokenCache {
    pub fn from_rows(rows: Vec<(TokenInfo, String)>) -> Self {
        let cache = Self::default();
        for (info, hash) in rows {
            cache.insert(hash, info.id, info.role);
        }
        cache
    }

    pub fn insert(&self, hash: String, id: i64, role: Role) {
        self.0.write().unwrap_or_else(|e| e.into_inner()).insert(hash, (id, role));
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
        let all = rows.into_iter().map(|(info, hash)| (hash, (info.id, info.role))).collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = all;
    }

    /// The role of a secret, if it is a valid token.
    pub fn role_of(&self, secret: &str) -> Option<Role> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(&hash(secret)).map(|(_, role)| *role)
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
}
