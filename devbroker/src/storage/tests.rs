//! Property tests of the store against a model: byte ordering of scans and
//! all-or-nothing batches with preconditions.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::{Store, StoreError, StoreOptions};
use crate::config::TopicSpec;
use crate::metrics::Metrics;
use crate::wire::kvstore::{Delete, Precondition, Put, WriteRequest};
use crate::wire::sha256_hex;

/// A store in a temp dir with a one-partition kvstore topic `t`, and a runtime.
pub(super) fn open() -> (tempfile::TempDir, Store, tokio::runtime::Runtime) {
    open_with_options(StoreOptions {
        map_size: 1 << 30,
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    })
}

/// `open` with these options.
pub(super) fn open_with_options(
    opts: StoreOptions,
) -> (tempfile::TempDir, Store, tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), opts).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let spec: TopicSpec = "t:1".parse().unwrap();
    rt.block_on(store.create_topic("t", 1, spec.config))
        .unwrap();
    (dir, store, rt)
}

/// Keys from a small alphabet with 0x00 and 0xff, so that prefixes and
/// collisions are common, plus long keys that share their first 448 bytes.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, b'a', b'b', 0x7f, 0x80, 0xff]), 1..5),
        1 => (prop::collection::vec(prop::sample::select(vec![0x00u8, b'a', 0xff]), 0..3), 440usize..460)
            .prop_map(|(tail, len)| {
                let mut k = vec![b'L'; len];
                k.extend(tail);
                k
            }),
    ]
}

#[derive(Clone, Debug)]
enum Pre {
    None,
    Exists(bool),
    MatchesCurrent,
    MatchesOther,
}

fn pre() -> impl Strategy<Value = Pre> {
    prop_oneof![
        3 => Just(Pre::None),
        1 => any::<bool>().prop_map(Pre::Exists),
        1 => Just(Pre::MatchesCurrent),
        1 => Just(Pre::MatchesOther),
    ]
}

#[derive(Clone, Debug)]
struct Op {
    delete: bool,
    key: Vec<u8>,
    value: Vec<u8>,
    pre: Pre,
}

fn op() -> impl Strategy<Value = Op> {
    (
        prop::bool::weighted(0.25),
        key(),
        prop::collection::vec(any::<u8>(), 0..8),
        pre(),
    )
        .prop_map(|(delete, key, value, pre)| Op {
            delete,
            key,
            value,
            pre,
        })
}

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn to_precondition(p: &Pre, current: Option<&Vec<u8>>) -> Option<Precondition> {
    match p {
        Pre::None => None,
        Pre::Exists(e) => Some(Precondition::if_exists(*e)),
        Pre::MatchesCurrent => Some(Precondition::if_matches(sha256_hex(
            current.map(Vec::as_slice).unwrap_or(b"absent"),
        ))),
        Pre::MatchesOther => Some(Precondition::if_matches(sha256_hex(b"something else"))),
    }
}

/// What the model says of a batch: all preconditions hold against the state before.
fn model_allows(model: &Model, batch: &[Op]) -> bool {
    batch.iter().all(|op| {
        let cur = model.get(&op.key);
        match &op.pre {
            Pre::None => true,
            Pre::Exists(e) => cur.is_some() == *e,
            Pre::MatchesCurrent => cur.is_some(),
            Pre::MatchesOther => cur.is_some_and(|v| v.as_slice() == b"something else"),
        }
    })
}

fn request(model: &Model, batch: &[Op]) -> WriteRequest {
    let mut req = WriteRequest::default();
    for op in batch {
        let precondition = to_precondition(&op.pre, model.get(&op.key));
        if op.delete {
            req.deletes.push(Delete {
                key: op.key.clone(),
                precondition,
            });
        } else {
            req.puts.push(Put {
                key: op.key.clone(),
                value: op.value.clone(),
                precondition,
            });
        }
    }
    req
}

fn apply_model(model: &mut Model, batch: &[Op]) {
    // Puts first, then deletes, as the store appends them.
    for op in batch.iter().filter(|o| !o.delete) {
        model.insert(op.key.clone(), op.value.clone());
    }
    for op in batch.iter().filter(|o| o.delete) {
        model.remove(&op.key);
    }
}

