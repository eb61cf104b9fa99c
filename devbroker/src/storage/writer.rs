//! The single writer thread: it owns every LMDB write transaction (heed requires
//! a write transaction to stay on one OS thread) and does group commit: the jobs
//! that queued up while the previous commit was syncing are applied in one
//! transaction and made durable by one commit (one fsync). Each job still succeeds
//! or fails on its own: a job checks everything before it changes anything, and a
//! failure that spoils the transaction (disk or map full) makes the writer retry
//! the group one job per transaction, so only the job that hit it fails.

use std::sync::{Arc, Weak};
use std::time::Instant;

use heed::{Env, RwTxn, WithoutTls};
use tokio::sync::{mpsc, oneshot};

use super::keys::{self, PREFIX_LEN, partition_prefix};
use super::maintain::{self, MaintainReport};
use super::records::{PartitionState, Record, StoredRecord, TopicMeta, ViewEntry, batch_wire_size};
use super::wal::{Db, Tx, Wal};
use super::{Dbs, Inner, Result, Store, StoreError, display_key, load_state, now_ms, view_get};
use crate::config::{self, KVSTORE, MAX_PARTITIONS, TopicConfig};
use crate::wire::kvstore::{Condition, Precondition, WriteRequest};
use crate::wire::{MAX_KEY_BYTES, sha256_hex};

/// Most jobs applied in one commit.
const MAX_GROUP: usize = 512;

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
    /// Makes the LMDB file durable up to now (see [`super::wal`]).
    Checkpoint,
    Shutdown,
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

pub(crate) struct Job {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Applied>>,
}

/// What the writer needs of the store: a weak handle, so dropping every `Store`
/// lets the writer end.
pub(crate) struct Shared {
    pub inner: Weak<Inner>,
}

/// Changes to the in-memory topic cache, applied only once their commit is durable.
enum Effect {
    TopicSet(Arc<TopicMeta>),
    TopicRemoved(String),
}

pub(crate) fn spawn(
    env: Env<WithoutTls>,
    dbs: Dbs,
    wal: Wal,
    rx: mpsc::Receiver<Job>,
    shared: Shared,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lmdb-writer".into())
        .spawn(move || run(env, dbs, wal, rx, shared))
        .map_err(|e| StoreError::Io(format!("cannot start the writer thread: {e}")))
}

fn run(env: Env<WithoutTls>, dbs: Dbs, mut wal: Wal, mut rx: mpsc::Receiver<Job>, shared: Shared) {
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let stop = group.iter().any(|j| matches!(j.op, Op::Shutdown));
        commit_group(&env, dbs, &mut wal, &mut group, &shared);
        if stop {
            rx.close();
            // Jobs that raced in behind the shutdown are refused, not dropped silently.
            while let Ok(job) = rx.try_recv() {
                let _ = job.reply.send(Err(StoreError::Closed));
            }
            break;
        }
        wal.maybe_checkpoint();
    }
    // The last checkpoint: the next start has nothing to replay.
    if let Err(e) = wal.close() {
        tracing::warn!(error = %e, "last checkpoint failed; the next start replays the redo log");
    }
    tracing::debug!("writer thread stopped");
}

