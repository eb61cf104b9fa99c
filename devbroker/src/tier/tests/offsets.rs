//! Committed offsets in the bucket: uploaded when they change, restored with
//! the topics on an empty data dir.

use std::time::Duration;

use super::{store, tier_opts};
use crate::storage::{Store, StoreOptions, StoredOffset};
use crate::tier::Tier;
use crate::tier::offsets::{OffsetsManifest, offsets_manifest_dir};

fn off(store: &Store, partition: i32, offset: i64) -> StoredOffset {
    StoredOffset {
        topic: "t".into(),
        topic_id: store.topic("t").unwrap().id,
        partition,
        offset,
        leader_epoch: 2,
        metadata: "meta".into(),
        commit_ms: 1234,
    }
}

#[tokio::test]
async fn offsets_are_uploaded_when_they_change_and_restored_on_an_empty_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let bucket = tmp.path().join("bucket");
    let a_dir = tmp.path().join("a");
    let a = store(&a_dir).await;
    let tier = Tier::open(tier_opts(&bucket, &a_dir), a.clone())
        .await
        .unwrap();
    tier.sync_topics().await.unwrap();
    tier.sync_offsets().await.unwrap();
    let dir = offsets_manifest_dir();
    assert!(
        tier.latest_manifest::<OffsetsManifest>(&dir)
            .await
            .unwrap()
            .is_none(),
        "nothing committed, nothing uploaded"
    );
    a.commit_offsets("g", vec![off(&a, 0, 5)]).await.unwrap();
    tier.sync_offsets().await.unwrap();
    a.commit_offsets("g", vec![off(&a, 0, 9)]).await.unwrap();
    a.commit_offsets("h", vec![off(&a, 0, 1)]).await.unwrap();
    a.delete_offsets("h", None).await.unwrap();
    tier.sync_offsets().await.unwrap();
    let (v, m) = tier
        .latest_manifest::<OffsetsManifest>(&dir)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(v, 2, "one version per change seen");
    assert_eq!(m.groups.len(), 1, "{m:?}");
    assert_eq!(
        (m.groups[0].group.as_str(), m.groups[0].offsets[0].offset),
        ("g", 9)
    );
    tier.sync_offsets().await.unwrap();
    let (again, _) = tier
        .latest_manifest::<OffsetsManifest>(&dir)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again, 2, "no change, no new version");
    tier.shutdown(Duration::from_secs(10)).await;
    a.close().await.unwrap();

    let b_dir = tmp.path().join("b");
    let b = Store::open(&b_dir, StoreOptions::default()).unwrap();
    let tier_b = Tier::open(tier_opts(&bucket, &b_dir), b.clone())
        .await
        .unwrap();
    let got = b.committed_offset("g", "t", 0).unwrap();
    assert_eq!(
        (
            got.offset,
            got.leader_epoch,
            got.metadata.as_str(),
            got.commit_ms
        ),
        (9, 2, "meta", 1234)
    );
    assert_eq!(
        got.topic_id,
        b.topic("t").unwrap().id,
        "the restored topic's id"
    );
    assert_eq!(b.offset_groups(), vec!["g".to_string()]);
    tier_b.shutdown(Duration::from_secs(10)).await;
    b.close().await.unwrap();
}
