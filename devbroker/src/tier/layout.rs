//! Object keys and object formats of the tier. `docs/tiered-storage.md` describes
//! the same layout for a person reading a bucket by hand.
//!
//! Keys, below the tier's prefix:
//! - `owner/{epoch:020}.json`: the broker that owns the prefix from that epoch on;
//!   `owner/{epoch:020}.released` once it shut down cleanly.
//! - `topics/{topic}/manifest/{version:020}.json`: topic manifest versions.
//! - `topics/{topic}/{incarnation}/{partition}/manifest/{version:020}.json`:
//!   partition manifest versions.
//! - `topics/{topic}/{incarnation}/{partition}/segments/{base:020}-{last:020}-e{epoch}.seg`
//! - `topics/{topic}/{incarnation}/{partition}/snapshots/{offset:020}-e{epoch}.snap`
//!
//! Manifests are JSON, each version an immutable object created with
//! `PutMode::Create`. Segments and snapshots are binary, big-endian, and end with
//! the SHA-256 of every byte before it.

use object_store::path::Path;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::TopicConfig;
use crate::storage::{Header, Record, StoredRecord};

/// Magic at the start of a segment object.
pub const SEGMENT_MAGIC: &[u8; 8] = b"RPKVSEG1";
/// Magic at the start of a snapshot object.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"RPKVSNP1";
/// Version of the manifest JSON documents.
pub const FORMAT: u32 = 1;
const TRAILER: usize = 32;

/// Joins a prefix and a relative key.
pub fn join(root: &Path, rel: &str) -> Path {
    let mut s = root.as_ref().to_string();
    if !s.is_empty() {
        s.push('/');
    }
    s.push_str(rel);
    Path::from(s)
}

pub fn owner_dir() -> String {
    "owner".to_string()
}

pub fn owner_key(epoch: u64) -> String {
    format!("owner/{epoch:020}.json")
}

pub fn released_key(epoch: u64) -> String {
    format!("owner/{epoch:020}.released")
}

pub fn topics_dir() -> String {
    "topics".to_string()
}

pub fn topic_manifest_dir(topic: &str) -> String {
    format!("topics/{topic}/manifest")
}

pub fn partition_dir(topic: &str, incarnation: i64, partition: i32) -> String {
    format!("topics/{topic}/{incarnation}/{partition}")
}

pub fn partition_manifest_dir(topic: &str, incarnation: i64, partition: i32) -> String {
    format!("{}/manifest", partition_dir(topic, incarnation, partition))
}

pub fn manifest_key(dir: &str, version: u64) -> String {
    format!("{dir}/{version:020}.json")
}

pub fn segment_key(topic: &str, inc: i64, p: i32, base: u64, last: u64, epoch: u64) -> String {
    format!(
        "{}/segments/{base:020}-{last:020}-e{epoch}.seg",
        partition_dir(topic, inc, p)
    )
}

pub fn snapshot_key(topic: &str, inc: i64, p: i32, offset: u64, epoch: u64) -> String {
    format!(
        "{}/snapshots/{offset:020}-e{epoch}.snap",
        partition_dir(topic, inc, p)
    )
}

/// The version number in a manifest object's file name (`{version:020}.json`).
pub fn manifest_version(path: &Path) -> Option<u64> {
    path.filename()?.strip_suffix(".json")?.parse().ok()
}

/// Who wrote a manifest: the owner's broker id and epoch, and a per-put tag so a
/// retried conditional put can recognise its own earlier attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Writer {
    pub broker_id: String,
    pub epoch: u64,
    pub put_id: String,
}

/// `owner/{epoch}.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OwnerRecord {
    pub format: u32,
    pub epoch: u64,
    pub broker_id: String,
    pub put_id: String,
    pub host: String,
    pub pid: u32,
    pub data_dir: String,
    pub started_ms: i64,
}

/// A topic manifest version.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TopicManifest {
    pub format: u32,
    pub version: u64,
    pub name: String,
    /// Which creation of the topic this is: partition data lives under it, so a
    /// topic deleted and created again starts afresh.
    pub incarnation: i64,
    pub partitions: i32,
    pub config: TopicConfig,
    pub deleted: bool,
    pub written_ms: i64,
    pub writer: Writer,
}

/// One uploaded segment, as listed in a partition manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub key: String,
    pub base_offset: u64,
    pub last_offset: u64,
    pub records: u64,
    pub size_bytes: u64,
    pub first_timestamp: i64,
    pub last_timestamp: i64,
    pub sha256: String,
}

