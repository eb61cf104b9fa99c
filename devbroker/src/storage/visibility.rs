//! What a reader may see once the writer holds its LMDB transaction open.
//!
//! The writer answers a group as soon as its redo record is durable, and may
//! keep the group's LMDB transaction open for up to `--commit-hold-ms` to take
//! in the groups that follow, so that many groups share one LMDB commit (at one
//! connection every put used to be its own commit, about 12 freshly copied pages
//! each; see docs/performance.md, "Write-latency tails"). Readers open their own
//! LMDB snapshots, which do not see an open transaction, yet a read must see
//! every write answered before it began.
//!
//! So the writer counts groups: `answered` is raised before a group's replies
//! go out, `committed` once its LMDB transaction is committed. A read that finds
//! `answered > committed` asks the writer to commit now and waits for it
//! (`wait_committed`): in the common case, no write in flight, it costs two
//! atomic loads; otherwise about one LMDB commit, or the rest of a redo sync
//! when the writer is in one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::{Result, StoreError};

/// How long a waiting reader sleeps before asking the writer again (a safety
/// net: the writer wakes readers as soon as it commits).
const REASK: Duration = Duration::from_millis(50);

#[derive(Default)]
pub(crate) struct Visibility {
    answered: AtomicU64,
    committed: AtomicU64,
    /// Set when answered writes can no longer reach LMDB (its commit failed):
    /// reads fail until a restart replays them from the redo log.
    failed: AtomicBool,
    /// A reader waits for a commit.
    wanted: AtomicBool,
    /// Wakes the writer while it holds a transaction open.
    wake_writer: Notify,
    lock: Mutex<()>,
    readers: Condvar,
}

impl Visibility {
    /// Returns once every group answered so far is visible to a new snapshot.
    /// Blocks: call it from a blocking thread, never from the writer.
    pub fn wait_committed(&self) -> Result<()> {
        let target = self.answered.load(Ordering::Acquire);
        if self.committed.load(Ordering::Acquire) >= target && !self.failed.load(Ordering::Relaxed)
        {
            return Ok(());
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.failed.load(Ordering::Acquire) {
                return Err(StoreError::Io(
                    "an answered write could not be committed to the data file; \
                     restart the broker to replay it from the redo log"
                        .into(),
                ));
            }
            if self.committed.load(Ordering::Acquire) >= target {
                return Ok(());
            }
            self.wanted.store(true, Ordering::Release);
            self.wake_writer.notify_one();
            guard = self
                .readers
                .wait_timeout(guard, REASK)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Writer: groups up to `seq` are about to be answered.
    pub fn answered(&self, seq: u64) {
        self.answered.store(seq, Ordering::Release);
    }

    /// Writer: groups up to `seq` are committed; wakes the readers waiting.
    pub fn committed(&self, seq: u64) {
        self.committed.store(seq, Ordering::Release);
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.readers.notify_all();
    }

    /// Writer: answered groups will not reach LMDB before a restart.
    pub fn fail(&self) {
        self.failed.store(true, Ordering::Release);
        let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.readers.notify_all();
    }

    /// Writer: true if a reader waits (and forgets it: the commit about to be
    /// made serves that reader).
    pub fn take_wanted(&self) -> bool {
        self.wanted.swap(false, Ordering::AcqRel)
    }

    /// Writer: resolves when a reader asks for a commit.
    pub async fn reader_waits(&self) {
        self.wake_writer.notified().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_reader_waits_for_the_commit_of_what_was_answered() {
        let vis = Arc::new(Visibility::default());
        vis.answered(1);
        vis.committed(1);
        vis.wait_committed().unwrap();
        vis.answered(2);
        let reader = {
            let vis = vis.clone();
            std::thread::spawn(move || vis.wait_committed())
        };
        // The reader asks the writer, then stays blocked until the commit.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(vis.reader_waits());
        assert!(vis.take_wanted());
        assert!(!reader.is_finished());
        vis.committed(2);
        reader.join().unwrap().unwrap();
    }

    #[test]
    fn a_failed_commit_fails_the_readers_waiting_for_it() {
        let vis = Arc::new(Visibility::default());
        vis.answered(1);
        let reader = {
            let vis = vis.clone();
            std::thread::spawn(move || vis.wait_committed())
        };
        std::thread::sleep(Duration::from_millis(20));
        vis.fail();
        let err = reader.join().unwrap().unwrap_err();
        assert!(err.to_string().contains("restart the broker"), "{err}");
    }
}
