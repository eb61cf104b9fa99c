//! Unit tests of the tier against a `file://` bucket and a real store, one
//! file per part of the tier: upload floors in retention, restore, reads from
//! the bucket, and the supervisor (topics, partitions, their gauges).

mod offsets;
mod reads;
mod restore;
mod retention;
mod supervisor;

use std::time::Duration;

use super::TierOptions;
use crate::config::TopicSpec;
use crate::storage::{Record, Store, StoreOptions, now_ms};

pub(super) async fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let spec: TopicSpec = "t:1:retention.local.target.bytes=0".parse().unwrap();
    store.create_topic("t", 1, spec.config).await.unwrap();
    store
}

pub(super) async fn put(store: &Store, n: usize) {
    for i in 0..n {
        let r = Record::new(
            now_ms(),
            Some(format!("k{i}").into_bytes()),
            Some(vec![b'v'; 10]),
        );
        store.append("t", 0, vec![r]).await.unwrap();
    }
}

/// Tier options for a `file://` bucket, polling every 20 ms.
pub(super) fn tier_opts(bucket: &std::path::Path, data_dir: &std::path::Path) -> TierOptions {
    TierOptions {
        url: format!("file://{}", bucket.display()),
        data_dir: data_dir.to_path_buf(),
        poll_interval: Duration::from_millis(20),
        snapshot_interval: Duration::from_secs(3600),
        takeover: false,
    }
}
