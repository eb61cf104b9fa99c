//! Durability of group commits: a redo log in front of LMDB, and checkpoints.
//!
//! Why: with a sync per LMDB commit, a put costs the random writes of the
//! B-tree pages it copied (a leaf and most of its branch path, 3-4 pages at 1M
//! keys) plus two syncs (data, then meta page) before it is answered. Here a
//! group commit costs one sequential append and one `fdatasync` of this log;
//! LMDB runs with `MDB_NOSYNC` and its pages reach the disk in checkpoints, off
//! the write path (README "Performance" has the before and after).
//!
//! `MDB_NOSYNC` alone would be unsafe: after a power loss the file may hold a
//! meta page whose tree pages never reached the disk. So:
//! - The writer applies a group through a [`Tx`], which records every change
//!   (put, delete, range delete) as a redo entry. It appends the group's record
//!   to the current segment and syncs it *before* committing the LMDB
//!   transaction, so readers never see a change that is not durable.
//! - A checkpoint (every `--checkpoint-interval-ms`, 2 s by default) makes the
//!   LMDB file durable up to a snapshot S. Between two
//!   groups the writer copies LMDB's two meta pages (they describe S), pins S
//!   with a read transaction (LMDB never reuses a page a reader can see, so S's
//!   pages stay intact on disk whatever is written later), and starts a new
//!   segment. The checkpointer thread then syncs the data file, writes the
//!   `checkpoint` file (the meta pages and the first segment to replay)
//!   atomically, deletes older segments and releases the previous pin.
//! - Every open, clean or not, first writes the checkpoint's meta pages back into
//!   the data file, which rolls LMDB back to S whatever the OS did or did not
//!   write after it, then replays the segments from the checkpoint's on. A torn
//!   last record (a crash during its append) was never answered and is dropped.
//!
//! - Segments are recycled: a retired one becomes the next, so its old records
//!   are still in it; records are sealed for their segment (`segment::Seal`).
//!
//! The log and checkpoint formats are ours, written by hand: a length, a CRC32
//! and a payload of tagged entries; no crate does "LMDB redo log".

mod checkpoint;
mod segment;
mod tx;
mod writeback;

use std::fs::File;
use std::os::unix::fs::FileExt;

use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use heed::{Env, WithoutTls};

pub(crate) use checkpoint::Checkpoint;
use checkpoint::{Pending, checkpointer};
use segment::{MAX_SEGMENT, MIN_SEGMENT, io_err, open_segment, remove_leftover_tmp, segment_path};
pub(crate) use segment::{Seal, replay};
pub(crate) use tx::{Db, Tx, apply_redo};

use super::{Latency, Result, StoreError};

/// A checkpoint starts when its interval (`--checkpoint-interval-ms`) has
/// passed since the last one, or when the current segment has grown this big.
const CHECKPOINT_BYTES: u64 = 64 << 20;
/// Size of a record header: payload length and CRC32, little endian.
pub(crate) const RECORD_HEADER: usize = 8;
/// Largest record buffer kept for reuse between groups.
const MAX_SPARE: usize = 16 << 20;

/// The writer's side of the redo log: the current segment and the checkpoints.
pub(crate) struct Wal {
    dir: PathBuf,
    env: Env<WithoutTls>,
    page_size: usize,
    seq: u64,
    /// How this log's records are sealed (the data dir's log key).
    seal: Seal,
    file: File,
    len: u64,
    /// Set when a failed write could not be undone: no more writes.
    broken: bool,
    /// Set by [`Wal::close`]: the last checkpoint prepares no next segment.
    closing: bool,
    /// Records made durable so far (one `fdatasync` each).
    syncs: u64,
    /// The record buffer of the last transaction, for the next one.
    spare: Vec<u8>,
    started: Instant,
    interval: Duration,
    in_flight: bool,
    to_checkpointer: Option<std_mpsc::Sender<Pending>>,
    done: std_mpsc::Receiver<Result<()>>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    latency: Latency,
}

/// How long an append took: writing the record, and syncing it.
pub(crate) struct AppendTimes {
    pub write: Duration,
    pub sync: Duration,
}

