//! Durable storage: one LMDB environment holding, per partition, an append-only
//! log and the key-value view materialized from it, plus topic metadata.
//!
//! Reads run on the caller's thread (use [`Store::read`] from async code, which
//! moves them to a blocking thread). Every change goes through the single writer
//! thread (`writer`), which groups concurrent requests into one commit, made
//! durable by the redo log and its checkpoints (`wal`).

mod error;
mod fence;
pub mod keys;
mod latency;
mod maintain;
mod ops;
pub mod records;
mod seek;
#[cfg(test)]
mod tests;
mod wal;
mod writer;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use heed::types::{Bytes, Str};
use heed::{Database, Env, EnvOpenOptions, RoTxn, WithoutTls};
use tokio::sync::{mpsc, oneshot, watch};

pub use error::{StoreError, display_key};
pub use fence::Fence;
pub use latency::Latency;
pub use maintain::{Floors, MaintainReport};
pub use ops::{AppendResult, ConfigChange, RestoreBatch, check_key};
pub use records::{Header, PartitionState, Record, StoredRecord, TopicMeta};

use crate::config::TopicConfig;
use crate::metrics::Metrics;
use crate::wire::kvstore::WriteRequest;
use keys::{PREFIX_LEN, partition_prefix};
use ops::{Applied, Op};
use records::ViewEntry;
use writer::Job;

/// Result of storage operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open the store.
#[derive(Clone)]
pub struct StoreOptions {
    /// Ceiling of the LMDB map (virtual; the file grows as needed up to it).
    pub map_size: usize,
    /// How often a checkpoint makes the LMDB file durable (see `storage/wal.rs`).
    pub checkpoint_interval: std::time::Duration,
    pub metrics: Arc<Metrics>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            map_size: crate::defaults::MAX_DB_SIZE,
            checkpoint_interval: std::time::Duration::from_millis(
                crate::defaults::CHECKPOINT_INTERVAL_MS,
            ),
            metrics: Arc::new(Metrics::new()),
        }
    }
}

/// The LMDB databases of the environment.
#[derive(Clone, Copy)]
pub(crate) struct Dbs {
    /// Counters such as the next topic id.
    pub meta: Database<Str, Bytes>,
    /// Topic name -> JSON [`TopicMeta`].
    pub topics: Database<Str, Bytes>,
    /// Partition prefix -> [`PartitionState`].
    pub parts: Database<Bytes, Bytes>,
    /// Partition prefix + offset -> [`Record`].
    pub log: Database<Bytes, Bytes>,
    /// Partition prefix + view key -> [`ViewEntry`].
    pub view: Database<Bytes, Bytes>,
}