/// An uploaded snapshot of a partition's key-value view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    pub key: String,
    /// The view as of every record below this offset.
    pub offset: u64,
    pub entries: u64,
    pub size_bytes: u64,
    pub sha256: String,
    pub taken_ms: i64,
}

/// A partition manifest version.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PartitionManifest {
    pub format: u32,
    pub version: u64,
    pub topic: String,
    pub partition: i32,
    pub incarnation: i64,
    /// Every record below this offset is in the listed segments (or was removed
    /// by retention or compaction before upload).
    pub next_offset: u64,
    pub segments: Vec<SegmentInfo>,
    pub snapshot: Option<SnapshotInfo>,
    pub written_ms: i64,
    pub writer: Option<Writer>,
}

/// Why an object could not be decoded.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FormatError(pub String);

fn check_trailer(bytes: &[u8], magic: &[u8; 8]) -> Result<(), FormatError> {
    if bytes.len() < magic.len() + TRAILER {
        return Err(FormatError(format!("too short ({} bytes)", bytes.len())));
    }
    if &bytes[..8] != magic {
        return Err(FormatError(format!(
            "bad magic {:?}, expected {:?}",
            String::from_utf8_lossy(&bytes[..8]),
            String::from_utf8_lossy(magic)
        )));
    }
    let (body, trailer) = bytes.split_at(bytes.len() - TRAILER);
    let actual = Sha256::digest(body);
    if actual[..] != trailer[..] {
        return Err(FormatError(format!(
            "checksum mismatch: trailer says sha256 {}, content hashes to {}",
            hex::encode(trailer),
            hex::encode(actual)
        )));
    }
    Ok(())
}

fn seal(mut out: Vec<u8>) -> (Vec<u8>, String) {
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    (out, hex::encode(digest))
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            out.extend_from_slice(&(b.len() as i32).to_be_bytes());
            out.extend_from_slice(b);
        }
        None => out.extend_from_slice(&(-1i32).to_be_bytes()),
    }
}

/// Encodes records (ascending offsets, at least one) as a segment object.
/// Returns the bytes and the hex SHA-256 trailer.
#[cfg(test)]
pub fn encode_segment(records: &[StoredRecord]) -> (Vec<u8>, String) {
    let mut w = SegmentWriter::new();
    for r in records {
        w.push(r.offset, &r.record);
    }
    w.finish()
}

/// Writes a segment record by record straight into one buffer (the uploader
/// feeds it from the LMDB read transaction, never holding decoded records).
pub struct SegmentWriter {
    out: Vec<u8>,
    count: u32,
    base: Option<u64>,
    last: u64,
    first_ts: i64,
    last_ts: i64,
}

/// Where base offset, last offset and record count sit in the header.
const SEGMENT_BASE_AT: usize = 8;
const SEGMENT_LAST_AT: usize = 16;
const SEGMENT_COUNT_AT: usize = 24;

impl SegmentWriter {
    pub fn new() -> Self {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(SEGMENT_MAGIC);
        // Base, last and count are patched in by `finish`.
        out.extend_from_slice(&[0u8; 20]);
        SegmentWriter {
            out,
            count: 0,
            base: None,
            last: 0,
            first_ts: 0,
            last_ts: 0,
        }
    }

    /// Appends the record at `offset` (offsets must ascend).
    pub fn push(&mut self, offset: u64, r: &Record) {
        let out = &mut self.out;
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&r.timestamp.to_be_bytes());
        put_bytes(out, r.key.as_deref());
        put_bytes(out, r.value.as_deref());
        out.extend_from_slice(&(r.headers.len() as u32).to_be_bytes());
        for h in &r.headers {
            out.extend_from_slice(&(h.key.len() as u32).to_be_bytes());
            out.extend_from_slice(h.key.as_bytes());
            put_bytes(out, h.value.as_deref());
        }
        if self.base.is_none() {
            self.base = Some(offset);
            self.first_ts = r.timestamp;
        }
        self.last = offset;
        self.last_ts = r.timestamp;
        self.count += 1;
    }

    /// Records written so far.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// First and last offset (0, 0 when empty).
    pub fn offsets(&self) -> (u64, u64) {
        (self.base.unwrap_or(0), self.last)
    }

    /// Timestamps of the first and last record (0, 0 when empty).
    pub fn timestamps(&self) -> (i64, i64) {
        (self.first_ts, self.last_ts)
    }

    /// The sealed segment and its SHA-256 (hex).
    pub fn finish(mut self) -> (Vec<u8>, String) {
        let (base, last) = self.offsets();
        self.out[SEGMENT_BASE_AT..SEGMENT_LAST_AT].copy_from_slice(&base.to_be_bytes());
        self.out[SEGMENT_LAST_AT..SEGMENT_COUNT_AT].copy_from_slice(&last.to_be_bytes());
        self.out[SEGMENT_COUNT_AT..SEGMENT_COUNT_AT + 4].copy_from_slice(&self.count.to_be_bytes());
        seal(self.out)
    }
}

