//! Flaky bucket: a fault-injecting proxy (`rpkv_e2e::flaky_proxy`) sits between
//! the broker and moto's S3 server. While it delays requests, answers 500/503
//! and drops connections (before and after the bucket handled the request),
//! thousands of writes all succeed quickly; once it is clean again the uploads
//! catch up, and a fresh broker restores exactly what was written, through the
//! flaky proxy (started again on the same data dir if a restore fails).

mod tier_support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rpkv_e2e::Kv;
use rpkv_e2e::flaky_proxy::{FaultCounts, Faults, FlakyProxy};
use tier_support::*;

const TOPIC: &str = "kv";
const KEYS: usize = 3000;
/// The proxy's fault schedule is a function of this seed and the request order.
const SEED: u64 = 0x5eed_0008;

fn key(i: usize) -> String {
    format!("key-{i:05}")
}

fn value(i: usize, round: usize) -> String {
    format!("value-{i}-round-{round}-{}", "v".repeat(40 + i % 50))
}

/// What was written, per partition: the view a broker must show.
type Expected = [BTreeMap<Vec<u8>, Vec<u8>>; 2];

/// Writes one batch per partition (keys by parity) and records it in `expected`;
/// how long the slowest of the two writes took.
async fn write_batch(
    kv: &Kv,
    expected: &mut Expected,
    puts: &[(usize, String)],
    deletes: &[usize],
) -> anyhow::Result<Duration> {
    let mut slowest = Duration::ZERO;
    for (p, view) in expected.iter_mut().enumerate() {
        let puts: Vec<(String, String)> = puts
            .iter()
            .filter(|(i, _)| i % 2 == p)
            .map(|(i, v)| (key(*i), v.clone()))
            .collect();
        let deletes: Vec<String> = deletes
            .iter()
            .filter(|i| *i % 2 == p)
            .map(|i| key(*i))
            .collect();
        let started = Instant::now();
        write(kv, TOPIC, p as i32, &puts, &deletes).await?;
        slowest = slowest.max(started.elapsed());
        for (k, v) in puts {
            view.insert(k.into_bytes(), v.into_bytes());
        }
        for k in deletes {
            view.remove(k.as_bytes());
        }
    }
    Ok(slowest)
}

