//! Evidence export packages: a zip of an incident's files (events as JSON, snapshots, clips or recorded
//! segments) with `manifest.json` (every file's size and SHA-256) and `manifest.sig` (the node's Ed25519
//! signature of the manifest's exact bytes, hex). [`verify`] checks a package: the signature, each file
//! against the manifest, and that the zip holds nothing the manifest does not list. `docs/evidence.md`.
//!
//! The node's key is generated at first start and kept beside the store (`panoptes-export.key`, the 32-byte
//! seed in hex, readable by its owner only); `GET /api/exports/key` publishes its public half, which a
//! recipient compares with the one a package names (`panoptes verify --key`).

use anyhow::Context;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::{Cursor, Read, Write};
use std::path::Path;

/// What `manifest.json` says it is.
pub const FORMAT: &str = "panoptes-export/1";
const MANIFEST: &str = "manifest.json";
const SIGNATURE: &str = "manifest.sig";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// This node's signing key.
pub struct ExportKey(SigningKey);

impl ExportKey {
    /// Read the key at `path`, or make one there (mode 0600) when there is none.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let seed: [u8; 32] = unhex(text.trim()).and_then(|b| b.try_into().ok()).with_context(|| {
                    format!("{} is not an export key (64 hex digits); move it away to make a new one", path.display())
                })?;
                Ok(Self(SigningKey::from_bytes(&seed)))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut seed = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rng(), &mut seed);
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                }
                let mut f = std::fs::OpenOptions::new();
                f.write(true).create_new(true);
                std::os::unix::fs::OpenOptionsExt::mode(&mut f, 0o600);
                let mut file = f.open(path).with_context(|| format!("writing the export key {}", path.display()))?;
                file.write_all(hex(&seed).as_bytes())?;
                file.sync_all()?;
                tracing::info!(key = %path.display(), "made this node's evidence export key");
                Ok(Self(SigningKey::from_bytes(&seed)))
            }
            Err(e) => Err(e).with_context(|| format!("reading the export key {}", path.display())),
        }
    }

    pub fn public_hex(&self) -> String {
        hex(self.0.verifying_key().as_bytes())
    }

    /// The first 16 hex digits of the public key's SHA-256: short enough to read out over the phone.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.0.verifying_key().as_bytes())
    }
}

fn fingerprint(public: &[u8]) -> String {
    sha256_hex(public)[..16].to_owned()
}

/// One file of a package as the manifest lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The signer's key as the manifest names it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct KeyEntry {
    pub algorithm: String,
    pub public_key: String,
}

/// `manifest.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub created_ms: i64,
    /// The node that made it.
    pub node: String,
    /// What was asked for (the request's body).
    pub request: serde_json::Value,
    pub key: KeyEntry,
    pub files: Vec<FileEntry>,
    /// What was asked for but could not be included, and why (e.g. a clip no longer recorded).
    pub missing: Vec<serde_json::Value>,
}

/// Build the zip: `files` (path in the zip, bytes), then the manifest and its signature.
pub fn package(
    key: &ExportKey,
    node: &str,
    created_ms: i64,
    request: serde_json::Value,
    files: &[(String, Vec<u8>)],
    missing: Vec<serde_json::Value>,
) -> anyhow::Result<Vec<u8>> {
    let manifest = Manifest {
        format: FORMAT.into(),
        created_ms,
        node: node.into(),
        request,
        key: KeyEntry { algorithm: "ed25519".into(), public_key: key.public_hex() },
        files: files
            .iter()
            .map(|(path, bytes)| FileEntry { path: path.clone(), bytes: bytes.len() as u64, sha256: sha256_hex(bytes) })
            .collect(),
        missing,
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest)?;
    let signature = key.0.sign(&manifest_json);
    // Stored, not deflated: clips, snapshots and segments are compressed already.
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in files {
        zip.start_file(path.as_str(), options)?;
        zip.write_all(bytes)?;
    }
    zip.start_file(MANIFEST, options)?;
    zip.write_all(&manifest_json)?;
    zip.start_file(SIGNATURE, options)?;
    zip.write_all(hex(&signature.to_bytes()).as_bytes())?;
    Ok(zip.finish()?.into_inner())
}

