//! End-to-end tests of the dev broker core: the real binary on free loopback
//! ports, restarted, killed, hammered by concurrent clients, and driven with the
//! seed README's curl examples.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rpkv_e2e::{Broker, Kv, b64, sha256_hex, unb64};
use serde_json::{Value, json};

#[tokio::test]
async fn restart_keeps_topics_keys_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut b = Broker::start_in(
        &data,
        &[
            "--topic",
            "kv:2",
            "--topic",
            "plain:1:redpanda.kvstore=none",
        ],
    )
    .unwrap();
    let kv = Kv::new(b.url());
    for i in 0..200u32 {
        assert_eq!(
            kv.put(
                "kv",
                (i % 2) as i32,
                format!("key{i:03}").as_bytes(),
                &i.to_le_bytes()
            )
            .await
            .unwrap(),
            200
        );
    }
    let before0 = kv.scan_all("kv", 0).await.unwrap();
    let status = b.terminate().unwrap();
    assert!(status.success(), "graceful stop exits 0, got {status}");

    let b = Broker::start_in(&data, &[]).unwrap();
    let kv = Kv::new(b.url());
    let topics: Value = rpkv_e2e::get(format!("{}/topics", b.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(topics, json!(["kv", "plain"]));
    assert_eq!(kv.scan_all("kv", 0).await.unwrap(), before0);
    assert_eq!(kv.scan_all("kv", 1).await.unwrap().len(), 100);
    let recs: Value = rpkv_e2e::get(format!(
        "{}/topics/kv/partitions/1/records?offset=0",
        b.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(recs.as_array().unwrap().len(), 100);
    assert_eq!(recs[99]["offset"], json!(99));
}

#[tokio::test]
async fn kill_9_right_after_acknowledged_writes_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut b = Broker::start_in(&data, &["--topic", "kv"]).unwrap();
    let kv = Kv::new(b.url());
    let acked = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for w in 0..16 {
        let (kv, acked, stop) = (kv.clone(), acked.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("w{w}-{i}");
                match kv.put("kv", 0, key.as_bytes(), key.as_bytes()).await {
                    Ok(200) => acked.lock().unwrap().push(key),
                    _ => break,
                }
                i += 1;
            }
        }));
    }
    // Let writes flow, then kill while they are in flight.
    while acked.lock().unwrap().len() < 400 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.kill9().unwrap();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let acked: Vec<String> = acked.lock().unwrap().clone();

    let b = Broker::start_in(&data, &[]).unwrap();
    let kv = Kv::new(b.url());
    let present: BTreeSet<Vec<u8>> = kv
        .scan_all("kv", 0)
        .await
        .unwrap()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let lost: Vec<&String> = acked
        .iter()
        .filter(|k| !present.contains(k.as_bytes()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged writes lost: {:?}",
        lost.len(),
        acked.len(),
        &lost[..lost.len().min(5)]
    );
}

