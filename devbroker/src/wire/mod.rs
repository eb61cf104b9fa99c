//! Wire types shared by the broker and its clients: the kvstore bodies
//! (Proto-JSON and protobuf), the HTTP Proxy bodies and base64 helpers.

pub mod b64;
pub mod kvstore;
pub mod proxy;

use sha2::{Digest, Sha256};

/// Hex SHA-256 of a value, the form `ifMatches` compares against.
pub fn sha256_hex(value: &[u8]) -> String {
    hex::encode(Sha256::digest(value))
}

/// Largest key the kvstore accepts, in bytes (Redpanda's limit).
pub const MAX_KEY_BYTES: usize = 16 * 1024;
/// Largest number of entries one scan returns.
pub const MAX_SCAN_LIMIT: i32 = 1000;
/// Entries a scan returns when it sets no limit.
pub const DEFAULT_SCAN_LIMIT: i32 = 500;
