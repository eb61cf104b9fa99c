//! The operations of the writer: what each job does inside the group's write
//! transaction (kvstore write, append, create / delete topic, alter configs,
//! maintenance, restore). Each checks everything before it changes anything,
//! so a failed job leaves the transaction as it found it. Run only by the
//! writer thread (`writer`), which commits.

use std::sync::Arc;

use heed::RwTxn;

use super::fence::Fence;
use super::keys::{self, PREFIX_LEN, partition_prefix};
use super::maintain::{self, MaintainReport};
use super::offsets::{self, StoredOffset};
use super::records::{PartitionState, Record, StoredRecord, TopicMeta, ViewEntry, batch_wire_size};
use super::wal::{Db, Tx};
use super::{Dbs, Result, StoreError, display_key, load_state, view_get};
use crate::config::{self, KVSTORE, MAX_PARTITIONS, TopicConfig};
use crate::wire::kvstore::{Condition, Precondition, WriteRequest};
use crate::wire::{MAX_KEY_BYTES, sha256_hex};

/// Where an append landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendResult {
    /// Offset of the first record appended.
    pub base_offset: u64,
    /// Offset after the last record appended (the new high watermark).
    pub next_offset: u64,
    /// The time the broker stamped, in ms.
    pub timestamp: i64,
}

/// One config change of an alter-configs request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigChange {
    Set(String, String),
    Delete(String),
}

pub(crate) enum Op {
    KvWrite {
        topic: String,
        partition: i32,
        batch: WriteRequest,
    },
    Append {
        topic: String,
        partition: i32,
        records: Vec<Record>,
    },
    CreateTopic {
        name: String,
        partitions: i32,
        config: TopicConfig,
    },
    DeleteTopic {
        name: String,
    },
    AlterConfig {
        name: String,
        changes: Vec<ConfigChange>,
    },
    Maintain {
        now_ms: i64,
    },
    /// Retention with the tier's upload floors (see [`maintain::Floors`]).
    MaintainTiered {
        now_ms: i64,
        floors: Arc<maintain::Floors>,
    },
    /// Restores view entries and records at their original offsets (tier restore).
    Restore(RestoreBatch),
    /// Records committed offsets of a consumer group (see [`super::offsets`]).
    CommitOffsets {
        group: String,
        offsets: Vec<StoredOffset>,
    },
    /// Deletes committed offsets of some partitions of a group, or all.
    DeleteOffsets {
        group: String,
        partitions: Option<Vec<(String, i32)>>,
    },
    /// Makes the LMDB file durable up to now (see [`super::wal`]).
    Checkpoint,
    Shutdown,
}

impl Op {
    /// Whether the operation changes data, so that a fenced store refuses it.
    /// Restore runs at open, before the broker serves (and before it can be
    /// fenced); a checkpoint only makes durable what is already committed.
    fn changes_data(&self) -> bool {
        match self {
            Op::KvWrite { .. }
            | Op::Append { .. }
            | Op::CreateTopic { .. }
            | Op::DeleteTopic { .. }
            | Op::AlterConfig { .. }
            | Op::Maintain { .. }
            | Op::MaintainTiered { .. }
            | Op::CommitOffsets { .. }
            | Op::DeleteOffsets { .. } => true,
            Op::Restore(_) | Op::Checkpoint | Op::Shutdown => false,
        }
    }
}

/// Part of a partition restored from the tier: view entries (from a snapshot),
/// records at their original offsets (replayed onto the log and the view), then
/// optionally the log range.
#[derive(Clone, Debug, Default)]
pub struct RestoreBatch {
    pub topic: String,
    pub partition: i32,
    /// `(key, value, offset, timestamp)` of the latest record of each key.
    pub view: Vec<(Vec<u8>, Vec<u8>, u64, i64)>,
    /// Records in ascending offset order.
    pub records: Vec<StoredRecord>,
    /// The local log start to set once applied.
    pub log_start: Option<u64>,
    /// The high watermark to set once applied.
    pub next_offset: Option<u64>,
}

#[derive(Debug)]
pub(crate) enum Applied {
    Appended(AppendResult),
    Topic(Arc<TopicMeta>),
    Deleted,
    Maintained(MaintainReport),
    Stopping,
}

impl Applied {
    pub(crate) fn appended(self) -> Result<AppendResult> {
        match self {
            Applied::Appended(a) => Ok(a),
            other => Err(StoreError::Internal(format!(
                "expected an append, got {other:?}"
            ))),
        }
    }

    pub(crate) fn topic(self) -> Result<Arc<TopicMeta>> {
        match self {
            Applied::Topic(t) => Ok(t),
            other => Err(StoreError::Internal(format!(
                "expected a topic, got {other:?}"
            ))),
        }
    }
}

