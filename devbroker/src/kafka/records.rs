//! Kafka record batches (magic v2) to and from the storage layer's [`Record`]s.
//!
//! Decoding uses `kafka-protocol`'s `RecordBatchDecoder`, after a light check of
//! the batch header and of every record's framing, so that counts read off the
//! wire are plausible for the bytes that carry them before the crate sizes any
//! collection from them.

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::storage::{Header, Record, StoredRecord};

/// Size of the fixed part of a v2 record batch, up to and including the record count.
const BATCH_HEADER: usize = 61;
/// Bytes before the `batch_length` field counts from: base offset + batch length.
const LOG_OVERHEAD: usize = 12;

/// Why a produced record set was refused.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("corrupt record batch: {0}")]
    Corrupt(String),
    #[error("unsupported record batch: {0}")]
    Unsupported(String),
}

/// One producer batch, ready to append.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingBatch {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub transactional: bool,
    pub control: bool,
    pub records: Vec<Record>,
}

/// Fields of a v2 batch header this module needs.
struct BatchHeader {
    total_len: usize,
    attributes: i16,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    record_count: i32,
}

fn corrupt(msg: impl Into<String>) -> RecordsError {
    RecordsError::Corrupt(msg.into())
}

fn parse_header(b: &[u8]) -> Result<BatchHeader, RecordsError> {
    if b.len() < BATCH_HEADER {
        return Err(corrupt(format!(
            "{} bytes left, a batch header needs {BATCH_HEADER}",
            b.len()
        )));
    }
    let i16_at = |i: usize| i16::from_be_bytes([b[i], b[i + 1]]);
    let i32_at = |i: usize| i32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let i64_at = |i: usize| {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[i..i + 8]);
        i64::from_be_bytes(a)
    };
    let batch_length = i32_at(8);
    let magic = b[16] as i8;
    if magic != 2 {
        return Err(RecordsError::Unsupported(format!(
            "message format v{magic}; only record batches v2 are accepted"
        )));
    }
    let total_len = usize::try_from(batch_length)
        .ok()
        .map(|l| l + LOG_OVERHEAD)
        .filter(|l| *l >= BATCH_HEADER && *l <= b.len())
        .ok_or_else(|| {
            corrupt(format!(
                "batch length {batch_length} does not fit the {} bytes sent",
                b.len()
            ))
        })?;
    let record_count = i32_at(57);
    if record_count < 0 {
        return Err(corrupt(format!("negative record count {record_count}")));
    }
    Ok(BatchHeader {
        total_len,
        attributes: i16_at(21),
        producer_id: i64_at(43),
        producer_epoch: i16_at(51),
        base_sequence: i32_at(53),
        record_count,
    })
}

/// Reads a zigzag varint (Kafka's varint/varlong) of at most 10 bytes.
fn varint(b: &mut &[u8]) -> Result<i64, RecordsError> {
    let mut n: u64 = 0;
    for i in 0..10 {
        let Some((&byte, rest)) = b.split_first() else {
            return Err(corrupt("truncated varint"));
        };
        *b = rest;
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
        }
    }
    Err(corrupt("varint longer than 10 bytes"))
}

fn skip_len_prefixed(b: &mut &[u8], what: &str) -> Result<(), RecordsError> {
    let len = varint(b)?;
    if len < 0 {
        return Ok(()); // null
    }
    let len = usize::try_from(len).map_err(|_| corrupt(format!("{what} length")))?;
    if len > b.len() {
        return Err(corrupt(format!(
            "{what} of {len} bytes overruns its record"
        )));
    }
    *b = &b[len..];
    Ok(())
}

/// Checks that `count` records are framed in `b` and that no header count claims
/// more headers than its record has bytes.
fn check_record_framing(mut b: &[u8], count: i32) -> Result<(), RecordsError> {
    let count = usize::try_from(count).map_err(|_| corrupt("negative record count"))?;
    if count > b.len() {
        return Err(corrupt(format!(
            "{count} records claimed in {} bytes",
            b.len()
        )));
    }
    for i in 0..count {
        let len = varint(&mut b)?;
        let len = usize::try_from(len)
            .ok()
            .filter(|l| *l <= b.len())
            .ok_or_else(|| corrupt(format!("record {i} length {len} overruns the batch")))?;
        let (mut r, rest) = b.split_at(len);
        b = rest;
        if r.is_empty() {
            return Err(corrupt(format!("record {i} is empty")));
        }
        r = &r[1..]; // attributes
        varint(&mut r)?; // timestamp delta
        varint(&mut r)?; // offset delta
        skip_len_prefixed(&mut r, "key")?;
        skip_len_prefixed(&mut r, "value")?;
        let headers = varint(&mut r)?;
        if headers < 0 || headers as u64 > r.len() as u64 {
            return Err(corrupt(format!(
                "record {i} claims {headers} headers in {} bytes",
                r.len()
            )));
        }
    }
    Ok(())
}

