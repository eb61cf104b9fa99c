//! The single writer thread: it owns every LMDB write transaction (heed requires
//! a write transaction to stay on one OS thread) and does group commit: the jobs
//! that queued up while the previous commit was syncing are applied in one
//! transaction and made durable by one commit (one fsync). Each job still succeeds
//! or fails on its own: a job checks everything before it changes anything, and a
//! failure that spoils the transaction (disk or map full) makes the writer retry
//! the group one job per transaction, so only the job that hit it fails.
//!
//! This file is the commit path only: drain the queue, apply the group (each
//! job through `ops::apply`), append its redo record and sync (`wal`), commit
//! LMDB, publish the topic cache changes and the metrics, reply. What each job
//! does to the databases is in `ops`.

use std::sync::Weak;
use std::time::{Duration, Instant};

use heed::{Env, WithoutTls};
use tokio::sync::{mpsc, oneshot};

use super::fence::Fence;
use super::ops::{self, Applied, Effect, Op};
use super::wal::{Db, Tx, Wal};
use super::{Dbs, Inner, Result, Store, StoreError, now_ms};

/// Most jobs applied in one commit.
const MAX_GROUP: usize = 512;

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

/// What the writer needs of the store: a weak handle, so dropping every `Store`
/// lets the writer end.
pub(crate) struct Shared {
    pub inner: Weak<Inner>,
}

pub(crate) fn spawn(
    env: Env<WithoutTls>,
    dbs: Dbs,
    wal: Wal,
    rx: mpsc::Receiver<Job>,
    fence: Fence,
    shared: Shared,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("lmdb-writer".into())
        .spawn(move || run(env, dbs, wal, rx, fence, shared))
        .map_err(|e| StoreError::Io(format!("cannot start the writer thread: {e}")))
}

fn run(
    env: Env<WithoutTls>,
    dbs: Dbs,
    mut wal: Wal,
    mut rx: mpsc::Receiver<Job>,
    fence: Fence,
    shared: Shared,
) {
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
        commit_group(&env, dbs, &mut wal, &mut group, &fence, &shared);
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
    fence: &Fence,
    shared: &Shared,
) {
    let started = Instant::now();
    let now = now_ms();
    let store = shared.inner.upgrade().map(|inner| Store { inner });
    let mut stages = Stages::default();
    // Commits made, each with how many jobs it carried (for the metrics).
    let mut commits: Vec<usize> = Vec::new();
    let syncs_before = wal.syncs();
    let first = match apply_all(env, dbs, wal, group, now, fence, &mut stages) {
        // Pages freed since the checkpointed snapshot (a deleted topic, a
        // retention pass) are reusable only once no reader sees them: take a
        // checkpoint, which moves the pin, and try again before answering "full".
        Err(StoreError::StorageFull) if make_room(env, dbs, wal, &mut stages).is_ok() => {
            commits.push(0);
            apply_all(env, dbs, wal, group, now, fence, &mut stages)
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
                match apply_all(
                    env,
                    dbs,
                    wal,
                    std::slice::from_ref(job),
                    now,
                    fence,
                    &mut stages,
                ) {
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
                Effect::GroupOffsets(group, offsets) => store.set_group_offsets(group, offsets),
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

type GroupOutcome = (Vec<Result<Applied>>, Vec<Effect>);

/// Applies jobs in one transaction and commits it. `Err` means the transaction
/// was abandoned and nothing of the group was written.
fn apply_all(
    env: &Env<WithoutTls>,
    dbs: Dbs,
    wal: &mut Wal,
    jobs: &[Job],
    now: i64,
    fence: &Fence,
    stages: &mut Stages,
) -> Result<GroupOutcome> {
    let building = Instant::now();
    let mut txn = Tx::begin(env, dbs, wal.take_buffer())?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut effects = Vec::new();
    for job in jobs {
        let r = ops::apply(&mut txn, dbs, &job.op, now, fence, &mut effects);
        if let Err(e) = &r
            && e.poisons_txn()
        {
            return Err(clone_fatal(e));
        }
        results.push(r);
    }
    stages.build += building.elapsed();
    commit(txn, wal, stages)?;
    Ok((results, effects))
}

/// Makes a transaction's changes durable in the redo log, then visible.
fn commit(txn: Tx, wal: &mut Wal, stages: &mut Stages) -> Result<()> {
    let (txn, mut record) = txn.into_parts();
    let result = if Tx::is_empty_record(&record) {
        txn.abort();
        Ok(())
    } else {
        match wal.append(&mut record) {
            Ok(times) => {
                stages.redo_write += times.write;
                stages.redo_sync += times.sync;
                let committing = Instant::now();
                let committed = txn.commit().map_err(|e| {
                    // Not applied, so not to be replayed either.
                    wal.undo(record.len());
                    e.into()
                });
                stages.lmdb_commit += committing.elapsed();
                committed
            }
            Err(e) => Err(e),
        }
    };
    wal.recycle(record);
    result
}

/// Lets the next transaction reuse every page freed so far: a checkpoint (the
/// pinned snapshot moves to the latest), a one-key change (a counter in `meta`;
/// LMDB keeps the pages of the snapshot before the latest), another checkpoint.
fn make_room(env: &Env<WithoutTls>, dbs: Dbs, wal: &mut Wal, stages: &mut Stages) -> Result<()> {
    const KEY: &str = "free_pages_epoch";
    wal.checkpoint_now()?;
    let mut txn = Tx::begin(env, dbs, wal.take_buffer())?;
    let epoch = dbs
        .meta
        .get(&txn, KEY)?
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, u64::from_be_bytes);
    txn.put(Db::Meta, KEY.as_bytes(), &(epoch + 1).to_be_bytes())?;
    commit(txn, wal, stages)?;
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
