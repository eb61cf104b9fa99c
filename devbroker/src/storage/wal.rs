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
//! The log and checkpoint formats are ours, written by hand: a length, a CRC32
//! and a payload of tagged entries; no crate does "LMDB redo log".

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::{Bound, Deref};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use heed::types::Bytes;
use heed::{Database, Env, RoTxn, RwTxn, WithoutTls};

use super::{Dbs, Result, StoreError};

/// A checkpoint starts when its interval (`--checkpoint-interval-ms`) has
/// passed since the last one, or when the current segment has grown this big.
const CHECKPOINT_BYTES: u64 = 64 << 20;
const CHECKPOINT_FILE: &str = "checkpoint";
const CHECKPOINT_MAGIC: &[u8; 8] = b"RPKVCKP1";
/// Size of a record header: payload length and CRC32, little endian.
const RECORD_HEADER: usize = 8;
/// Segments are created zero-filled, as big as the last one grew (within these
/// bounds), by the checkpointer ahead of use: a sync after overwriting blocks
/// that exist costs about half as much as one after appending (the file system
/// then allocates blocks and writes the inode's new size; `fio`, 8 KiB writes,
/// `fdatasync` each: 203 vs 382 us). A zero header marks the end of the records.
const MIN_SEGMENT: u64 = 1 << 20;
/// Largest record buffer kept for reuse between groups.
const MAX_SPARE: usize = 16 << 20;
const MAX_SEGMENT: u64 = 64 << 20;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;
const OP_DELETE_RANGE: u8 = 3;

/// The databases a redo entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Db {
    Meta = 0,
    Topics = 1,
    Parts = 2,
    Log = 3,
    View = 4,
}

impl Db {
    fn from_u8(b: u8) -> Option<Db> {
        Some(match b {
            0 => Db::Meta,
            1 => Db::Topics,
            2 => Db::Parts,
            3 => Db::Log,
            4 => Db::View,
            _ => return None,
        })
    }
}

impl Dbs {
    fn raw(&self, db: Db) -> Database<Bytes, Bytes> {
        match db {
            Db::Meta => self.meta.remap_key_type::<Bytes>(),
            Db::Topics => self.topics.remap_key_type::<Bytes>(),
            Db::Parts => self.parts,
            Db::Log => self.log,
            Db::View => self.view,
        }
    }
}

/// A write transaction that records its changes for the redo log. It derefs to
/// the LMDB transaction for reads; every change goes through its methods.
pub(crate) struct Tx<'e> {
    txn: RwTxn<'e>,
    dbs: Dbs,
    redo: Vec<u8>,
}

impl<'e> Deref for Tx<'e> {
    type Target = RwTxn<'e>;
    fn deref(&self) -> &RwTxn<'e> {
        &self.txn
    }
}