#[tokio::test]
async fn concurrent_cas_increments_lose_no_update() {
    let b = Broker::start(&["--topic", "kv"]).unwrap();
    let kv = Kv::new(b.url());
    assert_eq!(kv.put("kv", 0, b"counter", b"0").await.unwrap(), 200);
    let successes = Arc::new(AtomicU64::new(0));
    let conflicts = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (kv, successes, conflicts) = (kv.clone(), successes.clone(), conflicts.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..25 {
                loop {
                    let cur = kv.get("kv", 0, b"counter").await.unwrap().unwrap();
                    let n: u64 = String::from_utf8(cur.clone()).unwrap().parse().unwrap();
                    let body = json!({"puts": [{
                        "key": b64("counter"),
                        "value": b64((n + 1).to_string()),
                        "precondition": {"ifMatches": {"sha256Hash": sha256_hex(&cur)}},
                    }]});
                    let r = kv.call("kv", 0, "write", &body).await.unwrap();
                    match r.status {
                        200 => {
                            successes.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        409 => {
                            conflicts.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("unexpected {other}: {}", r.body),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let final_value: u64 = String::from_utf8(kv.get("kv", 0, b"counter").await.unwrap().unwrap())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(successes.load(Ordering::Relaxed), 200);
    assert_eq!(
        final_value, 200,
        "every successful CAS is counted exactly once"
    );
    eprintln!(
        "200 increments, {} conflicts retried",
        conflicts.load(Ordering::Relaxed)
    );
}

#[tokio::test]
async fn concurrent_writes_share_commits() {
    let b = Broker::start(&["--topic", "kv"]).unwrap();
    let kv = Kv::new(b.url());
    let mut tasks = Vec::new();
    for w in 0..64 {
        let kv = kv.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..10 {
                assert_eq!(
                    kv.put("kv", 0, format!("{w}-{i}").as_bytes(), b"v")
                        .await
                        .unwrap(),
                    200
                );
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let metrics = rpkv_e2e::get(format!("{}/metrics", b.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from metrics"))
    };
    let fsyncs = value("devbroker_storage_fsyncs_total");
    // 640 acknowledged writes (plus the preset topic's creation) in far fewer fsyncs.
    assert!(
        fsyncs < 640.0 / 2.0,
        "group commit: 640 writes took {fsyncs} fsyncs"
    );
    assert_eq!(value("devbroker_storage_records_appended_total"), 640.0);
}

/// Runs each curl example of the seed README verbatim, with only the host and
/// port replaced by the test broker's.
#[tokio::test]
async fn seed_readme_curl_examples_work_verbatim() {
    let b = Broker::start(&["--topic", "example-topic"]).unwrap();
    let readme = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../assets/seed/kvstore-demo-README.md"
    ))
    .unwrap();
    let examples: Vec<String> = readme
        .split("```bash")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter(|block| {
            block
                .trim_start()
                .starts_with("curl -X POST http://localhost:18082/kvstore")
        })
        .map(|block| block.replace("http://localhost:18082", &b.url()))
        .collect();
    assert_eq!(
        examples.len(),
        8,
        "the seed README has 8 kvstore curl examples"
    );
    let mut outputs = Vec::new();
    for ex in &examples {
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -e; {} -sS --fail-with-body", ex.trim_end()))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "example failed: {ex}\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        outputs.push(serde_json::from_str::<Value>(&stdout).unwrap());
    }
    // Writes answer {}.
    for o in &outputs[..5] {
        assert_eq!(o, &json!({}));
    }
    let kv = Kv::new(b.url());
    // The if-matches example used the SHA-256 of "10": counter is now "11".
    assert_eq!(
        kv.get("example-topic", 0, b"counter")
            .await
            .unwrap()
            .unwrap(),
        b"11"
    );
    assert_eq!(
        kv.get("example-topic", 0, b"lock").await.unwrap().unwrap(),
        b"owned"
    );
    assert_eq!(
        kv.get("example-topic", 0, b"newKey")
            .await
            .unwrap()
            .unwrap(),
        b"newValue"
    );
    // Batch get: one result per key in order.
    assert_eq!(
        outputs[5],
        json!({"results": [
            {"key": "Zm9v", "value": "YmFy"},
            {"key": "dXNlcjoxMjM=", "value": "eyJuYW1lIjoiQWxpY2UiLCJhZ2UiOjMwfQ=="},
            {"key": "Y291bnRlcg==", "value": "MTE="},
        ]})
    );
    // Scan everything, then the user: range as the README shows.
    let all: Vec<String> = outputs[6]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| String::from_utf8(unb64(e["key"].as_str().unwrap())).unwrap())
        .collect();
    assert_eq!(
        all,
        ["counter", "foo", "lock", "newKey", "user:123", "user:124"]
    );
    assert_eq!(
        outputs[7],
        json!({"entries": [
            {"key": "dXNlcjoxMjM=", "value": "eyJuYW1lIjoiQWxpY2UiLCJhZ2UiOjMwfQ=="},
            {"key": "dXNlcjoxMjQ=", "value": "eyJuYW1lIjoiQm9iIiwiYWdlIjoyNX0="},
        ]})
    );
}

#[tokio::test]
async fn retention_expires_keys_end_to_end() {
    let b = Broker::start(&[
        "--topic",
        "sessions:1:retention.ms=300",
        "--retention-check-ms",
        "50",
    ])
    .unwrap();
    let kv = Kv::new(b.url());
    assert_eq!(kv.put("sessions", 0, b"s1", b"alive").await.unwrap(), 200);
    let mut gone = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if kv.get("sessions", 0, b"s1").await.unwrap().is_none() {
            gone = true;
            break;
        }
    }
    assert!(gone, "a key whose record left retention leaves the view");
    let recs: Value = rpkv_e2e::get(format!(
        "{}/topics/sessions/partitions/0/records?offset=0",
        b.url()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(recs, json!([]));
}

#[tokio::test]
async fn bad_flags_fail_with_a_clear_message() {
    let out = std::process::Command::new(rpkv_e2e::bin_path("devbroker"))
        .args(["serve", "--topic", "bad/name"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("contains '/'"), "{err}");
}

#[tokio::test]
async fn sigterm_ends_long_polls_and_exits_zero() {
    let mut b = Broker::start(&["--topic", "kv"]).unwrap();
    let url = format!(
        "{}/topics/kv/partitions/0/records?offset=0&timeout=30000",
        b.url()
    );
    let poll = tokio::spawn(async move { rpkv_e2e::get(url).await.map(|r| r.status().as_u16()) });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || b.terminate().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown waited {:?}",
        started.elapsed()
    );
    assert_eq!(
        poll.await.unwrap().unwrap(),
        200,
        "the in-flight poll is answered, not cut"
    );
}

/// The README's walkthrough runs as written against a fresh broker.
#[tokio::test]
async fn readme_walkthrough_works_verbatim() {
    let b = Broker::start(&["--topic", "example-topic"]).unwrap();
    let block = rpkv_e2e::readme_bash_block("### kvstore API walkthrough");
    let script = block.replace("http://localhost:18082", &b.url());
    let stdout = rpkv_e2e::run_bash(&script);
    for expected in [
        r#"{"results":[{"key":"Zm9v","value":"YmFy"},{"key":"bm9wZQ=="},{"key":"Y291bnRlcg==","value":"MTE="}]}"#,
        r#"{"entries":[{"key":"dXNlcjoxMjM=","value":"eyJuYW1lIjoiQWxpY2UifQ=="}]}"#,
        r#""offsets":[{"partition":0,"offset":7}]"#,
    ] {
        assert!(
            stdout.contains(expected),
            "README output lacks {expected}:\n{stdout}"
        );
    }
    let kv = Kv::new(b.url());
    assert_eq!(
        kv.get("example-topic", 0, b"hello").await.unwrap().unwrap(),
        b"world"
    );
    assert_eq!(kv.get("example-topic", 0, b"lock").await.unwrap(), None);
}