impl Default for SegmentWriter {
    fn default() -> Self {
        Self::new()
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or_else(|| FormatError(format!("truncated at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, FormatError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_be_bytes(b))
    }
    fn i32(&mut self) -> Result<i32, FormatError> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, FormatError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(b))
    }
    fn i64(&mut self) -> Result<i64, FormatError> {
        Ok(self.u64()? as i64)
    }
    fn opt_bytes(&mut self) -> Result<Option<Vec<u8>>, FormatError> {
        match self.i32()? {
            -1 => Ok(None),
            n if n >= 0 => Ok(Some(self.take(n as usize)?.to_vec())),
            n => Err(FormatError(format!("bad length {n} at byte {}", self.pos))),
        }
    }
    fn done(&self) -> bool {
        self.pos == self.buf.len()
    }
}

/// Decodes and verifies a segment object.
pub fn decode_segment(bytes: &[u8]) -> Result<Vec<StoredRecord>, FormatError> {
    check_trailer(bytes, SEGMENT_MAGIC)?;
    let mut r = Reader {
        buf: &bytes[8..bytes.len() - TRAILER],
        pos: 0,
    };
    let base = r.u64()?;
    let last = r.u64()?;
    let count = r.u32()? as usize;
    let mut out = Vec::with_capacity(count.min(1 << 20));
    for _ in 0..count {
        let offset = r.u64()?;
        let timestamp = r.i64()?;
        let key = r.opt_bytes()?;
        let value = r.opt_bytes()?;
        let n = r.u32()? as usize;
        let mut headers = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let klen = r.u32()? as usize;
            let key = String::from_utf8(r.take(klen)?.to_vec())
                .map_err(|_| FormatError("header key is not UTF-8".into()))?;
            headers.push(Header {
                key,
                value: r.opt_bytes()?,
            });
        }
        out.push(StoredRecord {
            offset,
            record: Record {
                timestamp,
                key,
                value,
                headers,
            },
        });
    }
    if !r.done() {
        return Err(FormatError("trailing bytes after the last record".into()));
    }
    let (first, end) = (out.first().map(|r| r.offset), out.last().map(|r| r.offset));
    if first.is_some_and(|f| f != base) || end.is_some_and(|l| l != last) {
        return Err(FormatError(format!(
            "header says offsets {base}..={last}, records say {first:?}..={end:?}"
        )));
    }
    Ok(out)
}

/// One key of a view snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotEntry {
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub offset: u64,
    pub timestamp: i64,
}

/// Encodes a view snapshot at `offset`.
#[cfg(test)]
pub fn encode_snapshot(offset: u64, entries: &[SnapshotEntry]) -> (Vec<u8>, String) {
    let mut w = SnapshotWriter::new();
    for e in entries {
        w.push(&e.key, e.offset, e.timestamp, &e.value);
    }
    w.finish(offset)
}

/// Writes a view snapshot entry by entry straight into one buffer, so taking a
/// snapshot of a large view costs one allocation instead of two per key (the
/// per-key copies fragmented the heap: the soak's RSS grew by tens of MiB at
/// every snapshot).
pub struct SnapshotWriter {
    out: Vec<u8>,
    count: u64,
}

/// Where the snapshot offset and the entry count sit in the header.
const SNAPSHOT_OFFSET_AT: usize = 8;
const SNAPSHOT_COUNT_AT: usize = 16;

impl SnapshotWriter {
    pub fn new() -> Self {
        let mut out = Vec::with_capacity(1 << 16);
        out.extend_from_slice(SNAPSHOT_MAGIC);
        // Offset and count are patched in by `finish`.
        out.extend_from_slice(&[0u8; 16]);
        SnapshotWriter { out, count: 0 }
    }

