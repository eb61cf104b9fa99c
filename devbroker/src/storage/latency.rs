//! Where a write's time goes, and what each checkpoint costs: histograms
//! exported in `/metrics`, so a latency tail can be traced to its stage.
//!
//! A write's stages, on the writer thread:
//! - `queue_wait`: from the request handing its job to the writer until the
//!   writer starts the group it is in (one observation per job);
//! - `build`: applying the group's jobs to the LMDB transaction;
//! - `redo_write`: appending the group's redo record to the segment;
//! - `redo_sync`: the `fdatasync` that makes it durable;
//! - `lmdb_commit`: committing the transaction (`MDB_NOSYNC`: no sync);
//! - `reply`: publishing the commit (topic cache, metrics, long polls) and
//!   answering every job of the group.
//!
//! `storage_write_seconds` is the whole of it per job: queued to answered.
//!
//! A checkpoint's phases: `pin` (on the writer thread, between groups: pin the
//! snapshot, copy the meta pages, switch segments), then on the checkpointer
//! thread `data_sync` (the data file's sync), `checkpoint_file` (writing
//! `checkpoint`), `prepare_segment` (the next zero-filled segment), `retire`
//! (deleting older segments), and `total` (from the pin to the end).
//! `storage_checkpoint_writeback_bytes` is how much of `data.mdb` was dirty in
//! the page cache when its sync began (Linux only), i.e. what the sync wrote.

use prometheus::{Histogram, HistogramOpts, HistogramVec, core::Collector};

/// The latency histograms of the storage layer.
#[derive(Clone)]
pub struct Latency {
    pub write_stage: HistogramVec,
    pub write: Histogram,
    pub checkpoint_phase: HistogramVec,
    pub checkpoint_writeback_bytes: Histogram,
}

/// Buckets from 10 us to about 1.3 s, doubling.
fn time_buckets() -> Vec<f64> {
    prometheus::exponential_buckets(0.000_01, 2.0, 18).expect("valid buckets")
}

impl Latency {
    pub fn new() -> Self {
        Latency {
            write_stage: HistogramVec::new(
                HistogramOpts::new(
                    "storage_write_stage_seconds",
                    "Time of each stage of a write on the writer thread (see storage::latency)",
                )
                .buckets(time_buckets()),
                &["stage"],
            )
            .expect("valid metric"),
            write: Histogram::with_opts(
                HistogramOpts::new(
                    "storage_write_seconds",
                    "Time from a write reaching the writer's queue to its answer",
                )
                .buckets(time_buckets()),
            )
            .expect("valid metric"),
            checkpoint_phase: HistogramVec::new(
                HistogramOpts::new(
                    "storage_checkpoint_seconds",
                    "Time of each phase of a checkpoint (see storage::latency)",
                )
                .buckets(time_buckets()),
                &["phase"],
            )
            .expect("valid metric"),
            checkpoint_writeback_bytes: Histogram::with_opts(
                HistogramOpts::new(
                    "storage_checkpoint_writeback_bytes",
                    "Dirty bytes of the data file when a checkpoint's sync began",
                )
                .buckets(prometheus::exponential_buckets(4096.0, 4.0, 12).expect("valid")),
            )
            .expect("valid metric"),
        }
    }

    pub fn collectors(&self) -> Vec<Box<dyn Collector>> {
        vec![
            Box::new(self.write_stage.clone()),
            Box::new(self.write.clone()),
            Box::new(self.checkpoint_phase.clone()),
            Box::new(self.checkpoint_writeback_bytes.clone()),
        ]
    }
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use crate::wire::kvstore::{Put, WriteRequest};

    #[test]
    fn writes_and_checkpoints_fill_their_histograms() {
        let (_dir, store, rt) = crate::storage::tests::open();
        for i in 0..3u8 {
            let batch = WriteRequest {
                puts: vec![Put {
                    key: vec![i],
                    value: vec![i; 100],
                    precondition: None,
                }],
                deletes: vec![],
            };
            rt.block_on(store.kv_write("t", 0, batch)).unwrap();
        }
        rt.block_on(store.checkpoint()).unwrap();
        let metrics = store.metrics();
        let lat = &metrics.storage_latency;
        let stage = |s: &str| lat.write_stage.with_label_values(&[s]).get_sample_count();
        // The topic's creation and three writes, each its own group.
        for s in [
            "queue_wait",
            "build",
            "redo_write",
            "redo_sync",
            "lmdb_commit",
            "reply",
        ] {
            assert!(stage(s) >= 4, "{s}: {}", stage(s));
        }
        assert!(lat.write.get_sample_count() >= 4);
        let phase = |p: &str| {
            lat.checkpoint_phase
                .with_label_values(&[p])
                .get_sample_count()
        };
        // The checkpoint at open and the one asked for.
        for p in ["pin", "data_sync", "checkpoint_file", "retire", "total"] {
            assert!(phase(p) >= 2, "{p}: {}", phase(p));
        }
        assert!(lat.checkpoint_writeback_bytes.get_sample_count() >= 2);
        let text = metrics.render();
        assert!(text.contains("devbroker_storage_write_stage_seconds_bucket{stage=\"redo_sync\""));
        assert!(text.contains("devbroker_storage_checkpoint_seconds_bucket{phase=\"data_sync\""));
    }
}
