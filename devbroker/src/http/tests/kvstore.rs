//! The kvstore API through the router: writes, preconditions, batch gets,
//! scans, limits, protobuf.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;

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
