//! How partitions, log offsets and user keys map onto LMDB keys.
//!
//! Every partition-scoped database key starts with an 8-byte prefix: the topic's
//! numeric id and the partition, both big-endian, so one partition's entries are
//! contiguous and a topic's entries can be dropped with one range delete.
//!
//! LMDB keys are limited to 511 bytes, but kvstore keys may be up to 16 KiB. A user
//! key of at most [`INLINE_KEY_MAX`] bytes is stored as itself, which keeps LMDB's
//! byte order equal to the key's byte order. A longer key is stored as its first
//! `INLINE_KEY_MAX` bytes followed by its SHA-256, with the full key kept in the
//! value. Such keys still sort correctly against every short key; only long keys
//! that share their first `INLINE_KEY_MAX` bytes sort by hash, and the scan puts
//! each such (contiguous) group back in byte order in memory.

use sha2::{Digest, Sha256};

/// Length of the topic id + partition prefix.
pub const PREFIX_LEN: usize = 8;
/// Longest user key stored inline; 8 + 448 + 32 stays under LMDB's 511-byte limit.
pub const INLINE_KEY_MAX: usize = 448;

/// The prefix of one partition's entries.
pub fn partition_prefix(topic_id: u32, partition: i32) -> [u8; PREFIX_LEN] {
    let mut p = [0u8; PREFIX_LEN];
    p[..4].copy_from_slice(&topic_id.to_be_bytes());
    p[4..].copy_from_slice(&(partition as u32).to_be_bytes());
    p
}

/// The prefix of all of a topic's entries.
pub fn topic_prefix(topic_id: u32) -> [u8; 4] {
    topic_id.to_be_bytes()
}

/// The first key after every key that starts with `prefix`, if any.
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut s = prefix.to_vec();
    while let Some(last) = s.pop() {
        if last < 0xff {
            s.push(last + 1);
            return Some(s);
        }
    }
    None
}

/// The log key of an offset.
pub fn log_key(prefix: &[u8; PREFIX_LEN], offset: u64) -> [u8; PREFIX_LEN + 8] {
    let mut k = [0u8; PREFIX_LEN + 8];
    k[..PREFIX_LEN].copy_from_slice(prefix);
    k[PREFIX_LEN..].copy_from_slice(&offset.to_be_bytes());
    k
}

/// The offset in a log key.
pub fn log_offset(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[PREFIX_LEN..PREFIX_LEN + 8]);
    u64::from_be_bytes(b)
}

/// Whether a user key needs the long-key form.
pub fn is_long(user_key: &[u8]) -> bool {
    user_key.len() > INLINE_KEY_MAX
}

/// The view key of a user key in a partition.
pub fn view_key(prefix: &[u8; PREFIX_LEN], user_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(PREFIX_LEN + user_key.len().min(INLINE_KEY_MAX + 32));
    k.extend_from_slice(prefix);
    if is_long(user_key) {
        k.extend_from_slice(&user_key[..INLINE_KEY_MAX]);
        k.extend_from_slice(&Sha256::digest(user_key));
    } else {
        k.extend_from_slice(user_key);
    }
    k
}

/// Where a scan starting at `user_key` begins in LMDB order: for a long key, at
/// the start of its group (the group is then filtered in memory).
pub fn view_seek_key(prefix: &[u8; PREFIX_LEN], user_key: &[u8]) -> Vec<u8> {
    let inline = &user_key[..user_key.len().min(INLINE_KEY_MAX)];
    let mut k = Vec::with_capacity(PREFIX_LEN + inline.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(inline);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_of_prefixes() {
        assert_eq!(prefix_successor(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_successor(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(prefix_successor(&[0xff, 0xff]), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn view_keys_fit_lmdb_and_keep_short_key_order() {
        let p = partition_prefix(7, 3);
        let long = vec![b'x'; 16 * 1024];
        assert!(view_key(&p, &long).len() <= 511);
        assert!(view_key(&p, b"a") < view_key(&p, b"b"));
        assert!(view_key(&p, &[0x00]) < view_key(&p, &[0xff]));
        // A short key that is a prefix of a long key sorts first, as in byte order.
        assert!(view_key(&p, &long[..INLINE_KEY_MAX]) < view_key(&p, &long));
    }

    #[test]
    fn partition_prefixes_are_ordered_and_distinct() {
        assert!(partition_prefix(1, 0) < partition_prefix(1, 1));
        assert!(partition_prefix(1, 9) < partition_prefix(2, 0));
        assert_eq!(log_offset(&log_key(&partition_prefix(1, 2), 42)), 42);
    }
}
