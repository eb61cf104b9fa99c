//! A key's history: every version of it in its partition's log, read through
//! the HTTP Proxy from the first offset on.

use super::Client;
use super::error::Result;

/// Records read at most for one key's history.
pub const HISTORY_RECORD_CAP: u64 = 5_000_000;
/// Versions kept at most (the newest).
pub const HISTORY_VERSION_CAP: usize = 1000;

/// One version of a key, from the topic log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVersion {
    pub offset: i64,
    pub timestamp: Option<i64>,
    /// `None` for a tombstone (delete).
    pub value: Option<Vec<u8>>,
}

/// What a key's history found.
#[derive(Clone, Debug)]
pub struct KeyHistory {
    /// Oldest first; at most [`HISTORY_VERSION_CAP`], the newest.
    pub versions: Vec<KeyVersion>,
    /// Records read from the log to find them.
    pub scanned: u64,
    /// True when the read stopped at [`HISTORY_RECORD_CAP`] records before
    /// the end of the log.
    pub truncated: bool,
}

impl Client {
    /// Every version of `key` in the log of `partition`, oldest first.
    pub async fn key_history(&self, topic: &str, partition: i32, key: &[u8]) -> Result<KeyHistory> {
        self.key_history_capped(
            topic,
            partition,
            key,
            HISTORY_RECORD_CAP,
            HISTORY_VERSION_CAP,
        )
        .await
    }

    async fn key_history_capped(
        &self,
        topic: &str,
        partition: i32,
        key: &[u8],
        record_cap: u64,
        version_cap: usize,
    ) -> Result<KeyHistory> {
        let mut offset = 0i64;
        let mut versions: std::collections::VecDeque<KeyVersion> = Default::default();
        let mut scanned = 0u64;
        loop {
            let batch = self
                .fetch_records(topic, partition, offset, 0, 4 << 20)
                .await?;
            let Some(last) = batch.last() else {
                return Ok(KeyHistory {
                    versions: versions.into(),
                    scanned,
                    truncated: false,
                });
            };
            offset = last.offset + 1;
            scanned += batch.len() as u64;
            for r in batch {
                if r.key.as_deref() == Some(key) {
                    versions.push_back(KeyVersion {
                        offset: r.offset,
                        timestamp: r.timestamp,
                        value: r.value,
                    });
                    if versions.len() > version_cap {
                        versions.pop_front();
                    }
                }
            }
            if scanned >= record_cap {
                return Ok(KeyHistory {
                    versions: versions.into(),
                    scanned,
                    truncated: true,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_broker::TestBroker;

    #[tokio::test]
    async fn history_lists_puts_and_deletes_of_one_key_oldest_first() {
        let b = TestBroker::start(&["t:1"]).await;
        let c = &b.client;
        c.put("t", 0, b"k".to_vec(), b"v1".to_vec(), None)
            .await
            .unwrap();
        c.put("t", 0, b"other".to_vec(), b"x".to_vec(), None)
            .await
            .unwrap();
        c.put("t", 0, b"k".to_vec(), b"".to_vec(), None)
            .await
            .unwrap();
        c.delete("t", 0, vec![b"k".to_vec()], None).await.unwrap();
        c.put("t", 0, b"k".to_vec(), b"v3".to_vec(), None)
            .await
            .unwrap();
        let h = c.key_history("t", 0, b"k").await.expect("history");
        let values: Vec<Option<&[u8]>> = h.versions.iter().map(|v| v.value.as_deref()).collect();
        assert_eq!(
            values,
            vec![Some(&b"v1"[..]), Some(&b""[..]), None, Some(&b"v3"[..])]
        );
        assert!(h.versions.windows(2).all(|w| w[0].offset < w[1].offset));
        assert_eq!(h.scanned, 5);
        assert!(!h.truncated);
        // The caps keep the newest versions and say the read stopped early.
        let h = c.key_history_capped("t", 0, b"k", 1, 2).await.unwrap();
        assert!(h.truncated);
        let h = c.key_history_capped("t", 0, b"k", 100, 2).await.unwrap();
        let values: Vec<Option<&[u8]>> = h.versions.iter().map(|v| v.value.as_deref()).collect();
        assert_eq!(values, vec![None, Some(&b"v3"[..])]);
        b.stop().await;
    }
}
