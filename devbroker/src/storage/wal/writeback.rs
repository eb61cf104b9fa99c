//! What the page cache holds of the data file, for the checkpoint metrics.
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
}
