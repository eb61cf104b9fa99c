//! The supervisor: topics and their partitions' uploaders, and their gauges.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::{put, store, tier_opts};
use crate::config::TopicSpec;
use crate::metrics::Metrics;
use crate::storage::{Record, now_ms};
use crate::tier::Tier;

/// The per-partition tier gauges.
const GAUGES: [&str; 4] = [
    "devbroker_tier_upload_lag_offsets",
    "devbroker_tier_upload_lag_bytes",
    "devbroker_tier_last_uploaded_offset",
    "devbroker_tier_last_snapshot_offset",
];

/// `(gauge, partition)` of every per-partition tier gauge series of `topic`.
fn series(metrics: &Metrics, topic: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for family in metrics.registry.gather() {
        if !GAUGES.contains(&family.name()) {
            continue;
        }
        for m in family.get_metric() {
            let label = |name: &str| {
                m.get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_string())
            };
            if label("topic").as_deref() == Some(topic) {
                let partition = label("partition").unwrap_or_default();
                out.insert((family.name().to_string(), partition));
            }
        }
    }
    out
}

#[tokio::test]
async fn deleting_a_topic_removes_the_gauges_of_every_partition() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = store(&data).await;
    put(&store, 3).await;
    let spec: TopicSpec = "three:3".parse().unwrap();
    store.create_topic("three", 3, spec.config).await.unwrap();
    for p in 0..3 {
        let r = Record::new(now_ms(), Some(b"k".to_vec()), Some(b"v".to_vec()));
        store.append("three", p, vec![r]).await.unwrap();
    }
    let tier = Tier::open(tier_opts(&dir.path().join("bucket"), &data), store.clone())
        .await
        .unwrap();
    tier.start().await.unwrap();
    let metrics = store.metrics().clone();
    let every: BTreeSet<(String, String)> = GAUGES
        .iter()
        .flat_map(|g| (0..3).map(move |p| (g.to_string(), p.to_string())))
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while series(&metrics, "three") != every {
        assert!(
            Instant::now() < deadline,
            "gauges of all 3 partitions: {:?}",
            series(&metrics, "three")
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    store.delete_topic("three").await.unwrap();
    tier.sync_topics().await.unwrap();
    // A few more uploader polls: no gauge of the deleted topic comes back.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(series(&metrics, "three"), BTreeSet::new());
    assert!(
        !metrics.render().contains("topic=\"three\""),
        "/metrics has no series of the deleted topic"
    );
    // The other topic keeps its gauges.
    assert_eq!(series(&metrics, "t").len(), GAUGES.len());
    tier.shutdown(Duration::from_secs(10)).await;
}
