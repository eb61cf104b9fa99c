//! Shared pieces of the benchmark harness (`tests/bench/run.sh`): the key and
//! value shapes every system gets, and the canned reply of the no-op server.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Every key is 16 bytes.
pub const KEY_LEN: usize = 16;
/// Every value is 256 bytes.
pub const VALUE_LEN: usize = 256;

/// The `i`th key: `key-000000000042` (16 bytes; byte order = numeric order).
pub fn key(i: u64) -> [u8; KEY_LEN] {
    let mut k = [0u8; KEY_LEN];
    let s = format!("key-{:012}", i % 1_000_000_000_000);
    k.copy_from_slice(s.as_bytes());
    k
}

/// The value preloaded for the `i`th key (256 bytes).
pub fn value(i: u64) -> Vec<u8> {
    let mut v = format!("value-of-{i:012}-").into_bytes();
    let fill = b"abcdefghijklmnopqrstuvwxyz0123456789";
    while v.len() < VALUE_LEN {
        v.push(fill[v.len() % fill.len()]);
    }
    v.truncate(VALUE_LEN);
    v
}

/// A CAS counter as a 256-byte value: 20 decimal digits, then padding.
pub fn counter_value(n: u64) -> Vec<u8> {
    let mut v = format!("{n:020}").into_bytes();
    v.resize(VALUE_LEN, b'.');
    v
}

/// The counter in a value written by [`counter_value`]; 0 for any other value.
pub fn parse_counter(v: &[u8]) -> u64 {
    v.get(..20)
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Standard base64.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// The dev broker's JSON reply to a batch_get of `n` present keys of these sizes,
/// byte for byte in shape and size: the no-op server's canned body.
pub fn batch_get_reply(n: usize, key_len: usize, value_len: usize) -> Vec<u8> {
    let mut out = String::from("{\"results\":[");
    for i in 0..n {
        if i > 0 {
            out.push(',');
        }
        let k = &key(i as u64)[..];
        let mut kk = k.to_vec();
        kk.resize(key_len, b'k');
        let mut v = value(i as u64);
        v.resize(value_len, b'v');
        out.push_str("{\"key\":\"");
        out.push_str(&b64(&kk));
        out.push_str("\",\"value\":\"");
        out.push_str(&b64(&v));
        out.push_str("\"}");
    }
    out.push_str("]}");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(key(42).len(), KEY_LEN);
        assert!(key(9) < key(10));
        assert_eq!(value(7).len(), VALUE_LEN);
        assert_eq!(parse_counter(&counter_value(12345)), 12345);
        assert_eq!(counter_value(1).len(), VALUE_LEN);
        assert_eq!(parse_counter(&value(3)), 0);
        let reply: serde_json::Value =
            serde_json::from_slice(&batch_get_reply(100, KEY_LEN, VALUE_LEN)).unwrap();
        assert_eq!(reply["results"].as_array().unwrap().len(), 100);
    }
}