/// Changes to the in-memory topic cache, applied only once their commit is durable.
pub(crate) enum Effect {
    TopicSet(Arc<TopicMeta>),
    TopicRemoved(String),
    /// A group's committed offsets after the commit (none: the group has none).
    GroupOffsets(String, Vec<StoredOffset>),
}

/// Applies one job to the group's transaction. The write gate is here, on the
/// writer thread, so no path around it exists: once the store is fenced every
/// operation that changes data is refused before it touches anything.
pub(crate) fn apply(
    txn: &mut Tx,
    dbs: Dbs,
    op: &Op,
    now: i64,
    fence: &Fence,
    effects: &mut Vec<Effect>,
) -> Result<Applied> {
    if op.changes_data() {
        fence.check()?;
    }
    match op {
        Op::KvWrite {
            topic,
            partition,
            batch,
        } => kv_write(txn, dbs, topic, *partition, batch, now).map(Applied::Appended),
        Op::Append {
            topic,
            partition,
            records,
        } => {
            let meta = load_topic(txn, dbs, topic)?;
            check_partition(&meta, *partition)?;
            check_batch_size(&meta, records)?;
            append(txn, dbs, &meta, *partition, records.iter().cloned()).map(Applied::Appended)
        }
        Op::CreateTopic {
            name,
            partitions,
            config,
        } => {
            let meta = create_topic(txn, dbs, name, *partitions, config, now)?;
            effects.push(Effect::TopicSet(meta.clone()));
            Ok(Applied::Topic(meta))
        }
        Op::DeleteTopic { name } => {
            delete_topic(txn, dbs, name, effects)?;
            effects.push(Effect::TopicRemoved(name.clone()));
            Ok(Applied::Deleted)
        }
        Op::AlterConfig { name, changes } => {
            let meta = alter_config(txn, dbs, name, changes)?;
            effects.push(Effect::TopicSet(meta.clone()));
            Ok(Applied::Topic(meta))
        }
        Op::Maintain { now_ms } => maintain::run(txn, dbs, *now_ms, None).map(Applied::Maintained),
        Op::MaintainTiered { now_ms, floors } => {
            maintain::run(txn, dbs, *now_ms, Some(floors)).map(Applied::Maintained)
        }
        Op::Restore(batch) => restore(txn, dbs, batch).map(|_| Applied::Deleted),
        Op::CommitOffsets { group, offsets } => {
            offsets::commit(txn, dbs, group, offsets, effects).map(|_| Applied::Deleted)
        }
        Op::DeleteOffsets { group, partitions } => {
            offsets::delete(txn, dbs, group, partitions.as_deref(), effects)
                .map(|_| Applied::Deleted)
        }
        // Taken once the group is committed.
        Op::Checkpoint => Ok(Applied::Deleted),
        Op::Shutdown => Ok(Applied::Stopping),
    }
}

pub(crate) fn load_topic(txn: &RwTxn, dbs: Dbs, name: &str) -> Result<TopicMeta> {
    let bytes = dbs
        .topics
        .get(txn, name)?
        .ok_or_else(|| StoreError::UnknownTopic(name.to_string()))?;
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("topic {name}: {e}")))
}

fn check_partition(meta: &TopicMeta, partition: i32) -> Result<()> {
    if partition < 0 || partition >= meta.partitions {
        return Err(StoreError::UnknownPartition {
            topic: meta.name.clone(),
            partition,
            partitions: meta.partitions,
        });
    }
    Ok(())
}

fn check_batch_size<'a>(
    meta: &TopicMeta,
    records: impl IntoIterator<Item = &'a Record>,
) -> Result<()> {
    let size = batch_wire_size(records);
    let max = meta.config.max_message_bytes();
    if size > max {
        return Err(StoreError::BatchTooLarge {
            topic: meta.name.clone(),
            size,
            max,
        });
    }
    Ok(())
}

