//! A fenced store (another broker took over the tier prefix): the HTTP write
//! routes answer 503 with the fence's reason and change nothing; reads go on.

use super::*;

const BINARY: &str = "application/vnd.kafka.binary.v2+json";

#[tokio::test]
async fn a_fenced_broker_refuses_http_writes_with_503_and_serves_reads() {
    let h = harness().await;
    h.put(b"k", b"v").await;
    let r = h
        .post_raw(
            "/topics/plain",
            BINARY,
            json!({"records":[{"value": b64("one")}]}).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert!(
        h.store
            .fence()
            .set("broker b took over tier prefix x".into())
    );

    let r = h
        .kv(
            "kv",
            0,
            "write",
            json!({"puts":[{"key": b64("k"), "value": b64("new")}]}),
        )
        .await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "this broker is fenced and refuses writes: broker b took over",
    );
    for topic in ["kv", "plain"] {
        let r = h
            .post_raw(
                &format!("/topics/{topic}"),
                BINARY,
                json!({"records":[{"key": b64("k"), "value": b64("new"), "partition": 0}]})
                    .to_string(),
            )
            .await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "fenced");
    }

    // Nothing changed; reads work.
    assert_eq!(h.get(b"k").await.as_deref(), Some(&b"v"[..]));
    assert_eq!(
        h.scan(json!({})).await,
        vec![(b"k".to_vec(), b"v".to_vec())]
    );
    let r = h
        .get_path("/topics/plain/partitions/0/records?offset=0", Some(BINARY))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    assert_eq!(h.store.partition_state("kv", 0).unwrap().next_offset, 1);
    assert_eq!(h.store.partition_state("plain", 0).unwrap().next_offset, 1);
}
