//! The data file's writeback between checkpoints.
//!
//! With `MDB_NOSYNC`, LMDB's page writes pile up in the page cache until a
//! checkpoint syncs the data file; that sync then writes seconds of pages at
//! once, and every redo log `fdatasync` issued meanwhile waits behind it at the
//! disk (one device, one flush queue): the write-latency stalls every
//! checkpoint interval. [`start_writeback`] starts the writeback of whatever is
//! dirty now, without waiting for it (`sync_file_range(SYNC_FILE_RANGE_WRITE)`);
//! the checkpointer calls it every few milliseconds, so the disk sees a steady
//! trickle and the checkpoint's own sync finds little left to write.
//! Durability does not depend on it: the checkpoint still syncs the file.
//! How much was dirty at each checkpoint is `crate::durable::dirty_bytes`.

use std::fs::File;

/// Starts writing back the dirty pages of `file` (all of it), without waiting.
#[cfg(target_os = "linux")]
pub(super) fn start_writeback(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open descriptor; offset 0 and length 0 mean the whole file.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
    if rc != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "sync_file_range failed");
    }
}

/// Elsewhere there is no call that starts writeback without waiting for it;
/// the checkpoint's sync writes everything, as it always does.
#[cfg(not(target_os = "linux"))]
pub(super) fn start_writeback(_file: &File) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::io::Write;

    #[test]
    fn started_writeback_leaves_nothing_dirty_once_it_completes() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
        f.write_all(&vec![7u8; 4 << 20]).unwrap();
        assert!(crate::durable::dirty_bytes(&f).unwrap() > 0);
        super::start_writeback(&f);
        // Writeback was started, not waited for: it ends on its own.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = crate::durable::dirty_bytes(&f).unwrap();
            if left == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{left} bytes still dirty"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}
