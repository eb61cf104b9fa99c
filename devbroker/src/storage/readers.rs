//! A small dedicated pool of reader threads for LMDB reads.
//!
//! LMDB reads may page-fault on a cold map, so they stay off the async runtime.
//! `spawn_blocking` for each read parks and wakes one of an unbounded set of
//! blocking threads per request; under load a few dedicated threads fed by one
//! queue keep working through it without parking between reads, and bound how
//! many reads compete for the cores.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};

use super::{Result, StoreError};

type ReadJob = Box<dyn FnOnce() + Send>;

/// The pool's queue; the threads stop when it is dropped.
pub(crate) struct Readers {
    queue: Sender<ReadJob>,
}

impl Readers {
    /// Starts `threads` reader threads.
    pub(crate) fn start(threads: usize) -> Result<Readers> {
        let (queue, rx) = channel::<ReadJob>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("lmdb-reader-{i}"))
                .spawn(move || run(&rx))
                .map_err(|e| StoreError::Io(format!("cannot start a reader thread: {e}")))?;
        }
        Ok(Readers { queue })
    }

    /// Queues a read; false if the pool has stopped.
    pub(crate) fn submit(&self, job: ReadJob) -> bool {
        self.queue.send(job).is_ok()
    }
}

/// Reader threads: two cores' worth of CPU, doubled so that a read waiting on a
/// page fault does not hold up the others.
pub(crate) fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(4)
        .clamp(2, 16)
}

fn run(rx: &Mutex<Receiver<ReadJob>>) {
    loop {
        let job = match rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            // A panicking read must not take the thread down with it; its
            // caller sees the dropped reply as an error.
            Ok(job) => {
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Err(_) => return,
        }
    }
}
