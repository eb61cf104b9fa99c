//! Bounded fuzzing of the kvstore bodies through the real router: random bytes
//! and structure-aware mutations of valid JSON and protobuf bodies. Never a 5xx,
//! never a panic, and an answer other than 200 never changes stored data.

use std::sync::OnceLock;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, header};
use proptest::prelude::*;
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};
use crate::config::TopicSpec;
use crate::storage::{Store, StoreOptions};
use crate::wire::b64::encode as b64;
use crate::wire::kvstore as pb;

/// Cases per property (four properties).
const CASES: u32 = 1_500;

struct World {
    rt: tokio::runtime::Runtime,
    app: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        rt.block_on(async {
            for spec in ["kv:1", "small:1:max.message.bytes=300"] {
                let s: TopicSpec = spec.parse().unwrap();
                store
                    .create_topic(&s.name, s.partitions, s.config)
                    .await
                    .unwrap();
            }
            // Some keys for preconditions and reads to find.
            for k in ["a", "b", "c"] {
                let mut w = pb::WriteRequest::default();
                w.puts.push(pb::Put {
                    key: k.as_bytes().to_vec(),
                    value: b"1".to_vec(),
                    precondition: None,
                });
                store.kv_write("kv", 0, w).await.unwrap();
            }
        });
        World {
            rt,
            app: router(
                AppState::new(store.clone()),
                crate::defaults::MAX_REQUEST_BYTES,
            ),
            store,
            _dir: dir,
        }
    })
}

/// The log ends of the fuzzed partitions and the whole view of `kv`: what must
/// not change when a request is refused.
type Snapshot = (u64, u64, Vec<(Vec<u8>, Vec<u8>)>);

fn snapshot(store: &Store) -> Snapshot {
    (
        store.partition_state("kv", 0).unwrap().next_offset,
        store.partition_state("small", 0).unwrap().next_offset,
        store.kv_scan("kv", 0, None, None, usize::MAX).unwrap(),
    )
}

/// Sends one request; checks the status and, for a refusal, that nothing changed.
fn check(topic: &str, op: &str, content_type: &str, body: Vec<u8>) -> Result<(), TestCaseError> {
    let w = world();
    let before = snapshot(&w.store);
    let (status, reply) = w.rt.block_on(async {
        let req = Request::post(format!("/kvstore/{topic}/partition/0/{op}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body.clone()))
            .unwrap();
        let resp = w.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (status, bytes)
    });
    prop_assert!(
        !status.is_server_error(),
        "{op} answered {status}: {:?} for {:?}",
        String::from_utf8_lossy(&reply),
        String::from_utf8_lossy(&body)
    );
    prop_assert!(
        [200, 400, 409, 413].contains(&status.as_u16()),
        "{op} answered {status}"
    );
    if status != 200 || op != "write" {
        prop_assert_eq!(
            snapshot(&w.store),
            before,
            "{} {} changed data: {:?}",
            op,
            status,
            String::from_utf8_lossy(&body)
        );
        if status != 200 {
            let err: Value = serde_json::from_slice(&reply).map_err(|e| {
                TestCaseError::fail(format!("error body is not JSON ({e}): {reply:?}"))
            })?;
            prop_assert_eq!(err["error_code"].as_u64(), Some(u64::from(status.as_u16())));
        }
    }
    Ok(())
}

fn op() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just("write"), Just("batch_get"), Just("scan")]
}

fn topic() -> impl Strategy<Value = &'static str> {
    prop_oneof![4 => Just("kv"), 1 => Just("small")]
}

fn content_type() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        Just("application/json"),
        Just("application/proto"),
        Just("application/x-protobuf"),
        Just("text/plain"),
    ]
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::sample::select(vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec(), b"new".to_vec()]),
        1 => prop::collection::vec(any::<u8>(), 0..40),
        1 => Just(vec![b'k'; 16_385]),
    ]
}

fn precondition() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        2 => Just(None),
        1 => any::<bool>().prop_map(|e| Some(json!({"ifExists": {"exists": e}}))),
        1 => prop::sample::select(vec![
            crate::wire::sha256_hex(b"1"),
            "00".repeat(32),
            "zz".into(),
            String::new(),
        ])
        .prop_map(|h| Some(json!({"ifMatches": {"sha256Hash": h}}))),
        1 => Just(Some(json!({"ifExists": {"exists": true}, "ifMatches": {"sha256Hash": "00"}}))),
    ]
}

