//! A full LMDB map (`--max-db-size`): writes get a clear 507, reads keep
//! working, a restart finds everything acknowledged, and once space is freed
//! (a topic deleted over Kafka) writes resume and reuse the freed pages.

mod kafka_common;

use kafka_common::python;
use rpkv_e2e::{Broker, Kv, b64};
use serde_json::json;

const VALUE_BYTES: usize = 64 << 10;

/// Puts 64 KiB values into `topic` until the broker answers 507; returns how many landed.
async fn fill(kv: &Kv, topic: &str, tag: &str) -> usize {
    let value = tag.repeat(VALUE_BYTES / tag.len());
    for i in 0..2000usize {
        let body = json!({"puts": [{"key": b64(format!("{tag}{i:05}")), "value": b64(&value)}]});
        let r = kv.call(topic, 0, "write", &body).await.unwrap();
        match r.status {
            200 => {}
            507 => {
                let msg = r.body["message"].as_str().unwrap_or_default();
                assert!(msg.contains("--max-db-size"), "{}", r.body);
                assert_eq!(r.body["error_code"], 507);
                return i;
            }
            other => panic!("write {i} to {topic} answered {other}: {}", r.body),
        }
    }
    panic!("an 8 MiB map took 2000 values of 64 KiB");
}

async fn check_all(kv: &Kv, topic: &str, tag: &str, n: usize) {
    let value = tag.repeat(VALUE_BYTES / tag.len()).into_bytes();
    for i in 0..n {
        let got = kv
            .get(topic, 0, format!("{tag}{i:05}").as_bytes())
            .await
            .unwrap();
        assert!(
            got.as_deref() == Some(&value[..]),
            "{topic}/{tag}{i:05} lost or changed"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_map_answers_507_keeps_data_and_recovers_after_a_delete() {
    kafka_common::require_kafka_python();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let args = [
        "--max-db-size",
        "8388608",
        "--topic",
        "fill",
        "--topic",
        "kv",
    ];
    let mut b = Broker::start_in(&data, &args).unwrap();
    let kv = Kv::new(b.url());
    let first = fill(&kv, "fill", "a").await;
    assert!(first > 20, "only {first} values fit in 8 MiB");
    // Full: more writes keep failing cleanly; reads and scans keep working.
    for _ in 0..3 {
        let r = kv
            .call(
                "fill",
                0,
                "write",
                &json!({"puts": [{"key": b64("more"), "value": b64("x".repeat(VALUE_BYTES))}]}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 507, "{}", r.body);
    }
    check_all(&kv, "fill", "a", first).await;
    assert_eq!(kv.scan_all("fill", 0).await.unwrap().len(), first);

    // A restart finds the store intact.
    let status = tokio::task::spawn_blocking(move || b.terminate().unwrap())
        .await
        .unwrap();
    assert!(
        status.success(),
        "graceful stop with a full map exits 0: {status}"
    );
    let b = Broker::start_in(&data, &["--max-db-size", "8388608"]).unwrap();
    let kv = Kv::new(b.url());
    check_all(&kv, "fill", "a", first).await;

    // Free space: delete the topic over Kafka. Writes resume and reuse the pages.
    let r = python(
        "kafka_admin.py",
        &[&b.kafka_addr.unwrap().to_string(), "delete", "fill"],
    );
    assert_eq!(r["ok"], true, "{r}");
    let second = fill(&kv, "kv", "b").await;
    eprintln!(
        "full map (8 MiB): {first} values of 64 KiB before 507; after deleting them, {second} values fit again"
    );
    assert!(
        second * 10 >= first * 6,
        "freed pages were not reused: {first} values fitted first, {second} after the delete"
    );
    check_all(&kv, "kv", "b", second).await;
}
