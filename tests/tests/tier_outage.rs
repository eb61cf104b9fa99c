//! Bucket outage: the S3 server is frozen (SIGSTOP) mid-run; writes keep
//! succeeding quickly, the upload lag grows; once it is resumed (SIGCONT) the
//! uploads catch up, and a fresh broker restores everything from the bucket.

mod tier_support;

use std::time::{Duration, Instant};

use rpkv_e2e::Kv;
use tier_support::*;

const TOPIC: &str = "kv";

async fn write_keys(kv: &Kv, from: usize, to: usize) -> Duration {
    let mut slowest = Duration::ZERO;
    for chunk in (from..to).collect::<Vec<_>>().chunks(20) {
        for p in 0..2 {
            let puts: Vec<(String, String)> = chunk
                .iter()
                .filter(|i| *i % 2 == p as usize)
                .map(|i| {
                    (
                        format!("key-{i:05}"),
                        format!("value-{i}-{}", "v".repeat(80)),
                    )
                })
                .collect();
            let started = Instant::now();
            write(kv, TOPIC, p, &puts, &[]).await.unwrap();
            slowest = slowest.max(started.elapsed());
        }
    }
    slowest
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_bucket_outage_loses_nothing_and_catches_up() {
    let target = TierTarget::s3("outage").await.unwrap();
    let moto = target.moto.as_ref().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir_a = data_dir(&tmp, "a");
    let mut a = target
        .broker(
            &dir_a,
            &[
                "--topic",
                "kv:2:segment.bytes=16384,segment.ms=300",
                "--tier-snapshot-interval-ms",
                "500",
            ],
        )
        .unwrap();
    let kv = Kv::new(a.url());
    write_keys(&kv, 0, 1000).await;
    wait_uploaded(&a.url(), &[(TOPIC, 0), (TOPIC, 1)], Duration::from_secs(60))
        .await
        .unwrap();

    moto.pause().unwrap();
    let slowest = write_keys(&kv, 1000, 2000).await;
    assert!(
        slowest < Duration::from_secs(1),
        "writes must not wait on the bucket; the slowest took {slowest:?}"
    );
    // The lag shows while the bucket is down.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = tier_status(&a.url()).await.unwrap();
    for p in 0..2 {
        let s = part_status(&status, TOPIC, p);
        assert!(
            s["upload_lag_offsets"].as_u64().unwrap() >= 400,
            "lag while down: {s}"
        );
    }
    let metrics = rpkv_e2e::get(format!("{}/metrics", a.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("devbroker_tier_upload_lag_offsets{partition=\"0\",topic=\"kv\"}"),
        "{metrics}"
    );

    moto.resume().unwrap();
    let status = wait_uploaded(&a.url(), &[(TOPIC, 0), (TOPIC, 1)], Duration::from_secs(90))
        .await
        .unwrap();
    for p in 0..2 {
        let s = part_status(&status, TOPIC, p);
        assert_eq!(s["high_watermark"].as_u64().unwrap(), 1000, "{s}");
    }
    let metrics = rpkv_e2e::get(format!("{}/metrics", a.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("devbroker_tier_uploaded_bytes_total"),
        "{metrics}"
    );

    let before = [
        view(&kv, TOPIC, 0).await.unwrap(),
        view(&kv, TOPIC, 1).await.unwrap(),
    ];
    assert_eq!(before[0].len() + before[1].len(), 2000);
    assert!(a.terminate().unwrap().success());
    std::fs::remove_dir_all(&dir_a).unwrap();

    let b = target.broker(&data_dir(&tmp, "b"), &[]).unwrap();
    let kv_b = Kv::new(b.url());
    for p in 0..2 {
        let after = view(&kv_b, TOPIC, p).await.unwrap();
        assert!(
            after == before[p as usize],
            "partition {p}: keys lost across the outage"
        );
        let log = log(&b.url(), TOPIC, p, 1000).await.unwrap();
        assert_eq!(log.len(), 1000);
    }
}
