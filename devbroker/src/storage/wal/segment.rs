//! Redo log segment files (`wal-<seq>.log`): naming, listing, opening,
//! preparing zero-filled ahead of use, reading records back, and replay.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use heed::{Env, WithoutTls};

use super::RECORD_HEADER;
use super::tx::apply_redo;
use crate::storage::{Dbs, Result, StoreError};

/// Segments are created zero-filled, as big as the last one grew (within these
/// bounds), by the checkpointer ahead of use: a sync after overwriting blocks
/// that exist costs about half as much as one after appending (the file system
/// then allocates blocks and writes the inode's new size; `fio`, 8 KiB writes,
/// `fdatasync` each: 203 vs 382 us). A zero header marks the end of the records.
pub(super) const MIN_SEGMENT: u64 = 1 << 20;
pub(super) const MAX_SEGMENT: u64 = 64 << 20;

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

/// Creates segment `seq` zero-filled to `size` bytes, durably, unless it exists.
pub(super) fn prepare_segment(dir: &Path, seq: u64, size: u64) -> Result<()> {
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

/// The payload of the record at `at`, if it is whole and its CRC matches.
pub(super) fn record_at(data: &[u8], at: usize) -> Option<&[u8]> {
    let header = data.get(at..at + RECORD_HEADER)?;
    let len = u32::from_le_bytes(header[..4].try_into().ok()?) as usize;
    let crc = u32::from_le_bytes(header[4..].try_into().ok()?);
    let payload = data.get(at + RECORD_HEADER..at + RECORD_HEADER + len)?;
    (len > 0 && crc32fast::hash(payload) == crc).then_some(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

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
