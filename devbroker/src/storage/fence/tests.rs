//! Every write operation of a fenced store is refused and changes nothing;
//! reads, checkpoints and close go on.

use super::super::{ConfigChange, Record, Store, StoreError, StoreOptions, now_ms};
use crate::config::TopicSpec;
use crate::wire::kvstore::{Put, WriteRequest};

fn put(key: &str, value: &str) -> WriteRequest {
    WriteRequest {
        puts: vec![Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            precondition: None,
        }],
        deletes: Vec::new(),
    }
}

fn assert_fenced<T: std::fmt::Debug>(what: &str, r: Result<T, StoreError>) {
    match r {
        Err(StoreError::Fenced(reason)) => assert_eq!(reason, "taken over", "{what}"),
        other => panic!("{what}: expected Fenced, got {other:?}"),
    }
}

#[tokio::test]
async fn a_fenced_store_refuses_every_write_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    // retention.ms=1: an unfenced maintenance pass would trim every record.
    let spec: TopicSpec = "kv:2:retention.ms=1".parse().unwrap();
    store.create_topic("kv", 2, spec.config).await.unwrap();
    store.kv_write("kv", 0, put("a", "1")).await.unwrap();
    let rec = Record::new(now_ms(), Some(b"b".to_vec()), Some(b"2".to_vec()));
    store.append("kv", 1, vec![rec.clone()]).await.unwrap();
    let before = (
        store.partition_state("kv", 0).unwrap(),
        store.partition_state("kv", 1).unwrap(),
        store.topic("kv").unwrap(),
    );

    assert_eq!(store.fence().reason(), None);
    assert!(store.fence().set("taken over".into()));
    assert!(!store.fence().set("again".into()), "set once");
    assert_eq!(store.fence().reason(), Some("taken over"));

    assert_fenced("kv write", store.kv_write("kv", 0, put("a", "x")).await);
    assert_fenced("append", store.append("kv", 1, vec![rec]).await);
    let spec: TopicSpec = "new:1".parse().unwrap();
    assert_fenced(
        "create topic",
        store.create_topic("new", 1, spec.config).await,
    );
    assert_fenced("delete topic", store.delete_topic("kv").await);
    let change = vec![ConfigChange::Set("retention.ms".into(), "5".into())];
    assert_fenced("alter config", store.alter_config("kv", change).await);
    let later = now_ms() + 60_000;
    assert_fenced("retention pass", store.maintain(later).await);
    assert_fenced(
        "tiered retention pass",
        store
            .maintain_tiered(later, std::sync::Arc::new(Default::default()))
            .await,
    );

    // Nothing changed, and reads still work.
    assert!(store.topic("new").is_none());
    let after = (
        store.partition_state("kv", 0).unwrap(),
        store.partition_state("kv", 1).unwrap(),
        store.topic("kv").unwrap(),
    );
    assert_eq!(format!("{before:?}"), format!("{after:?}"));
    assert_eq!(
        store.kv_get("kv", 0, &[b"a".to_vec()]).unwrap(),
        vec![Some(b"1".to_vec())]
    );
    let log = store.read_log("kv", 1, 0, 1 << 20, 10).unwrap();
    assert_eq!(log.records.len(), 1);
    // A checkpoint writes no data: it still runs, and so does close.
    store.checkpoint().await.unwrap();
    store.close().await.unwrap();
    drop(store);
    // The same data after a restart (the fence is not persisted: a restart claims again).
    let back = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(
        back.kv_get("kv", 0, &[b"a".to_vec()]).unwrap(),
        vec![Some(b"1".to_vec())]
    );
    assert_eq!(back.partition_state("kv", 1).unwrap().next_offset, 1);
    assert!(back.topic("new").is_none());
}