impl<'e> Tx<'e> {
    /// Starts a transaction whose log record is built in `record` (a buffer
    /// from [`Wal::take_buffer`]: reused, so a group allocates nothing).
    pub fn begin(env: &'e Env<WithoutTls>, dbs: Dbs, mut record: Vec<u8>) -> Result<Tx<'e>> {
        record.clear();
        // Room for the header, filled in by `Wal::append`.
        record.resize(RECORD_HEADER, 0);
        Ok(Tx {
            txn: env.write_txn()?,
            dbs,
            redo: record,
        })
    }

    pub fn put(&mut self, db: Db, key: &[u8], value: &[u8]) -> Result<()> {
        self.dbs.raw(db).put(&mut self.txn, key, value)?;
        self.redo.extend_from_slice(&[OP_PUT, db as u8]);
        put_bytes(&mut self.redo, key);
        put_bytes(&mut self.redo, value);
        Ok(())
    }

    /// Deletes a key; true if it was there.
    pub fn delete(&mut self, db: Db, key: &[u8]) -> Result<bool> {
        let found = self.dbs.raw(db).delete(&mut self.txn, key)?;
        if found {
            self.redo.extend_from_slice(&[OP_DELETE, db as u8]);
            put_bytes(&mut self.redo, key);
        }
        Ok(found)
    }

    /// Deletes the keys in `[lower, upper)` (`upper` None: to the end).
    pub fn delete_range(&mut self, db: Db, lower: &[u8], upper: Option<&[u8]>) -> Result<usize> {
        let n = self
            .dbs
            .raw(db)
            .delete_range(&mut self.txn, &key_range(lower, upper))?;
        self.redo.extend_from_slice(&[OP_DELETE_RANGE, db as u8]);
        put_bytes(&mut self.redo, lower);
        match upper {
            Some(u) => {
                self.redo.push(1);
                put_bytes(&mut self.redo, u);
            }
            None => self.redo.push(0),
        }
        Ok(n)
    }

    /// The LMDB transaction, to commit, and the log record of its changes
    /// (header to fill, then the entries).
    pub fn into_parts(self) -> (RwTxn<'e>, Vec<u8>) {
        (self.txn, self.redo)
    }

    /// True if a record from [`Tx::into_parts`] holds no change.
    pub fn is_empty_record(record: &[u8]) -> bool {
        record.len() <= RECORD_HEADER
    }
}

/// `[lower, upper)`, or `[lower, ..)` without an upper bound.
fn key_range<'a>(lower: &'a [u8], upper: Option<&'a [u8]>) -> (Bound<&'a [u8]>, Bound<&'a [u8]>) {
    (
        Bound::Included(lower),
        upper.map_or(Bound::Unbounded, Bound::Excluded),
    )
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_le_bytes());
    out.extend_from_slice(b);
}

/// Reads the payload of one record, entry by entry.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = u32::from_le_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let b = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some(b)
    }
}

/// Applies one record's payload to a write transaction (recovery).
pub(crate) fn apply_redo(txn: &mut RwTxn, dbs: Dbs, payload: &[u8]) -> Result<()> {
    let corrupt = || StoreError::Corrupt("a redo log record does not parse".into());
    let mut r = Reader(payload);
    while let Some(op) = r.u8() {
        let db = dbs.raw(r.u8().and_then(Db::from_u8).ok_or_else(corrupt)?);
        match op {
            OP_PUT => {
                let key = r.bytes().ok_or_else(corrupt)?;
                let value = r.bytes().ok_or_else(corrupt)?;
                db.put(txn, key, value)?;
            }
            OP_DELETE => {
                db.delete(txn, r.bytes().ok_or_else(corrupt)?)?;
            }
            OP_DELETE_RANGE => {
                let lower = r.bytes().ok_or_else(corrupt)?;
                let upper = match r.u8().ok_or_else(corrupt)? {
                    0 => None,
                    _ => Some(r.bytes().ok_or_else(corrupt)?),
                };
                db.delete_range(txn, &key_range(lower, upper))?;
            }
            _ => return Err(corrupt()),
        }
    }
    Ok(())
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:020}.log"))
}