/// Checks a key of a kvstore request.
pub fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(StoreError::InvalidRequest("key must not be empty".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::InvalidRequest(format!(
            "key too large: {} bytes > {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

fn kv_write(
    txn: &mut Tx,
    dbs: Dbs,
    topic: &str,
    partition: i32,
    batch: &WriteRequest,
    now: i64,
) -> Result<AppendResult> {
    let meta = load_topic(txn, dbs, topic)?;
    check_partition(&meta, partition)?;
    if !meta.config.kvstore() {
        return Err(StoreError::NotKvstore(topic.to_string()));
    }
    if batch.puts.is_empty() && batch.deletes.is_empty() {
        return Err(StoreError::InvalidRequest(
            "write request has no puts and no deletes".into(),
        ));
    }
    let prefix = partition_prefix(meta.id, partition);
    let checks = batch
        .puts
        .iter()
        .map(|p| (&p.key, &p.precondition))
        .chain(batch.deletes.iter().map(|d| (&d.key, &d.precondition)));
    for (key, precondition) in checks.clone() {
        check_key(key)?;
        if let Some(Precondition {
            kind: Some(Condition::IfMatches(m)),
        }) = precondition
            && !is_sha256_hex(&m.sha256_hash)
        {
            return Err(StoreError::InvalidRequest(format!(
                "ifMatches of key {} must be a hex SHA-256 (64 hex digits), got {:?}",
                display_key(key),
                m.sha256_hash
            )));
        }
    }
    // Every precondition is checked against the state before the batch.
    for (key, precondition) in checks {
        let Some(Precondition { kind: Some(kind) }) = precondition else {
            continue;
        };
        let current = view_get(txn, dbs.view, &prefix, key)?;
        let failure = match (kind, current) {
            (Condition::IfExists(e), None) if e.exists => {
                Some("ifExists: the key does not exist".to_string())
            }
            (Condition::IfExists(e), Some(_)) if !e.exists => {
                Some("ifExists=false: the key already exists".to_string())
            }
            (Condition::IfMatches(_), None) => {
                Some("ifMatches: the key does not exist".to_string())
            }
            (Condition::IfMatches(m), Some(entry)) => {
                let actual = sha256_hex(entry.value);
                (!actual.eq_ignore_ascii_case(&m.sha256_hash)).then(|| {
                    format!(
                        "ifMatches: the current value's sha256 is {actual}, not {}",
                        m.sha256_hash
                    )
                })
            }
            _ => None,
        };
        if let Some(reason) = failure {
            return Err(StoreError::PreconditionFailed {
                key: display_key(key),
                reason,
            });
        }
    }
    let records: Vec<Record> = batch
        .puts
        .iter()
        .map(|p| Record::new(now, Some(p.key.clone()), Some(p.value.clone())))
        .chain(
            batch
                .deletes
                .iter()
                .map(|d| Record::new(now, Some(d.key.clone()), None)),
        )
        .collect();
    check_batch_size(&meta, &records)?;
    append(txn, dbs, &meta, partition, records.into_iter())
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Appends records to a partition's log and, on a kvstore topic, applies them to
/// the view. The one append path: kvstore writes, HTTP Proxy and Kafka produce.
pub(crate) fn append(
    txn: &mut Tx,
    dbs: Dbs,
    meta: &TopicMeta,
    partition: i32,
    records: impl Iterator<Item = Record>,
) -> Result<AppendResult> {
    let prefix = partition_prefix(meta.id, partition);
    let mut state = load_state(txn, dbs.parts, &prefix)?;
    let base_offset = state.next_offset;
    let kvstore = meta.config.kvstore();
    let mut timestamp = 0;
    for record in records {
        let offset = state.next_offset;
        timestamp = record.timestamp;
        txn.put(Db::Log, &keys::log_key(&prefix, offset), &record.encode())?;
        if kvstore && let Some(key) = record.key.as_deref().filter(|k| !k.is_empty()) {
            let vk = keys::view_key(&prefix, key);
            match &record.value {
                Some(value) => {
                    let full = keys::is_long(key).then_some(key);
                    let entry = ViewEntry::encode(offset, record.timestamp, full, value);
                    txn.put(Db::View, &vk, &entry)?;
                }
                None => {
                    txn.delete(Db::View, &vk)?;
                }
            }
        }
        state.next_offset += 1;
        state.log_bytes += record.wire_size() as u64;
        state.log_records += 1;
        state.dirty_records += 1;
    }
    save_state(txn, &prefix, &state)?;
    Ok(AppendResult {
        base_offset,
        next_offset: state.next_offset,
        timestamp,
    })
}

/// Applies a [`RestoreBatch`]: view entries as given, records at their offsets.
fn restore(txn: &mut Tx, dbs: Dbs, batch: &RestoreBatch) -> Result<()> {
    let meta = load_topic(txn, dbs, &batch.topic)?;
    check_partition(&meta, batch.partition)?;
    let prefix = partition_prefix(meta.id, batch.partition);
    let mut state = load_state(txn, dbs.parts, &prefix)?;
    let kvstore = meta.config.kvstore();
    if kvstore {
        for (key, value, offset, timestamp) in &batch.view {
            check_key(key)?;
            let full = keys::is_long(key).then_some(&key[..]);
            let entry = ViewEntry::encode(*offset, *timestamp, full, value);
            txn.put(Db::View, &keys::view_key(&prefix, key), &entry)?;
        }
    }
    for r in &batch.records {
        let record = &r.record;
        txn.put(Db::Log, &keys::log_key(&prefix, r.offset), &record.encode())?;
        if kvstore && let Some(key) = record.key.as_deref().filter(|k| !k.is_empty()) {
            let vk = keys::view_key(&prefix, key);
            match &record.value {
                Some(value) => {
                    let full = keys::is_long(key).then_some(key);
                    let entry = ViewEntry::encode(r.offset, record.timestamp, full, value);
                    txn.put(Db::View, &vk, &entry)?;
                }
                None => {
                    txn.delete(Db::View, &vk)?;
                }
            }
        }
        state.next_offset = state.next_offset.max(r.offset + 1);
        state.log_bytes += record.wire_size() as u64;
        state.log_records += 1;
    }
    if let Some(start) = batch.log_start {
        state.log_start = start;
    }
    if let Some(next) = batch.next_offset {
        state.next_offset = next;
    }
    save_state(txn, &prefix, &state)
}

pub(crate) fn save_state(
    txn: &mut Tx,
    prefix: &[u8; PREFIX_LEN],
    state: &PartitionState,
) -> Result<()> {
    txn.put(Db::Parts, prefix, &state.encode())?;
    Ok(())
}

fn create_topic(
    txn: &mut Tx,
    dbs: Dbs,
    name: &str,
    partitions: i32,
    cfg: &TopicConfig,
    now: i64,
) -> Result<Arc<TopicMeta>> {
    config::validate_topic_name(name)?;
    if !(1..=MAX_PARTITIONS).contains(&partitions) {
        return Err(StoreError::InvalidRequest(format!(
            "partition count {partitions} must be 1 to {MAX_PARTITIONS}"
        )));
    }
    // Re-validate each value: configs may come straight from a client.
    let mut config = TopicConfig::default();
    for (k, v) in &cfg.values {
        config.set(k, v)?;
    }
    if dbs.topics.get(txn, name)?.is_some() {
        return Err(StoreError::TopicExists(name.to_string()));
    }
    let id = match dbs.meta.get(txn, "next_topic_id")? {
        Some(b) => u32::from_be_bytes(
            b.try_into()
                .map_err(|_| StoreError::Corrupt("next_topic_id".into()))?,
        ),
        None => 1,
    };
    let next = id
        .checked_add(1)
        .ok_or_else(|| StoreError::Internal("topic ids exhausted".into()))?;
    txn.put(Db::Meta, b"next_topic_id", &next.to_be_bytes())?;
    let meta = TopicMeta {
        id,
        name: name.to_string(),
        partitions,
        config,
        created_ms: now,
    };
    put_topic(txn, &meta)?;
    for p in 0..partitions {
        save_state(txn, &partition_prefix(id, p), &PartitionState::default())?;
    }
    Ok(Arc::new(meta))
}

fn put_topic(txn: &mut Tx, meta: &TopicMeta) -> Result<()> {
    let json = serde_json::to_vec(meta).map_err(|e| StoreError::Internal(e.to_string()))?;
    txn.put(Db::Topics, meta.name.as_bytes(), &json)?;
    Ok(())
}

/// Deletes a topic with its log, view, partition states and every group's
/// committed offsets of it, in one transaction.
fn delete_topic(txn: &mut Tx, dbs: Dbs, name: &str, effects: &mut Vec<Effect>) -> Result<()> {
    let meta = load_topic(txn, dbs, name)?;
    let lower = keys::topic_prefix(meta.id);
    let upper = keys::prefix_successor(&lower);
    for db in [Db::Log, Db::View, Db::Parts] {
        txn.delete_range(db, &lower, upper.as_deref())?;
    }
    offsets::delete_topic(txn, dbs, meta.id, effects)?;
    txn.delete(Db::Topics, name.as_bytes())?;
    Ok(())
}

fn alter_config(
    txn: &mut Tx,
    dbs: Dbs,
    name: &str,
    changes: &[ConfigChange],
) -> Result<Arc<TopicMeta>> {
    let mut meta = load_topic(txn, dbs, name)?;
    let was_kvstore = meta.config.kvstore();
    for change in changes {
        match change {
            ConfigChange::Set(k, v) => meta.config.set(k, v)?,
            ConfigChange::Delete(k) => meta.config.unset(k)?,
        }
    }
    if meta.config.kvstore() != was_kvstore {
        return Err(StoreError::InvalidRequest(format!(
            "{KVSTORE} is fixed when a topic is created; create a new topic to change it"
        )));
    }
    put_topic(txn, &meta)?;
    Ok(Arc::new(meta))
}