struct Inner {
    env: Env<WithoutTls>,
    dbs: Dbs,
    topics: RwLock<BTreeMap<String, Arc<TopicMeta>>>,
    jobs: mpsc::Sender<Job>,
    commits: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    fence: Fence,
    writer: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// What a log read returns.
#[derive(Clone, Debug, Default)]
pub struct LogRead {
    pub records: Vec<StoredRecord>,
    pub log_start: u64,
    pub high_watermark: u64,
}

/// What a [`Store::read_log_with`] read covered.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogSpan {
    pub log_start: u64,
    pub high_watermark: u64,
    /// Records visited and the sum of their `wire_size`.
    pub records: usize,
    pub bytes: usize,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the store in `dir` and starts its writer thread.
    pub fn open(dir: &Path, opts: StoreOptions) -> Result<Store> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Io(format!("cannot create data dir {}: {e}", dir.display()))
        })?;
        // Roll LMDB back to its last durable snapshot (see `wal`); the redo log
        // replayed below brings back every answered write made after it.
        let checkpoint = wal::Checkpoint::read(dir)?;
        if let Some(c) = &checkpoint {
            c.restore_meta_pages(dir)?;
        }
        // SAFETY: the environment is opened once per process per path; the
        // data dir is ours alone (a second broker on it would see LMDB's lock).
        // NO_SYNC is safe here only because of the redo log and checkpoints.
        let env = unsafe {
            let mut o = EnvOpenOptions::new();
            o.flags(heed::EnvFlags::NO_SYNC);
            o.read_txn_without_tls()
                .map_size(opts.map_size)
                .max_dbs(8)
                .max_readers(1024)
                .open(dir)
        }?;
        env.clear_stale_readers()?;
        // Until the first checkpoint below, the checkpointed snapshot must stay
        // intact (a crash during the replay rolls back to it again), so pin it.
        let pin = env.clone().static_read_txn()?;
        let mut wtxn = env.write_txn()?;
        let dbs = Dbs {
            meta: env.create_database(&mut wtxn, Some("meta"))?,
            topics: env.create_database(&mut wtxn, Some("topics"))?,
            parts: env.create_database(&mut wtxn, Some("partitions"))?,
            log: env.create_database(&mut wtxn, Some("log"))?,
            view: env.create_database(&mut wtxn, Some("view"))?,
        };
        wtxn.commit()?;
        let next_segment = wal::replay(dir, checkpoint.map_or(0, |c| c.replay_from), &env, dbs)?;
        let wal = wal::Wal::start(
            dir,
            env.clone(),
            next_segment,
            opts.checkpoint_interval,
            opts.metrics.storage_latency.clone(),
        )?;
        drop(pin);
        let rtxn = env.read_txn()?;
        let mut topics = BTreeMap::new();
        for item in dbs.topics.iter(&rtxn)? {
            let (name, bytes) = item?;
            let meta: TopicMeta = serde_json::from_slice(bytes)
                .map_err(|e| StoreError::Corrupt(format!("topic {name}: {e}")))?;
            topics.insert(name.to_string(), Arc::new(meta));
        }
        drop(rtxn);

        let (jobs, rx) = mpsc::channel(4096);
        let (commits, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            env: env.clone(),
            dbs,
            topics: RwLock::new(topics),
            jobs,
            commits,
            metrics: opts.metrics,
            fence: Fence::default(),
            writer: std::sync::Mutex::new(None),
        });
        let store = Store { inner };
        let fence = store.inner.fence.clone();
        let handle = writer::spawn(env, dbs, wal, rx, fence, store.clone_weak())?;
        if let Ok(mut w) = store.inner.writer.lock() {
            *w = Some(handle);
        }
        Ok(store)
    }

    fn clone_weak(&self) -> writer::Shared {
        writer::Shared {
            inner: Arc::downgrade(&self.inner),
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// The write fence: once set, every write is refused (see `fence`).
    pub fn fence(&self) -> &Fence {
        &self.inner.fence
    }

    /// Runs a read on a blocking thread, so LMDB page faults never stall the runtime.
    ///
    /// Measured and rejected (NOTES.md): a dedicated reader pool, and a
    /// semaphore bounding concurrent reads to one per core; both cost more CPU
    /// per batch_get on a quiet machine than tokio's blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || f(&store))
            .await
            .map_err(|e| StoreError::Internal(format!("read task failed: {e}")))?
    }

    /// A receiver that changes after every commit (for long polls).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.commits.subscribe()
    }

    async fn submit(&self, op: Op) -> Result<Applied> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .jobs
            .send(Job {
                op,
                reply,
                queued: std::time::Instant::now(),
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Applies a kvstore write batch atomically: every precondition is checked
    /// against the state before the batch; then puts and deletes are appended to
    /// the log and applied to the view, in one durable commit.
    pub async fn kv_write(
        &self,
        topic: &str,
        partition: i32,
        batch: WriteRequest,
    ) -> Result<AppendResult> {
        self.submit(Op::KvWrite {
            topic: topic.to_string(),
            partition,
            batch,
        })
        .await?
        .appended()
    }

    /// Appends records to a partition (HTTP Proxy and Kafka produce). On a kvstore
    /// topic, records with a key update the view: last write wins, a null value deletes.
    pub async fn append(
        &self,
        topic: &str,
        partition: i32,
        records: Vec<Record>,
    ) -> Result<AppendResult> {
        self.submit(Op::Append {
            topic: topic.to_string(),
            partition,
            records,
        })
        .await?
        .appended()
    }

    /// Creates a topic; fails if it exists.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        config: TopicConfig,
    ) -> Result<Arc<TopicMeta>> {
        self.submit(Op::CreateTopic {
            name: name.to_string(),
            partitions,
            config,
        })
        .await?
        .topic()
    }

    /// Deletes a topic with its log and view.
    pub async fn delete_topic(&self, name: &str) -> Result<()> {
        self.submit(Op::DeleteTopic {
            name: name.to_string(),
        })
        .await
        .map(drop)
    }

    /// Changes topic configs (set or back to default), all or none.
    pub async fn alter_config(
        &self,
        name: &str,
        changes: Vec<ConfigChange>,
    ) -> Result<Arc<TopicMeta>> {
        self.submit(Op::AlterConfig {
            name: name.to_string(),
            changes,
        })
        .await?
        .topic()
    }

    /// Runs one pass of retention and compaction over every partition.
    pub async fn maintain(&self, now_ms: i64) -> Result<MaintainReport> {
        match self.submit(Op::Maintain { now_ms }).await? {
            Applied::Maintained(r) => Ok(r),
            other => Err(StoreError::Internal(format!("maintain answered {other:?}"))),
        }
    }

    /// Like [`Store::maintain`], but records at or above a partition's upload
    /// floor stay, and `retention.local.target.*` trims uploaded records from the
    /// local log (keeping the view: the bucket still has them).
    pub async fn maintain_tiered(
        &self,
        now_ms: i64,
        floors: Arc<Floors>,
    ) -> Result<MaintainReport> {
        match self.submit(Op::MaintainTiered { now_ms, floors }).await? {
            Applied::Maintained(r) => Ok(r),
            other => Err(StoreError::Internal(format!("maintain answered {other:?}"))),
        }
    }

    /// Restores part of a partition from the tier (see [`RestoreBatch`]).
    pub async fn restore(&self, batch: RestoreBatch) -> Result<()> {
        self.submit(Op::Restore(batch)).await.map(drop)
    }

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

    /// Makes everything written so far durable in the LMDB file itself, so the
    /// next start has no redo log to replay (also done every few seconds).
    pub async fn checkpoint(&self) -> Result<()> {
        self.submit(Op::Checkpoint).await.map(drop)
    }

    /// Stops the writer after the queued writes and its last checkpoint.
    pub async fn close(&self) -> Result<()> {
        // Everything queued before this job is committed before the writer exits.
        let _ = self.submit(Op::Shutdown).await;
        let handle = self.inner.writer.lock().ok().and_then(|mut w| w.take());
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| StoreError::Internal(e.to_string()))?
                .map_err(|_| StoreError::Internal("writer thread panicked".into()))?;
        }
        // The writer's last checkpoint synced the environment.
        Ok(())
    }

    /// Topic metadata, from memory.
    pub fn topic(&self, name: &str) -> Option<Arc<TopicMeta>> {
        self.inner.topics.read().ok()?.get(name).cloned()
    }

    /// All topics, by name.
    pub fn topics(&self) -> Vec<Arc<TopicMeta>> {
        self.inner
            .topics
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(crate) fn set_topic(&self, meta: Arc<TopicMeta>) {
        if let Ok(mut t) = self.inner.topics.write() {
            t.insert(meta.name.clone(), meta);
        }
    }

    pub(crate) fn remove_topic(&self, name: &str) {
        if let Ok(mut t) = self.inner.topics.write() {
            t.remove(name);
        }
    }

    pub(crate) fn after_commit(&self) {
        self.inner.commits.send_modify(|c| *c += 1);
    }

    /// The topic and partition, or the error a client should see.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<Arc<TopicMeta>> {
        let meta = self
            .topic(topic)
            .ok_or_else(|| StoreError::UnknownTopic(topic.to_string()))?;
        if partition < 0 || partition >= meta.partitions {
            return Err(StoreError::UnknownPartition {
                topic: topic.to_string(),
                partition,
                partitions: meta.partitions,
            });
        }
        Ok(meta)
    }

    /// Like [`Store::partition`], and the topic must have kvstore enabled.
    pub fn kv_partition(&self, topic: &str, partition: i32) -> Result<Arc<TopicMeta>> {
        let meta = self.partition(topic, partition)?;
        if !meta.config.kvstore() {
            return Err(StoreError::NotKvstore(topic.to_string()));
        }
        Ok(meta)
    }

    fn read_txn(&self) -> Result<RoTxn<'_, WithoutTls>> {
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
pub(crate) fn scan_view(
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
