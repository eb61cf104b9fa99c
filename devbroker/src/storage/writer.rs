//! The single writer thread: it owns every LMDB write transaction (heed requires
//! a write transaction to stay on one OS thread) and does group commit: the jobs
//! that queued up while the previous commit was syncing are applied in one
//! transaction and made durable by one commit (one fsync). Each job still succeeds
//! or fails on its own: a job checks everything before it changes anything, and a
//! failure that spoils the transaction (disk or map full) makes the writer retry
//! the group one job per transaction, so only the job that hit it fails.
//!
//! A group is answered once its redo record is durable. Its LMDB transaction
//! may then stay open, up to `--commit-hold-ms` after it began, and take in
//! the groups that follow: one LMDB commit for many groups, so far fewer pages
//! copied between two checkpoints (docs/performance.md, "Write-latency tails").
//! Readers see held groups once they are committed; a read that needs them
//! makes the writer commit now (`visibility`). A held transaction is committed
//! before a checkpoint and at shutdown; if a later group spoils it, the held
//! groups are applied again from their redo payloads in a fresh transaction.
//! Near a full map nothing is held, so running out of room fails only writes
//! that are not answered yet.
//!
//! This file is the commit path only: drain the queue, apply the group (each
//! job through `ops::apply`), append its redo record and sync (`wal`), commit
//! LMDB or hold, publish the topic cache changes and the metrics, reply. What
//! each job does to the databases is in `ops`.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use heed::{Env, WithoutTls};
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, oneshot};

use super::fence::Fence;
use super::ops::{self, Applied, Effect, Op};
use super::visibility::Visibility;
use super::wal::{Db, RECORD_HEADER, Tx, Wal, apply_redo};
use super::{Dbs, Inner, Result, Store, StoreError, now_ms};

/// Most jobs applied in one group.
const MAX_GROUP: usize = 512;
/// Most redo bytes of answered groups a held transaction takes before it is
/// committed (they are also kept in memory, to apply again if it is spoilt).
const MAX_HELD_BYTES: usize = 256 << 10;

pub(crate) struct Job {
    pub op: Op,
    pub reply: oneshot::Sender<Result<Applied>>,
    /// When the job was handed to the writer (for `queue_wait`).
    pub queued: Instant,
}

/// Time spent in each stage of one group's commit (see `storage::latency`);
/// the transaction-level retries of a group add up.
#[derive(Default)]
struct Stages {
    build: Duration,
    redo_write: Duration,
    redo_sync: Duration,
    lmdb_commit: Duration,
}

/// What the writer shares with the store: a weak handle, so dropping every
/// `Store` lets the writer end, and what readers may see.
pub(crate) struct Shared {
    pub inner: Weak<Inner>,
    pub vis: Arc<Visibility>,
    /// `--commit-hold-ms` (zero: every group is its own LMDB commit).
    pub hold: Duration,
}

/// The answered groups of a transaction held open.
struct Answered {
    since: Instant,
    jobs: usize,
    /// Their redo payloads, in order: durable, not yet in LMDB.
    redo: Vec<u8>,
}

impl Answered {
    /// None yet, in a transaction begun at `since`.
    fn none(since: Instant) -> Answered {
        Answered {
            since,
            jobs: 0,
            redo: Vec::new(),
        }
    }
}

struct Writer<'e> {
    env: &'e Env<WithoutTls>,
    dbs: Dbs,
    wal: Wal,
    fence: Fence,
    shared: Shared,
    held: Option<(Tx<'e>, Answered)>,
    /// Groups answered so far (see `visibility`).
    seq: u64,
    /// Answered groups could not reach LMDB: nothing is visible until a restart.
    failed: bool,
    /// The page past which the map counts as nearly full (`map_nearly_full`);
    /// the map's size and page size are fixed for the environment's life.
    nearly_full_page: usize,
}

pub(crate) fn spawn(
    env: Env<WithoutTls>,
    dbs: Dbs,
    wal: Wal,
    rx: mpsc::Receiver<Job>,
    fence: Fence,
    shared: Shared,
) -> Result<std::thread::JoinHandle<()>> {
    // While it holds a transaction the writer waits for the next job, a reader
    // or the hold's end, whichever comes first: tokio's select and timer, on a
    // runtime of the writer's own.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| StoreError::Io(format!("cannot start the writer's timer: {e}")))?;
    std::thread::Builder::new()
        .name("lmdb-writer".into())
        .spawn(move || run(env, dbs, wal, rx, fence, shared, rt))
        .map_err(|e| StoreError::Io(format!("cannot start the writer thread: {e}")))
}

