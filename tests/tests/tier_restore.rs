//! Tiered storage end to end: a broker tiers thousands of keys across two
//! partitions with small segments, shuts down, its data dir is deleted, and a
//! fresh broker on the same bucket brings back every key and the whole log. On
//! moto's S3 server and on a `file://` tier.

mod tier_support;

use std::collections::BTreeMap;
use std::time::Duration;

use rpkv_e2e::Kv;
use serde_json::json;
use tier_support::*;

const TOPIC: &str = "kv";
const KEYS: usize = 3000;

fn value_of(i: usize, round: usize) -> String {
    format!("value-{i:05}-round-{round}-{}", "x".repeat(60 + i % 40))
}

async fn round_trip(target: TierTarget) {
    let tmp = tempfile::tempdir().unwrap();
    let dir_a = data_dir(&tmp, "a");
    let topic = format!(
        "{TOPIC}:2:segment.bytes=65536,segment.ms=1000,retention.local.target.bytes=150000"
    );
    let args = [
        "--topic",
        topic.as_str(),
        "--tier-snapshot-interval-ms",
        "300",
        "--retention-check-ms",
        "100",
    ];
    let mut a = target.broker(&dir_a, &args).unwrap();
    let kv = Kv::new(a.url());

    // Round 1: every key; round 2: overwrite every 7th, delete every 11th.
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(100) {
        for p in 0..2 {
            let puts: Vec<(String, String)> = chunk
                .iter()
                .filter(|i| *i % 2 == p as usize)
                .map(|i| (format!("key-{i:05}"), value_of(*i, 1)))
                .collect();
            write(&kv, TOPIC, p, &puts, &[]).await.unwrap();
        }
    }
    // Let a snapshot happen between the rounds, so restore is snapshot + replay.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    for chunk in (0..KEYS).collect::<Vec<_>>().chunks(200) {
        for p in 0..2 {
            let mine = chunk.iter().filter(|i| *i % 2 == p as usize);
            let puts: Vec<(String, String)> = mine
                .clone()
                .filter(|i| *i % 7 == 0)
                .map(|i| (format!("key-{i:05}"), value_of(*i, 2)))
                .collect();
            let deletes: Vec<String> = mine
                .filter(|i| *i % 11 == 0 && *i % 7 != 0)
                .map(|i| format!("key-{i:05}"))
                .collect();
            write(&kv, TOPIC, p, &puts, &deletes).await.unwrap();
        }
    }

    let status = wait_uploaded(&a.url(), &[(TOPIC, 0), (TOPIC, 1)], Duration::from_secs(60))
        .await
        .unwrap();
    for p in 0..2 {
        let s = part_status(&status, TOPIC, p);
        assert!(
            s["segments"].as_u64().unwrap() >= 3,
            "small segments: expected several, got {s}"
        );
    }
    // Local retention trims uploaded records; offset 0 then comes from the bucket.
    wait_for(&a.url(), Duration::from_secs(30), |s| {
        (0..2).all(|p| {
            part_status(s, TOPIC, p)["local_log_start"]
                .as_u64()
                .unwrap_or(0)
                > 0
        })
    })
    .await
    .unwrap();
    // Kafka's "earliest" is the bucket's log start, not the local one: a
    // consumer from the beginning gets offset 0 (Fetch reads it from the bucket).
    let kafka = a.kafka_addr.expect("kafka listener").to_string();
    for p in 0..2 {
        let mut kcat = std::process::Command::new("kcat");
        kcat.args(["-C", "-b", &kafka, "-t", TOPIC, "-p", &p.to_string()])
            .args(["-o", "beginning", "-c", "1", "-e", "-q", "-f", "%o\\n"]);
        let run = rpkv_e2e::cli::run_command(kcat, None, Duration::from_secs(60));
        assert_eq!(
            run.stdout.trim(),
            "0",
            "partition {p}: kcat -o beginning: {run:?}"
        );
    }
    // A last batch right before SIGTERM: it sits in the open segment, which the
    // graceful shutdown must close and upload.
    for p in 0..2 {
        let puts: Vec<(String, String)> = (0..50)
            .map(|i| (format!("last-{i:03}"), format!("final-{p}-{i}")))
            .collect();
        write(&kv, TOPIC, p, &puts, &[]).await.unwrap();
    }
    let mut views = Vec::new();
    let mut logs = Vec::new();
    for p in 0..2 {
        let view = view(&kv, TOPIC, p).await.unwrap();
        let mut expected: BTreeMap<Vec<u8>, Vec<u8>> = (0..KEYS)
            .filter(|i| *i % 2 == p as usize && !(*i % 11 == 0 && *i % 7 != 0))
            .map(|i| {
                let round = if i % 7 == 0 { 2 } else { 1 };
                (
                    format!("key-{i:05}").into_bytes(),
                    value_of(i, round).into_bytes(),
                )
            })
            .collect();
        for i in 0..50 {
            expected.insert(
                format!("last-{i:03}").into_bytes(),
                format!("final-{p}-{i}").into_bytes(),
            );
        }
        assert_eq!(view.len(), expected.len());
        assert!(
            view == expected,
            "the first broker's view is not what was written"
        );
        let s = part_status(&tier_status(&a.url()).await.unwrap(), TOPIC, p);
        let hw = s["high_watermark"].as_u64().unwrap();
        assert!(s["upload_lag_offsets"].as_u64().unwrap() >= 50, "{s}");
        let log = log(&a.url(), TOPIC, p, hw).await.unwrap();
        assert_eq!(log.len() as u64, hw, "every offset from 0 is readable");
        views.push(view);
        logs.push(log);
    }

    assert!(a.terminate().unwrap().success(), "SIGTERM exits 0");
    std::fs::remove_dir_all(&dir_a).unwrap();

    let dir_b = data_dir(&tmp, "b");
    let started = std::time::Instant::now();
    let b = target.broker(&dir_b, &[]).unwrap();
    eprintln!("restore took {:?}", started.elapsed());
    let kv_b = Kv::new(b.url());
    let status = tier_status(&b.url()).await.unwrap();
    let mut snapshots = 0;
    for p in 0..2 {
        let restored = view(&kv_b, TOPIC, p).await.unwrap();
        assert_eq!(restored.len(), views[p as usize].len(), "partition {p}");
        assert!(
            restored == views[p as usize],
            "partition {p}: restored view differs"
        );
        let s = part_status(&status, TOPIC, p);
        let hw = s["high_watermark"].as_u64().unwrap();
        assert_eq!(
            hw,
            logs[p as usize].len() as u64,
            "high watermark restored: {s}"
        );
        if s["last_snapshot_offset"].as_u64().is_some() {
            snapshots += 1;
        }
        let log = log(&b.url(), TOPIC, p, hw).await.unwrap();
        assert!(
            log == logs[p as usize],
            "partition {p}: restored log differs"
        );
    }
    assert!(snapshots > 0, "a view snapshot was in the bucket: {status}");
    // The configs came back too.
    let kv_cfg = rpkv_e2e::get(format!("{}/topics", b.url()))
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(kv_cfg, json!([TOPIC]));
    // And the restored broker keeps working.
    write(&kv_b, TOPIC, 0, &[("after".into(), "restore".into())], &[])
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_restore_round_trip_on_s3() {
    round_trip(TierTarget::s3("restore").await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_restore_round_trip_on_file() {
    round_trip(TierTarget::file().unwrap()).await;
}
