//! Making a file durable without flooding the disk.
//!
//! One `fdatasync` of a file with many dirty megabytes hands all of them to
//! the disk at once, and every redo log sync issued meanwhile waits behind
//! them: one device, one queue. On the dev VM, a 150 MB file synced at once
//! held a concurrent loop of 4 KiB write + `fdatasync` for 41-59 ms; the same
//! file written back 1 MiB at a time with 5 ms between steps held it no longer
//! than an idle disk does (about 10 ms). The kernel's own writeback of a file
//! nobody syncs is the same burst, 30 s later (`vm.dirty_expire_centisecs`).
//!
//! [`sync_paced`] writes a file back in steps of [`STEP`] bytes, waiting for
//! each (`sync_file_range`), pausing between them (a fixed pause, or one in
//! proportion to the step: a duty cycle), and then syncs it (`fdatasync`,
//! which by then has little but metadata left to write). Only Linux has
//! `sync_file_range`; elsewhere the file is synced at once.
//!
//! [`dirty_bytes`] says how much of a file the page cache holds dirty: Linux
//! 6.5+ has `cachestat(2)`, which counts a file's dirty pages without touching
//! them; libc has no binding for it on every target, so the call is made here
//! by number. Elsewhere (macOS, older kernels) the answer is `None`.

use std::fs::File;
use std::io;
use std::time::Duration;

/// Bytes written back per step.
pub const STEP: u64 = 1 << 20;
/// The pace for files whose durability is not urgent (tier objects): 5 ms
/// after each step, at most about 200 MB/s of the disk.
pub const BACKGROUND: Pace = Pace::Pause(Duration::from_millis(5));

/// How fast [`write_back_paced`] goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// This pause after each step.
    Pause(Duration),
    /// Keep the disk busy at most this percent (1-100) of the time: after
    /// each step, pause in proportion to how long the step took.
    Duty(u8),
}

impl Pace {
    fn pause_after(self, step: Duration) -> Duration {
        match self {
            Pace::Pause(d) => d,
            Pace::Duty(pct) => {
                let pct = u32::from(pct.clamp(1, 100));
                step * (100 - pct) / pct
            }
        }
    }
}

/// Makes `file`'s data durable: [`write_back_paced`], then `fdatasync`.
/// Blocks: call it from a blocking thread.
pub fn sync_paced(file: &File, pace: Pace) -> io::Result<()> {
    write_back_paced(file, pace)?;
    file.sync_data()
}

/// Writes `file`'s dirty pages back [`STEP`] bytes at a time, waiting for
/// each step and pausing after it as `pace` says. Not a durability point (the
/// disk may still cache them, and the file's metadata is not written): follow
/// it with a sync. Without `sync_file_range` (not Linux) it does nothing.
pub fn write_back_paced(file: &File, pace: Pace) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        let len = file.metadata()?.len();
        let mut at = 0;
        while at < len {
            let started = std::time::Instant::now();
            write_back(file, at, STEP.min(len - at))?;
            at += STEP;
            let pause = pace.pause_after(started.elapsed());
            if at < len && !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, pace);
    Ok(())
}

/// Bytes of `file` that are dirty in the page cache, if the OS can tell.
#[cfg(target_os = "linux")]
pub fn dirty_bytes(file: &File) -> Option<u64> {
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
pub fn dirty_bytes(_file: &File) -> Option<u64> {
    None
}

/// Writes `len` bytes of `file` from `offset` back to the disk and waits for
/// them (not a durability point: the disk may still cache them).
#[cfg(target_os = "linux")]
fn write_back(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::other("file range beyond i64"));
    };
    // SAFETY: a valid open descriptor and a plain range; no memory is shared.
    let rc = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, flags) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[cfg(target_os = "linux")]
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
    fn a_duty_cycle_pauses_in_proportion_to_the_step() {
        let step = std::time::Duration::from_millis(10);
        assert_eq!(
            super::Pace::Duty(100).pause_after(step),
            std::time::Duration::ZERO
        );
        assert_eq!(super::Pace::Duty(50).pause_after(step), step);
        assert_eq!(super::Pace::Duty(25).pause_after(step), step * 3);
        assert_eq!(super::Pace::Duty(0).pause_after(step), step * 99);
    }

    #[test]
    fn a_paced_sync_leaves_nothing_dirty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = std::fs::File::create(&path).unwrap();
        // Three and a half steps, so the last one is partial.
        f.write_all(&vec![7u8; (super::STEP * 7 / 2) as usize])
            .unwrap();
        #[cfg(target_os = "linux")]
        assert!(super::dirty_bytes(&f).unwrap() > 0);
        let read_only = std::fs::File::open(&path).unwrap();
        let pause = std::time::Duration::from_millis(20);
        let started = std::time::Instant::now();
        super::sync_paced(&read_only, super::Pace::Pause(pause)).unwrap();
        // Four steps, a pause between each two (none after the last).
        #[cfg(target_os = "linux")]
        assert!(started.elapsed() >= pause * 3, "{:?}", started.elapsed());
        #[cfg(target_os = "linux")]
        assert_eq!(super::dirty_bytes(&f), Some(0));
    }
}
