//! Restore: batches at their offsets, and a restore that failed half way.

use std::time::Duration;

use super::{put, store};
use crate::config::TopicSpec;
use crate::storage::{Record, RestoreBatch, Store, StoreOptions, StoredRecord};
use crate::tier::{Tier, TierError, TierOptions};

#[tokio::test]
async fn restore_batches_put_records_at_their_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    let rec = |offset: u64, key: &str, value: Option<&str>| StoredRecord {
        offset,
        record: Record::new(5, Some(key.into()), value.map(|v| v.as_bytes().to_vec())),
    };
    store
        .restore(RestoreBatch {
            topic: "t".into(),
            partition: 0,
            view: vec![(b"old".to_vec(), b"snap".to_vec(), 3, 1)],
            records: vec![
                rec(100, "a", Some("1")),
                rec(101, "old", None),
                rec(102, "b", Some("2")),
            ],
            log_start: Some(100),
            next_offset: Some(103),
        })
        .await
        .unwrap();
    let state = store.partition_state("t", 0).unwrap();
    assert_eq!(
        (state.log_start, state.next_offset, state.log_records),
        (100, 103, 3)
    );
    let got = store
        .kv_get("t", 0, &[b"a".to_vec(), b"old".to_vec(), b"b".to_vec()])
        .unwrap();
    assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"2".to_vec())]);
    let log = store.read_log("t", 0, 0, 1 << 20, 100).unwrap();
    assert_eq!(
        log.records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        vec![100, 101, 102]
    );
    // Appends go on after the restored high watermark.
    put(&store, 1).await;
    assert_eq!(store.partition_state("t", 0).unwrap().next_offset, 104);
}

#[tokio::test]
async fn a_restore_that_failed_half_way_is_redone_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("bucket").display());
    let opts = |data: &str| TierOptions {
        url: url.clone(),
        data_dir: dir.path().join(data),
        poll_interval: Duration::from_millis(20),
        snapshot_interval: Duration::from_secs(3600),
        takeover: false,
    };
    // A broker uploads 40 records in small segments and shuts down cleanly.
    let a = Store::open(&dir.path().join("a"), StoreOptions::default()).unwrap();
    let spec: TopicSpec = "t:1:segment.bytes=200".parse().unwrap();
    a.create_topic("t", 1, spec.config).await.unwrap();
    put(&a, 40).await;
    let tier = Tier::open(opts("a"), a.clone()).await.unwrap();
    tier.start().await.unwrap();
    tier.shutdown(Duration::from_secs(10)).await;
    let segs = tier
        .part("t", 0)
        .unwrap()
        .state
        .lock()
        .unwrap()
        .manifest
        .segments
        .clone();
    assert!(segs.len() >= 3, "{} segments", segs.len());

    // A fresh broker's restore fails on the last segment (as on a bucket
    // error), after the earlier ones went into its store.
    let b_dir = dir.path().join("b");
    let b = Store::open(&b_dir, StoreOptions::default()).unwrap();
    let last = dir.path().join("bucket").join(&segs[segs.len() - 1].key);
    let good = std::fs::read(&last).unwrap();
    let mut bad = good.clone();
    bad[20] ^= 0xff;
    std::fs::write(&last, &bad).unwrap();
    match Tier::open(opts("b"), b.clone()).await {
        Err(TierError::Corrupt { .. }) => {}
        Err(e) => panic!("expected a corrupt-object error, got {e}"),
        Ok(_) => panic!("expected a corrupt-object error, got a tier"),
    }
    let half = b.partition_state("t", 0).unwrap().next_offset;
    assert!(half > 0 && half < 40, "part of the log restored: {half}");

    // The bucket is fine again: the next start drops the half restore and
    // restores everything, instead of coming up with part of the log.
    std::fs::write(&last, &good).unwrap();
    let tier = Tier::open(opts("b"), b.clone()).await.unwrap();
    let state = b.partition_state("t", 0).unwrap();
    assert_eq!(
        (state.log_start, state.next_offset, state.log_records),
        (0, 40, 40)
    );
    let keys: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i}").into_bytes()).collect();
    assert!(b.kv_get("t", 0, &keys).unwrap().iter().all(Option::is_some));
    assert!(!b_dir.join("tier-restoring").exists(), "the marker is gone");
    tier.shutdown(Duration::from_secs(10)).await;
}
