//! Unit tests of the tier against a `file://` bucket and a real store: upload
//! floors in retention, restore batches, and reads from the bucket.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::{Tier, TierError, TierOptions, layout};
use crate::config::TopicSpec;
use crate::storage::{Record, RestoreBatch, Store, StoreOptions, StoredRecord, now_ms};

async fn store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreOptions::default()).unwrap();
    let spec: TopicSpec = "t:1:retention.local.target.bytes=0".parse().unwrap();
    store.create_topic("t", 1, spec.config).await.unwrap();
    store
}

async fn put(store: &Store, n: usize) {
    for i in 0..n {
        let r = Record::new(
            now_ms(),
            Some(format!("k{i}").into_bytes()),
            Some(vec![b'v'; 10]),
        );
        store.append("t", 0, vec![r]).await.unwrap();
    }
}

#[tokio::test]
async fn retention_never_trims_at_or_above_the_upload_floor() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    put(&store, 10).await;
    // Without floors (no tier), local targets do not apply.
    store.maintain(now_ms()).await.unwrap();
    assert_eq!(store.partition_state("t", 0).unwrap().log_start, 0);
    // A partition the tier does not know yet has floor 0: nothing goes.
    store
        .maintain_tiered(now_ms(), Arc::new(HashMap::new()))
        .await
        .unwrap();
    assert_eq!(store.partition_state("t", 0).unwrap().log_start, 0);
    // Floor 6: local retention (target 0 bytes) trims offsets 0..6 only, and the
    // view keeps their keys (the bucket has the records).
    let floors = HashMap::from([(("t".to_string(), 0), 6u64)]);
    store
        .maintain_tiered(now_ms(), Arc::new(floors))
        .await
        .unwrap();
    let state = store.partition_state("t", 0).unwrap();
    assert_eq!(
        (state.log_start, state.next_offset, state.log_records),
        (6, 10, 4)
    );
    let got = store
        .kv_get("t", 0, &[b"k0".to_vec(), b"k9".to_vec()])
        .unwrap();
    assert!(
        got.iter().all(Option::is_some),
        "local retention keeps the view"
    );
}

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
async fn reads_below_the_local_log_come_from_the_bucket_and_corruption_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let store = store(&dir.path().join("data")).await;
    put(&store, 20).await;
    let tier = Tier::open(
        TierOptions {
            url: format!("file://{}", bucket.display()),
            data_dir: dir.path().join("data"),
            poll_interval: Duration::from_millis(20),
            snapshot_interval: Duration::from_secs(3600),
            takeover: false,
        },
        store.clone(),
    )
    .await
    .unwrap();
    tier.start().await.unwrap();
    tier.shutdown(Duration::from_secs(10)).await;
    // Everything was uploaded at shutdown: the floor is the high watermark.
    assert_eq!(tier.floors().get(&("t".to_string(), 0)), Some(&20));
    let recs = tier.read_records("t", 0, 7, 1 << 20).await.unwrap();
    assert_eq!(recs.first().map(|r| r.offset), Some(7));
    assert_eq!(recs.last().map(|r| r.offset), Some(19));
    // max_bytes bounds the read; the first record always comes whole.
    assert_eq!(tier.read_records("t", 0, 7, 1).await.unwrap().len(), 1);
    assert!(
        tier.read_records("t", 0, 20, 1 << 20)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(tier.read_records("nope", 0, 0, 1).await.unwrap().is_empty());

    // Corrupt the segment in the bucket: the read fails with its name, no data.
    let seg = {
        let part = tier.part("t", 0).unwrap();
        let s = part.state.lock().unwrap();
        s.manifest.segments[0].clone()
    };
    tier.inner.cache.clear();
    let path = bucket.join(&seg.key);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 40] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    match tier.read_records("t", 0, 0, 1 << 20).await {
        Err(TierError::Corrupt { path, reason }) => {
            assert!(path.ends_with(".seg"), "{path}");
            assert!(reason.contains("checksum"), "{reason}");
        }
        other => panic!("expected a corrupt-object error, got {other:?}"),
    }
    assert!(
        seg.key
            .starts_with(&layout::partition_dir("t", seg_incarnation(&seg.key), 0))
    );
}

fn seg_incarnation(key: &str) -> i64 {
    key.split('/')
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(-1)
}

#[tokio::test]
async fn kafka_fetch_below_the_local_log_start_reads_the_bucket() {
    use kafka_protocol::ResponseError;
    use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
    use kafka_protocol::messages::{BrokerId, FetchRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;

    let dir = tempfile::tempdir().unwrap();
    let store = store(&dir.path().join("data")).await;
    put(&store, 20).await;
    let tier = Tier::open(
        TierOptions {
            url: format!("file://{}", dir.path().join("bucket").display()),
            data_dir: dir.path().join("data"),
            poll_interval: Duration::from_millis(20),
            snapshot_interval: Duration::from_secs(3600),
            takeover: false,
        },
        store.clone(),
    )
    .await
    .unwrap();
    tier.start().await.unwrap();
    tier.shutdown(Duration::from_secs(10)).await;
    // Local retention (target 0 bytes) drops everything uploaded.
    store
        .maintain_tiered(now_ms(), Arc::new(tier.floors()))
        .await
        .unwrap();
    assert_eq!(store.partition_state("t", 0).unwrap().log_start, 20);

    let req = || {
        let mut p = FetchPartition::default();
        p.partition = 0;
        p.fetch_offset = 5;
        p.partition_max_bytes = 1 << 20;
        let mut t = FetchTopic::default();
        t.topic = TopicName(StrBytes::from_static_str("t"));
        t.partitions = vec![p];
        let mut req = FetchRequest::default();
        req.replica_id = BrokerId(-1);
        req.max_bytes = 1 << 20;
        req.topics = vec![t];
        req
    };
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let mut state =
        crate::kafka::KafkaState::new(store.clone(), "127.0.0.1:1".parse().unwrap(), 1 << 20, rx);
    let without = crate::kafka::handlers::fetch::fetch(&state, req(), 11).await;
    assert_eq!(
        without.responses[0].partitions[0].error_code,
        ResponseError::OffsetOutOfRange.code()
    );
    state.tier = Some(tier);
    let with = crate::kafka::handlers::fetch::fetch(&state, req(), 11).await;
    let pd = &with.responses[0].partitions[0];
    assert_eq!(pd.error_code, 0);
    assert_eq!(pd.log_start_offset, 0);
    let batches =
        crate::kafka::records::decode_batches(pd.records.clone().unwrap(), now_ms(), false)
            .unwrap();
    let n: usize = batches.iter().map(|b| b.records.len()).sum();
    assert_eq!(n, 15, "offsets 5..20 from the bucket");
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