fn full_scan(store: &Store, page: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    loop {
        let start = out.last().map(|(k, _)| {
            let mut s = k.clone();
            s.push(0);
            s
        });
        let got = store.kv_scan("t", 0, start.as_deref(), None, page).unwrap();
        let n = got.len();
        out.extend(got);
        if n < page {
            return out;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn batches_are_all_or_nothing_and_scans_follow_byte_order(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..25),
        bounds in (key(), key()),
    ) {
        let (_dir, store, rt) = open();
        let mut model = Model::new();
        for batch in &batches {
            let req = request(&model, batch);
            let result = rt.block_on(store.kv_write("t", 0, req));
            if model_allows(&model, batch) {
                prop_assert!(result.is_ok(), "model allows, store said {result:?}");
                apply_model(&mut model, batch);
            } else {
                let refused = matches!(result, Err(StoreError::PreconditionFailed { .. }));
                prop_assert!(refused, "model refuses, store said {:?}", result);
            }
        }
        let expected: Vec<(Vec<u8>, Vec<u8>)> = model.clone().into_iter().collect();
        prop_assert_eq!(full_scan(&store, 1000), expected.clone());
        prop_assert_eq!(full_scan(&store, 3), expected.clone());
        // Ranges: start inclusive, end exclusive.
        let (a, b) = bounds;
        let in_range: Vec<(Vec<u8>, Vec<u8>)> = expected
            .iter()
            .filter(|(k, _)| *k >= a && *k < b)
            .cloned()
            .collect();
        prop_assert_eq!(store.kv_scan("t", 0, Some(&a), Some(&b), 1000).unwrap(), in_range);
        // Point reads agree with the model.
        let keys: Vec<Vec<u8>> = batches.iter().flatten().map(|o| o.key.clone()).collect();
        let got = store.kv_get("t", 0, &keys).unwrap();
        for (k, v) in keys.iter().zip(got) {
            prop_assert_eq!(v.as_ref(), model.get(k));
        }
    }
}

fn open_with(spec: &str) -> (tempfile::TempDir, Store, tokio::runtime::Runtime) {
    let (dir, store, rt) = open();
    let s: TopicSpec = spec.parse().unwrap();
    rt.block_on(store.create_topic(&s.name, s.partitions, s.config))
        .unwrap();
    (dir, store, rt)
}

pub(super) fn put(key: &str, value: &str) -> WriteRequest {
    WriteRequest {
        puts: vec![Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            precondition: None,
        }],
        deletes: vec![],
    }
}

#[test]
fn time_retention_trims_the_log_and_expires_keys_whose_latest_record_left() {
    let (_d, store, rt) = open_with("ttl:1:retention.ms=1000");
    let old = rt
        .block_on(store.kv_write("ttl", 0, put("old", "1")))
        .unwrap();
    rt.block_on(store.kv_write("ttl", 0, put("both", "1")))
        .unwrap();
    // "both" is rewritten later: its latest record stays, so it stays.
    let later = old.timestamp + 5_000;
    let mut rec = crate::storage::Record::new(later, Some(b"both".to_vec()), Some(b"2".to_vec()));
    rec.headers.clear();
    rt.block_on(store.append("ttl", 0, vec![rec])).unwrap();
    let report = rt.block_on(store.maintain(old.timestamp + 2_000)).unwrap();
    assert_eq!(report.trimmed, 2);
    assert_eq!(report.expired_keys, 1);
    assert_eq!(
        store
            .kv_get("ttl", 0, &[b"old".to_vec(), b"both".to_vec()])
            .unwrap(),
        vec![None, Some(b"2".to_vec())]
    );
    let state = store.partition_state("ttl", 0).unwrap();
    assert_eq!(
        (state.log_start, state.next_offset, state.log_records),
        (2, 3, 1)
    );
    let read = store.read_log("ttl", 0, 0, usize::MAX, 100).unwrap();
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].offset, 2);
}

#[test]
fn size_retention_keeps_the_log_under_retention_bytes() {
    let (_d, store, rt) = open_with("sized:1:retention.bytes=500");
    for i in 0..50 {
        rt.block_on(store.kv_write("sized", 0, put(&format!("k{i:02}"), "0123456789")))
            .unwrap();
    }
    rt.block_on(store.maintain(crate::storage::now_ms()))
        .unwrap();
    let state = store.partition_state("sized", 0).unwrap();
    assert!(state.log_bytes <= 500, "{state:?}");
    assert!(state.log_records > 0);
    assert_eq!(state.log_start, 50 - state.log_records);
    // The newest keys are still readable; the oldest have expired.
    assert!(store.kv_get("sized", 0, &[b"k49".to_vec()]).unwrap()[0].is_some());
    assert!(store.kv_get("sized", 0, &[b"k00".to_vec()]).unwrap()[0].is_none());
}

