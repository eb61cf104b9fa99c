//! Durable storage: one LMDB environment holding, per partition, an append-only
//! log and the key-value view materialized from it, plus topic metadata.
//!
//! Reads run on the caller's thread (use [`Store::read`] from async code, which
//! moves them to a blocking thread). Every change goes through the single writer
//! thread (`writer`), which groups concurrent requests into one commit, made
//! durable by the redo log and its checkpoints (`wal`).

#[cfg(test)]
mod durability_tests;
mod error;
mod fence;
#[cfg(test)]
mod hold_tests;
pub mod keys;
mod latency;
mod maintain;
mod offsets;
#[cfg(test)]
mod offsets_tests;
mod ops;
mod reads;
pub mod records;
mod seek;
#[cfg(test)]
mod tests;
mod visibility;
mod wal;
mod writer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use heed::types::{Bytes, Str};
use heed::{Database, Env, EnvOpenOptions, WithoutTls};
use tokio::sync::{mpsc, oneshot, watch};

pub use error::{StoreError, display_key};
pub use fence::Fence;
pub use latency::Latency;
pub use maintain::{Floors, MaintainReport};
pub use offsets::{MAX_GROUP_ID_BYTES, StoredOffset};
pub use ops::{AppendResult, ConfigChange, RestoreBatch, check_key};
pub(crate) use reads::{load_state, view_get};
pub use records::{Header, PartitionState, Record, StoredRecord, TopicMeta};

use crate::config::TopicConfig;
use crate::metrics::Metrics;
use crate::wire::kvstore::WriteRequest;
use ops::{Applied, Op};
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
    /// How often the data file's dirty pages are handed to the disk between
    /// checkpoints (`None`: only the checkpoint writes them).
    pub checkpoint_writeback: Option<std::time::Duration>,
    /// At most this percent of a checkpoint's data sync keeps the disk busy
    /// (100: the sync writes everything at once; see `crate::durable`).
    pub checkpoint_sync_duty: u8,
    /// How long the writer may keep an LMDB transaction open across groups
    /// it has answered (see `storage::visibility`); zero: one commit per group.
    pub commit_hold: std::time::Duration,
    pub metrics: Arc<Metrics>,
}

/// `--checkpoint-writeback-ms` as an option: 0 turns the writeback off.
pub fn writeback_every(ms: u64) -> Option<std::time::Duration> {
    (ms > 0).then(|| std::time::Duration::from_millis(ms))
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            map_size: crate::defaults::MAX_DB_SIZE,
            checkpoint_interval: std::time::Duration::from_millis(
                crate::defaults::CHECKPOINT_INTERVAL_MS,
            ),
            checkpoint_writeback: writeback_every(crate::defaults::CHECKPOINT_WRITEBACK_MS),
            checkpoint_sync_duty: crate::defaults::CHECKPOINT_SYNC_DUTY,
            commit_hold: std::time::Duration::from_millis(crate::defaults::COMMIT_HOLD_MS),
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
    /// Group + topic id + partition -> committed offset (see `offsets`).
    pub offsets: Database<Bytes, Bytes>,
}

struct Inner {
    env: Env<WithoutTls>,
    dbs: Dbs,
    topics: RwLock<BTreeMap<String, Arc<TopicMeta>>>,
    /// Committed offsets, changed once durable (see `offsets`).
    offsets: RwLock<offsets::OffsetCache>,
    offsets_version: std::sync::atomic::AtomicU64,
    jobs: mpsc::Sender<Job>,
    commits: watch::Sender<u64>,
    metrics: Arc<Metrics>,
    fence: Fence,
    /// Which answered writes readers can see (`visibility`).
    vis: Arc<visibility::Visibility>,
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
            offsets: env.create_database(&mut wtxn, Some("offsets"))?,
        };
        wtxn.commit()?;
        let (replay_from, replayed_seal) = checkpoint
            .as_ref()
            .map_or((0, wal::Seal::Plain), |c| (c.replay_from, c.seal));
        let next_segment = wal::replay(dir, replay_from, replayed_seal, &env, dbs)?;
        // The data dir keeps its log key; one written before keys existed (or
        // a new one) gets a new key with its first checkpoint.
        let seal = match replayed_seal {
            wal::Seal::Keyed(_) => replayed_seal,
            wal::Seal::Plain => wal::Seal::new_key()?,
        };
        let wal = wal::Wal::start(
            dir,
            env.clone(),
            next_segment,
            seal,
            opts.checkpoint_interval,
            wal::Pacing {
                writeback: opts.checkpoint_writeback,
                sync: (opts.checkpoint_sync_duty < 100)
                    .then_some(crate::durable::Pace::Duty(opts.checkpoint_sync_duty)),
            },
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
        let offsets = offsets::load_all(&rtxn, dbs)?;
        drop(rtxn);

        let (jobs, rx) = mpsc::channel(4096);
        let (commits, _) = watch::channel(0);
        let inner = Arc::new(Inner {
            env: env.clone(),
            dbs,
            topics: RwLock::new(topics),
            offsets: RwLock::new(offsets),
            offsets_version: std::sync::atomic::AtomicU64::new(0),
            jobs,
            commits,
            metrics: opts.metrics,
            fence: Fence::default(),
            vis: Arc::default(),
            writer: std::sync::Mutex::new(None),
        });
        let store = Store { inner };
        let fence = store.inner.fence.clone();
        let shared = writer::Shared {
            inner: Arc::downgrade(&store.inner),
            vis: store.inner.vis.clone(),
            hold: opts.commit_hold,
        };
        let handle = writer::spawn(env, dbs, wal, rx, fence, shared)?;
        if let Ok(mut w) = store.inner.writer.lock() {
            *w = Some(handle);
        }
        Ok(store)
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

    pub(super) async fn submit(&self, op: Op) -> Result<Applied> {
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
}