/// How the checkpointer spreads the data file's writeback (see `writeback`
/// and `crate::durable`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Pacing {
    /// Between checkpoints, start the writeback of dirty pages this often.
    pub writeback: Option<Duration>,
    /// At a checkpoint, write the data file back at this pace before its sync
    /// (`None`: the sync writes everything at once).
    pub sync: Option<crate::durable::Pace>,
}

impl Wal {
    /// Starts the log at segment `seq` (after recovery), its records sealed
    /// with `seal` (keyed), and takes a first checkpoint, so older segments go.
    pub fn start(
        dir: &Path,
        env: Env<WithoutTls>,
        seq: u64,
        seal: Seal,
        interval: Duration,
        pacing: Pacing,
        latency: Latency,
    ) -> Result<Wal> {
        let page_size = env.stat().page_size as usize;
        remove_leftover_tmp(dir);
        let file = open_segment(dir, seq)?;
        let (to_checkpointer, rx) = std_mpsc::channel::<Pending>();
        let (done_tx, done) = std_mpsc::channel();
        let (ck_env, ck_dir, ck_latency) = (env.clone(), dir.to_path_buf(), latency.clone());
        let checkpointer = std::thread::Builder::new()
            .name("lmdb-checkpoint".into())
            .spawn(move || checkpointer(ck_env, ck_dir, rx, done_tx, seal, pacing, ck_latency))
            .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
        let mut wal = Wal {
            dir: dir.to_path_buf(),
            env,
            page_size,
            seq,
            seal,
            file,
            len: 0,
            broken: false,
            closing: false,
            syncs: 0,
            spare: Vec::new(),
            started: Instant::now(),
            interval,
            in_flight: false,
            to_checkpointer: Some(to_checkpointer),
            done,
            checkpointer: Some(checkpointer),
            latency,
        };
        wal.checkpoint_now()?;
        Ok(wal)
    }