/// A valid-shaped JSON body for `op` (its values may still be refused).
fn json_body(op: &'static str) -> BoxedStrategy<Value> {
    match op {
        "write" => (
            prop::collection::vec(
                (
                    key(),
                    prop::collection::vec(any::<u8>(), 0..300),
                    precondition(),
                ),
                0..4,
            ),
            prop::collection::vec((key(), precondition()), 0..3),
        )
            .prop_map(|(puts, deletes)| {
                let puts: Vec<Value> = puts
                    .into_iter()
                    .map(|(k, v, p)| {
                        let mut o = json!({"key": b64(&k), "value": b64(&v)});
                        if let Some(p) = p {
                            o["precondition"] = p;
                        }
                        o
                    })
                    .collect();
                let deletes: Vec<Value> = deletes
                    .into_iter()
                    .map(|(k, p)| {
                        let mut o = json!({"key": b64(&k)});
                        if let Some(p) = p {
                            o["precondition"] = p;
                        }
                        o
                    })
                    .collect();
                json!({"puts": puts, "deletes": deletes})
            })
            .boxed(),
        "batch_get" => prop::collection::vec(key(), 0..5)
            .prop_map(|keys| json!({"keys": keys.iter().map(b64).collect::<Vec<_>>()}))
            .boxed(),
        _ => (
            prop::option::of(key()),
            prop::option::of(key()),
            prop_oneof![Just(None), any::<i32>().prop_map(Some)],
        )
            .prop_map(|(s, e, l)| {
                let mut o = json!({});
                if let Some(s) = s {
                    o["startKey"] = json!(b64(&s));
                }
                if let Some(e) = e {
                    o["endKey"] = json!(b64(&e));
                }
                if let Some(l) = l {
                    o["limit"] = json!(l);
                }
                o
            })
            .boxed(),
    }
}

/// A JSON value of any shape, to splice in where a field was.
fn junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,12}".prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
        Just(json!("!!not base64!!")),
        Just(json!([{"key": 1}])),
    ]
}

/// Replaces the value at a pseudo-random place in `v` (picked by `at`) with `with`.
fn splice(v: &mut Value, at: usize, with: Value) {
    fn places(v: &Value, out: &mut usize) {
        *out += 1;
        match v {
            Value::Array(a) => a.iter().for_each(|x| places(x, out)),
            Value::Object(o) => o.values().for_each(|x| places(x, out)),
            _ => {}
        }
    }
    fn go(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
        if *n == 0 {
            if let Some(w) = with.take() {
                *v = w;
            }
            return;
        }
        *n -= 1;
        match v {
            Value::Array(a) => a.iter_mut().for_each(|x| go(x, n, with)),
            Value::Object(o) => o.values_mut().for_each(|x| go(x, n, with)),
            _ => {}
        }
    }
    let mut count = 0;
    places(v, &mut count);
    let mut n = at % count.max(1);
    go(v, &mut n, &mut Some(with));
}

/// Byte-level mutations: flips, truncation, insertion.
fn mutate(mut bytes: Vec<u8>, edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
    for (at, kind, b) in edits {
        if bytes.is_empty() {
            bytes.push(b);
            continue;
        }
        let i = at % bytes.len();
        match kind % 4 {
            0 => bytes[i] ^= b | 1,
            1 => bytes.truncate(i),
            2 => bytes.insert(i, b),
            _ => {
                bytes.remove(i);
            }
        }
    }
    bytes
}

fn to_proto(op: &str, v: &Value) -> Option<Vec<u8>> {
    let bytes = serde_json::to_vec(v).ok()?;
    match op {
        "write" => serde_json::from_slice::<pb::WriteRequest>(&bytes)
            .ok()
            .map(|m| m.encode_to_vec()),
        "batch_get" => serde_json::from_slice::<pb::GetRequest>(&bytes)
            .ok()
            .map(|m| m.encode_to_vec()),
        _ => serde_json::from_slice::<pb::ScanRequest>(&bytes)
            .ok()
            .map(|m| m.encode_to_vec()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_bodies(op in op(), topic in topic(), ct in content_type(),
                           body in prop::collection::vec(any::<u8>(), 0..200)) {
        check(topic, op, ct, body)?;
    }

    #[test]
    fn structure_mutated_json_bodies(
        (op, body) in op().prop_flat_map(|op| (Just(op), json_body(op))),
        topic in topic(),
        splices in prop::collection::vec((any::<usize>(), junk()), 0..3),
    ) {
        let mut body = body;
        for (at, with) in splices {
            splice(&mut body, at, with);
        }
        check(topic, op, "application/json", serde_json::to_vec(&body).unwrap())?;
    }

    #[test]
    fn byte_mutated_json_bodies(
        (op, body) in op().prop_flat_map(|op| (Just(op), json_body(op))),
        topic in topic(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..4),
    ) {
        let bytes = mutate(serde_json::to_vec(&body).unwrap(), edits);
        check(topic, op, "application/json", bytes)?;
    }

    #[test]
    fn mutated_protobuf_bodies(
        (op, body) in op().prop_flat_map(|op| (Just(op), json_body(op))),
        topic in topic(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 0..4),
    ) {
        if let Some(proto) = to_proto(op, &body) {
            check(topic, op, "application/proto", mutate(proto, edits))?;
        }
    }
}
