//! rpkv-wire: what the dev broker and the rpkv client share, defined once so
//! the two cannot drift apart: the kvstore bodies (Proto-JSON and protobuf),
//! the HTTP Proxy bodies, base64 helpers, Kafka's default partitioner and the
//! SCRAM exchange of Kafka SASL (both sides).
//!
//! It is small on purpose (serde, prost, base64, sha2, hmac, pbkdf2): the rpkv client
//! library depends on it without compiling the broker.

pub mod b64;
pub mod kvstore;
pub mod partitioner;
pub mod proxy;
pub mod scram;

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
