//! Retention and compaction, run by the writer in the background.
//!
//! - `cleanup.policy=delete` (the default): records older than `retention.ms`, and
//!   the oldest records while the log is over `retention.bytes`, leave the log. On a
//!   kvstore topic a key whose latest record leaves also leaves the view: a TTL.
//! - `cleanup.policy=compact`: records superseded by a later record of the same key
//!   leave the log; the latest value of every key stays until it is deleted, and a
//!   tombstone stays for `delete.retention.ms`. Time and size retention only apply
//!   when the policy also says `delete`.
//!
//! Each pass does a bounded amount of work so that writes never wait long behind
//! it; a later pass carries on.

use std::collections::HashMap;
use std::ops::Bound;

use super::keys::{self, partition_prefix};
use super::ops::save_state;
use super::records::{PartitionState, Record, TopicMeta, ViewEntry};
use super::wal::{Db, Tx};
use super::{Dbs, Result, StoreError, load_state};

/// Most records one pass removes.
const PASS_BUDGET: u64 = 50_000;
/// A partition is compacted once this many records were appended since the last pass.
const COMPACT_MIN_DIRTY: u64 = 1_000;

/// Upload floors of the tier: per (topic, partition), the first offset not yet in
/// the bucket. With floors, nothing at or above a partition's floor is trimmed (a
/// partition missing from the map has floor 0), and `retention.local.target.ms` /
/// `.bytes` trim records below the floor from the local log only: their keys stay
/// in the view, the bucket keeps the records.
pub type Floors = HashMap<(String, i32), u64>;

/// What a maintenance pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MaintainReport {
    /// Records removed by time or size retention.
    pub trimmed: u64,
    /// Records removed by compaction.
    pub compacted: u64,
    /// Keys that left a kvstore view because their latest record left the log.
    pub expired_keys: u64,
}

pub(crate) fn run(
    txn: &mut Tx,
    dbs: Dbs,
    now_ms: i64,
    floors: Option<&Floors>,
) -> Result<MaintainReport> {
    let mut metas = Vec::new();
    for item in dbs.topics.iter(txn)? {
        let (name, bytes) = item?;
        let meta: TopicMeta = serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("topic {name}: {e}")))?;
        metas.push(meta);
    }
    let mut report = MaintainReport::default();
    for meta in &metas {
        let policy = meta.config.cleanup_policy();
        for p in 0..meta.partitions {
            let floor = floors.map(|f| f.get(&(meta.name.clone(), p)).copied().unwrap_or(0));
            if policy.delete || floor.is_some() {
                trim(txn, dbs, meta, p, now_ms, floor, &mut report)?;
            }
            if policy.compact {
                compact(txn, dbs, meta, p, now_ms, &mut report)?;
            }
        }
    }
    Ok(report)
}

/// Removes records from the head of the log while retention says so; with an
/// upload `floor`, only records below it, and local retention applies too.
fn trim(
    txn: &mut Tx,
    dbs: Dbs,
    meta: &TopicMeta,
    partition: i32,
    now_ms: i64,
    floor: Option<u64>,
    report: &mut MaintainReport,
) -> Result<()> {
    let delete = meta.config.cleanup_policy().delete;
    let retention_ms = meta.config.retention_ms().filter(|_| delete);
    let retention_bytes = meta.config.retention_bytes().filter(|_| delete);
    let (local_ms, local_bytes) = match floor {
        Some(_) => (
            meta.config.retention_local_target_ms(),
            meta.config.retention_local_target_bytes(),
        ),
        None => (None, None),
    };
    if retention_ms.is_none()
        && retention_bytes.is_none()
        && local_ms.is_none()
        && local_bytes.is_none()
    {
        return Ok(());
    }
    let local_cutoff = local_ms.map(|ms| now_ms.saturating_sub(ms));
    let prefix = partition_prefix(meta.id, partition);
    let mut state = load_state(txn, dbs.parts, &prefix)?;
    let cutoff = retention_ms.map(|ms| now_ms.saturating_sub(ms));
    let mut removed = 0u64;
    loop {
        if removed >= PASS_BUDGET || state.log_records == 0 {
            break;
        }
        let lower = keys::log_key(&prefix, state.log_start);
        let upper = keys::log_key(&prefix, state.next_offset);
        let Some((k, v)) = dbs
            .log
            .range(
                txn,
                &(Bound::Included(&lower[..]), Bound::Excluded(&upper[..])),
            )?
            .next()
            .transpose()?
        else {
            break;
        };
        let offset = keys::log_offset(k);
        if floor.is_some_and(|f| offset >= f) {
            // Not in the bucket yet: it stays.
            break;
        }
        let record =
            Record::decode(v).map_err(|e| StoreError::Corrupt(format!("record {offset}: {e}")))?;
        let too_old = cutoff.is_some_and(|c| record.timestamp < c);
        let too_big = retention_bytes.is_some_and(|max| state.log_bytes > max);
        if too_old || too_big {
            remove_record(txn, dbs, meta, &prefix, &mut state, offset, &record, report)?;
        } else if local_cutoff.is_some_and(|c| record.timestamp < c)
            || local_bytes.is_some_and(|max| state.log_bytes > max)
        {
            // Local retention: the record leaves the local log only.
            txn.delete(Db::Log, &keys::log_key(&prefix, offset))?;
            state.log_records = state.log_records.saturating_sub(1);
            state.log_bytes = state.log_bytes.saturating_sub(record.wire_size() as u64);
        } else {
            break;
        }
        state.log_start = offset + 1;
        report.trimmed += 1;
        removed += 1;
    }
    if state.log_records == 0 {
        state.log_start = state.next_offset;
    }
    save_state(txn, &prefix, &state)
}

