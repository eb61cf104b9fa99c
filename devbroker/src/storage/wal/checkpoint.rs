//! Checkpoints: the `checkpoint` file (LMDB's meta pages at a pinned
//! snapshot and the first segment to replay) and the checkpointer thread that
//! makes the data file durable, writes that file, prepares the next segment
//! and retires older ones.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::time::Instant;

use heed::{Env, RoTxn, WithoutTls};

use super::segment::{Seal, io_err, prepare_segment, segment_path, segments, sync_dir};
use super::tx::{Reader, put_bytes};
use super::writeback::start_writeback;
use crate::durable::dirty_bytes;
use crate::storage::{Latency, Result, StoreError};

const CHECKPOINT_FILE: &str = "checkpoint";
/// Format 1 (read only): no log key; its segments' records are sealed with
/// [`Seal::Plain`]. Format 2 adds the log key after `replay_from`.
const CHECKPOINT_MAGIC_V1: &[u8; 8] = b"RPKVCKP1";
const CHECKPOINT_MAGIC: &[u8; 8] = b"RPKVCKP2";

/// What a checkpoint file says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Checkpoint {
    /// The first segment to replay.
    pub replay_from: u64,
    /// How the segments' records are sealed (format 1: [`Seal::Plain`]).
    pub seal: Seal,
    /// LMDB's two meta pages (the first two pages of `data.mdb`) at the snapshot.
    pub meta_pages: Vec<u8>,
}

