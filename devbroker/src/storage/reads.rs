//! The store's reads: point gets and scans of a partition's view, the log,
//! partition states and view snapshots. Every read runs in one LMDB read
//! transaction (reads never block the writer); callers on the async runtime go
//! through [`Store::read`].

use std::ops::Bound;

use heed::types::Bytes;
use heed::{Database, RoTxn, WithoutTls};

use super::keys::{self, PREFIX_LEN, partition_prefix};
use super::records::ViewEntry;
use super::{
    LogRead, LogSpan, PartitionState, Record, Result, Store, StoreError, StoredRecord, display_key,
};

impl Store {
    /// Visits every key of a partition's view as `(key, value, offset,
    /// timestamp)` in one read transaction, in stored order (byte order, except
    /// that keys longer than 448 bytes sharing their first 448 bytes come in hash
    /// order), and returns the partition state of that same transaction.
    pub fn view_snapshot_with(
        &self,
        topic: &str,
        partition: i32,
        mut visit: impl FnMut(&[u8], &[u8], u64, i64),
    ) -> Result<PartitionState> {
        let meta = self.partition(topic, partition)?;
        let prefix = partition_prefix(meta.id, partition);
        let rtxn = self.read_txn()?;
        let state = load_state(&rtxn, self.inner.dbs.parts, &prefix)?;
        if !meta.config.kvstore() {
            return Ok(state);
        }
        let upper = keys::prefix_successor(&prefix);
        let upper_bound = match &upper {
            Some(u) => Bound::Excluded(&u[..]),
            None => Bound::Unbounded,
        };
        for item in self
            .inner
            .dbs
            .view
            .range(&rtxn, &(Bound::Included(&prefix[..]), upper_bound))?
        {
            let (k, v) = item?;
            let entry =
                ViewEntry::decode(v).ok_or_else(|| StoreError::Corrupt("view entry".into()))?;
            let key = entry.full_key.unwrap_or(&k[PREFIX_LEN..]);
            visit(key, entry.value, entry.offset, entry.timestamp);
        }
        Ok(state)
    }

    /// A snapshot that holds every write answered before this call (it may
    /// wait for the writer to commit the groups it holds: `visibility`).
    pub(super) fn read_txn(&self) -> Result<RoTxn<'_, WithoutTls>> {
        self.inner.vis.wait_committed()?;
        Ok(self.inner.env.read_txn()?)
    }

    /// Looks up keys in a partition's view; `None` for a missing key.
    pub fn kv_get(
        &self,
        topic: &str,
        partition: i32,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>> {
        let mut out = Vec::with_capacity(keys.len());
        self.kv_get_with(topic, partition, keys, |_, v| {
            out.push(v.map(<[u8]>::to_vec))
        })?;
        Ok(out)
    }

    /// Like [`Store::kv_get`], but hands each `(key, value)` to `visit` in request
    /// order straight from the read transaction, without copying values.
    pub fn kv_get_with(
        &self,
        topic: &str,
        partition: i32,
        keys: &[Vec<u8>],
        mut visit: impl FnMut(&[u8], Option<&[u8]>),
    ) -> Result<()> {
        let meta = self.kv_partition(topic, partition)?;
        let prefix = partition_prefix(meta.id, partition);
        let rtxn = self.read_txn()?;
        for k in keys {
            let entry = view_get(&rtxn, self.inner.dbs.view, &prefix, k)?;
            visit(k, entry.map(|e| e.value));
        }
        Ok(())
    }

    /// Key-value pairs of a partition's view with `start <= key < end`, in byte
    /// order, at most `limit` of them.
    pub fn kv_scan(
        &self,
        topic: &str,
        partition: i32,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::with_capacity(limit.min(1024));
        self.kv_scan_with(topic, partition, start, end, limit, |k, v| {
            out.push((k.to_vec(), v.to_vec()))
        })?;
        Ok(out)
    }

    /// Like [`Store::kv_scan`], but hands each entry to `visit` straight from the
    /// read transaction, without copying.
    pub fn kv_scan_with(
        &self,
        topic: &str,
        partition: i32,
        start: Option<&[u8]>,
        end: Option<&[u8]>,
        limit: usize,
        mut visit: impl FnMut(&[u8], &[u8]),
    ) -> Result<()> {
        let meta = self.kv_partition(topic, partition)?;
        let prefix = partition_prefix(meta.id, partition);
        let rtxn = self.read_txn()?;
        let mut n = 0;
        if limit == 0 {
            return Ok(());
        }
        scan_view(&rtxn, self.inner.dbs.view, &prefix, start, end, |k, v| {
            visit(k, v);
            n += 1;
            n < limit
        })
    }

    /// The state of a partition: log start, high watermark, sizes.
    pub fn partition_state(&self, topic: &str, partition: i32) -> Result<PartitionState> {
        let meta = self.partition(topic, partition)?;
        let rtxn = self.read_txn()?;
        load_state(
            &rtxn,
            self.inner.dbs.parts,
            &partition_prefix(meta.id, partition),
        )
    }

    /// Records from `from` on: at most `max_records`, and at most `max_bytes` of
    /// record data except that the first record is always returned whole.
    pub fn read_log(
        &self,
        topic: &str,
        partition: i32,
        from: u64,
        max_bytes: usize,
        max_records: usize,
    ) -> Result<LogRead> {
        let mut records = Vec::new();
        let span = self.read_log_with(
            topic,
            partition,
            from,
            max_bytes,
            max_records,
            |offset, record| records.push(StoredRecord { offset, record }),
        )?;
        Ok(LogRead {
            records,
            log_start: span.log_start,
            high_watermark: span.high_watermark,
        })
    }

    /// Like [`Store::read_log`], but hands each record to `visit` as it is
    /// decoded instead of collecting them (the uploader encodes 128 MiB
    /// segments this way without holding every record at once).
    pub fn read_log_with(
        &self,
        topic: &str,
        partition: i32,
        from: u64,
        max_bytes: usize,
        max_records: usize,
        mut visit: impl FnMut(u64, Record),
    ) -> Result<LogSpan> {
        let meta = self.partition(topic, partition)?;
        let prefix = partition_prefix(meta.id, partition);
        let rtxn = self.read_txn()?;
        let state = load_state(&rtxn, self.inner.dbs.parts, &prefix)?;
        let mut span = LogSpan {
            log_start: state.log_start,
            high_watermark: state.next_offset,
            records: 0,
            bytes: 0,
        };
        let lower = keys::log_key(&prefix, from.max(state.log_start));
        let upper = keys::log_key(&prefix, state.next_offset);
        for item in self.inner.dbs.log.range(
            &rtxn,
            &(Bound::Included(&lower[..]), Bound::Excluded(&upper[..])),
        )? {
            let (k, v) = item?;
            let record = Record::decode(v).map_err(|e| {
                StoreError::Corrupt(format!(
                    "record {} of {topic}/{partition}: {e}",
                    keys::log_offset(k)
                ))
            })?;
            let size = record.wire_size();
            if span.records > 0 && span.bytes + size > max_bytes {
                break;
            }
            span.bytes += size;
            span.records += 1;
            visit(keys::log_offset(k), record);
            if span.records >= max_records {
                break;
            }
        }
        Ok(span)
    }
}

