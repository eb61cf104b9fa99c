//! The values stored in LMDB: log records, view entries, partition state and topic metadata.

use serde::{Deserialize, Serialize};

use crate::config::TopicConfig;

/// A record header (Kafka headers have string keys and nullable values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// One record of a partition log. A `None` value is a tombstone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Milliseconds since the Unix epoch.
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<Header>,
}

impl Record {
    /// A record with a key and value, stamped by the caller.
    pub fn new(timestamp: i64, key: Option<Vec<u8>>, value: Option<Vec<u8>>) -> Self {
        Record {
            timestamp,
            key,
            value,
            headers: Vec::new(),
        }
    }

    /// The size Kafka would count for this record inside a batch (varint framing
    /// approximated by a fixed overhead), used for `max.message.bytes` and `retention.bytes`.
    pub fn wire_size(&self) -> usize {
        const RECORD_OVERHEAD: usize = 21;
        RECORD_OVERHEAD
            + self.key.as_ref().map_or(0, Vec::len)
            + self.value.as_ref().map_or(0, Vec::len)
            + self
                .headers
                .iter()
                .map(|h| 10 + h.key.len() + h.value.as_ref().map_or(0, Vec::len))
                .sum::<usize>()
    }

    pub fn encode(&self) -> Vec<u8> {
        // postcard cannot fail on these plain types with an in-memory writer.
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// Size Kafka counts for a batch of records: the v2 batch header plus each record.
pub fn batch_wire_size<'a>(records: impl IntoIterator<Item = &'a Record>) -> usize {
    const BATCH_HEADER: usize = 61;
    BATCH_HEADER + records.into_iter().map(Record::wire_size).sum::<usize>()
}

/// A record with its offset, as read back from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredRecord {
    pub offset: u64,
    pub record: Record,
}

/// The key-value view's entry for a key: the latest value and where it came from.
///
/// Layout: offset u64 BE | timestamp i64 BE | full-key length u32 BE | full key | value.
/// The full key is only stored for long keys (see `keys`); otherwise its length is 0.
pub struct ViewEntry<'a> {
    pub offset: u64,
    pub timestamp: i64,
    pub full_key: Option<&'a [u8]>,
    pub value: &'a [u8],
}

const VIEW_HEADER: usize = 20;

impl<'a> ViewEntry<'a> {
    pub fn encode(offset: u64, timestamp: i64, full_key: Option<&[u8]>, value: &[u8]) -> Vec<u8> {
        let fk = full_key.unwrap_or_default();
        let mut out = Vec::with_capacity(VIEW_HEADER + fk.len() + value.len());
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&(fk.len() as u32).to_be_bytes());
        out.extend_from_slice(fk);
        out.extend_from_slice(value);
        out
    }

    /// Decodes an entry; `None` if the bytes are not a view entry.
    pub fn decode(bytes: &'a [u8]) -> Option<Self> {
        let offset = u64::from_be_bytes(bytes.get(0..8)?.try_into().ok()?);
        let timestamp = i64::from_be_bytes(bytes.get(8..16)?.try_into().ok()?);
        let fk_len = u32::from_be_bytes(bytes.get(16..20)?.try_into().ok()?) as usize;
        let full_key = bytes.get(VIEW_HEADER..VIEW_HEADER + fk_len)?;
        let value = bytes.get(VIEW_HEADER + fk_len..)?;
        Some(ViewEntry {
            offset,
            timestamp,
            full_key: (fk_len > 0).then_some(full_key),
            value,
        })
    }
}

/// Per-partition bookkeeping, kept in the same transaction as the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionState {
    /// First offset still in the log.
    pub log_start: u64,
    /// Offset the next record gets (the high watermark).
    pub next_offset: u64,
    /// Sum of the wire sizes of the records in the log.
    pub log_bytes: u64,
    /// Number of records in the log (a compacted log has gaps).
    pub log_records: u64,
    /// Records appended since the last compaction pass.
    pub dirty_records: u64,
}

impl PartitionState {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_stdvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, postcard::Error> {
        postcard::from_bytes(bytes)
    }
}

/// A topic as stored: its id (the key prefix of its data), partitions and configs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub id: u32,
    pub name: String,
    pub partitions: i32,
    pub config: TopicConfig,
    pub created_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_entry_round_trip() {
        let e = ViewEntry::encode(5, -3, Some(b"kk"), b"value");
        let d = ViewEntry::decode(&e).unwrap();
        assert_eq!((d.offset, d.timestamp), (5, -3));
        assert_eq!(d.full_key, Some(&b"kk"[..]));
        assert_eq!(d.value, b"value");
        let e = ViewEntry::encode(1, 2, None, b"");
        let d = ViewEntry::decode(&e).unwrap();
        assert_eq!(d.full_key, None);
        assert!(d.value.is_empty());
        assert!(ViewEntry::decode(&[1, 2, 3]).is_none());
    }

    #[test]
    fn record_round_trip() {
        let mut r = Record::new(7, Some(b"k".to_vec()), None);
        r.headers.push(Header {
            key: "h".into(),
            value: Some(vec![1]),
        });
        assert_eq!(Record::decode(&r.encode()).unwrap(), r);
    }
}