/// What the writer does next.
enum Next {
    Job(Option<Job>),
    CommitHeld,
}

fn run(
    env: Env<WithoutTls>,
    dbs: Dbs,
    wal: Wal,
    mut rx: mpsc::Receiver<Job>,
    fence: Fence,
    shared: Shared,
    rt: Runtime,
) {
    let mut w = Writer {
        env: &env,
        dbs,
        wal,
        fence,
        shared,
        held: None,
        seq: 0,
        failed: false,
        nearly_full_page: {
            let map_size = env.info().map_size;
            (map_size - map_size / 4) / env.stat().page_size as usize
        },
    };
    let mut group: Vec<Job> = Vec::with_capacity(MAX_GROUP);
    loop {
        let next = match &w.held {
            None => Next::Job(rt.block_on(rx.recv())),
            Some((_, answered)) => {
                let deadline = tokio::time::Instant::from_std(answered.since + w.shared.hold);
                let vis = &w.shared.vis;
                rt.block_on(async {
                    tokio::select! {
                        biased;
                        job = rx.recv() => Next::Job(job),
                        _ = vis.reader_waits() => Next::CommitHeld,
                        _ = tokio::time::sleep_until(deadline) => Next::CommitHeld,
                    }
                })
            }
        };
        let first = match next {
            Next::CommitHeld => {
                w.commit_held();
                continue;
            }
            Next::Job(None) => break,
            Next::Job(Some(job)) => job,
        };
        group.push(first);
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let stop = group.iter().any(|j| matches!(j.op, Op::Shutdown));
        w.commit_group(&mut group);
        if stop {
            rx.close();
            // Jobs that raced in behind the shutdown are refused, not dropped silently.
            while let Ok(job) = rx.try_recv() {
                let _ = job.reply.send(Err(StoreError::Closed));
            }
            break;
        }
        if w.held.is_some() && w.wal.checkpoint_due() {
            w.commit_held();
        }
        w.wal.maybe_checkpoint();
    }
    w.commit_held();
    // The last checkpoint: the next start has nothing to replay.
    if let Err(e) = w.wal.close() {
        tracing::warn!(error = %e, "last checkpoint failed; the next start replays the redo log");
    }
    tracing::debug!("writer thread stopped");
}

type GroupOutcome = (Vec<Result<Applied>>, Vec<Effect>);

