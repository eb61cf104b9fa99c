//! Reads below the local log start come from the bucket (HTTP Proxy and Kafka Fetch).

use std::sync::Arc;
use std::time::Duration;

use super::{put, store};
use crate::storage::now_ms;
use crate::tier::{Tier, TierError, TierOptions, layout};

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