/// Most bytes one batch may decompress to: a compressed batch that claims more
/// is refused instead of being inflated (a "zip bomb" would exhaust memory).
pub const MAX_DECOMPRESSED_BATCH: usize = 256 << 20;

/// Reads all of `r`, failing past `cap` bytes.
fn read_capped(mut r: impl std::io::Read, cap: usize, what: &str) -> anyhow::Result<Bytes> {
    use std::io::Read;
    let mut out = Vec::new();
    (&mut r).take(cap as u64 + 1).read_to_end(&mut out)?;
    if out.len() > cap {
        anyhow::bail!("{what} batch decompresses to more than {cap} bytes");
    }
    Ok(Bytes::from(out))
}

/// Kafka's snappy: xerial framing (magic, then length-prefixed raw blocks) or,
/// without the magic, one raw snappy block.
fn unsnappy(b: &[u8], cap: usize) -> anyhow::Result<Bytes> {
    const MAGIC: &[u8] = b"\x82SNAPPY\x00";
    const HEADER: usize = 16; // magic, version, compatible version
    let block = |raw: &[u8], out: &mut Vec<u8>| -> anyhow::Result<()> {
        let len = snap::raw::decompress_len(raw)?;
        if out.len().saturating_add(len) > cap {
            anyhow::bail!("snappy batch decompresses to more than {cap} bytes");
        }
        let start = out.len();
        out.resize(start + len, 0);
        snap::raw::Decoder::new().decompress(raw, &mut out[start..])?;
        Ok(())
    };
    let mut out = Vec::new();
    if !b.starts_with(MAGIC) {
        block(b, &mut out)?;
        return Ok(Bytes::from(out));
    }
    let mut rest = b.get(HEADER..).unwrap_or_default();
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            anyhow::bail!("truncated snappy block length");
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some(raw) = tail.get(..len) else {
            anyhow::bail!("snappy block of {len} bytes overruns the batch");
        };
        block(raw, &mut out)?;
        rest = &tail[len..];
    }
    Ok(Bytes::from(out))
}

/// Decompresses a batch's records section, at most `cap` bytes of output.
fn decompress(buf: &Bytes, compression: Compression, cap: usize) -> anyhow::Result<Bytes> {
    match compression {
        Compression::None => Ok(buf.clone()),
        Compression::Gzip => read_capped(flate2::read::MultiGzDecoder::new(&buf[..]), cap, "gzip"),
        Compression::Snappy => unsnappy(buf, cap),
        Compression::Lz4 => read_capped(lz4::Decoder::new(&buf[..])?, cap, "lz4"),
        Compression::Zstd => read_capped(zstd::stream::read::Decoder::new(&buf[..])?, cap, "zstd"),
    }
}

/// Decodes the record batches of one partition of a produce request.
///
/// Timestamps: a record's own (CreateTime), or `now` when the topic uses
/// LogAppendTime or the record has none.
pub fn decode_batches(
    mut bytes: Bytes,
    now: i64,
    log_append_time: bool,
) -> Result<Vec<IncomingBatch>, RecordsError> {
    let mut out = Vec::new();
    while bytes.has_remaining() {
        let header = parse_header(&bytes)?;
        let mut batch = bytes.split_to(header.total_len);
        let count = header.record_count;
        let decompress_checked = move |buf: &mut Bytes, c: Compression| -> anyhow::Result<Bytes> {
            let plain = decompress(buf, c, MAX_DECOMPRESSED_BATCH)?;
            check_record_framing(&plain, count)?;
            Ok(plain)
        };
        let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            RecordBatchDecoder::decode_with_custom_compression(&mut batch, Some(decompress_checked))
        }))
        .map_err(|_| corrupt("the record batch decoder failed"))?
        .map_err(|e| corrupt(format!("{e:#}")))?;
        let records = set
            .records
            .into_iter()
            .map(|r| Record {
                timestamp: if log_append_time || r.timestamp < 0 {
                    now
                } else {
                    r.timestamp
                },
                key: r.key.map(|k| k.to_vec()),
                value: r.value.map(|v| v.to_vec()),
                headers: r
                    .headers
                    .into_iter()
                    .map(|(k, v)| Header {
                        key: k.to_string(),
                        value: v.map(|v| v.to_vec()),
                    })
                    .collect(),
            })
            .collect();
        out.push(IncomingBatch {
            producer_id: header.producer_id,
            producer_epoch: header.producer_epoch,
            base_sequence: header.base_sequence,
            transactional: header.attributes & 0x10 != 0,
            control: header.attributes & 0x20 != 0,
            records,
        });
    }
    Ok(out)
}