impl<'e> Writer<'e> {
    fn commit_group(&mut self, group: &mut Vec<Job>) {
        let started = Instant::now();
        let now = now_ms();
        let store = self.shared.inner.upgrade().map(|inner| Store { inner });
        let mut stages = Stages::default();
        let syncs_before = self.wal.syncs();
        // A checkpoint or a shutdown wants everything in LMDB first.
        let may_hold = !group
            .iter()
            .any(|j| matches!(j.op, Op::Checkpoint | Op::Shutdown));
        let first = match self.apply_all(group, now, may_hold, &mut stages) {
            // Pages freed since the checkpointed snapshot (a deleted topic, a
            // retention pass) are reusable only once no reader sees them: take a
            // checkpoint, which moves the pin, and try again before answering "full".
            Err(StoreError::StorageFull) if self.make_room(&mut stages).is_ok() => {
                self.apply_all(group, now, false, &mut stages)
            }
            other => other,
        };
        let (mut results, effects) = match first {
            Ok(ok) => ok,
            Err(e) if group.len() > 1 => {
                tracing::warn!(error = %e, jobs = group.len(), "group commit failed; retrying jobs one by one");
                let mut results = Vec::with_capacity(group.len());
                let mut effects = Vec::new();
                for job in group.iter() {
                    match self.apply_all(std::slice::from_ref(job), now, false, &mut stages) {
                        Ok((mut r, e)) => {
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
        if checkpoint && let Err(e) = self.wal.checkpoint_now() {
            for (job, r) in group.iter().zip(results.iter_mut()) {
                if matches!(job.op, Op::Checkpoint) {
                    *r = Err(clone_fatal(&e));
                }
            }
        }
        // Readers must see this group from its answer on (`visibility`).
        self.seq += 1;
        if self.held.is_none() && !self.failed {
            self.shared.vis.committed(self.seq);
        }
        self.shared.vis.answered(self.seq);
        if let Some(store) = &store {
            for effect in effects {
                match effect {
                    Effect::TopicSet(meta) => store.set_topic(meta),
                    Effect::TopicRemoved(name) => store.remove_topic(&name),
                    Effect::GroupOffsets(group, offsets) => store.set_group_offsets(group, offsets),
                }
            }
            let m = store.metrics();
            m.fsyncs.inc_by(self.wal.syncs() - syncs_before);
            m.commit_seconds.observe(started.elapsed().as_secs_f64());
            let appended: u64 = results
                .iter()
                .filter_map(|r| match r {
                    Ok(Applied::Appended(a)) => Some(a.next_offset - a.base_offset),
                    _ => None,
                })
                .sum();
            m.records_appended.inc_by(appended);
            let lat = &m.storage_latency;
            for job in group.iter() {
                lat.write_stage
                    .with_label_values(&["queue_wait"])
                    .observe(started.saturating_duration_since(job.queued).as_secs_f64());
            }
            for (stage, d) in [
                ("build", stages.build),
                ("redo_write", stages.redo_write),
                ("redo_sync", stages.redo_sync),
                ("lmdb_commit", stages.lmdb_commit),
            ] {
                lat.write_stage
                    .with_label_values(&[stage])
                    .observe(d.as_secs_f64());
            }
            store.after_commit();
        }
        let replying = Instant::now();
        let queued: Vec<Instant> = group.iter().map(|j| j.queued).collect();
        for (job, result) in group.drain(..).zip(results) {
            let _ = job.reply.send(result);
        }
        if let Some(store) = &store {
            let lat = &store.metrics().storage_latency;
            let done = Instant::now();
            lat.write_stage
                .with_label_values(&["reply"])
                .observe((done - replying).as_secs_f64());
            for q in queued {
                lat.write
                    .observe(done.saturating_duration_since(q).as_secs_f64());
            }
        }
    }

    /// Applies jobs in one transaction (the held one, if any) and makes them
    /// durable; `may_hold`: the transaction may stay open afterwards. `Err`
    /// means nothing of these jobs was written.
    fn apply_all(
        &mut self,
        jobs: &[Job],
        now: i64,
        may_hold: bool,
        stages: &mut Stages,
    ) -> Result<GroupOutcome> {
        let building = Instant::now();
        let (mut tx, answered) = match self.held.take() {
            Some((mut tx, answered)) => {
                tx.start_record(self.wal.take_buffer());
                (tx, Some(answered))
            }
            None => (Tx::begin(self.env, self.dbs, self.wal.take_buffer())?, None),
        };
        let mut results = Vec::with_capacity(jobs.len());
        let mut effects = Vec::new();
        for job in jobs {
            let r = ops::apply(&mut tx, self.dbs, &job.op, now, &self.fence, &mut effects);
            if let Err(e) = &r
                && e.poisons_txn()
            {
                self.abandon(tx, answered);
                return Err(clone_fatal(e));
            }
            results.push(r);
        }
        stages.build += building.elapsed();
        let answered = answered.unwrap_or_else(|| Answered::none(building));
        self.finish(tx, answered, jobs.len(), may_hold, stages)?;
        Ok((results, effects))
    }

    /// Makes a group's changes durable in the redo log, then holds the
    /// transaction or commits it (visible).
    fn finish(
        &mut self,
        mut tx: Tx<'e>,
        mut answered: Answered,
        jobs: usize,
        may_hold: bool,
        stages: &mut Stages,
    ) -> Result<()> {
        let mut record = tx.take_record();
        let changed = !Tx::is_empty_record(&record);
        if changed {
            match self.wal.append(&mut record) {
                Ok(times) => {
                    stages.redo_write += times.write;
                    stages.redo_sync += times.sync;
                }
                Err(e) => {
                    self.wal.recycle(record);
                    self.abandon(tx, Some(answered));
                    return Err(e);
                }
            }
        }
        let payload = record.get(RECORD_HEADER..).unwrap_or_default();
        let hold = self.shared.hold;
        let keep = may_hold
            && (changed || answered.jobs > 0)
            && answered.since.elapsed() < hold
            && answered.redo.len() + payload.len() <= MAX_HELD_BYTES
            && !self.wal.checkpoint_due()
            && !self.map_nearly_full()
            && !self.shared.vis.take_wanted();
        if keep {
            answered.redo.extend_from_slice(payload);
            answered.jobs += jobs;
            self.wal.recycle(record);
            self.held = Some((tx, answered));
            return Ok(());
        }
        if !changed && answered.jobs == 0 {
            self.wal.recycle(record);
            tx.into_txn().abort();
            return Ok(());
        }
        let committing = Instant::now();
        let committed = self.commit_tx(tx, answered.jobs + jobs);
        stages.lmdb_commit += committing.elapsed();
        if committed.is_err() {
            if changed {
                // Not applied, so not to be replayed either.
                self.wal.undo(record.len());
            }
            // The commit of this group failed (the map filled up as LMDB saved
            // its free list): the groups held before it were answered.
            self.apply_answered_again(answered);
        }
        self.wal.recycle(record);
        committed
    }

    /// Less than a quarter of the map left (by its high-water mark): groups are
    /// then committed at once, not held, so that a commit that fills the map
    /// fails only its own jobs, which are not answered yet.
    fn map_nearly_full(&self) -> bool {
        self.env.info().last_page_number >= self.nearly_full_page
    }

    /// Commits a transaction of `jobs` jobs; on failure nothing of it is in LMDB.
    fn commit_tx(&mut self, tx: Tx<'e>, jobs: usize) -> Result<()> {
        tx.into_txn().commit()?;
        self.count_commit(jobs);
        Ok(())
    }

    /// Commits the held transaction, if any: its groups become visible.
    fn commit_held(&mut self) {
        if let Some((tx, answered)) = self.held.take() {
            match self.commit_tx(tx, answered.jobs) {
                Ok(()) => self.shared.vis.committed(self.seq),
                Err(_) => self.apply_answered_again(answered),
            }
        }
    }

    /// Drops a spoilt transaction. The groups it held were answered and are
    /// durable in the redo log: they are applied again in a new one.
    fn abandon(&mut self, tx: Tx<'e>, answered: Option<Answered>) {
        tx.into_txn().abort();
        if let Some(answered) = answered {
            self.apply_answered_again(answered);
        }
    }

    /// Applies answered groups again, from their redo payloads, in a fresh
    /// transaction after theirs failed. If the map is full, a checkpoint
    /// (which lets LMDB reuse the pages freed since the last one) comes first
    /// and it is tried once more; only then do they wait for a restart.
    fn apply_answered_again(&mut self, answered: Answered) {
        if answered.jobs == 0 {
            return;
        }
        let again = |w: &Self| -> Result<()> {
            let mut txn = w.env.write_txn()?;
            apply_redo(&mut txn, w.dbs, &answered.redo)?;
            Ok(txn.commit()?)
        };
        let mut done = again(self);
        if matches!(done, Err(StoreError::StorageFull)) && self.wal.checkpoint_now().is_ok() {
            done = again(self);
        }
        match done {
            Ok(()) => {
                self.count_commit(answered.jobs);
                self.shared.vis.committed(self.seq);
            }
            Err(e) => self.fail(&e),
        }
    }

    /// Answered writes cannot reach LMDB: the redo log has them, and the next
    /// start replays them; until then reads and writes are refused.
    fn fail(&mut self, e: &dyn std::fmt::Display) {
        tracing::error!(error = %e, "answered writes could not be committed to the data file; \
            refusing reads and writes until a restart replays them from the redo log");
        self.failed = true;
        self.wal.refuse_writes();
        self.shared.vis.fail();
    }

    /// Counts an LMDB commit of `jobs` jobs (metrics).
    fn count_commit(&self, jobs: usize) {
        if let Some(inner) = self.shared.inner.upgrade() {
            inner.metrics.commits.inc();
            inner.metrics.commit_batch_size.observe(jobs as f64);
        }
    }

    /// Lets the next transaction reuse every page freed so far: a checkpoint
    /// (the pinned snapshot moves to the latest), a one-key change (a counter
    /// in `meta`; LMDB keeps the pages of the snapshot before the latest),
    /// another checkpoint. Nothing is held here (`apply_all` abandoned it).
    fn make_room(&mut self, stages: &mut Stages) -> Result<()> {
        const KEY: &str = "free_pages_epoch";
        self.commit_held();
        self.wal.checkpoint_now()?;
        let mut tx = Tx::begin(self.env, self.dbs, self.wal.take_buffer())?;
        let epoch = self
            .dbs
            .meta
            .get(&tx, KEY)?
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes);
        tx.put(Db::Meta, KEY.as_bytes(), &(epoch + 1).to_be_bytes())?;
        self.finish(tx, Answered::none(Instant::now()), 0, false, stages)?;
        self.wal.checkpoint_now()
    }
}

fn clone_fatal(e: &StoreError) -> StoreError {
    match e {
        StoreError::StorageFull => StoreError::StorageFull,
        StoreError::Io(s) => StoreError::Io(s.clone()),
        StoreError::Corrupt(s) => StoreError::Corrupt(s.clone()),
        other => StoreError::Internal(other.to_string()),
    }
}