/// A package that verified.
#[derive(Debug)]
pub struct Verified {
    pub manifest: Manifest,
    pub fingerprint: String,
}

/// Why a package does not verify, naming the file.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum VerifyError {
    #[error("not a readable zip: {0}")]
    NotZip(String),
    #[error("{0} is missing: this is not a Panoptes export")]
    NoManifest(&'static str),
    #[error("manifest.json cannot be read: {0}")]
    BadManifest(String),
    #[error("the signature does not match manifest.json: the manifest was changed, or signed by another key")]
    BadSignature,
    #[error("signed by key {found} (fingerprint), not by the expected key {expected}")]
    OtherKey { found: String, expected: String },
    #[error("{path}: listed in the manifest but not in the zip")]
    Missing { path: String },
    #[error("{path}: its content differs from the manifest (size or SHA-256): the file was changed")]
    Changed { path: String },
    #[error("{path}: in the zip but not in the signed manifest")]
    Extra { path: String },
}

/// An entry's bytes: `None` when the zip has no such entry, `Some(Err)` when it cannot be read whole (its
/// checksum fails: changed).
fn read_entry(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Result<Vec<u8>, ()>> {
    let mut f = zip.by_name(name).ok()?;
    let mut out = Vec::new();
    Some(f.read_to_end(&mut out).map(|_| out).map_err(|_| ()))
}

/// Check a package: the manifest's signature under the key it names (and, with `expected`, that this is the
/// expected public key, hex), every listed file's size and SHA-256, and no unlisted file.
pub fn verify(bytes: &[u8], expected: Option<&str>) -> Result<Verified, VerifyError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| VerifyError::NotZip(e.to_string()))?;
    let manifest_json = read_entry(&mut zip, MANIFEST)
        .ok_or(VerifyError::NoManifest(MANIFEST))?
        .map_err(|()| VerifyError::BadSignature)?;
    let signature = read_entry(&mut zip, SIGNATURE)
        .ok_or(VerifyError::NoManifest(SIGNATURE))?
        .map_err(|()| VerifyError::BadSignature)?;
    let manifest: Manifest =
        serde_json::from_slice(&manifest_json).map_err(|e| VerifyError::BadManifest(e.to_string()))?;
    if manifest.format != FORMAT || manifest.key.algorithm != "ed25519" {
        return Err(VerifyError::BadManifest(format!(
            "format {} with {} keys; this panoptes reads {FORMAT} with ed25519",
            manifest.format, manifest.key.algorithm
        )));
    }
    let public: [u8; 32] = unhex(&manifest.key.public_key)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| VerifyError::BadManifest("key.public_key is not 64 hex digits".into()))?;
    let key = VerifyingKey::from_bytes(&public).map_err(|_| VerifyError::BadSignature)?;
    let signature: [u8; 64] = std::str::from_utf8(&signature)
        .ok()
        .and_then(|s| unhex(s.trim()))
        .and_then(|b| b.try_into().ok())
        .ok_or(VerifyError::BadSignature)?;
    key.verify(&manifest_json, &Signature::from_bytes(&signature)).map_err(|_| VerifyError::BadSignature)?;
    let found = fingerprint(&public);
    if let Some(expected) = expected {
        let expected_fp = unhex(expected.trim()).map_or_else(|| expected.trim().to_lowercase(), |b| fingerprint(&b));
        if expected_fp != found && expected.trim().to_lowercase() != found {
            return Err(VerifyError::OtherKey { found, expected: expected_fp });
        }
    }
    for entry in &manifest.files {
        let changed = || VerifyError::Changed { path: entry.path.clone() };
        let bytes = read_entry(&mut zip, &entry.path)
            .ok_or_else(|| VerifyError::Missing { path: entry.path.clone() })?
            .map_err(|()| changed())?;
        if bytes.len() as u64 != entry.bytes || sha256_hex(&bytes) != entry.sha256 {
            return Err(changed());
        }
    }
    for name in zip.file_names() {
        let name = name.map_err(|e| VerifyError::NotZip(e.to_string()))?;
        if name != MANIFEST && name != SIGNATURE && !manifest.files.iter().any(|f| f.path == name) {
            return Err(VerifyError::Extra { path: name.into_owned() });
        }
    }
    Ok(Verified { manifest, fingerprint: found })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &Path) -> ExportKey {
        ExportKey::load_or_create(&dir.join("k")).unwrap()
    }

    fn sample(key: &ExportKey) -> Vec<u8> {
        let files = vec![
            ("events.json".to_string(), br#"[{"id":1}]"#.to_vec()),
            ("snapshots/1.jpg".to_string(), vec![0xff, 0xd8, 0xff, 1, 2, 3]),
        ];
        package(key, "node-a", 1, serde_json::json!({"events": [1]}), &files, vec![]).unwrap()
    }

    /// The offset of `needle` in `hay`.
    fn find(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len()).position(|w| w == needle).unwrap()
    }

    #[test]
    fn a_package_verifies_and_the_key_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(dir.path());
        let v = verify(&sample(&k), Some(&k.public_hex())).unwrap();
        assert_eq!(v.manifest.files.len(), 2);
        assert_eq!(v.fingerprint, k.fingerprint());
        assert_eq!(key(dir.path()).public_hex(), k.public_hex(), "the same key after a restart");
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join("k")).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn any_changed_byte_fails_naming_what() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(dir.path());
        let good = sample(&k);
        // A byte of a file's content.
        let mut bad = good.clone();
        bad[find(&good, &[0xff, 0xd8, 0xff, 1]) + 4] ^= 1;
        assert_eq!(verify(&bad, None).unwrap_err(), VerifyError::Changed { path: "snapshots/1.jpg".into() });
        // The same, re-zipped so the zip's own checksums are right: only the manifest's hash tells.
        let mut source = zip::ZipArchive::new(Cursor::new(&good[..])).unwrap();
        let mut rezipped = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..source.len() {
            let mut f = source.by_index(i).unwrap();
            let (name, mut bytes) = (f.name().unwrap().into_owned(), Vec::new());
            f.read_to_end(&mut bytes).unwrap();
            if name == "snapshots/1.jpg" {
                bytes[4] ^= 1;
            }
            rezipped.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
            rezipped.write_all(&bytes).unwrap();
        }
        let bad = rezipped.finish().unwrap().into_inner();
        assert_eq!(verify(&bad, None).unwrap_err(), VerifyError::Changed { path: "snapshots/1.jpg".into() });
        // A byte of the manifest (a listed hash).
        let mut bad = good.clone();
        let at = find(&good, b"\"sha256\": \"") + 11;
        bad[at] = if bad[at] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify(&bad, None).unwrap_err(), VerifyError::BadSignature);
        // Signed by another node's key.
        let other = ExportKey::load_or_create(&dir.path().join("other")).unwrap();
        let err = verify(&good, Some(&other.public_hex())).unwrap_err();
        assert!(matches!(err, VerifyError::OtherKey { .. }), "{err}");
        assert!(verify(&good, Some(&k.fingerprint())).is_ok(), "the fingerprint is accepted as the expected key");
        assert!(matches!(verify(b"not a zip", None).unwrap_err(), VerifyError::NotZip(_)));
    }

    #[test]
    fn a_file_added_after_signing_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let k = key(dir.path());
        let mut zip = zip::ZipWriter::new_append(Cursor::new(sample(&k))).unwrap();
        zip.start_file("planted.jpg", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(b"x").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert_eq!(verify(&bytes, None).unwrap_err(), VerifyError::Extra { path: "planted.jpg".into() });
    }
}
