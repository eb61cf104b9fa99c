//! The coordinator on [`StoreOffsets`]: commits acknowledged only once in the
//! store, kept across a reopen, and expired after offsets retention.

use std::sync::Arc;
use std::time::Duration;

use super::tests::cfg;
use super::*;
use crate::config::TopicConfig;
use crate::storage::Store;

const MINUTE_MS: i64 = 60_000;

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, Default::default()).unwrap()
}

fn coordinator(store: &Store) -> GroupCoordinator {
    GroupCoordinator::new(
        GroupConfig {
            offsets_retention: Duration::from_secs(10 * 60),
            ..cfg()
        },
        Arc::new(StoreOffsets::new(store.clone())),
        store.metrics().clone(),
    )
}

fn at(
    store: &Store,
    topic: &str,
    partition: i32,
    offset: i64,
    commit_ms: i64,
) -> (TopicPartition, CommittedOffset) {
    (
        TopicPartition::new(topic, partition),
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: String::new(),
            commit_ms,
            topic_id: store.topic(topic).unwrap().id,
        },
    )
}

#[tokio::test]
async fn commits_are_in_the_store_when_acknowledged_and_kept_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    let c = coordinator(&store);
    c.commit(
        "g",
        -1,
        "",
        None,
        vec![at(&store, "t", 0, 10, 1), at(&store, "t", 1, 20, 1)],
    )
    .await
    .unwrap();
    assert_eq!(store.committed_offset("g", "t", 1).unwrap().offset, 20);
    assert_eq!(
        c.committed("g", &TopicPartition::new("t", 0))
            .unwrap()
            .offset,
        10
    );
    c.delete_offsets("g", &[TopicPartition::new("t", 1)])
        .await
        .unwrap();
    store.close().await.unwrap();
    drop((c, store));

    let store = open(dir.path());
    let c = coordinator(&store);
    assert_eq!(
        c.committed("g", &TopicPartition::new("t", 0))
            .unwrap()
            .offset,
        10
    );
    assert_eq!(c.committed_all("g").len(), 1, "the OffsetDelete stayed");
    assert_eq!(
        c.list(&[]).len(),
        1,
        "a group with offsets exists after a restart"
    );
    c.delete_group("g").await.unwrap();
    assert!(store.group_offsets("g").is_empty());
    store.close().await.unwrap();
}

#[tokio::test]
async fn offsets_of_an_empty_group_expire_after_retention() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .create_topic("t", 2, TopicConfig::default())
        .await
        .unwrap();
    let c = coordinator(&store);
    let t0 = 1_000 * MINUTE_MS;
    // Standalone commits (no member): each offset by its own commit time.
    c.commit(
        "solo",
        -1,
        "",
        None,
        vec![
            at(&store, "t", 0, 1, t0),
            at(&store, "t", 1, 2, t0 + 5 * MINUTE_MS),
        ],
    )
    .await
    .unwrap();
    assert_eq!(c.expire_offsets(t0 + 10 * MINUTE_MS - 1).await, 0);
    assert_eq!(c.expire_offsets(t0 + 10 * MINUTE_MS).await, 1);
    assert_eq!(c.committed("solo", &TopicPartition::new("t", 0)), None);
    assert!(c.committed("solo", &TopicPartition::new("t", 1)).is_some());
    assert_eq!(c.expire_offsets(t0 + 15 * MINUTE_MS).await, 1);
    assert!(
        store.group_offsets("solo").is_empty(),
        "expired through the store"
    );
    store.close().await.unwrap();
    drop((c, store));
    let store = open(dir.path());
    assert!(store.group_offsets("solo").is_empty(), "and durably");
    store.close().await.unwrap();
}