impl Checkpoint {
    pub(super) fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.meta_pages.len() + 32);
        out.extend_from_slice(CHECKPOINT_MAGIC);
        out.extend_from_slice(&self.replay_from.to_le_bytes());
        let key = match self.seal {
            Seal::Keyed(key) => key,
            // Never written: every checkpoint since format 2 has a key.
            Seal::Plain => 0,
        };
        out.extend_from_slice(&key.to_le_bytes());
        put_bytes(&mut out, &self.meta_pages);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    pub(super) fn decode(b: &[u8]) -> Option<Checkpoint> {
        let (body, crc) = b.split_at_checked(b.len().checked_sub(4)?)?;
        if crc32fast::hash(body).to_le_bytes() != crc {
            return None;
        }
        let replay_from = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
        let (seal, rest) = if body.starts_with(CHECKPOINT_MAGIC) {
            let key = u64::from_le_bytes(body.get(16..24)?.try_into().ok()?);
            (Seal::Keyed(key), &body[24..])
        } else if body.starts_with(CHECKPOINT_MAGIC_V1) {
            (Seal::Plain, &body[16..])
        } else {
            return None;
        };
        let meta_pages = Reader(rest).bytes()?.to_vec();
        Some(Checkpoint {
            replay_from,
            seal,
            meta_pages,
        })
    }

    pub(super) fn write(&self, dir: &Path) -> Result<()> {
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

/// A checkpoint handed to the checkpointer thread.
pub(super) struct Pending {
    pub replay_from: u64,
    /// How big to make the segment after `replay_from` (0: none, at close).
    pub next_size: u64,
    pub meta_pages: Vec<u8>,
    pub pin: RoTxn<'static, WithoutTls>,
    /// When the writer pinned the snapshot (the checkpoint's start).
    pub pinned_at: Instant,
    /// Someone waits for this one (startup, shutdown, a full map): no writes
    /// are answered meanwhile, so it syncs at once instead of at `pacing.sync`.
    pub waited_for: bool,
}

/// The checkpointer thread: syncs the data file, writes the checkpoint, then
/// drops older segments and the previous pin; between checkpoints it starts
/// the data file's writeback every `pacing.writeback`, and before a sync it
/// writes the file back at `pacing.sync`'s pace.
pub(super) fn checkpointer(
    env: Env<WithoutTls>,
    dir: PathBuf,
    rx: std_mpsc::Receiver<Pending>,
    done: std_mpsc::Sender<Result<()>>,
    seal: Seal,
    pacing: super::Pacing,
    latency: Latency,
) {
    let data_file = File::open(dir.join("data.mdb")).ok();
    let mut pinned: Option<RoTxn<'static, WithoutTls>> = None;
    loop {
        // Between checkpoints, hand the data file's new dirty pages to the
        // disk every `writeback` (see `writeback`), so the checkpoint's sync
        // below has little left to write.
        let next = match (pacing.writeback, &data_file) {
            (Some(every), Some(file)) => match rx.recv_timeout(every) {
                Ok(p) => p,
                Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    match pacing.sync {
                        // A paced pass: at most a step in flight at a time.
                        Some(pace) => {
                            if let Err(e) = crate::durable::write_back_paced(file, pace) {
                                tracing::debug!(error = %e, "paced writeback failed");
                            }
                        }
                        None => start_writeback(file),
                    }
                    continue;
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => break,
            },
            _ => match rx.recv() {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let p = next;
        let mut phase = Phases::new(&latency);
        let result = (|| {
            if let Some(dirty) = data_file.as_ref().and_then(dirty_bytes) {
                latency.checkpoint_writeback_bytes.observe(dirty as f64);
            }
            if let (Some(pace), Some(file), false) = (pacing.sync, &data_file, p.waited_for) {
                // Most of the sync's writing, spread out; the sync below then
                // makes it durable (it writes whatever is still dirty).
                crate::durable::write_back_paced(file, pace)
                    .map_err(|e| io_err("cannot write back", &dir.join("data.mdb"), e))?;
            }
            env.force_sync()?;
            phase.done("data_sync");
            Checkpoint {
                replay_from: p.replay_from,
                seal,
                meta_pages: p.meta_pages,
            }
            .write(&dir)?;
            phase.done("checkpoint_file");
            // Segments before `replay_from` are not needed any more: one of
            // them becomes the next segment, the others go.
            let mut retired: Vec<u64> = segments(&dir)?
                .into_iter()
                .filter(|s| *s < p.replay_from)
                .collect();
            if p.next_size > 0 {
                if let Some(reused) =
                    prepare_segment(&dir, p.replay_from + 1, p.next_size, &retired)?
                {
                    retired.retain(|s| *s != reused);
                }
                phase.done("prepare_segment");
            }
            for seq in retired {
                let path = segment_path(&dir, seq);
                if let Err(e) = fs::remove_file(&path) {
                    tracing::warn!(segment = %path.display(), error = %e, "cannot delete an old redo segment");
                }
            }
            phase.done("retire");
            Ok(())
        })();
        latency
            .checkpoint_phase
            .with_label_values(&["total"])
            .observe(p.pinned_at.elapsed().as_secs_f64());
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

/// Times the phases of one checkpoint, each from the end of the last.
struct Phases<'a> {
    latency: &'a Latency,
    since: Instant,
}

impl<'a> Phases<'a> {
    fn new(latency: &'a Latency) -> Self {
        Phases {
            latency,
            since: Instant::now(),
        }
    }

    fn done(&mut self, phase: &str) {
        let now = Instant::now();
        self.latency
            .checkpoint_phase
            .with_label_values(&[phase])
            .observe((now - self.since).as_secs_f64());
        self.since = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_rejects_damage() {
        let c = Checkpoint {
            replay_from: 42,
            seal: Seal::Keyed(0x0123_4567_89ab_cdef),
            meta_pages: (0..8192u32).map(|i| i as u8).collect(),
        };
        let mut b = c.encode();
        assert_eq!(Checkpoint::decode(&b), Some(c));
        b[20] ^= 1;
        assert_eq!(Checkpoint::decode(&b), None);
        assert_eq!(Checkpoint::decode(&[]), None);
    }

    #[test]
    fn a_format_1_checkpoint_reads_as_plain_sealed() {
        // Format 1 as it was written: magic, replay_from, meta pages, CRC.
        let meta_pages: Vec<u8> = (0..8192u32).map(|i| (i * 7) as u8).collect();
        let mut b = CHECKPOINT_MAGIC_V1.to_vec();
        b.extend_from_slice(&9u64.to_le_bytes());
        put_bytes(&mut b, &meta_pages);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            Checkpoint::decode(&b),
            Some(Checkpoint {
                replay_from: 9,
                seal: Seal::Plain,
                meta_pages,
            })
        );
    }
}
