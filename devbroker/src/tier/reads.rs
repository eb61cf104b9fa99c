//! Reads from the bucket (below the local log start) and the cache of the
//! segments they downloaded.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::{Result, Tier, TierError, layout};
use crate::storage::{StoredRecord, now_ms};

/// The last few segments read from the bucket, decoded (a consumer reading
/// below the local log start reads one segment many times).
#[derive(Default)]
pub(super) struct SegmentCache {
    entries: Mutex<VecDeque<(String, Arc<Vec<StoredRecord>>)>>,
}

impl SegmentCache {
    /// Segments kept.
    const CACHED: usize = 8;

    fn get(&self, key: &str) -> Option<Arc<Vec<StoredRecord>>> {
        let c = self.entries.lock().ok()?;
        c.iter().find(|(k, _)| k == key).map(|(_, r)| r.clone())
    }

    fn insert(&self, key: String, records: Arc<Vec<StoredRecord>>) {
        if let Ok(mut c) = self.entries.lock() {
            c.push_front((key, records));
            c.truncate(Self::CACHED);
        }
    }

    #[cfg(test)]
    pub(super) fn clear(&self) {
        if let Ok(mut c) = self.entries.lock() {
            c.clear();
        }
    }
}

impl Tier {
    /// The first offset the bucket holds for a partition (Kafka ListOffsets
    /// "earliest" is the smaller of this and the local log start).
    pub fn log_start(&self, topic: &str, partition: i32) -> Option<u64> {
        let part = self.part(topic, partition)?;
        let s = part.state.lock().ok()?;
        s.manifest.segments.first().map(|sg| sg.base_offset)
    }

    /// Records of a partition from `from` on, read from the bucket: at most
    /// `max_bytes` (the first record always whole), all from one segment. Empty
    /// when the bucket has nothing at or after `from`. For fetches below the local
    /// log start (HTTP Proxy records, Kafka Fetch).
    pub async fn read_records(
        &self,
        topic: &str,
        partition: i32,
        from: u64,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>> {
        let Some(part) = self.part(topic, partition) else {
            return Ok(Vec::new());
        };
        let seg = {
            let s = part
                .state
                .lock()
                .map_err(|_| TierError::Other("partition state poisoned".into()))?;
            let segs = &s.manifest.segments;
            let i = segs.partition_point(|sg| sg.last_offset < from);
            segs.get(i).cloned()
        };
        let Some(seg) = seg else {
            return Ok(Vec::new());
        };
        let records = self.segment_records(&seg).await?;
        // Records past the topic's (total) retention are gone from the log, here too.
        let cutoff = self.inner.db.topic(topic).and_then(|m| {
            m.config
                .retention_ms()
                .filter(|_| m.config.cleanup_policy().delete)
                .map(|ms| now_ms().saturating_sub(ms))
        });
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for r in records
            .iter()
            .filter(|r| r.offset >= from && cutoff.is_none_or(|c| r.record.timestamp >= c))
        {
            bytes += r.record.wire_size();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(r.clone());
        }
        Ok(out)
    }

    /// A segment's records, downloaded, verified and cached.
    pub(super) async fn segment_records(
        &self,
        seg: &layout::SegmentInfo,
    ) -> Result<Arc<Vec<StoredRecord>>> {
        if let Some(records) = self.inner.cache.get(&seg.key) {
            return Ok(records);
        }
        let bytes = self.get(&seg.key).await?;
        let records = Arc::new(verify_segment(&seg.key, &seg.sha256, &bytes)?);
        self.inner.cache.insert(seg.key.clone(), records.clone());
        Ok(records)
    }
}

/// Verifies a segment object against the manifest's checksum and decodes it.
fn verify_segment(key: &str, sha256: &str, bytes: &[u8]) -> Result<Vec<StoredRecord>> {
    let corrupt = |reason: String| TierError::Corrupt {
        path: key.to_string(),
        reason,
    };
    let records = layout::decode_segment(bytes).map_err(|e| corrupt(e.0))?;
    let trailer = hex::encode(&bytes[bytes.len() - 32..]);
    if !sha256.is_empty() && !trailer.eq_ignore_ascii_case(sha256) {
        return Err(corrupt(format!(
            "sha256 {trailer} differs from the manifest's {sha256}"
        )));
    }
    Ok(records)
}