#[test]
fn compaction_keeps_the_latest_value_of_every_key() {
    let (_d, store, rt) = open_with("cfg:1:cleanup.policy=compact,retention.ms=1");
    for round in 0..120 {
        for k in 0..10 {
            rt.block_on(store.kv_write("cfg", 0, put(&format!("key{k}"), &format!("v{round}"))))
                .unwrap();
        }
    }
    let far_future = crate::storage::now_ms() + 10_000_000;
    // retention.ms is ignored under a compact-only policy: nothing expires.
    let report = rt.block_on(store.maintain(far_future)).unwrap();
    assert_eq!(report.trimmed, 0);
    assert_eq!(report.compacted, 1190);
    let read = store.read_log("cfg", 0, 0, usize::MAX, 10_000).unwrap();
    assert_eq!(read.records.len(), 10);
    assert_eq!(read.records[0].offset, 1190);
    assert_eq!(read.log_start, 1190);
    for k in 0..10 {
        assert_eq!(
            store
                .kv_get("cfg", 0, &[format!("key{k}").into_bytes()])
                .unwrap()[0]
                .as_deref(),
            Some(&b"v119"[..])
        );
    }
}

/// Writes `value` under keys `{prefix}0000`, `{prefix}0001`... of partition 0
/// until a write fails: how many were answered, and the failure.
pub(super) fn fill(
    store: &Store,
    rt: &tokio::runtime::Runtime,
    topic: &str,
    prefix: &str,
    value: &str,
) -> (usize, StoreError) {
    let mut written = 0;
    loop {
        match rt.block_on(store.kv_write(topic, 0, put(&format!("{prefix}{written:04}"), value))) {
            Ok(_) => written += 1,
            Err(e) => return (written, e),
        }
        assert!(
            written < 1000,
            "a small map cannot hold 1000 values of {}",
            value.len()
        );
    }
}

#[test]
fn a_full_map_fails_writes_clearly_and_keeps_data_readable() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        map_size: 4 << 20,
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let spec: TopicSpec = "t:1".parse().unwrap();
    rt.block_on(store.create_topic("t", 1, spec.config))
        .unwrap();
    let big = "x".repeat(60_000);
    let (written, full) = fill(&store, &rt, "t", "k", &big);
    assert!(matches!(full, StoreError::StorageFull), "{full}");
    assert!(full.to_string().contains("--max-db-size"));
    // Concurrent writes in one group: the full one fails, a small one still lands.
    let (a, b) = rt.block_on(async {
        tokio::join!(
            store.kv_write("t", 0, put("huge", &big)),
            store.kv_write("t", 0, put("tiny", "1")),
        )
    });
    assert!(matches!(a, Err(StoreError::StorageFull)), "{a:?}");
    let _ = b; // may or may not fit; it must not take the store down
    // Everything acknowledged is still there and readable.
    let keys: Vec<Vec<u8>> = (0..written)
        .map(|i| format!("k{i:04}").into_bytes())
        .collect();
    let got = store.kv_get("t", 0, &keys).unwrap();
    assert!(got.iter().all(|v| v.as_deref() == Some(big.as_bytes())));
}

/// Pages freed by a delete are reusable by the very next write: LMDB keeps the
/// previous snapshot, so the writer commits once more before answering "full".
#[test]
fn space_freed_by_a_topic_delete_is_reused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        map_size: 4 << 20,
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    };
    let store = Store::open(dir.path(), opts).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for t in ["t", "u"] {
        let spec: TopicSpec = t.parse().unwrap();
        rt.block_on(store.create_topic(t, 1, spec.config)).unwrap();
    }
    let big = "x".repeat(60_000);
    let fill = |topic: &str| {
        let (n, e) = fill(&store, &rt, topic, "k", &big);
        assert!(matches!(e, StoreError::StorageFull), "{e}");
        n
    };
    let first = fill("t");
    rt.block_on(store.delete_topic("t")).unwrap();
    let second = fill("u");
    assert!(
        second * 10 >= first * 6,
        "{first} values fitted, then only {second} after deleting them"
    );
}