/// `devbroker_tier_upload_failures_total` from `/metrics`.
async fn upload_failures_metric(base: &str) -> anyhow::Result<u64> {
    let text = rpkv_e2e::get(format!("{base}/metrics"))
        .await?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("devbroker_tier_upload_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no devbroker_tier_upload_failures_total in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tier_flaky_bucket_loses_nothing() {
    let started = Instant::now();
    let mut target = TierTarget::s3("flaky").await.unwrap();
    let moto_endpoint = target.moto.as_ref().unwrap().endpoint.clone();
    let proxy = FlakyProxy::start(&moto_endpoint, SEED).await.unwrap();
    for (k, v) in target.env.iter_mut() {
        if k == "AWS_ENDPOINT_URL" {
            *v = proxy.endpoint();
        }
    }
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

    // The flaky phase: every write succeeds, none waits on the bucket. Round 1
    // writes every key, round 2 overwrites every 5th and deletes every 13th;
    // then rounds of overwrites go on until every kind of fault was injected a
    // few times and the broker saw uploads fail (bounded).
    proxy.set_faults(Faults::flaky());
    let flaky_from = proxy.counts();
    let mut expected: Expected = Default::default();
    let mut slowest = Duration::ZERO;
    let all: Vec<usize> = (0..KEYS).collect();
    for chunk in all.chunks(20) {
        let puts: Vec<(usize, String)> = chunk.iter().map(|i| (*i, value(*i, 1))).collect();
        slowest = slowest.max(write_batch(&kv, &mut expected, &puts, &[]).await.unwrap());
    }
    for chunk in all.chunks(100) {
        let puts: Vec<(usize, String)> = chunk
            .iter()
            .filter(|i| *i % 5 == 0)
            .map(|i| (*i, value(*i, 2)))
            .collect();
        let deletes: Vec<usize> = chunk
            .iter()
            .copied()
            .filter(|i| i % 13 == 0 && i % 5 != 0)
            .collect();
        slowest = slowest.max(
            write_batch(&kv, &mut expected, &puts, &deletes)
                .await
                .unwrap(),
        );
    }
    eprintln!(
        "{KEYS} keys written in {:?}: {:?}",
        started.elapsed(),
        proxy.counts()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut round = 3;
    let injected = loop {
        let c = proxy.counts();
        let failures = upload_failures_metric(&a.url()).await.unwrap();
        let enough = [
            c.delayed,
            c.errors_500,
            c.errors_503,
            c.dropped_before,
            c.dropped_after,
        ]
        .iter()
        .all(|n| *n >= 3)
            && c.brownout >= 1
            && failures >= 1;
        if enough || Instant::now() > deadline {
            break (c, failures);
        }
        let keys: Vec<usize> = (round % 7..KEYS).step_by(7).collect();
        for chunk in keys.chunks(40) {
            let puts: Vec<(usize, String)> = chunk.iter().map(|i| (*i, value(*i, round))).collect();
            slowest = slowest.max(write_batch(&kv, &mut expected, &puts, &[]).await.unwrap());
        }
        round += 1;
    };
    assert!(
        slowest < Duration::from_secs(1),
        "writes must not wait on the bucket; the slowest took {slowest:?}"
    );
    let (c, failures) = injected;
    let c = FaultCounts {
        requests: c.requests - flaky_from.requests,
        ..c
    };
    eprintln!(
        "flaky phase ({:?} in, {} rounds): {c:?}; broker upload failures: {failures}",
        started.elapsed(),
        round - 1
    );
    assert!(c.delayed > 0, "no request was delayed: {c:?}");
    assert!(c.errors_500 > 0, "no 500 was injected: {c:?}");
    assert!(c.errors_503 > 0, "no 503 was injected: {c:?}");
    assert!(c.brownout > 0, "no brownout: {c:?}");
    assert!(c.dropped_before > 0, "no connection dropped before: {c:?}");
    assert!(c.dropped_after > 0, "no connection dropped after: {c:?}");
    assert_eq!(c.upstream_errors, 0, "moto was unreachable: {c:?}");
    assert!(
        failures > 0,
        "the broker counted no failed upload (devbroker_tier_upload_failures_total): {c:?}"
    );
    let status = tier_status(&a.url()).await.unwrap();
    let counted: u64 = (0..2)
        .map(|p| {
            part_status(&status, TOPIC, p)["upload_failures"]
                .as_u64()
                .unwrap()
        })
        .sum();
    assert!(counted > 0, "/status/tier counts the failures: {status}");

    // Clean again: the uploads catch up.
    proxy.set_faults(Faults::clean());
    let clean_at = Instant::now();
    let status = wait_uploaded(&a.url(), &[(TOPIC, 0), (TOPIC, 1)], Duration::from_secs(40))
        .await
        .unwrap();
    eprintln!(
        "caught up {:?} after the bucket got clean",
        clean_at.elapsed()
    );
    assert!(status["fenced"].is_null(), "{status}");
    let mut views = Vec::new();
    let mut logs = Vec::new();
    for p in 0..2 {
        let s = part_status(&status, TOPIC, p);
        let hw = s["high_watermark"].as_u64().unwrap();
        let view = view(&kv, TOPIC, p).await.unwrap();
        assert_eq!(view.len(), expected[p as usize].len(), "partition {p}");
        assert!(
            view == expected[p as usize],
            "partition {p}: the view is not what was written"
        );
        let log = log(&a.url(), TOPIC, p, hw).await.unwrap();
        assert_eq!(log.len() as u64, hw, "partition {p}: every offset readable");
        views.push(view);
        logs.push(log);
    }

    assert!(a.terminate().unwrap().success(), "SIGTERM exits 0");
    std::fs::remove_dir_all(&dir_a).unwrap();

    // A fresh broker restores through the proxy. First the bucket cannot serve
    // partition 1's segments and snapshots: the restore fails half way (partition
    // 0 is in the store) and the broker exits without saying ready.
    let dir_b = data_dir(&tmp, "b");
    proxy.set_faults(Faults {
        fail_paths: vec!["/1/segments/".into(), "/1/snapshots/".into()],
        ..Faults::clean()
    });
    let err = match target.broker(&dir_b, &[]) {
        Ok(_) => panic!("the restore succeeded without partition 1's objects"),
        Err(e) => e,
    };
    assert!(proxy.counts().failed_paths > 0, "{err:#}");
    assert!(
        dir_b.join("tier-restoring").exists(),
        "the restore had started: {err:#}"
    );
    // Started again on the same data dir, with the proxy flaky, it must not come
    // up with part of the data: it restores everything, or exits again (a
    // request failed past the client's retries); the last try is clean.
    let mut attempts = 1;
    let b = loop {
        attempts += 1;
        proxy.set_faults(if attempts < 4 {
            Faults::flaky()
        } else {
            Faults::clean()
        });
        match target.broker(&dir_b, &[]) {
            Ok(b) => break b,
            Err(e) if attempts < 4 => eprintln!("restore attempt {attempts} failed: {e:#}"),
            Err(e) => panic!("the restore failed with a clean proxy: {e:#}"),
        }
    };
    eprintln!("restored on attempt {attempts}");
    // Reads below the local log start go to the bucket: compare with it clean.
    proxy.set_faults(Faults::clean());
    let kv_b = Kv::new(b.url());
    // The restore is done once the broker is ready; the tier's own view of the
    // partitions (its first sync after the restore) may have hit a flaky request
    // and be retrying in the background: wait for it.
    let status = wait_for(&b.url(), Duration::from_secs(30), |s| {
        (0..2).all(|p| part_status(s, TOPIC, p)["high_watermark"].is_u64())
    })
    .await
    .unwrap();
    for p in 0..2 {
        let restored = view(&kv_b, TOPIC, p).await.unwrap();
        assert_eq!(restored.len(), views[p as usize].len(), "partition {p}");
        assert!(
            restored == views[p as usize],
            "partition {p}: the restored view differs"
        );
        let s = part_status(&status, TOPIC, p);
        let hw = s["high_watermark"].as_u64().unwrap();
        assert_eq!(hw, logs[p as usize].len() as u64, "{s}");
        let log = log(&b.url(), TOPIC, p, hw).await.unwrap();
        assert!(
            log == logs[p as usize],
            "partition {p}: the restored log differs"
        );
    }
    eprintln!("total {:?}; proxy: {:?}", started.elapsed(), proxy.counts());
}