fn commit_group(
    env: &Env<WithoutTls>,
    dbs: Dbs,
    wal: &mut Wal,
    group: &mut Vec<Job>,
    shared: &Shared,
) {
    let started = Instant::now();
    let now = now_ms();
    let store = shared.inner.upgrade().map(|inner| Store { inner });
    // Commits made, each with how many jobs it carried (for the metrics).
    let mut commits: Vec<usize> = Vec::new();
    let syncs_before = wal.syncs();
    let first = match apply_all(env, dbs, wal, group, now) {
        // Pages freed since the checkpointed snapshot (a deleted topic, a
        // retention pass) are reusable only once no reader sees them: take a
        // checkpoint, which moves the pin, and try again before answering "full".
        Err(StoreError::StorageFull) if make_room(env, dbs, wal).is_ok() => {
            commits.push(0);
            apply_all(env, dbs, wal, group, now)
        }
        other => other,
    };
    let (mut results, effects) = match first {
        Ok(ok) => {
            commits.push(group.len());
            ok
        }
        Err(e) if group.len() > 1 => {
            tracing::warn!(error = %e, jobs = group.len(), "group commit failed; retrying jobs one by one");
            let mut results = Vec::with_capacity(group.len());
            let mut effects = Vec::new();
            for job in group.iter() {
                match apply_all(env, dbs, wal, std::slice::from_ref(job), now) {
                    Ok((mut r, e)) => {
                        commits.push(1);
                        results.append(&mut r);
                        effects.extend(e);
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            (results, effects)
        }
        Err(e) => (vec![Err(e)], Vec::new()),
    };
    let checkpoint = group.iter().any(|j| matches!(j.op, Op::Checkpoint));
    if checkpoint && let Err(e) = wal.checkpoint_now() {
        for (job, r) in group.iter().zip(results.iter_mut()) {
            if matches!(job.op, Op::Checkpoint) {
                *r = Err(clone_fatal(&e));
            }
        }
    }
    if let Some(store) = &store {
        for effect in effects {
            match effect {
                Effect::TopicSet(meta) => store.set_topic(meta),
                Effect::TopicRemoved(name) => store.remove_topic(&name),
            }
        }
        let m = store.metrics();
        for jobs in &commits {
            m.commits.inc();
            m.commit_batch_size.observe(*jobs as f64);
        }
        m.fsyncs.inc_by(wal.syncs() - syncs_before);
        m.commit_seconds.observe(started.elapsed().as_secs_f64());
        let appended: u64 = results
            .iter()
            .filter_map(|r| match r {
                Ok(Applied::Appended(a)) => Some(a.next_offset - a.base_offset),
                _ => None,
            })
            .sum();
        m.records_appended.inc_by(appended);
        store.after_commit();
    }
    for (job, result) in group.drain(..).zip(results) {
        let _ = job.reply.send(result);
    }
}

type GroupOutcome = (Vec<Result<Applied>>, Vec<Effect>);

/// Applies jobs in one transaction and commits it. `Err` means the transaction
/// was abandoned and nothing of the group was written.
fn apply_all(
    env: &Env<WithoutTls>,
    dbs: Dbs,
    wal: &mut Wal,
    jobs: &[Job],
    now: i64,
) -> Result<GroupOutcome> {
    let mut txn = Tx::begin(env, dbs, wal.take_buffer())?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut effects = Vec::new();
    for job in jobs {
        let r = apply(&mut txn, dbs, &job.op, now, &mut effects);
        if let Err(e) = &r
            && e.poisons_txn()
        {
            return Err(clone_fatal(e));
        }
        results.push(r);
    }
    commit(txn, wal)?;
    Ok((results, effects))
}

/// Makes a transaction's changes durable in the redo log, then visible.
fn commit(txn: Tx, wal: &mut Wal) -> Result<()> {
    let (txn, mut record) = txn.into_parts();
    let result = if Tx::is_empty_record(&record) {
        txn.abort();
        Ok(())
    } else {
        match wal.append(&mut record) {
            Ok(()) => txn.commit().map_err(|e| {
                // Not applied, so not to be replayed either.
                wal.undo(record.len());
                e.into()
            }),
            Err(e) => Err(e),
        }
    };
    wal.recycle(record);
    result
}

/// Lets the next transaction reuse every page freed so far: a checkpoint (the
/// pinned snapshot moves to the latest), a one-key change (a counter in `meta`;
/// LMDB keeps the pages of the snapshot before the latest), another checkpoint.
fn make_room(env: &Env<WithoutTls>, dbs: Dbs, wal: &mut Wal) -> Result<()> {
    const KEY: &str = "free_pages_epoch";
    wal.checkpoint_now()?;
    let mut txn = Tx::begin(env, dbs, wal.take_buffer())?;
    let epoch = dbs
        .meta
        .get(&txn, KEY)?
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    txn.put(Db::Meta, KEY.as_bytes(), &(epoch + 1).to_be_bytes())?;
    commit(txn, wal)?;
    wal.checkpoint_now()
}

fn clone_fatal(e: &StoreError) -> StoreError {
    match e {
        StoreError::StorageFull => StoreError::StorageFull,
        StoreError::Io(s) => StoreError::Io(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        other => StoreError::Internal(other.to_string()),
    }
}

fn apply(txn: &mut Tx, dbs: Dbs, op: &Op, now: i64, effects: &mut Vec<Effect>) -> Result<Applied> {
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
            delete_topic(txn, dbs, name)?;
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

fn delete_topic(txn: &mut Tx, dbs: Dbs, name: &str) -> Result<()> {
    let meta = load_topic(txn, dbs, name)?;
    let lower = keys::topic_prefix(meta.id);
    let upper = keys::prefix_successor(&lower);
    for db in [Db::Log, Db::View, Db::Parts] {
        txn.delete_range(db, &lower, upper.as_deref())?;
    }
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
