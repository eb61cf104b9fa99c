//! Two brokers on one tier prefix: the second refuses to start while the first
//! holds it; with --tier-takeover it restores the first's data and fences the
//! first, which then refuses writes with a clear error. A corrupt segment in the
//! bucket is reported, never served.

mod tier_support;

use std::time::Duration;

use rpkv_e2e::Kv;
use serde_json::json;
use tier_support::*;

const TOPIC: &str = "kv";

async fn two_brokers(target: TierTarget) {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = target
        .broker(
            &data_dir(&tmp, "a"),
            &["--topic", "kv:2:segment.ms=200", "--tier-poll-ms", "100"],
        )
        .unwrap();
    let kv_a = Kv::new(a.url());
    let puts: Vec<(String, String)> = (0..200)
        .map(|i| (format!("a-{i:03}"), format!("{i}")))
        .collect();
    write(&kv_a, TOPIC, 0, &puts, &[]).await.unwrap();
    wait_uploaded(&a.url(), &[(TOPIC, 0)], Duration::from_secs(60))
        .await
        .unwrap();

    // A second broker on the same prefix refuses to start.
    let (code, stderr) = target.refused(&data_dir(&tmp, "b"), &[]).unwrap();
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("is in use by broker"), "{stderr}");
    assert!(stderr.contains("--tier-takeover"), "{stderr}");
    // ... and changed nothing: the first keeps uploading.
    write(&kv_a, TOPIC, 1, &[("still".into(), "a".into())], &[])
        .await
        .unwrap();
    wait_uploaded(&a.url(), &[(TOPIC, 0), (TOPIC, 1)], Duration::from_secs(60))
        .await
        .unwrap();

    // With --tier-takeover it restores what A uploaded and fences A.
    let b = target
        .broker(
            &data_dir(&tmp, "c"),
            &["--tier-takeover", "--tier-poll-ms", "100"],
        )
        .unwrap();
    let kv_b = Kv::new(b.url());
    assert_eq!(
        view(&kv_b, TOPIC, 0).await.unwrap().len(),
        200,
        "B restored A's data"
    );
    assert_eq!(
        kv_b.get(TOPIC, 1, b"still").await.unwrap(),
        Some(b"a".to_vec())
    );
    let status = wait_for(&a.url(), Duration::from_secs(30), |s| {
        !s["fenced"].is_null()
    })
    .await
    .unwrap();
    assert!(
        status["fenced"].as_str().unwrap().contains("took over"),
        "{status}"
    );
    // A fenced broker refuses writes with a clear error; reads still work.
    let r = kv_a
        .call(
            TOPIC,
            0,
            "write",
            &json!({"puts": [{"key": "eA==", "value": "eA=="}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("fenced"),
        "{}",
        r.body
    );
    // HTTP Proxy produce is refused the same way (the store's one write gate).
    let r = rpkv_e2e::http_client()
        .post(format!("{}/topics/{TOPIC}", a.url()))
        .header("content-type", "application/vnd.kafka.binary.v2+json")
        .body(json!({"records": [{"key": "eA==", "value": "eA==", "partition": 0}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("fenced"),
        "{body}"
    );
    let metrics = rpkv_e2e::get(format!("{}/metrics", a.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("devbroker_tier_fenced 1"),
        "the fenced gauge is set"
    );
    assert_eq!(view(&kv_a, TOPIC, 0).await.unwrap().len(), 200);
    // B writes; A exits cleanly without touching the bucket.
    write(&kv_b, TOPIC, 0, &[("b".into(), "1".into())], &[])
        .await
        .unwrap();
    assert!(a.terminate().unwrap().success());
    drop(b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_two_brokers_on_one_prefix_on_s3() {
    two_brokers(TierTarget::s3("fencing").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_two_brokers_on_one_prefix_on_file() {
    two_brokers(TierTarget::file().unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_corrupt_segment_is_reported_not_served() {
    let target = TierTarget::file().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir_a = data_dir(&tmp, "a");
    let mut a = target
        .broker(&dir_a, &["--topic", "kv:1:segment.bytes=4096"])
        .unwrap();
    let kv = Kv::new(a.url());
    let puts: Vec<(String, String)> = (0..300)
        .map(|i| (format!("k-{i:03}"), "v".repeat(50)))
        .collect();
    write(&kv, TOPIC, 0, &puts, &[]).await.unwrap();
    assert!(a.terminate().unwrap().success());
    std::fs::remove_dir_all(&dir_a).unwrap();
    // Flip one byte in the middle of the first segment.
    let bucket = std::path::PathBuf::from(target.url.strip_prefix("file://").unwrap());
    let mut segs: Vec<_> = walk(&bucket)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segs.sort();
    let seg = segs.first().expect("a segment in the bucket");
    let mut bytes = std::fs::read(seg).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(seg, bytes).unwrap();
    let (code, stderr) = target.refused(&data_dir(&tmp, "b"), &[]).unwrap();
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        stderr.contains(seg.file_name().unwrap().to_str().unwrap()),
        "{stderr}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
