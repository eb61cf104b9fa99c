//! Router-level tests: every status code and edge of the HTTP API, through the
//! real router and a real store in a temporary directory.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};
use crate::config::TopicSpec;
use crate::storage::{Store, StoreOptions};
use crate::wire::b64::encode as b64;
use crate::wire::kvstore as pb;
use crate::wire::sha256_hex;

struct Harness {
    app: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    for spec in [
        "kv:2",
        "plain:1:redpanda.kvstore=none",
        "small:1:max.message.bytes=200",
    ] {
        let s: TopicSpec = spec.parse().unwrap();
        store
            .create_topic(&s.name, s.partitions, s.config)
            .await
            .unwrap();
    }
    Harness {
        app: router(
            AppState::new(store.clone()),
            crate::defaults::MAX_REQUEST_BYTES,
        ),
        store,
        _dir: dir,
    }
}

struct Resp {
    status: StatusCode,
    content_type: String,
    bytes: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes))
        })
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            content_type,
            bytes,
        }
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<Body>) -> Resp {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, content_type)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    async fn kv(&self, topic: &str, p: i32, op: &str, body: Value) -> Resp {
        self.post_raw(
            &format!("/kvstore/{topic}/partition/{p}/{op}"),
            "application/json",
            body.to_string(),
        )
        .await
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        let r = self
            .kv(
                "kv",
                0,
                "write",
                json!({"puts":[{"key": b64(key), "value": b64(value)}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    }

    async fn scan(&self, body: Value) -> Vec<(Vec<u8>, Vec<u8>)> {
        let r = self.kv("kv", 0, "scan", body).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        r.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    crate::wire::b64::decode(e["key"].as_str().unwrap()).unwrap(),
                    crate::wire::b64::decode(e["value"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    async fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let r = self
            .kv("kv", 0, "batch_get", json!({"keys":[b64(key)]}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["results"][0]["value"]
            .as_str()
            .map(|v| crate::wire::b64::decode(v).unwrap())
    }

    async fn get_path(&self, path: &str, accept: Option<&str>) -> Resp {
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }
}

fn assert_error(r: &Resp, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.bytes));
    let body = r.json();
    assert_eq!(body["error_code"], json!(status.as_u16()), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "message {message:?} should mention {needle:?}"
    );
}

#[tokio::test]
async fn write_then_batch_get_keeps_request_order_and_marks_missing_keys() {
    let h = harness().await;
    h.put(b"foo", b"bar").await;
    h.put(b"counter", b"10").await;
    let r = h
        .kv(
            "kv",
            0,
            "batch_get",
            json!({"keys":[b64(b"foo"), b64(b"nope"), b64(b"counter")]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.json(),
        json!({"results":[
            {"key": b64(b"foo"), "value": b64(b"bar")},
            {"key": b64(b"nope")},
            {"key": b64(b"counter"), "value": b64(b"10")},
        ]})
    );
    // Partitions are separate stores.
    let r = h
        .kv("kv", 1, "batch_get", json!({"keys":[b64(b"foo")]}))
        .await;
    assert_eq!(r.json(), json!({"results":[{"key": b64(b"foo")}]}));
}

#[tokio::test]
async fn write_answers_empty_object_and_empty_values_are_values() {
    let h = harness().await;
    let r = h
        .kv("kv", 0, "write", json!({"puts":[{"key": b64(b"k")}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!({}));
    assert_eq!(h.get(b"k").await, Some(vec![]));
}

#[tokio::test]
async fn preconditions_if_exists_and_if_matches() {
    let h = harness().await;
    let put = |key: &str, value: &str, pre: Value| json!({"puts":[{"key": b64(key), "value": b64(value), "precondition": pre}]});
    // ifExists:false on a new key succeeds once, then fails.
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("lock", "owned", json!({"ifExists":{"exists":false}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("lock", "again", json!({"ifExists":{"exists":false}})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "already exists");
    assert_eq!(h.get(b"lock").await.unwrap(), b"owned");
    // ifExists:true on a missing key fails.
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("ghost", "x", json!({"ifExists":{"exists":true}})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "does not exist");
    assert_eq!(h.get(b"ghost").await, None);
    // ifMatches with the seed's hash of "10".
    h.put(b"counter", b"10").await;
    let hash10 = "4a44dc15364204a80fe80e9039455cc1608281820fe2b24f1e5233ade6af1dd5";
    assert_eq!(sha256_hex(b"10"), hash10);
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("counter", "11", json!({"ifMatches":{"sha256Hash": hash10}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("counter", "12", json!({"ifMatches":{"sha256Hash": hash10}})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "precondition failed");
    assert_eq!(h.get(b"counter").await.unwrap(), b"11");
    // Upper-case hex matches too.
    let upper = sha256_hex(b"11").to_uppercase();
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("counter", "12", json!({"ifMatches":{"sha256Hash": upper}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // ifMatches on a missing key fails; on a delete it guards the delete.
    let r = h
        .kv(
            "kv",
            0,
            "write",
            put("missing", "1", json!({"ifMatches":{"sha256Hash": hash10}})),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "does not exist");
    let del = |hash: String| json!({"deletes":[{"key": b64("counter"), "precondition": {"ifMatches": {"sha256Hash": hash}}}]});
    let r = h.kv("kv", 0, "write", del(sha256_hex(b"11"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = h.kv("kv", 0, "write", del(sha256_hex(b"12"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.get(b"counter").await, None);
}

#[tokio::test]
async fn atomic_batch_whose_second_precondition_fails_applies_nothing() {
    let h = harness().await;
    h.put(b"b", b"old").await;
    let before = h.store.partition_state("kv", 0).unwrap();
    let r = h
        .kv(
            "kv",
            0,
            "write",
            json!({
                "puts": [
                    {"key": b64("a"), "value": b64("1"), "precondition": {"ifExists": {"exists": false}}},
                    {"key": b64("b"), "value": b64("2"), "precondition": {"ifExists": {"exists": false}}},
                ],
                "deletes": [{"key": b64("b")}],
            }),
        )
        .await;
    assert_error(&r, StatusCode::CONFLICT, "\"b\"");
    assert_eq!(h.get(b"a").await, None);
    assert_eq!(h.get(b"b").await.unwrap(), b"old");
    // Not even the log moved.
    assert_eq!(h.store.partition_state("kv", 0).unwrap(), before);
}

#[tokio::test]
async fn preconditions_see_the_state_before_the_batch() {
    let h = harness().await;
    // Both puts of a new key with ifExists:false pass: neither sees the other.
    let r = h
        .kv(
            "kv",
            0,
            "write",
            json!({"puts": [
                {"key": b64("x"), "value": b64("1"), "precondition": {"ifExists": {"exists": false}}},
                {"key": b64("x"), "value": b64("2"), "precondition": {"ifExists": {"exists": false}}},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // The last write of the batch wins.
    assert_eq!(h.get(b"x").await.unwrap(), b"2");
}

#[tokio::test]
async fn delete_with_put_in_one_batch() {
    let h = harness().await;
    h.put(b"oldKey", b"v").await;
    let r = h
        .kv(
            "kv",
            0,
            "write",
            json!({"puts":[{"key": b64("newKey"), "value": b64("newValue")}], "deletes":[{"key": b64("oldKey")}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.get(b"oldKey").await, None);
    assert_eq!(h.get(b"newKey").await.unwrap(), b"newValue");
    // Deleting a missing key is not an error.
    let r = h
        .kv("kv", 0, "write", json!({"deletes":[{"key": b64("never")}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_requests_are_400_and_change_nothing() {
    let h = harness().await;
    h.put(b"keep", b"me").await;
    let before = h.store.partition_state("kv", 0).unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        ("write", "{not json".into(), "invalid json"),
        ("write", "".into(), "empty"),
        ("write", r#"{"puts":[{"key":"%%%","value":"YQ=="}]}"#.into(), "base64"),
        ("write", r#"{"puts":[{"value":"YQ=="}]}"#.into(), "missing field `key`"),
        ("write", r#"{"puts":[{"key":"","value":"YQ=="}]}"#.into(), "must not be empty"),
        ("write", r#"{"put":[]}"#.into(), "unknown field"),
        ("write", "{}".into(), "no puts and no deletes"),
        ("write", r#"{"puts":[{"key":"YQ==","precondition":{"ifExists":{"exists":true},"ifMatches":{"sha256Hash":"00"}}}]}"#.into(), "only one of"),
        ("write", r#"{"puts":[{"key":"YQ==","precondition":{"ifMatches":{"sha256Hash":"abc"}}}]}"#.into(), "64 hex"),
        ("write", r#"{"puts":[{"key":"YQ==","value":5}]}"#.into(), "base64"),
        ("write", "[]".into(), "invalid json"),
        ("batch_get", r#"{"keys":["@@"]}"#.into(), "base64"),
        ("batch_get", r#"{"keys":[""]}"#.into(), "must not be empty"),
        ("scan", r#"{"limit":"many"}"#.into(), "not an integer"),
        ("scan", r#"{"startKey":"!!"}"#.into(), "base64"),
    ];
    for (op, body, needle) in cases {
        let r = h
            .post_raw(
                &format!("/kvstore/kv/partition/0/{op}"),
                "application/json",
                body.clone(),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{op} {body}");
        assert_error(&r, StatusCode::BAD_REQUEST, needle);
    }
    let r = h
        .post_raw(
            "/kvstore/kv/partition/0/write",
            "application/proto",
            vec![0xff, 0xff, 0xff],
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "protobuf");
    let r = h
        .post_raw("/kvstore/kv/partition/zero/write", "application/json", "{}")
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "not a number");
    assert_eq!(h.store.partition_state("kv", 0).unwrap(), before);
    assert_eq!(
        h.scan(json!({"limit": 10})).await,
        vec![(b"keep".to_vec(), b"me".to_vec())]
    );
}

#[tokio::test]
async fn key_size_limit_is_16_kib() {
    let h = harness().await;
    let max = vec![b'k'; 16384];
    let over = vec![b'k'; 16385];
    let r = h
        .kv(
            "kv",
            0,
            "write",
            json!({"puts":[{"key": b64(&max), "value": b64("v")}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.get(&max).await.unwrap(), b"v");
    for (op, body) in [
        (
            "write",
            json!({"puts":[{"key": b64(&over), "value": b64("v")}]}),
        ),
        ("write", json!({"deletes":[{"key": b64(&over)}]})),
        ("batch_get", json!({"keys":[b64(&over)]})),
        ("scan", json!({"startKey": b64(&over)})),
    ] {
        let r = h.kv("kv", 0, op, body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "too large");
    }
}

#[tokio::test]
async fn unknown_topics_and_partitions_are_503_and_plain_topics_400() {
    let h = harness().await;
    for op in ["write", "batch_get", "scan"] {
        let body = json!({"puts":[{"key": b64("a")}], "keys":[b64("a")]});
        let body = match op {
            "write" => json!({"puts": body["puts"]}),
            "batch_get" => json!({"keys": body["keys"]}),
            _ => json!({}),
        };
        let r = h.kv("nope", 0, op, body.clone()).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "does not exist");
        let r = h.kv("kv", 2, op, body.clone()).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "no partition 2");
        let r = h.kv("kv", -1, op, body.clone()).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "no partition -1");
        let r = h.kv("plain", 0, op, body).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "not a kvstore topic");
    }
}

#[tokio::test]
async fn batch_larger_than_max_message_bytes_is_refused_whole() {
    let h = harness().await;
    let small = |n: usize| json!({"puts": (0..n).map(|i| json!({"key": b64(format!("k{i}")), "value": b64("0123456789")})).collect::<Vec<_>>()});
    let r = h.kv("small", 0, "write", small(2)).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h.kv("small", 0, "write", small(10)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "max.message.bytes");
    let r = h.kv("small", 0, "scan", json!({"limit": 100})).await;
    assert_eq!(r.json()["entries"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn scan_orders_bytes_with_inclusive_start_and_exclusive_end() {
    let h = harness().await;
    let keys: Vec<Vec<u8>> = vec![
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x01],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        vec![0x7f],
        vec![0x80],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0xff, 0xff],
    ];
    // Insert in reverse to show that order comes from the keys.
    for k in keys.iter().rev() {
        h.put(k, k).await;
    }
    let all: Vec<Vec<u8>> = h
        .scan(json!({"limit": 100}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(all, keys);
    let mid: Vec<Vec<u8>> = h
        .scan(json!({"startKey": b64("a"), "endKey": b64("b"), "limit": 100}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(mid, vec![b"a".to_vec(), b"ab".to_vec()]);
    let tail: Vec<Vec<u8>> = h
        .scan(json!({"startKey": b64([0xff]), "limit": 100}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(tail, vec![vec![0xff], vec![0xff, 0x00], vec![0xff, 0xff]]);
    // Empty range and reversed range are empty, not errors.
    assert!(
        h.scan(json!({"startKey": b64("b"), "endKey": b64("b"), "limit": 5}))
            .await
            .is_empty()
    );
    assert!(
        h.scan(json!({"startKey": b64("c"), "endKey": b64("a"), "limit": 5}))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn scan_limits_default_and_clamp() {
    let h = harness().await;
    let puts: Vec<Value> = (0..1200)
        .map(|i| json!({"key": b64(format!("key{i:05}")), "value": b64("v")}))
        .collect();
    let r = h.kv("kv", 0, "write", json!({"puts": puts})).await;
    assert_eq!(r.status, StatusCode::OK);
    for (body, expected) in [
        (json!({}), 500),
        (json!({"limit": 0}), 500),
        (json!({"limit": -5}), 500),
        (json!({"limit": 7}), 7),
        (json!({"limit": "9"}), 9),
        (json!({"limit": 5000}), 1000),
    ] {
        assert_eq!(h.scan(body.clone()).await.len(), expected, "{body}");
    }
}

#[tokio::test]
async fn paging_a_2500_key_partition_with_start_key_continuation() {
    let h = harness().await;
    for chunk in (0..2500).collect::<Vec<u32>>().chunks(500) {
        let puts: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"key": b64(i.to_be_bytes()), "value": b64(format!("v{i}"))}))
            .collect();
        assert_eq!(
            h.kv("kv", 0, "write", json!({"puts": puts})).await.status,
            StatusCode::OK
        );
    }
    let mut seen = Vec::new();
    let mut start: Option<Vec<u8>> = None;
    let mut pages = 0;
    loop {
        let mut body = json!({"limit": 1000});
        if let Some(s) = &start {
            body["startKey"] = json!(b64(s));
        }
        let page = h.scan(body).await;
        pages += 1;
        let Some((last, _)) = page.last() else { break };
        let mut next = last.clone();
        next.push(0x00); // the smallest key after `last`
        start = Some(next);
        let n = page.len();
        seen.extend(page);
        if n < 1000 {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 2500);
    for (i, (k, v)) in seen.iter().enumerate() {
        assert_eq!(k, &(i as u32).to_be_bytes().to_vec());
        assert_eq!(v, format!("v{i}").as_bytes());
    }
}

#[tokio::test]
async fn long_keys_sharing_a_prefix_keep_byte_order() {
    let h = harness().await;
    let base = vec![b'p'; 1000];
    let mut keys: Vec<Vec<u8>> = [b"z".as_slice(), b"a", b"m", b"\xff", b"\x00"]
        .iter()
        .map(|tail| [base.as_slice(), tail].concat())
        .collect();
    keys.push(base[..500].to_vec());
    keys.push(base.clone());
    keys.push(b"q".to_vec());
    for k in &keys {
        h.put(k, &k[k.len() - 1..]).await;
    }
    keys.sort();
    let got: Vec<Vec<u8>> = h
        .scan(json!({"limit": 100}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(got, keys);
    // A range starting and ending inside the group.
    let start = [base.as_slice(), b"a"].concat();
    let end = [base.as_slice(), b"z"].concat();
    let got: Vec<Vec<u8>> = h
        .scan(json!({"startKey": b64(&start), "endKey": b64(&end), "limit": 100}))
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(got, vec![start.clone(), [base.as_slice(), b"m"].concat()]);
    for k in &keys {
        assert_eq!(h.get(k).await.unwrap(), &k[k.len() - 1..]);
    }
    assert_eq!(h.get(&[base.as_slice(), b"b"].concat()).await, None);
}

#[tokio::test]
async fn protobuf_requests_and_accept_negotiation() {
    let h = harness().await;
    let write = pb::WriteRequest {
        puts: vec![pb::Put {
            key: b"pk".to_vec(),
            value: vec![0, 1, 2],
            precondition: Some(pb::Precondition::if_exists(false)),
        }],
        deletes: vec![],
    };
    let r = h
        .post_raw(
            "/kvstore/kv/partition/0/write",
            "application/proto",
            write.encode_to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/proto");
    assert!(r.bytes.is_empty());
    let get = pb::GetRequest {
        keys: vec![b"pk".to_vec(), b"none".to_vec()],
    };
    let r = h
        .post_raw(
            "/kvstore/kv/partition/0/batch_get",
            "application/proto",
            get.encode_to_vec(),
        )
        .await;
    let resp = pb::GetResponse::decode(r.bytes.as_slice()).unwrap();
    assert_eq!(resp.results[0].value.as_deref(), Some(&[0u8, 1, 2][..]));
    assert_eq!(resp.results[1].value, None);
    // JSON request, protobuf reply.
    let r = h
        .send(
            Request::post("/kvstore/kv/partition/0/scan")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::ACCEPT, "application/proto")
                .body(Body::from(r#"{"limit":10}"#))
                .unwrap(),
        )
        .await;
    assert_eq!(r.content_type, "application/proto");
    let scan = pb::ScanResponse::decode(r.bytes.as_slice()).unwrap();
    assert_eq!(scan.entries.len(), 1);
    assert_eq!(scan.entries[0].key, b"pk");
    // Protobuf request, JSON reply.
    let r = h
        .send(
            Request::post("/kvstore/kv/partition/0/scan")
                .header(header::CONTENT_TYPE, "application/proto")
                .header(header::ACCEPT, "application/json")
                .body(Body::from(
                    pb::ScanRequest {
                        start_key: None,
                        end_key: None,
                        limit: 10,
                    }
                    .encode_to_vec(),
                ))
                .unwrap(),
        )
        .await;
    assert_eq!(
        r.json(),
        json!({"entries":[{"key": b64("pk"), "value": b64([0, 1, 2])}]})
    );
    // No Content-Type at all (curl -d) is read as JSON.
    let r = h
        .send(
            Request::post("/kvstore/kv/partition/0/scan")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn produce_updates_the_view_and_kv_writes_are_records() {
    let h = harness().await;
    let r = h
        .post_raw(
            "/topics/kv",
            "application/vnd.kafka.binary.v2+json",
            json!({"records":[
                {"key": b64("foo"), "value": b64("bar"), "partition": 0},
                {"key": b64("hello"), "value": b64("world"), "partition": 0},
                {"key": b64("foo"), "value": b64("qux"), "partition": 0},
            ]})
            .to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(
        r.json()["offsets"],
        json!([{"partition":0,"offset":0},{"partition":0,"offset":1},{"partition":0,"offset":2}])
    );
    assert_eq!(h.get(b"foo").await.unwrap(), b"qux");
    // A null value is a tombstone.
    let r = h
        .post_raw(
            "/topics/kv",
            "application/vnd.kafka.binary.v2+json",
            json!({"records":[{"key": b64("hello"), "value": null, "partition": 0}]}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(h.get(b"hello").await, None);
    // kvstore writes are records in the log.
    h.put(b"via-kv", b"x").await;
    let r = h
        .get_path(
            "/topics/kv/partitions/0/records?offset=0",
            Some("application/vnd.kafka.binary.v2+json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/vnd.kafka.binary.v2+json");
    let recs = r.json();
    let recs = recs.as_array().unwrap();
    assert_eq!(recs.len(), 5);
    assert_eq!(recs[3]["value"], Value::Null);
    assert_eq!(recs[4]["key"], json!(b64("via-kv")));
    assert_eq!(recs[4]["offset"], json!(4));
    assert_eq!(recs[4]["topic"], json!("kv"));
    // From a later offset, with a byte budget that still returns one record.
    let r = h
        .get_path("/topics/kv/partitions/0/records?offset=3&max_bytes=1", None)
        .await;
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(r.json()[0]["offset"], json!(3));
}

#[tokio::test]
async fn produce_partitions_by_murmur2_or_round_robin() {
    let h = harness().await;
    let key = b"some-key";
    let expected = crate::partitioner::partition_for_key(key, 2);
    let r = h
        .post_raw(
            "/topics/kv",
            "application/vnd.kafka.binary.v2+json",
            json!({"records":[{"key": b64(key), "value": b64("v")}, {"value": b64("a")}, {"value": b64("b")}]}).to_string(),
        )
        .await;
    let offsets = r.json()["offsets"].clone();
    assert_eq!(offsets[0]["partition"], json!(expected));
    let rr: Vec<i64> = [1, 2]
        .iter()
        .map(|i| offsets[*i]["partition"].as_i64().unwrap())
        .collect();
    assert_ne!(rr[0], rr[1], "null keys alternate partitions: {offsets}");
    let r = h
        .kv("kv", expected, "batch_get", json!({"keys":[b64(key)]}))
        .await;
    assert_eq!(r.json()["results"][0]["value"], json!(b64("v")));
}

#[tokio::test]
async fn produce_json_v2_and_read_back() {
    let h = harness().await;
    let r = h
        .post_raw(
            "/topics/plain",
            "application/vnd.kafka.json.v2+json",
            json!({"records":[{"key": "k", "value": {"a": [1, 2]}}]}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = h
        .get_path(
            "/topics/plain/partitions/0/records?offset=0",
            Some("application/vnd.kafka.json.v2+json"),
        )
        .await;
    assert_eq!(r.json()[0]["value"], json!({"a": [1, 2]}));
    assert_eq!(r.json()[0]["key"], json!("k"));
}

#[tokio::test]
async fn proxy_errors() {
    let h = harness().await;
    let r = h.post_raw("/topics/kv", "application/json", "{}").await;
    assert_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "binary.v2");
    let r = h
        .post_raw(
            "/topics/nope",
            "application/vnd.kafka.binary.v2+json",
            r#"{"records":[]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error_code"], json!(40401));
    let r = h
        .post_raw(
            "/topics/kv",
            "application/vnd.kafka.binary.v2+json",
            json!({"records":[{"value": b64("v"), "partition": 9}]}).to_string(),
        )
        .await;
    assert_eq!(r.json()["error_code"], json!(40402));
    let r = h
        .post_raw(
            "/topics/kv",
            "application/vnd.kafka.binary.v2+json",
            json!({"records":[{"value": "%%"}]}).to_string(),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "base64");
    let r = h.get_path("/topics/kv/partitions/0/records", None).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "offset is required");
    let r = h
        .get_path("/topics/kv/partitions/0/records?offset=-1", None)
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "negative");
    let r = h
        .get_path("/topics/kv/partitions/7/records?offset=0", None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = h.get_path("/nowhere", None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "no endpoint");
    let r = h
        .send(Request::delete("/topics").body(Body::empty()).unwrap())
        .await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "not allowed");
}

#[tokio::test]
async fn records_long_poll_wakes_on_a_write() {
    let h = harness().await;
    let app = h.app.clone();
    let poll = tokio::spawn(async move {
        let resp = app
            .oneshot(
                Request::get("/topics/kv/partitions/0/records?offset=0&timeout=5000")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        to_bytes(resp.into_body(), usize::MAX).await.unwrap()
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    h.put(b"late", b"1").await;
    let body: Value = serde_json::from_slice(&poll.await.unwrap()).unwrap();
    assert_eq!(body[0]["key"], json!(b64("late")));
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}

#[tokio::test]
async fn topics_brokers_ready_and_metrics() {
    let h = harness().await;
    let r = h.get_path("/topics", None).await;
    assert_eq!(r.json(), json!(["kv", "plain", "small"]));
    assert_eq!(r.content_type, "application/vnd.kafka.v2+json");
    assert_eq!(
        h.get_path("/brokers", None).await.json(),
        json!({"brokers":[0]})
    );
    assert_eq!(
        h.get_path("/status/ready", None).await.status,
        StatusCode::OK
    );
    h.put(b"m", b"1").await;
    let text = String::from_utf8(h.get_path("/metrics", None).await.bytes).unwrap();
    for needle in [
        "devbroker_http_requests_total{route=\"/kvstore/{topic}/partition/{partition}/write\",status=\"200\"} 1",
        "devbroker_storage_commits_total",
        "devbroker_storage_fsyncs_total",
        "devbroker_storage_commit_batch_size_bucket",
        "devbroker_http_request_seconds_bucket",
    ] {
        assert!(text.contains(needle), "metrics lack {needle}:\n{text}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_a_json_413() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    store
        .create_topic("kv", 1, "kv".parse::<TopicSpec>().unwrap().config)
        .await
        .unwrap();
    let app = router(AppState::new(store), 1024);
    let resp = app
        .oneshot(
            Request::post("/kvstore/kv/partition/0/write")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(vec![b' '; 4096]))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value =
        serde_json::from_slice(&to_bytes(resp.into_body(), usize::MAX).await.unwrap()).unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("request size limit")
    );
}

/// The OpenAPI document in assets/ lists exactly the routes the router serves.
#[tokio::test]
async fn openapi_document_matches_the_router() {
    let h = harness().await;
    let doc: Value = serde_yaml_ng::from_str(include_str!("../../../assets/openapi.yaml")).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let concrete = path.replace("{topic}", "kv").replace("{partition}", "0");
            let concrete = if concrete.ends_with("/records") {
                format!("{concrete}?offset=0")
            } else {
                concrete
            };
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header(header::CONTENT_TYPE, "application/vnd.kafka.binary.v2+json")
                .body(Body::from(if method == "post" {
                    r#"{"records":[]}"#
                } else {
                    ""
                }))
                .unwrap();
            let r = h.send(req).await;
            assert!(
                r.status != StatusCode::NOT_FOUND && r.status != StatusCode::METHOD_NOT_ALLOWED,
                "documented {method} {path} is not served: {}",
                r.status
            );
            // Every answer is one the document lists for that operation.
            let code = r.status.as_u16().to_string();
            assert!(
                item[method.as_str()]["responses"].get(&code).is_some(),
                "{method} {path} answered {code}, which the document does not list"
            );
        }
    }
    documented.sort();
    let served = [
        "GET /brokers",
        "GET /metrics",
        "GET /status/ready",
        "GET /topics",
        "GET /topics/{topic}/partitions/{partition}/records",
        "POST /kvstore/{topic}/partition/{partition}/batch_get",
        "POST /kvstore/{topic}/partition/{partition}/scan",
        "POST /kvstore/{topic}/partition/{partition}/write",
        "POST /topics/{topic}",
    ];
    assert_eq!(documented, served);
}

mod fencing;
