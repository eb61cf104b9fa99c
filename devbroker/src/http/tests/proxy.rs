//! The HTTP Proxy subset through the router: produce, records, topics,
//! brokers, readiness, metrics, body limits.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::*;

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
