//! Committed offsets through a real store: round trip, reopen, topic delete,
//! redo replay after a crash.

use std::sync::Arc;
use std::time::Duration;

use super::{Store, StoreOptions, StoredOffset};
use crate::config::TopicConfig;
use crate::metrics::Metrics;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A store whose background checkpoint never runs during a test.
fn store_at(dir: &std::path::Path) -> Store {
    let opts = StoreOptions {
        map_size: 1 << 30,
        checkpoint_interval: Duration::from_secs(3600),
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    };
    Store::open(dir, opts).unwrap()
}

fn off(store: &Store, topic: &str, partition: i32, offset: i64) -> StoredOffset {
    StoredOffset {
        topic: topic.into(),
        topic_id: store.topic(topic).unwrap().id,
        partition,
        offset,
        leader_epoch: 3,
        metadata: format!("m{offset}"),
        commit_ms: 1_000 + offset,
    }
}

fn offsets_of(store: &Store, group: &str) -> Vec<(String, i32, i64)> {
    store
        .group_offsets(group)
        .into_iter()
        .map(|o| (o.topic, o.partition, o.offset))
        .collect()
}

fn setup(rt: &tokio::runtime::Runtime, store: &Store) {
    for t in ["a", "b"] {
        rt.block_on(store.create_topic(t, 2, TopicConfig::default()))
            .unwrap();
    }
}

#[test]
fn commit_fetch_delete_round_trip() {
    let (dir, rt) = (tempfile::tempdir().unwrap(), rt());
    let store = store_at(dir.path());
    setup(&rt, &store);
    let batch = vec![
        off(&store, "b", 1, 7),
        off(&store, "a", 0, 5),
        off(&store, "a", 1, 6),
    ];
    rt.block_on(store.commit_offsets("g", batch)).unwrap();
    rt.block_on(store.commit_offsets("g", vec![off(&store, "a", 0, 9)]))
        .unwrap();
    rt.block_on(store.commit_offsets("g2", vec![off(&store, "a", 0, 1)]))
        .unwrap();
    assert_eq!(
        offsets_of(&store, "g"),
        vec![("a".into(), 0, 9), ("a".into(), 1, 6), ("b".into(), 1, 7)],
        "ordered by topic and partition; a later commit wins"
    );
    let one = store.committed_offset("g", "a", 0).unwrap();
    assert_eq!(
        (one.leader_epoch, one.metadata.as_str(), one.commit_ms),
        (3, "m9", 1_009)
    );
    assert_eq!(
        store.offset_groups(),
        vec!["g".to_string(), "g2".to_string()]
    );

    rt.block_on(store.delete_offsets("g", Some(vec![("a".into(), 1)])))
        .unwrap();
    assert_eq!(store.committed_offset("g", "a", 1), None);
    assert_eq!(offsets_of(&store, "g").len(), 2);
    rt.block_on(store.delete_offsets("g", None)).unwrap();
    assert!(store.group_offsets("g").is_empty());
    assert_eq!(
        store.offset_groups(),
        vec!["g2".to_string()],
        "other groups stay"
    );
    rt.block_on(store.close()).unwrap();
    drop(store);

    let back = store_at(dir.path());
    assert!(back.group_offsets("g").is_empty(), "deletes are durable");
    assert_eq!(offsets_of(&back, "g2"), vec![("a".into(), 0, 1)]);
    rt.block_on(back.close()).unwrap();
}

#[test]
fn offsets_survive_reopening_the_store() {
    let (dir, rt) = (tempfile::tempdir().unwrap(), rt());
    let store = store_at(dir.path());
    setup(&rt, &store);
    let batch = vec![off(&store, "a", 0, 5), off(&store, "b", 1, 8)];
    let expected = batch.clone();
    rt.block_on(store.commit_offsets("group-1", batch)).unwrap();
    rt.block_on(store.close()).unwrap();
    drop(store);
    let back = store_at(dir.path());
    assert_eq!(back.group_offsets("group-1"), expected);
    assert_eq!(back.offset_groups(), vec!["group-1".to_string()]);
    rt.block_on(back.close()).unwrap();
}