/// Sequence numbers of the segments in `dir`, ascending.
fn segments(dir: &Path) -> Result<Vec<u64>> {
    let mut seqs = Vec::new();
    let entries = fs::read_dir(dir).map_err(|e| io_err("cannot list", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err("cannot list", dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = name
            .strip_prefix("wal-")
            .and_then(|s| s.strip_suffix(".log"))
            .and_then(|s| s.parse::<u64>().ok())
        {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", dir, e))
}

/// What a checkpoint file says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The first segment to replay.
    pub replay_from: u64,
    /// LMDB's two meta pages (the first two pages of `data.mdb`) at the snapshot.
    pub meta_pages: Vec<u8>,
}

impl Checkpoint {
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.meta_pages.len() + 32);
        out.extend_from_slice(CHECKPOINT_MAGIC);
        out.extend_from_slice(&self.replay_from.to_le_bytes());
        put_bytes(&mut out, &self.meta_pages);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn decode(b: &[u8]) -> Option<Checkpoint> {
        let (body, crc) = b.split_at_checked(b.len().checked_sub(4)?)?;
        if crc32fast::hash(body).to_le_bytes() != crc || !body.starts_with(CHECKPOINT_MAGIC) {
            return None;
        }
        let replay_from = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
        let meta_pages = Reader(&body[16..]).bytes()?.to_vec();
        Some(Checkpoint {
            replay_from,
            meta_pages,
        })
    }

    fn write(&self, dir: &Path) -> Result<()> {
        let tmp = dir.join("checkpoint.tmp");
        let path = dir.join(CHECKPOINT_FILE);
        let mut f = File::create(&tmp).map_err(|e| io_err("cannot create", &tmp, e))?;
        f.write_all(&self.encode())
            .and_then(|_| f.sync_all())
            .map_err(|e| io_err("cannot write", &tmp, e))?;
        fs::rename(&tmp, &path).map_err(|e| io_err("cannot rename to", &path, e))?;
        sync_dir(dir)
    }

    /// The checkpoint of `dir`, if there is one.
    pub fn read(dir: &Path) -> Result<Option<Checkpoint>> {
        let path = dir.join(CHECKPOINT_FILE);
        match fs::read(&path) {
            Ok(b) => Checkpoint::decode(&b).map(Some).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "{} is damaged; restore the data dir from a backup or the tier bucket",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("cannot read", &path, e)),
        }
    }

    /// Writes the meta pages back into `data.mdb` (before LMDB opens it), which
    /// rolls the environment back to the checkpointed snapshot.
    pub fn restore_meta_pages(&self, dir: &Path) -> Result<()> {
        let path = dir.join("data.mdb");
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("cannot open", &path, e))?;
        let mut current = vec![0; self.meta_pages.len()];
        f.read_exact_at(&mut current, 0)
            .map_err(|e| io_err("cannot read", &path, e))?;
        if current != self.meta_pages {
            tracing::info!(
                "rolling the store back to its last checkpoint before replaying the redo log"
            );
            f.write_all_at(&self.meta_pages, 0)
                .and_then(|_| f.sync_data())
                .map_err(|e| io_err("cannot write", &path, e))?;
        }
        Ok(())
    }
}

/// Replays the segments from `from` on into the environment; returns the next
/// free segment number.
pub(crate) fn replay(dir: &Path, from: u64, env: &Env<WithoutTls>, dbs: Dbs) -> Result<u64> {
    let seqs: Vec<u64> = segments(dir)?.into_iter().filter(|s| *s >= from).collect();
    let mut records = 0usize;
    for (i, seq) in seqs.iter().enumerate() {
        let path = segment_path(dir, *seq);
        let data = fs::read(&path).map_err(|e| io_err("cannot read", &path, e))?;
        let mut at = 0;
        while at < data.len() {
            if is_end(&data[at..]) {
                break; // the zero-filled rest of a prepared segment
            }
            let Some(payload) = record_at(&data, at) else {
                // A torn record can only be the last one written: any later
                // segment must be empty (prepared, never written).
                for later in &seqs[i + 1..] {
                    let later_path = segment_path(dir, *later);
                    let head =
                        fs::read(&later_path).map_err(|e| io_err("cannot read", &later_path, e))?;
                    if !is_end(&head) {
                        return Err(StoreError::Corrupt(format!(
                            "{} is damaged at byte {at} and {} holds later records; restore the data dir from a backup or the tier bucket",
                            path.display(),
                            later_path.display()
                        )));
                    }
                }
                tracing::warn!(segment = %path.display(), at, "dropping a torn redo record (its write was never answered)");
                break;
            };
            let mut txn = env.write_txn()?;
            apply_redo(&mut txn, dbs, payload)?;
            txn.commit()?;
            records += 1;
            at += RECORD_HEADER + payload.len();
        }
    }
    if records > 0 {
        tracing::info!(records, "replayed the redo log");
    }
    Ok(seqs.last().map_or(from, |s| s + 1).max(from))
}

/// True if `rest` (what follows the last record) holds no record: empty, or a
/// zero header (a prepared segment's zero fill).
fn is_end(rest: &[u8]) -> bool {
    rest.iter().take(RECORD_HEADER).all(|b| *b == 0)
}

