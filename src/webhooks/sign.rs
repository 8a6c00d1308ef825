//! The signature of a delivery: `X-Panoptes-Signature: sha256=<hex>`, the HMAC-SHA256 under the hook's secret
//! of `<timestamp>.<body>`, where `<timestamp>` is the `X-Panoptes-Timestamp` header (Unix seconds). Signing
//! the time with the body lets a receiver refuse replays: it recomputes the HMAC, compares in constant time,
//! and rejects timestamps more than a few minutes old (`docs/integrations.md` shows a receiver).

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header value for `body` sent at `timestamp` (Unix seconds) under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(7 + 64);
    hex.push_str("sha256=");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_independent_hmac_sha256() {
        // Computed with Python's hmac module:
        // hmac.new(b"Jefe", b"1700000000.what do ya want for nothing?", "sha256").hexdigest()
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, b"what do ya want for nothing?"),
            "sha256=1cdd0650c8be1cb0974b1788d458b1e781206cfef59b85faafc582d2e182c57e"
        );
    }

    #[test]
    fn any_change_of_secret_time_or_body_changes_it() {
        let base = signature(b"s3cret", 1, b"{\"id\":1}");
        assert_ne!(base, signature(b"s3creT", 1, b"{\"id\":1}"));
        assert_ne!(base, signature(b"s3cret", 2, b"{\"id\":1}"));
        assert_ne!(base, signature(b"s3cret", 1, b"{\"id\":2}"));
        assert_eq!(base.len(), 7 + 64);
    }
}