/// Removes one record from the log (and its key from the view, if this record is
/// the key's latest).
#[allow(clippy::too_many_arguments)]
fn remove_record(
    txn: &mut Tx,
    dbs: Dbs,
    meta: &TopicMeta,
    prefix: &[u8; keys::PREFIX_LEN],
    state: &mut PartitionState,
    offset: u64,
    record: &Record,
    report: &mut MaintainReport,
) -> Result<()> {
    txn.delete(Db::Log, &keys::log_key(prefix, offset))?;
    state.log_records = state.log_records.saturating_sub(1);
    state.log_bytes = state.log_bytes.saturating_sub(record.wire_size() as u64);
    if meta.config.kvstore()
        && let Some(key) = record.key.as_deref().filter(|k| !k.is_empty())
    {
        let vk = keys::view_key(prefix, key);
        let latest = dbs
            .view
            .get(txn, &vk)?
            .and_then(ViewEntry::decode)
            .is_some_and(|e| e.offset == offset);
        if latest {
            txn.delete(Db::View, &vk)?;
            report.expired_keys += 1;
        }
    }
    Ok(())
}

/// Removes superseded records, and tombstones older than `delete.retention.ms`.
fn compact(
    txn: &mut Tx,
    dbs: Dbs,
    meta: &TopicMeta,
    partition: i32,
    now_ms: i64,
    report: &mut MaintainReport,
) -> Result<()> {
    let prefix = partition_prefix(meta.id, partition);
    let mut state = load_state(txn, dbs.parts, &prefix)?;
    if state.dirty_records < COMPACT_MIN_DIRTY {
        return Ok(());
    }
    let lower = keys::log_key(&prefix, state.log_start);
    let upper = keys::log_key(&prefix, state.next_offset);
    let range = (Bound::Included(&lower[..]), Bound::Excluded(&upper[..]));
    // First pass: the latest offset of every key.
    let mut latest: HashMap<Vec<u8>, u64> = HashMap::new();
    for item in dbs.log.range(txn, &range)? {
        let (k, v) = item?;
        let offset = keys::log_offset(k);
        let record =
            Record::decode(v).map_err(|e| StoreError::Corrupt(format!("record {offset}: {e}")))?;
        if let Some(key) = record.key {
            latest.insert(key, offset);
        }
    }
    // Second pass: what to drop.
    let tombstone_cutoff = now_ms.saturating_sub(meta.config.delete_retention_ms());
    let mut drop = Vec::new();
    for item in dbs.log.range(txn, &range)? {
        let (k, v) = item?;
        let offset = keys::log_offset(k);
        let record =
            Record::decode(v).map_err(|e| StoreError::Corrupt(format!("record {offset}: {e}")))?;
        let Some(key) = &record.key else { continue };
        let superseded = latest.get(key).is_some_and(|l| *l != offset);
        let old_tombstone = record.value.is_none() && record.timestamp < tombstone_cutoff;
        if superseded || old_tombstone {
            drop.push((offset, record));
            if drop.len() as u64 >= PASS_BUDGET {
                break;
            }
        }
    }
    let finished = (drop.len() as u64) < PASS_BUDGET;
    for (offset, record) in &drop {
        // Superseded records are never a key's latest, so the view is untouched;
        // an old tombstone's key is already absent from it.
        remove_record(txn, dbs, meta, &prefix, &mut state, *offset, record, report)?;
        report.compacted += 1;
    }
    if finished {
        state.dirty_records = 0;
    }
    // The log may now start later than before.
    let lower = keys::log_key(&prefix, state.log_start);
    state.log_start = match dbs
        .log
        .range(
            txn,
            &(Bound::Included(&lower[..]), Bound::Excluded(&upper[..])),
        )?
        .next()
        .transpose()?
    {
        Some((k, _)) => keys::log_offset(k),
        None => state.next_offset,
    };
    save_state(txn, &prefix, &state)
}
