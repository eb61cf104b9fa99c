//! Measurements, not timed tests (ignored; run them by hand, with a release
//! broker for meaningful numbers):
//!
//! ```sh
//! cargo build --release -p devbroker
//! DEVBROKER_BIN=target/release/devbroker cargo nextest run -p rpkv-e2e \
//!   --run-ignored only -E 'test(/tier_bench/)' --no-capture
//! ```
//!
//! - upload throughput of the broker against a raw object_store put loop on the
//!   same moto server (the ceiling);
//! - restore time of 1M keys (`TIER_BENCH_KEYS` to change), by replay of the
//!   segments and from a snapshot.

mod tier_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use rpkv_e2e::{Kv, b64};
use serde_json::json;
use tier_support::*;

const MIB: f64 = 1024.0 * 1024.0;

fn s3(moto: &Moto) -> Arc<dyn ObjectStore> {
    rpkv_e2e::install_crypto_provider();
    let mut b = AmazonS3Builder::new().with_bucket_name("tier-e2e");
    for (k, v) in moto.env() {
        if let Ok(key) = k.to_ascii_lowercase().parse() {
            b = b.with_config(key, v);
        }
    }
    Arc::new(b.build().unwrap())
}

/// Writes `keys` keys of ~`value_len` bytes into partitions 0 and 1, in big batches.
async fn fill(kv: &Kv, keys: usize, value_len: usize) -> Duration {
    let started = Instant::now();
    let per_batch = (700_000 / (value_len + 40)).max(1);
    let mut futs = Vec::new();
    for p in 0..2i32 {
        let kv = kv.clone();
        futs.push(tokio::spawn(async move {
            let mine: Vec<usize> = (0..keys).filter(|i| *i % 2 == p as usize).collect();
            for chunk in mine.chunks(per_batch) {
                let puts: Vec<_> = chunk
                    .iter()
                    .map(|i| {
                        let v = format!("{i:0width$}", width = value_len);
                        json!({"key": b64(format!("key-{i:08}")), "value": b64(v)})
                    })
                    .collect();
                let r = kv
                    .call("kv", p, "write", &json!({"puts": puts}))
                    .await
                    .unwrap();
                assert_eq!(r.status, 200, "{}", r.body);
            }
        }));
    }
    for f in futs {
        f.await.unwrap();
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand"]
async fn tier_bench_upload_throughput_vs_raw_puts() {
    let target = TierTarget::s3("bench-upload").await.unwrap();
    let moto = target.moto.as_ref().unwrap();
    let store = s3(moto);
    let seg = vec![7u8; 1 << 20];
    let n = 64;
    for conc in [1usize, 8] {
        let started = Instant::now();
        futures::stream::iter(0..n)
            .map(|i| {
                let store = store.clone();
                let seg = seg.clone();
                async move {
                    store
                        .put(
                            &Path::from(format!("raw/{conc}/{i:05}")),
                            PutPayload::from(seg),
                        )
                        .await
                        .unwrap();
                }
            })
            .buffer_unordered(conc)
            .collect::<Vec<_>>()
            .await;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "raw object_store puts, 1 MiB objects, concurrency {conc}: {n} in {secs:.2}s = {:.1} MiB/s",
            n as f64 / secs
        );
    }

    // The broker: the uploader idles (--tier-poll-ms 1h) while the data is
    // written, then the graceful shutdown uploads all of it in 1 MiB segments
    // (8 at a time per partition, then one manifest): the shutdown time is the
    // upload time, LMDB reads and encoding included.
    let tmp = tempfile::tempdir().unwrap();
    let mut b = target
        .broker(
            &data_dir(&tmp, "a"),
            &[
                "--topic",
                "kv:2:segment.bytes=1048576",
                "--tier-snapshot-interval-ms",
                "3600000",
                "--tier-poll-ms",
                "3600000",
            ],
        )
        .unwrap();
    let kv = Kv::new(b.url());
    let keys = 400_000;
    let wrote = fill(&kv, keys, 150).await;
    let started = Instant::now();
    assert!(b.terminate().unwrap().success());
    let secs = started.elapsed().as_secs_f64();
    let objects: Vec<_> = store
        .list(Some(&Path::from("bench-upload/topics")))
        .collect::<Vec<_>>()
        .await;
    let (mut segs, mut bytes) = (0, 0u64);
    for o in objects.into_iter().flatten() {
        if o.location.as_ref().ends_with(".seg") {
            segs += 1;
            bytes += o.size;
        }
    }
    eprintln!(
        "broker: {keys} keys written in {:.1}s; shutdown uploaded {segs} segments, {:.1} MiB, in {secs:.2}s = {:.1} MiB/s",
        wrote.as_secs_f64(),
        bytes as f64 / MIB,
        bytes as f64 / MIB / secs
    );
}

async fn restore_once(target: &TierTarget, keys: usize, snapshot: bool) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = data_dir(&tmp, "a");
    let interval = if snapshot { "2000" } else { "3600000" };
    let mut a = target
        .broker(
            &dir,
            &[
                "--topic",
                "kv:2:segment.bytes=8388608,segment.ms=1000",
                "--tier-snapshot-interval-ms",
                interval,
            ],
        )
        .unwrap();
    let kv = Kv::new(a.url());
    let wrote = fill(&kv, keys, 100).await;
    eprintln!("{keys} keys written in {:.1}s", wrote.as_secs_f64());
    if snapshot {
        wait_for(&a.url(), Duration::from_secs(600), |s| {
            (0..2).all(|p| {
                let ps = part_status(s, "kv", p);
                ps["last_snapshot_offset"].as_u64().is_some()
                    && ps["last_snapshot_offset"] == ps["high_watermark"]
            })
        })
        .await
        .unwrap();
    }
    let t = Instant::now();
    assert!(a.terminate().unwrap().success());
    eprintln!(
        "shutdown (uploading the open segments) took {:.1}s",
        t.elapsed().as_secs_f64()
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let started = Instant::now();
    let b = target.broker(&data_dir(&tmp, "b"), &[]).unwrap();
    let took = started.elapsed();
    let kv_b = Kv::new(b.url());
    let n: usize =
        view(&kv_b, "kv", 0).await.unwrap().len() + view(&kv_b, "kv", 1).await.unwrap().len();
    assert_eq!(n, keys);
    eprintln!(
        "restore of {keys} keys ({}) on {}: ready after {:.1}s",
        if snapshot {
            "from a snapshot"
        } else {
            "by replaying segments"
        },
        target.url,
        took.as_secs_f64()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run by hand"]
async fn tier_bench_restore_1m_keys() {
    let keys: usize = std::env::var("TIER_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let target = TierTarget::s3("bench-restore").await.unwrap();
    restore_once(&target, keys, false).await;
    let target = TierTarget::s3("bench-restore-snap").await.unwrap();
    restore_once(&target, keys, true).await;
}
