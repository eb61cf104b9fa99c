//! The writer's held transaction (`--commit-hold-ms`, `visibility`): answered
//! groups share one LMDB commit, every read sees what was answered before it,
//! a crash or a spoilt transaction loses none of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tests::{fill, put};
use super::{Store, StoreError, StoreOptions};
use crate::config::TopicSpec;
use crate::metrics::Metrics;

/// Long enough that nothing but a read, a checkpoint or a shutdown commits.
const FOREVER: Duration = Duration::from_secs(3600);

fn open_holding(dir: &std::path::Path, map_size: usize) -> Store {
    let opts = StoreOptions {
        map_size,
        checkpoint_interval: FOREVER,
        commit_hold: FOREVER,
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    };
    Store::open(dir, opts).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn create(store: &Store, rt: &tokio::runtime::Runtime, topic: &str) {
    let spec: TopicSpec = format!("{topic}:1").parse().unwrap();
    rt.block_on(store.create_topic(topic, 1, spec.config))
        .unwrap();
}

/// Writes `value` to keys `key(0)..key(n)` of `t`, one answered write each.
fn write_keys(store: &Store, rt: &tokio::runtime::Runtime, n: usize, value: &str) {
    for i in 0..n {
        rt.block_on(store.kv_write("t", 0, put(&format!("k{i:03}"), value)))
            .unwrap();
    }
}

fn key(i: usize) -> Vec<u8> {
    format!("k{i:03}").into_bytes()
}

#[test]
fn answered_groups_share_one_commit_and_the_next_read_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_holding(dir.path(), 1 << 30);
    let rt = runtime();
    let commits = || store.metrics().commits.get();
    let before = commits();
    create(&store, &rt, "t");
    write_keys(&store, &rt, 20, "v");
    assert_eq!(
        commits(),
        before,
        "21 answered groups, held in one transaction"
    );

    let asked = Instant::now();
    let keys: Vec<Vec<u8>> = (0..20).map(key).collect();
    let got = store.kv_get("t", 0, &keys).unwrap();
    assert!(
        got.iter().all(|v| v.as_deref() == Some(&b"v"[..])),
        "{got:?}"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "the read made the writer commit"
    );
    assert_eq!(commits(), before + 1);
    assert_eq!(store.partition_state("t", 0).unwrap().next_offset, 20);
}

#[test]
fn every_task_reads_its_own_answered_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_holding(dir.path(), 1 << 30);
    let rt = runtime();
    create(&store, &rt, "t");
    rt.block_on(async {
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        let (k, v) = (format!("t{t}-{i}"), format!("value {i}"));
                        store.kv_write("t", 0, put(&k, &v)).await.unwrap();
                        let got = store
                            .read(move |s| s.kv_get("t", 0, &[k.into_bytes()]))
                            .await
                            .unwrap();
                        assert_eq!(got[0].as_deref(), Some(v.as_bytes()), "task {t}, write {i}");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    assert_eq!(store.partition_state("t", 0).unwrap().next_offset, 200);
}

#[test]
fn a_crash_while_a_transaction_is_held_loses_no_answered_write() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_holding(dir.path(), 1 << 30);
    let rt = runtime();
    let before = store.metrics().commits.get();
    create(&store, &rt, "t");
    write_keys(&store, &rt, 50, "held");
    assert_eq!(store.metrics().commits.get(), before, "still held");

    // The disk as a crash would leave it now: the data file without the held
    // transaction, the redo log with every answered group.
    let crashed = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let name = entry.unwrap().file_name();
        if name != "lock.mdb" {
            std::fs::copy(dir.path().join(&name), crashed.path().join(&name)).unwrap();
        }
    }
    let back = open_holding(crashed.path(), 1 << 30);
    let keys: Vec<Vec<u8>> = (0..50).map(key).collect();
    let got = back.kv_get("t", 0, &keys).unwrap();
    assert!(
        got.iter().all(|v| v.as_deref() == Some(&b"held"[..])),
        "{got:?}"
    );
    assert_eq!(back.partition_state("t", 0).unwrap().next_offset, 50);
}

#[test]
fn a_spoilt_held_transaction_keeps_the_groups_it_had_answered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open_holding(dir.path(), 4 << 20);
    let rt = runtime();
    create(&store, &rt, "t");
    write_keys(&store, &rt, 10, "small");
    // Big values, held too, until one no longer fits the map: it spoils the
    // held transaction and fails alone.
    let big = "x".repeat(60_000);
    let (written, full) = fill(&store, &rt, "t", "big", &big);
    assert!(matches!(full, StoreError::StorageFull), "{full}");
    assert!(written > 10, "{written} big values fitted");

    let keys: Vec<Vec<u8>> = (0..10).map(key).collect();
    let got = store.kv_get("t", 0, &keys).unwrap();
    assert!(
        got.iter().all(|v| v.as_deref() == Some(&b"small"[..])),
        "{got:?}"
    );
    let bigs: Vec<Vec<u8>> = (0..written)
        .map(|i| format!("big{i:04}").into_bytes())
        .collect();
    let got = store.kv_get("t", 0, &bigs).unwrap();
    assert!(got.iter().all(|v| v.as_deref() == Some(big.as_bytes())));
    let answered = 10 + written as u64;
    assert_eq!(store.partition_state("t", 0).unwrap().next_offset, answered);
    // Still writable, and all of it survives a restart.
    rt.block_on(store.kv_write("t", 0, put("after", "ok")))
        .unwrap();
    rt.block_on(store.close()).unwrap();
    drop(store);
    let back = open_holding(dir.path(), 4 << 20);
    assert_eq!(
        back.partition_state("t", 0).unwrap().next_offset,
        answered + 1
    );
    let after = back.kv_get("t", 0, &[b"after".to_vec()]).unwrap();
    assert_eq!(after[0].as_deref(), Some(&b"ok"[..]));
}

/// However the map fills while a transaction is held (a put that does not
/// fit, or the commit itself when LMDB saves its free list), the held groups
/// were answered and must stay: the write that hit the limit fails alone with
/// "full", reads keep working and so do smaller writes. Value sizes are swept
/// so that both ways of filling up are met.
#[test]
fn filling_the_map_while_holding_never_loses_or_blocks_answered_writes() {
    let rt = runtime();
    for size in (20_000..=70_000).step_by(2_500) {
        let dir = tempfile::tempdir().unwrap();
        let store = open_holding(dir.path(), 4 << 20);
        create(&store, &rt, "t");
        let value = "v".repeat(size);
        let (written, full) = fill(&store, &rt, "t", "big", &value);
        assert!(matches!(full, StoreError::StorageFull), "{size}: {full}");
        let keys: Vec<Vec<u8>> = (0..written)
            .map(|i| format!("big{i:04}").into_bytes())
            .collect();
        let got = store
            .kv_get("t", 0, &keys)
            .unwrap_or_else(|e| panic!("{size}: reads after a full map: {e}"));
        assert!(
            got.iter().all(|v| v.as_deref() == Some(value.as_bytes())),
            "{size}: an answered value is missing"
        );
        match rt.block_on(store.kv_write("t", 0, put("small", "ok"))) {
            Ok(_) | Err(StoreError::StorageFull) => {}
            Err(e) => panic!("{size}: a small write after a full map: {e}"),
        }
        rt.block_on(store.close()).unwrap();
    }
}
