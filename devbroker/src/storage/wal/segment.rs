//! Redo log segment files (`wal-<seq>.log`): naming, listing, opening,
//! preparing ahead of use (an old segment recycled, or a new one zero-filled),
//! sealing and reading records back, and replay.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use heed::{Env, WithoutTls};

use super::RECORD_HEADER;
use super::tx::apply_redo;
use crate::storage::{Dbs, Result, StoreError};

/// Segments are prepared by the checkpointer ahead of use, as big as the last
/// one grew (within these bounds), with their blocks already written: a sync
/// after overwriting blocks that exist costs about half as much as one after
/// appending (the file system then allocates blocks and writes the inode's new
/// size; `fio`, 8 KiB writes, `fdatasync` each: 203 vs 382 us).
///
/// A retired segment is recycled as the next one (renamed, not rewritten), so
/// a checkpoint neither zero-fills a new file nor unlinks an old one, both of
/// which wrote or discarded megabytes on the disk the redo log syncs on. The
/// recycled file still holds its old records: every record is therefore sealed
/// with the segment's number and the data dir's random log key (see [`Seal`]),
/// and replay stops at the first record that is not sealed for its segment.
/// Only the first segments of a data dir are zero-filled; a zero header marks
/// the end of their records.
pub(super) const MIN_SEGMENT: u64 = 1 << 20;
pub(super) const MAX_SEGMENT: u64 = 64 << 20;

/// How a segment's records are sealed: the CRC32 in a record's header covers
/// the log key, the segment's number and the payload (checkpoint format 2), or
/// the payload alone (format 1: read when replaying a data dir written before
/// segments were recycled, never written).
///
/// The key is random per data dir and kept in the `checkpoint` file, so a
/// recycled segment's old records, or bytes inside an old record's payload
/// (values come from clients), are not taken for records of its new life:
/// without the key nobody can compute a seal, and a stale one fails the check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seal {
    Plain,
    Keyed(u64),
}

impl Seal {
    pub(super) fn crc(self, seq: u64, payload: &[u8]) -> u32 {
        match self {
            Seal::Plain => crc32fast::hash(payload),
            Seal::Keyed(key) => {
                let mut h = crc32fast::Hasher::new();
                h.update(&key.to_le_bytes());
                h.update(&seq.to_le_bytes());
                h.update(payload);
                h.finalize()
            }
        }
    }

    /// A new random key, for a data dir that has none yet.
    pub(crate) fn new_key() -> Result<Seal> {
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).map_err(|e| {
            StoreError::Io(format!("cannot get random bytes for the redo log key: {e}"))
        })?;
        Ok(Seal::Keyed(u64::from_le_bytes(b)))
    }
}

pub(super) fn io_err(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(format!("{what} {}: {e}", path.display()))
}

pub(super) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("wal-{seq:020}.log"))
}

/// Sequence numbers of the segments in `dir`, ascending.
pub(super) fn segments(dir: &Path) -> Result<Vec<u64>> {
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

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err("cannot sync directory", dir, e))
}

/// Opens segment `seq` to write records from its start: the file prepared by
/// [`prepare_segment`], or a new empty one.
pub(super) fn open_segment(dir: &Path, seq: u64) -> Result<File> {
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

/// Makes segment `seq` ready to be written, about `size` bytes long, unless it
/// exists: recycles the biggest of `retired` (segments no checkpoint needs any
/// more) if there is one, else creates a zero-filled file. Returns the retired
/// segment it took, which the caller must not delete.
pub(super) fn prepare_segment(
    dir: &Path,
    seq: u64,
    size: u64,
    retired: &[u64],
) -> Result<Option<u64>> {
    let path = segment_path(dir, seq);
    if path.exists() {
        return Ok(None);
    }
    let biggest = retired
        .iter()
        .filter_map(|s| Some((fs::metadata(segment_path(dir, *s)).ok()?.len(), *s)))
        .max();
    match biggest {
        Some((len, old)) => {
            recycle(dir, old, len, seq, size)?;
            Ok(Some(old))
        }
        None => {
            zero_filled(dir, seq, size)?;
            Ok(None)
        }
    }
}

/// Renames retired segment `old` (`len` bytes) to `seq`, first growing it to
/// `size` with zeros if it is smaller (the new blocks must be written before
/// use, as in a zero-filled segment) or shrinking it if it is much bigger.
fn recycle(dir: &Path, old: u64, len: u64, seq: u64, size: u64) -> Result<()> {
    let from = segment_path(dir, old);
    let resized = (|| {
        if len < size {
            let f = OpenOptions::new().write(true).open(&from)?;
            write_zeros(&f, len, size)?;
            f.sync_data()?;
        } else if len > size + size / 2 {
            OpenOptions::new().write(true).open(&from)?.set_len(size)?;
        }
        Ok::<_, std::io::Error>(())
    })();
    resized.map_err(|e| io_err("cannot resize", &from, e))?;
    link_into_place(dir, &from, seq)
}

/// Creates segment `seq` zero-filled to `size` bytes, durably.
fn zero_filled(dir: &Path, seq: u64, size: u64) -> Result<()> {
    let tmp = dir.join(format!("wal-{seq:020}.tmp"));
    let written = (|| {
        let f = File::create(&tmp)?;
        write_zeros(&f, 0, size)?;
        f.sync_all()
    })();
    written.map_err(|e| io_err("cannot prepare", &tmp, e))?;
    link_into_place(dir, &tmp, seq)
}

fn write_zeros(f: &File, from: u64, to: u64) -> std::io::Result<()> {
    let zeros = vec![0u8; 1 << 20];
    let mut at = from;
    while at < to {
        let n = (to - at).min(zeros.len() as u64) as usize;
        f.write_all_at(&zeros[..n], at)?;
        at += n as u64;
    }
    Ok(())
}

/// Gives the file at `from` the name of segment `seq` and drops its old name,
/// durably. A hard link never replaces a file the writer may already have
/// opened under that name.
fn link_into_place(dir: &Path, from: &Path, seq: u64) -> Result<()> {
    let path = segment_path(dir, seq);
    match fs::hard_link(from, &path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("cannot create", &path, e)),
    }
    fs::remove_file(from).map_err(|e| io_err("cannot remove", from, e))?;
    sync_dir(dir)
}