    /// Appends one group's record (from [`Tx::take_record`]: its header is filled
    /// in here) and makes it durable.
    pub fn append(&mut self, record: &mut [u8]) -> Result<AppendTimes> {
        if self.broken {
            return Err(StoreError::Io(
                "the store refuses writes after a failure it could not undo; \
                 restart the broker (it replays the redo log)"
                    .into(),
            ));
        }
        let (header, payload) = record.split_at_mut(RECORD_HEADER);
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::Internal("a group's changes exceed 4 GiB".into()))?;
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..].copy_from_slice(&self.seal.crc(self.seq, payload).to_le_bytes());
        let path = segment_path(&self.dir, self.seq);
        let writing = Instant::now();
        let mut synced = writing;
        let written = self.file.write_all_at(record, self.len).and_then(|_| {
            synced = Instant::now();
            self.file.sync_data()
        });
        match written {
            Ok(()) => {
                self.len += record.len() as u64;
                self.syncs += 1;
                Ok(AppendTimes {
                    write: synced - writing,
                    sync: synced.elapsed(),
                })
            }
            Err(e) => {
                self.truncate_to(self.len);
                Err(io_err("cannot write the redo log", &path, e))
            }
        }
    }

    /// A buffer for the next transaction's record.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.spare)
    }

    /// Keeps a record's buffer for the next transaction, unless it grew huge
    /// (a restore batch) and would pin that memory.
    pub fn recycle(&mut self, record: Vec<u8>) {
        if record.capacity() <= MAX_SPARE {
            self.spare = record;
        }
    }

    /// Records made durable so far.
    pub fn syncs(&self) -> u64 {
        self.syncs
    }

    /// Takes back the last appended record, `record_len` bytes with its
    /// header (its LMDB commit failed).
    pub fn undo(&mut self, record_len: usize) {
        let to = self.len.saturating_sub(record_len as u64);
        self.truncate_to(to);
    }

    fn truncate_to(&mut self, len: u64) {
        match self.file.set_len(len).and_then(|_| self.file.sync_data()) {
            Ok(()) => self.len = len,
            Err(e) => {
                tracing::error!(error = %e, "cannot undo a failed redo log write; refusing writes until restart");
                self.broken = true;
            }
        }
    }

    fn collect_done(&mut self, block: bool) -> Result<()> {
        if !self.in_flight {
            return Ok(());
        }
        let outcome = if block {
            self.done.recv().ok()
        } else {
            self.done.try_recv().ok()
        };
        match outcome {
            Some(r) => {
                self.in_flight = false;
                r
            }
            None if block => {
                self.in_flight = false;
                Err(StoreError::Internal("the checkpoint thread stopped".into()))
            }
            None => Ok(()),
        }
    }

    /// Starts a checkpoint if one is due and none is running (between groups).
    pub fn maybe_checkpoint(&mut self) {
        if let Err(e) = self.collect_done(false) {
            tracing::warn!(error = %e, "checkpoint failed; the next one retries");
        }
        if self.in_flight || !self.checkpoint_due() {
            return;
        }
        if let Err(e) = self.begin_checkpoint(false) {
            tracing::warn!(error = %e, "cannot start a checkpoint; the next one retries");
        }
    }

    /// True once the interval has passed since the last checkpoint or the
    /// segment has grown big (a held LMDB transaction is committed first).
    pub fn checkpoint_due(&self) -> bool {
        self.started.elapsed() >= self.interval || self.len >= CHECKPOINT_BYTES
    }

    /// Refuses every later append: answered records could not reach LMDB, and
    /// only a restart (which replays them) makes the store whole again.
    pub fn refuse_writes(&mut self) {
        self.broken = true;
    }

    /// Takes a checkpoint and waits for it (startup, shutdown, a full map).
    pub fn checkpoint_now(&mut self) -> Result<()> {
        self.collect_done(true)?;
        self.begin_checkpoint(true)?;
        self.collect_done(true)
    }

    /// Pins the latest snapshot, copies its meta pages, starts a new segment and
    /// hands the rest to the checkpointer. Must run between groups. `waited_for`:
    /// the caller blocks on it (no writes to share the disk with: not paced).
    fn begin_checkpoint(&mut self, waited_for: bool) -> Result<()> {
        self.started = Instant::now();
        let pinned_at = self.started;
        let pin = self.env.clone().static_read_txn()?;
        let data = self.dir.join("data.mdb");
        let mut meta_pages = vec![0; 2 * self.page_size];
        File::open(&data)
            .and_then(|f| f.read_exact_at(&mut meta_pages, 0))
            .map_err(|e| io_err("cannot read", &data, e))?;
        // End this segment's records with a zero header, durably, before any
        // record goes to the next segment. A recycled segment holds old bytes
        // after its records; without the marker replay could not tell that
        // normal end from damage followed by later records.
        let path = segment_path(&self.dir, self.seq);
        self.file
            .write_all_at(&[0; RECORD_HEADER], self.len)
            .and_then(|_| self.file.sync_data())
            .map_err(|e| io_err("cannot end", &path, e))?;
        let next_size = match self.closing {
            true => 0,
            false => (self.len + self.len / 4).clamp(MIN_SEGMENT, MAX_SEGMENT),
        };
        self.file = open_segment(&self.dir, self.seq + 1)?;
        self.seq += 1;
        self.len = 0;
        let pending = Pending {
            replay_from: self.seq,
            next_size,
            meta_pages,
            pin,
            pinned_at,
            waited_for,
        };
        self.latency
            .checkpoint_phase
            .with_label_values(&["pin"])
            .observe(pinned_at.elapsed().as_secs_f64());
        self.to_checkpointer
            .as_ref()
            .and_then(|tx| tx.send(pending).ok())
            .ok_or_else(|| StoreError::Internal("the checkpoint thread stopped".into()))?;
        self.in_flight = true;
        Ok(())
    }

    /// The last checkpoint (dropping the `Wal` then stops the checkpointer,
    /// which drops the pins).
    pub fn close(&mut self) -> Result<()> {
        self.closing = true;
        self.checkpoint_now()
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        self.to_checkpointer = None;
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
    }
}