#[test]
fn a_deleted_topics_offsets_go_and_do_not_come_back_with_the_topic() {
    let (dir, rt) = (tempfile::tempdir().unwrap(), rt());
    let store = store_at(dir.path());
    setup(&rt, &store);
    let old_a = off(&store, "a", 0, 5);
    rt.block_on(store.commit_offsets("g", vec![old_a.clone(), off(&store, "b", 0, 2)]))
        .unwrap();
    rt.block_on(store.commit_offsets("h", vec![off(&store, "a", 1, 4)]))
        .unwrap();
    let v = store.offsets_version();
    rt.block_on(store.delete_topic("a")).unwrap();
    assert!(
        store.offsets_version() > v,
        "the cache changed with the delete"
    );
    assert_eq!(offsets_of(&store, "g"), vec![("b".into(), 0, 2)]);
    assert!(
        store.group_offsets("h").is_empty(),
        "h had only offsets of a"
    );
    assert_eq!(store.offset_groups(), vec!["g".to_string()]);

    rt.block_on(store.create_topic("a", 2, TopicConfig::default()))
        .unwrap();
    assert_eq!(store.committed_offset("g", "a", 0), None);
    // A commit that read the old topic id before the delete is dropped.
    rt.block_on(store.commit_offsets("g", vec![old_a])).unwrap();
    assert_eq!(store.committed_offset("g", "a", 0), None);
    rt.block_on(store.close()).unwrap();
    drop(store);
    let back = store_at(dir.path());
    assert_eq!(back.committed_offset("g", "a", 0), None);
    assert!(back.group_offsets("h").is_empty());
    assert_eq!(offsets_of(&back, "g"), vec![("b".into(), 0, 2)]);
    rt.block_on(back.close()).unwrap();
}

#[test]
fn a_group_id_too_long_for_a_key_is_refused_clearly() {
    let (dir, rt) = (tempfile::tempdir().unwrap(), rt());
    let store = store_at(dir.path());
    setup(&rt, &store);
    let long = "g".repeat(super::MAX_GROUP_ID_BYTES + 1);
    let err = rt
        .block_on(store.commit_offsets(&long, vec![off(&store, "a", 0, 1)]))
        .unwrap_err();
    assert!(err.to_string().contains("at most"), "{err}");
    rt.block_on(store.close()).unwrap();
}

/// A crash after an acknowledged commit, before any checkpoint: the LMDB
/// file is as of the last checkpoint (no offsets in it) and the redo log has
/// the commit; opening replays it, into LMDB and the cache.
#[test]
fn an_offset_commit_is_replayed_from_the_redo_log_after_a_crash() {
    let (dir, rt) = (tempfile::tempdir().unwrap(), rt());
    let store = store_at(dir.path());
    setup(&rt, &store);
    rt.block_on(store.commit_offsets("g", vec![off(&store, "a", 0, 1)]))
        .unwrap();
    rt.block_on(store.checkpoint()).unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let lmdb_only = tempfile::tempdir().unwrap();
    for to in [crashed.path(), lmdb_only.path()] {
        std::fs::copy(dir.path().join("data.mdb"), to.join("data.mdb")).unwrap();
    }
    // After the checkpoint: only in the redo log.
    let later = vec![off(&store, "a", 0, 42), off(&store, "b", 1, 17)];
    rt.block_on(store.commit_offsets("g", later)).unwrap();
    rt.block_on(store.delete_offsets("gone", None)).unwrap();
    rt.block_on(store.commit_offsets("g2", vec![off(&store, "b", 0, 3)]))
        .unwrap();
    rt.block_on(store.delete_offsets("g2", None)).unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "checkpoint" || name.starts_with("wal-") {
            std::fs::copy(dir.path().join(&name), crashed.path().join(&name)).unwrap();
        }
    }
    // The LMDB file alone has only the commit before the checkpoint.
    let before = store_at(lmdb_only.path());
    assert_eq!(offsets_of(&before, "g"), vec![("a".into(), 0, 1)]);
    rt.block_on(before.close()).unwrap();
    drop(before);
    let back = store_at(crashed.path());
    assert_eq!(
        offsets_of(&back, "g"),
        vec![("a".into(), 0, 42), ("b".into(), 1, 17)]
    );
    assert!(
        back.group_offsets("g2").is_empty(),
        "the replayed delete too"
    );
    rt.block_on(back.close()).unwrap();
    drop(back);
    let again = store_at(crashed.path());
    assert_eq!(
        offsets_of(&again, "g").len(),
        2,
        "and it stays after a clean close"
    );
    rt.block_on(again.close()).unwrap();
    rt.block_on(store.close()).unwrap();
}
