//! The data file's writeback between checkpoints, and what the page cache
//! holds of it.
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
//!
//! Linux 6.5+ has `cachestat(2)`, which counts a file's dirty pages without
//! touching them; libc has no binding for it on every target, so the call is
//! made here by number. Elsewhere (macOS, older kernels) the answer is `None`
//! and the metric is not observed.

use std::fs::File;

/// Bytes of `file` that are dirty in the page cache, if the OS can tell.
#[cfg(target_os = "linux")]
pub(super) fn dirty_bytes(file: &File) -> Option<u64> {
    use std::os::fd::AsRawFd;

    /// `struct cachestat_range` of the kernel's uapi.
    #[repr(C)]
    struct Range {
        off: u64,
        len: u64,
    }
    /// `struct cachestat` of the kernel's uapi.
    #[repr(C)]
    #[derive(Default)]
    struct Stat {
        nr_cache: u64,
        nr_dirty: u64,
        nr_writeback: u64,
        nr_evicted: u64,
        nr_recently_evicted: u64,
    }
    // The same number on every architecture (it was added after the syscall
    // tables were unified).
    const SYS_CACHESTAT: libc::c_long = 451;
    let range = Range { off: 0, len: 0 }; // len 0: to the end of the file
    let mut stat = Stat::default();
    // SAFETY: both pointers are to live, properly laid out structs for the
    // duration of the call; the kernel writes only `stat`.
    let rc = unsafe {
        libc::syscall(
            SYS_CACHESTAT,
            file.as_raw_fd(),
            &range as *const Range,
            &mut stat as *mut Stat,
            0u32,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page)
        .ok()
        .map(|p| (stat.nr_dirty + stat.nr_writeback) * p)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn dirty_bytes(_file: &File) -> Option<u64> {
    None
}

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
    fn dirty_bytes_sees_an_unsynced_write_and_not_a_synced_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
        f.write_all(&vec![7u8; 1 << 20]).unwrap();
        let before = super::dirty_bytes(&f).expect("cachestat(2) needs Linux 6.5 or later");
        assert!(before > 0, "a fresh 1 MiB write is dirty");
        f.sync_all().unwrap();
        assert_eq!(super::dirty_bytes(&f), Some(0));
    }

    #[test]
    fn started_writeback_leaves_nothing_dirty_once_it_completes() {
        let dir = tempfile::tempdir().unwrap();
        let mut f = std::fs::File::create(dir.path().join("f")).unwrap();
        f.write_all(&vec![7u8; 4 << 20]).unwrap();
        assert!(super::dirty_bytes(&f).unwrap() > 0);
        super::start_writeback(&f);
        // Writeback was started, not waited for: it ends on its own.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let left = super::dirty_bytes(&f).unwrap();
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