    /// Appends one key of the view.
    pub fn push(&mut self, key: &[u8], offset: u64, timestamp: i64, value: &[u8]) {
        let out = &mut self.out;
        out.extend_from_slice(&(key.len() as u32).to_be_bytes());
        out.extend_from_slice(key);
        out.extend_from_slice(&offset.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
        self.count += 1;
    }

    /// Keys written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The sealed snapshot at `offset` and its SHA-256 (hex).
    pub fn finish(mut self, offset: u64) -> (Vec<u8>, String) {
        self.out[SNAPSHOT_OFFSET_AT..SNAPSHOT_COUNT_AT].copy_from_slice(&offset.to_be_bytes());
        self.out[SNAPSHOT_COUNT_AT..SNAPSHOT_COUNT_AT + 8]
            .copy_from_slice(&self.count.to_be_bytes());
        seal(self.out)
    }
}

impl Default for SnapshotWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Decodes and verifies a view snapshot: its offset and entries.
pub fn decode_snapshot(bytes: &[u8]) -> Result<(u64, Vec<SnapshotEntry>), FormatError> {
    check_trailer(bytes, SNAPSHOT_MAGIC)?;
    let mut r = Reader {
        buf: &bytes[8..bytes.len() - TRAILER],
        pos: 0,
    };
    let offset = r.u64()?;
    let count = r.u64()? as usize;
    let mut out = Vec::with_capacity(count.min(1 << 22));
    for _ in 0..count {
        let klen = r.u32()? as usize;
        let key = r.take(klen)?.to_vec();
        let entry_offset = r.u64()?;
        let timestamp = r.i64()?;
        let vlen = r.u32()? as usize;
        let value = r.take(vlen)?.to_vec();
        out.push(SnapshotEntry {
            key,
            value,
            offset: entry_offset,
            timestamp,
        });
    }
    if !r.done() {
        return Err(FormatError("trailing bytes after the last entry".into()));
    }
    Ok((offset, out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: u64, key: Option<&[u8]>, value: Option<&[u8]>) -> StoredRecord {
        let mut record = Record::new(
            1_700_000_000_000 + offset as i64,
            key.map(<[u8]>::to_vec),
            value.map(<[u8]>::to_vec),
        );
        if offset.is_multiple_of(2) {
            record.headers.push(Header {
                key: "h".into(),
                value: None,
            });
        }
        StoredRecord { offset, record }
    }

    #[test]
    fn segment_round_trip_and_corruption_is_detected() {
        let records = vec![
            rec(10, Some(b"a"), Some(b"1")),
            rec(11, Some(b"b"), None),
            rec(13, None, Some(b"")),
        ];
        let (bytes, sha) = encode_segment(&records);
        assert_eq!(sha.len(), 64);
        assert_eq!(decode_segment(&bytes).unwrap(), records);
        for i in [0, 9, 20, bytes.len() / 2, bytes.len() - 1] {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(
                decode_segment(&bad).is_err(),
                "flipped byte {i} went unnoticed"
            );
        }
        assert!(decode_segment(&bytes[..bytes.len() - 1]).is_err());
    }

    #[test]
    fn snapshot_round_trip_and_corruption_is_detected() {
        let entries = vec![
            SnapshotEntry {
                key: b"k".to_vec(),
                value: b"v".to_vec(),
                offset: 3,
                timestamp: 9,
            },
            SnapshotEntry {
                key: vec![b'x'; 600],
                value: vec![],
                offset: 4,
                timestamp: -1,
            },
        ];
        let (bytes, _) = encode_snapshot(5, &entries);
        assert_eq!(decode_snapshot(&bytes).unwrap(), (5, entries));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        let err = decode_snapshot(&bad).unwrap_err().to_string();
        assert!(err.contains("checksum mismatch"), "{err}");
    }

    #[test]
    fn keys_sort_by_offset_and_parse_back() {
        assert!(segment_key("t", 1, 0, 9, 10, 1) < segment_key("t", 1, 0, 10, 11, 1));
        let p = join(
            &Path::from("pre/fix"),
            &manifest_key("topics/t/manifest", 42),
        );
        assert_eq!(
            p.as_ref(),
            "pre/fix/topics/t/manifest/00000000000000000042.json"
        );
        assert_eq!(manifest_version(&p), Some(42));
        assert_eq!(join(&Path::from(""), "owner").as_ref(), "owner");
    }
}