/// Reads a partition's state (a missing state is a corrupt store: topics create theirs).
pub(crate) fn load_state(
    txn: &RoTxn<'_>,
    parts: Database<Bytes, Bytes>,
    prefix: &[u8; PREFIX_LEN],
) -> Result<PartitionState> {
    let bytes = parts
        .get(txn, prefix)?
        .ok_or_else(|| StoreError::Corrupt("partition state missing".into()))?;
    PartitionState::decode(bytes).map_err(|e| StoreError::Corrupt(format!("partition state: {e}")))
}

/// The view entry of a user key.
pub(crate) fn view_get<'t>(
    txn: &'t RoTxn<'_>,
    view: Database<Bytes, Bytes>,
    prefix: &[u8; PREFIX_LEN],
    key: &[u8],
) -> Result<Option<ViewEntry<'t>>> {
    let vk = keys::view_key(prefix, key);
    let Some(bytes) = view.get(txn, &vk)? else {
        return Ok(None);
    };
    let entry = ViewEntry::decode(bytes)
        .ok_or_else(|| StoreError::Corrupt(format!("view entry of {}", display_key(key))))?;
    // A long key's LMDB key holds its hash; the stored full key confirms the match.
    if keys::is_long(key) && entry.full_key != Some(key) {
        return Ok(None);
    }
    Ok(Some(entry))
}

/// Visits `(key, value)` of a partition's view with `start <= key < end` in byte
/// order until `visit` returns false.
fn scan_view(
    txn: &RoTxn<'_>,
    view: Database<Bytes, Bytes>,
    prefix: &[u8; PREFIX_LEN],
    start: Option<&[u8]>,
    end: Option<&[u8]>,
    mut visit: impl FnMut(&[u8], &[u8]) -> bool,
) -> Result<()> {
    let lower = match start {
        Some(s) => keys::view_seek_key(prefix, s),
        None => prefix.to_vec(),
    };
    let upper = keys::prefix_successor(prefix);
    let upper_bound = match &upper {
        Some(u) => Bound::Excluded(&u[..]),
        None => Bound::Unbounded,
    };
    let in_range = |k: &[u8]| start.is_none_or(|s| k >= s) && end.is_none_or(|e| k < e);
    let past_end = |k: &[u8]| end.is_some_and(|e| k >= e);
    let corrupt = || StoreError::Corrupt("view entry".into());

    let mut iter = view
        .range(txn, &(Bound::Included(&lower[..]), upper_bound))?
        .peekable();
    while let Some(item) = iter.next() {
        let (k, v) = item?;
        let entry = ViewEntry::decode(v).ok_or_else(corrupt)?;
        let Some(full) = entry.full_key else {
            let key = &k[PREFIX_LEN..];
            if past_end(key) {
                return Ok(());
            }
            if in_range(key) && !visit(key, entry.value) {
                return Ok(());
            }
            continue;
        };
        // A group of long keys sharing their inline part: sort it by full key.
        let inline_end = PREFIX_LEN + keys::INLINE_KEY_MAX;
        let mut group: Vec<(&[u8], &[u8])> = vec![(full, entry.value)];
        while let Some(Ok((k2, _))) = iter.peek() {
            if k2.len() <= inline_end || k2[..inline_end] != k[..inline_end] {
                break;
            }
            if let Some(Ok((_, v2))) = iter.next() {
                let e2 = ViewEntry::decode(v2).ok_or_else(corrupt)?;
                group.push((e2.full_key.ok_or_else(corrupt)?, e2.value));
            }
        }
        group.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in group {
            if past_end(key) {
                return Ok(());
            }
            if in_range(key) && !visit(key, value) {
                return Ok(());
            }
        }
    }
    Ok(())
}
