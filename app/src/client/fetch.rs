//! Kafka Fetch for [`Client::watch`](super::Client::watch): the long-poll
//! request, and the record batches of an answer decoded with kafka-protocol's
//! `RecordBatchDecoder` into records with their offsets.
//!
//! Splitting the `records` bytes into batches is done here by hand (twelve
//! bytes of framing) because a broker may end an answer with a truncated batch
//! (Kafka cuts at `max_bytes`), which the decoder would refuse as a whole.

use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::FetchRequest;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{BrokerId, FetchResponse};
use kafka_protocol::records::RecordBatchDecoder;

use super::kafka::{Supported, topic_name};

impl Supported for FetchRequest {
    // v4: isolation level and last stable offset; v12 is the last with topic
    // names (v13 switches to topic ids).
    const OURS: (i16, i16) = (4, 12);
}

/// Most bytes one Fetch answer may carry, and one partition of it.
const MAX_BYTES: i32 = 8 << 20;
const PARTITION_MAX_BYTES: i32 = 1 << 20;

/// Bytes of a v2 batch before its records: base offset (8), length (4),
/// leader epoch (4), magic (1), crc (4), attributes (2), last offset delta (4),
/// timestamps (16), producer id, epoch, base sequence (14), record count (4).
const BATCH_HEADER: usize = 61;
/// Framing counted outside a batch's length field: base offset + length.
const LOG_OVERHEAD: usize = 12;

/// One record of a partition's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LogRecord {
    pub offset: i64,
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// A Fetch of `partitions` (partition, offset to read from) of one topic,
/// waiting up to `max_wait` for the first byte.
pub(crate) fn request(topic: &str, partitions: &[(i32, i64)], max_wait: Duration) -> FetchRequest {
    let wait = i32::try_from(max_wait.as_millis()).unwrap_or(i32::MAX);
    FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(wait)
        .with_min_bytes(1)
        .with_max_bytes(MAX_BYTES)
        // Read uncommitted: kvstore writes are not transactional; control
        // batches (commit/abort markers) are skipped below.
        .with_isolation_level(0)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(topic_name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|&(partition, offset)| {
                            FetchPartition::default()
                                .with_partition(partition)
                                .with_current_leader_epoch(-1)
                                .with_fetch_offset(offset)
                                .with_log_start_offset(-1)
                                .with_partition_max_bytes(PARTITION_MAX_BYTES)
                        })
                        .collect(),
                ),
        ])
}

/// The answer for one partition of a [`request`].
#[derive(Debug)]
pub(crate) struct PartitionAnswer {
    pub partition: i32,
    pub error_code: i16,
    pub high_watermark: i64,
    pub log_start: i64,
    pub records: Bytes,
}

/// Flattens a Fetch response into per-partition answers.
pub(crate) fn answers(resp: FetchResponse) -> Vec<PartitionAnswer> {
    resp.responses
        .into_iter()
        .flat_map(|t| t.partitions)
        .map(|p| PartitionAnswer {
            partition: p.partition_index,
            error_code: p.error_code,
            high_watermark: p.high_watermark,
            log_start: p.log_start_offset,
            records: p.records.unwrap_or_default(),
        })
        .collect()
}