/// Replays the segments from `from` on into the environment, each up to its
/// first record not sealed with `seal` for it; returns the next free segment
/// number.
pub(crate) fn replay(
    dir: &Path,
    from: u64,
    seal: Seal,
    env: &Env<WithoutTls>,
    dbs: Dbs,
) -> Result<u64> {
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
            let Some(payload) = record_at(&data, at, seal, *seq) else {
                // The end of the records: a torn last write (never answered),
                // or a recycled segment's old contents. Either way any later
                // segment must be empty (prepared, never written).
                for later in &seqs[i + 1..] {
                    let later_path = segment_path(dir, *later);
                    let head =
                        fs::read(&later_path).map_err(|e| io_err("cannot read", &later_path, e))?;
                    if record_at(&head, 0, seal, *later).is_some() {
                        return Err(StoreError::Corrupt(format!(
                            "{} is damaged at byte {at} and {} holds later records; restore the data dir from a backup or the tier bucket",
                            path.display(),
                            later_path.display()
                        )));
                    }
                }
                tracing::info!(segment = %path.display(), at, "the redo log ends here (what follows is a torn last write, never answered, or a recycled segment's old records)");
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
pub(super) fn is_end(rest: &[u8]) -> bool {
    rest.iter().take(RECORD_HEADER).all(|b| *b == 0)
}

/// Removes segment files a crash left half prepared.
pub(super) fn remove_leftover_tmp(dir: &Path) {
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

/// The payload of the record at `at` of segment `seq`, if it is whole and
/// sealed for that segment.
pub(super) fn record_at(data: &[u8], at: usize, seal: Seal, seq: u64) -> Option<&[u8]> {
    let header = data.get(at..at + RECORD_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = data.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
    (len > 0 && seal.crc(seq, payload) == crc).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seal: Seal, seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut data = Vec::new();
        data.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        data.extend_from_slice(&seal.crc(seq, payload).to_le_bytes());
        data.extend_from_slice(payload);
        data
    }

    #[test]
    fn records_are_whole_or_absent() {
        let payload = b"\x01\x03\x02\0\0\0ab\x01\0\0\0c";
        for seal in [Seal::Plain, Seal::Keyed(7)] {
            let data = record(seal, 3, payload);
            assert_eq!(record_at(&data, 0, seal, 3), Some(&payload[..]));
            assert_eq!(record_at(&data[..data.len() - 1], 0, seal, 3), None);
            let mut bad = data.clone();
            bad[10] ^= 0xff;
            assert_eq!(record_at(&bad, 0, seal, 3), None);
        }
    }

    #[test]
    fn a_record_is_sealed_for_its_segment_and_key_only() {
        let data = record(Seal::Keyed(7), 3, b"payload");
        assert!(record_at(&data, 0, Seal::Keyed(7), 3).is_some());
        assert_eq!(
            record_at(&data, 0, Seal::Keyed(7), 4),
            None,
            "another segment"
        );
        assert_eq!(record_at(&data, 0, Seal::Keyed(8), 3), None, "another key");
        assert_eq!(record_at(&data, 0, Seal::Plain, 3), None, "format 1");
    }

    #[test]
    fn a_retired_segment_is_recycled_and_a_new_one_zero_filled() {
        let dir = tempfile::tempdir().unwrap();
        // No retired segment: a new zero-filled one.
        assert_eq!(prepare_segment(dir.path(), 1, 4096, &[]).unwrap(), None);
        let first = fs::read(segment_path(dir.path(), 1)).unwrap();
        assert_eq!(first.len(), 4096);
        assert!(first.iter().all(|b| *b == 0));
        // Segment 1 written and retired: it becomes segment 3, contents kept.
        fs::write(segment_path(dir.path(), 1), vec![9u8; 4096]).unwrap();
        assert_eq!(prepare_segment(dir.path(), 3, 4096, &[1]).unwrap(), Some(1));
        assert!(!segment_path(dir.path(), 1).exists());
        assert_eq!(
            fs::read(segment_path(dir.path(), 3)).unwrap(),
            vec![9u8; 4096]
        );
        // Growing a recycled segment zero-fills the new part.
        assert_eq!(prepare_segment(dir.path(), 5, 8192, &[3]).unwrap(), Some(3));
        let grown = fs::read(segment_path(dir.path(), 5)).unwrap();
        assert_eq!(grown.len(), 8192);
        assert!(grown[..4096].iter().all(|b| *b == 9) && grown[4096..].iter().all(|b| *b == 0));
        // A segment that exists is left alone.
        assert_eq!(prepare_segment(dir.path(), 5, 1, &[]).unwrap(), None);
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 5)).unwrap().len(),
            8192
        );
    }

    #[test]
    fn replay_stops_at_a_recycled_segments_old_records() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: one environment on a fresh temporary dir.
        let env = unsafe {
            heed::EnvOpenOptions::new()
                .read_txn_without_tls()
                .max_dbs(8)
                .open(dir.path())
        }
        .unwrap();
        let mut wtxn = env.write_txn().unwrap();
        let dbs = Dbs {
            meta: env.create_database(&mut wtxn, Some("meta")).unwrap(),
            topics: env.create_database(&mut wtxn, Some("topics")).unwrap(),
            parts: env.create_database(&mut wtxn, Some("partitions")).unwrap(),
            log: env.create_database(&mut wtxn, Some("log")).unwrap(),
            view: env.create_database(&mut wtxn, Some("view")).unwrap(),
            offsets: env.create_database(&mut wtxn, Some("offsets")).unwrap(),
        };
        wtxn.commit().unwrap();
        let seal = Seal::Keyed(42);
        // A put into the view db: op 1, db 4, key, value.
        let put = |key: &[u8]| {
            let mut p = vec![1u8, 4];
            super::super::tx::put_bytes(&mut p, key);
            super::super::tx::put_bytes(&mut p, b"v");
            p
        };
        // Segment 2 as recycled from segment 1: one record of its new life,
        // then records sealed for segment 1 (its previous life).
        let mut file = record(seal, 2, &put(b"new"));
        file.extend_from_slice(&record(seal, 1, &put(b"old")));
        file.extend_from_slice(&record(seal, 1, &put(b"old")));
        fs::write(segment_path(dir.path(), 2), &file).unwrap();
        // Segment 3: recycled too, not written in its new life.
        fs::write(segment_path(dir.path(), 3), record(seal, 1, &put(b"old"))).unwrap();
        assert_eq!(replay(dir.path(), 2, seal, &env, dbs).unwrap(), 4);
        let rtxn = env.read_txn().unwrap();
        assert!(dbs.view.get(&rtxn, b"new").unwrap().is_some());
        assert!(dbs.view.get(&rtxn, b"old").unwrap().is_none());
        drop(rtxn);
        // A record sealed for segment 3 while segment 2's records stop
        // without the zero header the writer ends a segment with: damage in
        // segment 2, not a torn last write.
        fs::write(segment_path(dir.path(), 3), record(seal, 3, &put(b"late"))).unwrap();
        assert!(matches!(
            replay(dir.path(), 2, seal, &env, dbs),
            Err(StoreError::Corrupt(_))
        ));
        // With that end marker after its record, segment 3 follows on.
        let mut ended = record(seal, 2, &put(b"new"));
        ended.extend_from_slice(&[0; RECORD_HEADER]);
        ended.extend_from_slice(&record(seal, 1, &put(b"old")));
        fs::write(segment_path(dir.path(), 2), &ended).unwrap();
        assert_eq!(replay(dir.path(), 2, seal, &env, dbs).unwrap(), 4);
        let rtxn = env.read_txn().unwrap();
        assert!(dbs.view.get(&rtxn, b"late").unwrap().is_some());
        assert!(dbs.view.get(&rtxn, b"old").unwrap().is_none());
    }
}