/// Removes segment files a crash left half prepared.
fn remove_leftover_tmp(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("wal-") && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The payload of the record at `at`, if it is whole and its CRC matches.
fn record_at(data: &[u8], at: usize) -> Option<&[u8]> {
    let header = data.get(at..at + RECORD_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = data.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
    (len > 0 && crc32fast::hash(payload) == crc).then_some(payload)
}

/// A checkpoint handed to the checkpointer thread.
struct Pending {
    replay_from: u64,
    /// How big to make the segment after `replay_from` (0: none, at close).
    next_size: u64,
    meta_pages: Vec<u8>,
    pin: RoTxn<'static, WithoutTls>,
}

/// The writer's side of the redo log: the current segment and the checkpoints.
pub(crate) struct Wal {
    dir: PathBuf,
    env: Env<WithoutTls>,
    page_size: usize,
    seq: u64,
    file: File,
    len: u64,
    /// Set when a failed append could not be undone: no more writes.
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
}

impl Wal {
    /// Starts the log at segment `seq` (after recovery) and takes a first
    /// checkpoint, so older segments go.
    pub fn start(dir: &Path, env: Env<WithoutTls>, seq: u64, interval: Duration) -> Result<Wal> {
        let page_size = env.stat().page_size as usize;
        remove_leftover_tmp(dir);
        let file = open_segment(dir, seq)?;
        let (to_checkpointer, rx) = std_mpsc::channel::<Pending>();
        let (done_tx, done) = std_mpsc::channel();
        let (ck_env, ck_dir) = (env.clone(), dir.to_path_buf());
        let checkpointer = std::thread::Builder::new()
            .name("lmdb-checkpoint".into())
            .spawn(move || checkpointer(ck_env, ck_dir, rx, done_tx))
            .map_err(|e| StoreError::Io(format!("cannot start the checkpoint thread: {e}")))?;
        let mut wal = Wal {
            dir: dir.to_path_buf(),
            env,
            page_size,
            seq,
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
        };
        wal.checkpoint_now()?;
        Ok(wal)
    }

    /// Appends one group's record (from [`Tx::into_parts`]: its header is filled
    /// in here) and makes it durable.
    pub fn append(&mut self, record: &mut [u8]) -> Result<()> {
        if self.broken {
            return Err(StoreError::Io(
                "the redo log could not undo a failed write; restart the broker".into(),
            ));
        }
        let (header, payload) = record.split_at_mut(RECORD_HEADER);
        let len = u32::try_from(payload.len())
            .map_err(|_| StoreError::Internal("a group's changes exceed 4 GiB".into()))?;
        header[..4].copy_from_slice(&len.to_le_bytes());
        header[4..].copy_from_slice(&crc32fast::hash(payload).to_le_bytes());
        let path = segment_path(&self.dir, self.seq);
        let written = self
            .file
            .write_all_at(record, self.len)
            .and_then(|_| self.file.sync_data());
        match written {
            Ok(()) => {
                self.len += record.len() as u64;
                self.syncs += 1;
                Ok(())
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

    /// Takes back the last appended record (its LMDB commit failed).
    pub fn undo(&mut self, payload_len: usize) {
        let to = self
            .len
            .saturating_sub((RECORD_HEADER + payload_len) as u64);
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
        if self.in_flight || (self.started.elapsed() < self.interval && self.len < CHECKPOINT_BYTES)
        {
            return;
        }
        if let Err(e) = self.begin_checkpoint() {
            tracing::warn!(error = %e, "cannot start a checkpoint; the next one retries");
        }
    }

    /// Takes a checkpoint and waits for it (startup, shutdown, a full map).
    pub fn checkpoint_now(&mut self) -> Result<()> {
        self.collect_done(true)?;
        self.begin_checkpoint()?;
        self.collect_done(true)
    }

    /// Pins the latest snapshot, copies its meta pages, starts a new segment and
    /// hands the rest to the checkpointer. Must run between groups.
    fn begin_checkpoint(&mut self) -> Result<()> {
        self.started = Instant::now();
        let pin = self.env.clone().static_read_txn()?;
        let data = self.dir.join("data.mdb");
        let mut meta_pages = vec![0; 2 * self.page_size];
        File::open(&data)
            .and_then(|f| f.read_exact_at(&mut meta_pages, 0))
            .map_err(|e| io_err("cannot read", &data, e))?;
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
        };
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

/// Opens segment `seq` to write records from its start: the file prepared by
/// [`prepare_segment`], or a new empty one.
fn open_segment(dir: &Path, seq: u64) -> Result<File> {
    let path = segment_path(dir, seq);
    let existed = path.exists();
    let file = OpenOptions::new()
        .create(true)
        .read(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err("cannot open", &path, e))?;
    if !existed {
        // A new file's name must be durable before records in it are answered.
        sync_dir(dir)?;
    }
    Ok(file)
}

/// Creates segment `seq` zero-filled to `size` bytes, durably, unless it exists.
fn prepare_segment(dir: &Path, seq: u64, size: u64) -> Result<()> {
    let path = segment_path(dir, seq);
    if path.exists() {
        return Ok(());
    }
    let tmp = dir.join(format!("wal-{seq:020}.tmp"));
    let zeros = vec![0u8; 1 << 20];
    let written = (|| {
        let mut f = File::create(&tmp)?;
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            left -= n as u64;
        }
        f.sync_all()
    })();
    written.map_err(|e| io_err("cannot prepare", &tmp, e))?;
    // A hard link never replaces a file the writer may already have opened.
    match fs::hard_link(&tmp, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("cannot create", &path, e)),
    }
    fs::remove_file(&tmp).map_err(|e| io_err("cannot remove", &tmp, e))?;
    sync_dir(dir)
}

/// The checkpointer thread: syncs the data file, writes the checkpoint, then
/// drops older segments and the previous pin.
fn checkpointer(
    env: Env<WithoutTls>,
    dir: PathBuf,
    rx: std_mpsc::Receiver<Pending>,
    done: std_mpsc::Sender<Result<()>>,
) {
    let mut pinned: Option<RoTxn<'static, WithoutTls>> = None;
    while let Ok(p) = rx.recv() {
        let result = (|| {
            env.force_sync()?;
            Checkpoint {
                replay_from: p.replay_from,
                meta_pages: p.meta_pages,
            }
            .write(&dir)?;
            if p.next_size > 0 {
                prepare_segment(&dir, p.replay_from + 1, p.next_size)?;
            }
            for seq in segments(&dir)?.into_iter().filter(|s| *s < p.replay_from) {
                let path = segment_path(&dir, seq);
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(segment = %path.display(), error = %e, "cannot delete an old redo segment");
                }
            }
            Ok(())
        })();
        if result.is_ok() {
            // The new snapshot is durable: the old one may now be overwritten.
            pinned = Some(p.pin);
        }
        if done.send(result).is_err() {
            break;
        }
    }
    drop(pinned);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_rejects_damage() {
        let c = Checkpoint {
            replay_from: 42,
            meta_pages: (0..8192u32).map(|i| i as u8).collect(),
        };
        let mut b = c.encode();
        assert_eq!(Checkpoint::decode(&b), Some(c));
        b[20] ^= 1;
        assert_eq!(Checkpoint::decode(&b), None);
        assert_eq!(Checkpoint::decode(&[]), None);
    }

    #[test]
    fn records_are_whole_or_absent() {
        let payload = b"\x01\x03\x02\0\0\0ab\x01\0\0\0c";
        let mut data = Vec::new();
        data.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        data.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        data.extend_from_slice(payload);
        assert_eq!(record_at(&data, 0), Some(&payload[..]));
        assert_eq!(record_at(&data[..data.len() - 1], 0), None);
        let mut bad = data.clone();
        bad[10] ^= 0xff;
        assert_eq!(record_at(&bad, 0), None);
    }
}