/// The records at or after `from` in a partition's `records` bytes, in offset
/// order, and the offset to fetch next (past the last complete batch, even if
/// compaction left its tail empty). A truncated last batch is left for the
/// next fetch; control batches are skipped.
pub(crate) fn decode(mut bytes: Bytes, from: i64) -> Result<(Vec<LogRecord>, i64), String> {
    let mut out = Vec::new();
    let mut next = from;
    while bytes.len() >= LOG_OVERHEAD {
        let base = i64::from_be_bytes(slice8(&bytes[0..8]));
        let len = i32::from_be_bytes(slice4(&bytes[8..12]));
        let len = usize::try_from(len).map_err(|_| format!("batch at {base}: negative length"))?;
        if bytes.len() < LOG_OVERHEAD + len {
            break; // truncated by the broker's byte limit
        }
        let mut batch = bytes.split_to(LOG_OVERHEAD + len);
        if batch.len() < BATCH_HEADER {
            return Err(format!(
                "batch at {base}: {} bytes is too short",
                batch.len()
            ));
        }
        let magic = batch[16];
        if magic != 2 {
            return Err(format!(
                "batch at {base}: message format v{magic} is not supported (only v2)"
            ));
        }
        let attributes = i16::from_be_bytes([batch[21], batch[22]]);
        let last_delta = i32::from_be_bytes(slice4(&batch[23..27]));
        let count = i32::from_be_bytes(slice4(&batch[57..61]));
        // An uncompressed record takes at least one byte per field: a count
        // larger than the bytes is corrupt, and refused before the decoder
        // sizes a vector from it.
        let compressed = attributes & 0x07 != 0;
        if count < 0 || (!compressed && count as usize > batch.len() - BATCH_HEADER) {
            return Err(format!("batch at {base}: implausible record count {count}"));
        }
        next = next.max(base + i64::from(last_delta) + 1);
        if attributes & 0x20 != 0 {
            continue; // control batch
        }
        let set = RecordBatchDecoder::decode(&mut batch)
            .map_err(|e| format!("batch at {base}: {e:#}"))?;
        out.extend(
            set.records
                .into_iter()
                .filter(|r| r.offset >= from && !r.control)
                .map(|r| LogRecord {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    key: r.key,
                    value: r.value,
                }),
        );
        if batch.has_remaining() {
            tracing::debug!(
                base,
                left = batch.remaining(),
                "record batch has trailing bytes"
            );
        }
    }
    Ok((out, next))
}

fn slice8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    a
}

fn slice4(b: &[u8]) -> [u8; 4] {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };

    fn record(offset: i64, key: &str, value: Option<&str>) -> Record {
        Record {
            transactional: false,
            control: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: -1,
            timestamp: 1000 + offset,
            key: Some(Bytes::copy_from_slice(key.as_bytes())),
            value: value.map(|v| Bytes::copy_from_slice(v.as_bytes())),
            headers: IndexMap::new(),
            delete_horizon: false,
        }
    }

    fn batch(records: &[Record], compression: Compression) -> BytesMut {
        let mut buf = BytesMut::new();
        RecordBatchEncoder::encode(
            &mut buf,
            records,
            &RecordEncodeOptions {
                version: 2,
                compression,
            },
        )
        .unwrap();
        buf
    }

    #[test]
    fn batches_decode_from_an_offset_and_a_truncated_tail_waits() {
        let mut all = batch(
            &[record(0, "a", Some("1")), record(1, "b", None)],
            Compression::None,
        );
        all.extend_from_slice(&batch(&[record(2, "c", Some("3"))], Compression::Gzip));
        let third = batch(&[record(3, "d", Some("4"))], Compression::None);
        all.extend_from_slice(&third[..third.len() - 5]);
        let (records, next) = decode(all.freeze(), 1).unwrap();
        let got: Vec<(i64, Option<&[u8]>)> = records
            .iter()
            .map(|r| (r.offset, r.value.as_deref()))
            .collect();
        assert_eq!(got, [(1, None), (2, Some(&b"3"[..]))]);
        assert_eq!(next, 3, "the truncated batch is fetched again");
        assert_eq!(records[1].timestamp, 1002);
    }

    #[test]
    fn a_compacted_batch_tail_still_advances_the_position() {
        // Offset 5 survives of a batch that once ran to 9.
        let mut b = batch(&[record(5, "a", Some("1"))], Compression::None);
        b[23..27].copy_from_slice(&4i32.to_be_bytes()); // last offset delta 4 -> 9
        // The CRC covers the attributes onwards; recompute it.
        let crc = crc32c::crc32c(&b[21..]);
        b[17..21].copy_from_slice(&crc.to_be_bytes());
        let (records, next) = decode(b.clone().freeze(), 5).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(next, 10);
        let (records, next) = decode(b.freeze(), 6).unwrap();
        assert!(records.is_empty());
        assert_eq!(
            next, 10,
            "nothing left below 10: the next fetch starts there"
        );
    }

    #[test]
    fn implausible_counts_are_refused() {
        let mut b = batch(&[record(0, "a", Some("1"))], Compression::None);
        b[57..61].copy_from_slice(&1_000_000i32.to_be_bytes());
        let err = decode(b.freeze(), 0).unwrap_err();
        assert!(err.contains("implausible record count"), "{err}");
    }
}