/// Encodes consecutive stored records as one uncompressed v2 batch (offsets kept,
/// gaps of a compacted log included). Empty input gives empty bytes.
pub fn encode_batch(records: &[StoredRecord]) -> Result<Bytes, RecordsError> {
    let Some(first) = records.first() else {
        return Ok(Bytes::new());
    };
    let base = first.offset;
    let kafka: Vec<kafka_protocol::records::Record> = records
        .iter()
        .map(|s| kafka_protocol::records::Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: s.offset as i64,
            // The encoder starts a new batch whenever offset - sequence changes;
            // this keeps it constant and makes the base sequence -1 (none).
            sequence: ((s.offset - base) as i32).wrapping_sub(1),
            timestamp: s.record.timestamp,
            key: s.record.key.clone().map(Bytes::from),
            value: s.record.value.clone().map(Bytes::from),
            headers: s
                .record
                .headers
                .iter()
                .map(|h| {
                    (
                        StrBytes::from_string(h.key.clone()),
                        h.value.clone().map(Bytes::from),
                    )
                })
                .collect::<IndexMap<_, _>>(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &kafka,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| RecordsError::Corrupt(format!("cannot encode records: {e:#}")))?;
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(offset: u64, key: &str, value: Option<&str>) -> StoredRecord {
        let mut record = Record::new(
            1_700_000_000_000 + offset as i64,
            Some(key.as_bytes().to_vec()),
            value.map(|v| v.as_bytes().to_vec()),
        );
        record.headers.push(Header {
            key: "h".into(),
            value: Some(b"x".to_vec()),
        });
        StoredRecord { offset, record }
    }

    #[test]
    fn stored_records_round_trip_through_one_batch_with_gaps() {
        let input = vec![
            stored(5, "a", Some("1")),
            stored(7, "b", None),
            stored(8, "c", Some("3")),
        ];
        let bytes = encode_batch(&input).unwrap();
        let mut b = bytes.clone();
        let sets = RecordBatchDecoder::decode_all(&mut b).unwrap();
        assert_eq!(sets.len(), 1, "one batch");
        let offsets: Vec<i64> = sets[0].records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, vec![5, 7, 8]);
        let back = decode_batches(bytes, 0, false).unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].producer_id, -1);
        let records: Vec<Record> = input.into_iter().map(|s| s.record).collect();
        assert_eq!(back[0].records, records);
    }

    #[test]
    fn compressed_batches_decode() {
        for compression in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let rec = kafka_protocol::records::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: 42,
                producer_epoch: 3,
                timestamp_type: TimestampType::Creation,
                offset: 0,
                sequence: 7,
                timestamp: 123,
                key: Some(Bytes::from_static(b"k")),
                value: Some(Bytes::from_static(b"v")),
                headers: IndexMap::new(),
            };
            let mut buf = BytesMut::new();
            RecordBatchEncoder::encode(
                &mut buf,
                [&rec],
                &RecordEncodeOptions {
                    version: 2,
                    compression,
                },
            )
            .unwrap();
            let batches = decode_batches(buf.freeze(), 999, false).unwrap();
            assert_eq!(batches[0].producer_id, 42);
            assert_eq!(batches[0].producer_epoch, 3);
            assert_eq!(batches[0].base_sequence, 7);
            assert_eq!(batches[0].records[0].key.as_deref(), Some(&b"k"[..]));
            assert_eq!(batches[0].records[0].timestamp, 123, "{compression:?}");
        }
    }

    #[test]
    fn decompression_is_capped() {
        let big = vec![b'a'; 1 << 20];
        for c in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let mut buf = BytesMut::new();
            let rec = kafka_protocol::records::Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset: 0,
                sequence: -1,
                timestamp: 1,
                key: None,
                value: Some(Bytes::from(big.clone())),
                headers: IndexMap::new(),
            };
            RecordBatchEncoder::encode(
                &mut buf,
                [&rec],
                &RecordEncodeOptions {
                    version: 2,
                    compression: c,
                },
            )
            .unwrap();
            let records = buf.freeze().slice(BATCH_HEADER..);
            assert!(decompress(&records, c, 1 << 21).is_ok(), "{c:?}");
            let err = decompress(&records, c, 1 << 19).unwrap_err().to_string();
            assert!(err.contains("more than"), "{c:?}: {err}");
        }
    }

    #[test]
    fn implausible_counts_are_refused_before_decoding() {
        let bytes = encode_batch(&[stored(0, "a", Some("1"))]).unwrap();
        let mut evil = bytes.to_vec();
        evil[57..61].copy_from_slice(&i32::MAX.to_be_bytes());
        assert!(decode_batches(Bytes::from(evil), 0, false).is_err());
        let mut evil = bytes.to_vec();
        evil[16] = 1;
        assert!(matches!(
            decode_batches(Bytes::from(evil), 0, false),
            Err(RecordsError::Unsupported(_))
        ));
        assert!(decode_batches(bytes.slice(..30), 0, false).is_err());
    }
}
