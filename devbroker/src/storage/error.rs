//! Storage errors. Each message says what was wrong and, where it helps, what to do.

use crate::config::ConfigError;
use crate::wire::b64;

/// Errors of the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("topic {0:?} does not exist")]
    UnknownTopic(String),
    #[error("topic {topic:?} has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: i32,
        partitions: i32,
    },
    #[error("topic {0:?} is not a kvstore topic; create it with redpanda.kvstore=cloud")]
    NotKvstore(String),
    #[error("topic {0:?} already exists")]
    TopicExists(String),
    #[error("precondition failed for key {key}: {reason}")]
    PreconditionFailed { key: String, reason: String },
    #[error("{0}")]
    InvalidRequest(String),
    #[error(
        "batch of {size} bytes is larger than max.message.bytes ({max}) of topic {topic:?}; split it or raise max.message.bytes"
    )]
    BatchTooLarge {
        topic: String,
        size: usize,
        max: usize,
    },
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    #[error(
        "storage is full (LMDB map size reached); delete data or restart with a larger --max-db-size"
    )]
    StorageFull,
    #[error("storage is corrupt: {0}")]
    Corrupt(String),
    #[error("storage I/O error: {0}")]
    Io(String),
    #[error("storage is shutting down")]
    Closed,
    /// The write fence is set (see `storage::fence`): another broker took over.
    #[error("this broker is fenced and refuses writes: {0}")]
    Fenced(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<heed::Error> for StoreError {
    fn from(e: heed::Error) -> Self {
        match e {
            heed::Error::Mdb(heed::MdbError::MapFull) => StoreError::StorageFull,
            heed::Error::Decoding(e) | heed::Error::Encoding(e) => {
                StoreError::Corrupt(e.to_string())
            }
            other => StoreError::Io(other.to_string()),
        }
    }
}

impl StoreError {
    /// Errors after which the write transaction must be abandoned.
    pub(crate) fn poisons_txn(&self) -> bool {
        matches!(
            self,
            StoreError::StorageFull | StoreError::Io(_) | StoreError::Corrupt(_)
        )
    }
}

/// A key as a person can read it: quoted text when it is printable UTF-8,
/// else base64 with a `base64:` tag.
pub fn display_key(key: &[u8]) -> String {
    const MAX: usize = 64;
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => {
            if s.chars().count() > MAX {
                let cut: String = s.chars().take(MAX).collect();
                format!("{cut:?}... ({} bytes)", key.len())
            } else {
                format!("{s:?}")
            }
        }
        _ if key.len() > MAX => format!(
            "base64:{}... ({} bytes)",
            b64::encode(&key[..MAX]),
            key.len()
        ),
        _ => format!("base64:{}", b64::encode(key)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_display_readably() {
        assert_eq!(display_key(b"foo"), "\"foo\"");
        assert_eq!(display_key(&[0xff, 0x00]), "base64:/wA=");
        assert!(display_key(&[b'a'; 100]).ends_with("(100 bytes)"));
    }
}
