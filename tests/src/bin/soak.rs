//! Soak load generator (a benchmark, not a test): mixed kvstore and produce load
//! against a running broker for a while, printing p50/p99 latency per operation
//! and the broker's resident memory every interval. Driven by tests/bench/soak.sh.
//!
//! usage: soak URL PID DURATION_SECS INTERVAL_SECS [CONNECTIONS]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rpkv_e2e::{Kv, b64, sha256_hex, unb64};
use serde_json::json;

const OPS: [&str; 5] = ["put", "cas", "batch_get", "scan", "produce"];
const KEYS: u64 = 100_000;
const COUNTERS: u64 = 64;

type Samples = Arc<Mutex<BTreeMap<&'static str, Vec<u32>>>>;

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// A `/proc/PID/status` field in KiB: `VmRSS` (all resident memory, including
/// the LMDB file pages mapped in) or `RssAnon` (heap and stacks only).
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn pct(v: &mut [u32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    f64::from(v[i]) / 1000.0
}

async fn one(kv: &Kv, rng: &mut Rng, op: &str) -> Result<()> {
    let value = "v".repeat(100);
    match op {
        "put" => {
            let k = format!("key{:06}", rng.below(KEYS));
            let s = kv.put("soak", 0, k.as_bytes(), value.as_bytes()).await?;
            if s != 200 {
                bail!("put answered {s}");
            }
        }
        "cas" => {
            let k = format!("counter{:02}", rng.below(COUNTERS));
            let cur = kv.get("soak", 0, k.as_bytes()).await?;
            let n: u64 = cur
                .as_deref()
                .and_then(|c| std::str::from_utf8(c).ok()?.parse().ok())
                .unwrap_or(0);
            let pre = match &cur {
                Some(c) => json!({"ifMatches": {"sha256Hash": sha256_hex(c)}}),
                None => json!({"ifExists": {"exists": false}}),
            };
            let body = json!({"puts": [{"key": b64(&k), "value": b64((n + 1).to_string()), "precondition": pre}]});
            let r = kv.call("soak", 0, "write", &body).await?;
            if r.status != 200 && r.status != 409 {
                bail!("cas answered {}", r.status);
            }
        }
        "batch_get" => {
            let keys: Vec<String> = (0..100)
                .map(|_| b64(format!("key{:06}", rng.below(KEYS))))
                .collect();
            let r = kv
                .call("soak", 0, "batch_get", &json!({"keys": keys}))
                .await?;
            if r.status != 200 {
                bail!("batch_get answered {}", r.status);
            }
        }
        "scan" => {
            let start = b64(format!("key{:06}", rng.below(KEYS)));
            let r = kv
                .call(
                    "soak",
                    0,
                    "scan",
                    &json!({"startKey": start, "limit": 1000}),
                )
                .await?;
            if r.status != 200 {
                bail!("scan answered {}", r.status);
            }
            let _ = r.body["entries"]
                .as_array()
                .map(|e| e.first().map(|x| unb64(x["key"].as_str().unwrap_or(""))));
        }
        _ => {
            let body = json!({"records": [{"key": b64(format!("p{}", rng.below(1000))), "value": b64(&value)}]});
            let r = kv
                .http
                .post(format!("{}/topics/soak-log", kv.base))
                .header("content-type", "application/vnd.kafka.binary.v2+json")
                .body(body.to_string())
                .send()
                .await?;
            if r.status() != 200 {
                bail!("produce answered {}", r.status());
            }
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        bail!("usage: soak URL PID DURATION_SECS INTERVAL_SECS [CONNECTIONS]");
    }
    let url = args[1].clone();
    let pid: u32 = args[2].parse().context("PID")?;
    let duration = Duration::from_secs(args[3].parse().context("DURATION_SECS")?);
    let interval = Duration::from_secs(args[4].parse().context("INTERVAL_SECS")?);
    let conns: u64 = args.get(5).map(|s| s.parse()).transpose()?.unwrap_or(16);
    let samples: Samples = Arc::new(Mutex::new(BTreeMap::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for c in 0..conns {
        let (kv, samples, errors) = (Kv::new(url.clone()), samples.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (c + 1));
            while Instant::now() < deadline {
                // Weights: put 40, cas 15, batch_get 20, scan 10, produce 15.
                let op = match rng.below(100) {
                    0..40 => "put",
                    40..55 => "cas",
                    55..75 => "batch_get",
                    75..85 => "scan",
                    _ => "produce",
                };
                let started = Instant::now();
                match one(&kv, &mut rng, op).await {
                    Ok(()) => {
                        let us = started.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                        if let Ok(mut s) = samples.lock() {
                            s.entry(op).or_default().push(us);
                        }
                    }
                    Err(e) => {
                        if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
                            eprintln!("soak: {op} failed: {e}");
                        }
                    }
                }
            }
        }));
    }
    print!(
        "{:>6} {:>8} {:>9} {:>10}",
        "t_s", "ops/s", "rss_MiB", "anon_MiB"
    );
    for op in OPS {
        print!(" {:>17}", format!("{op} p50/p99 ms"));
    }
    println!();
    let started = Instant::now();
    while Instant::now() < deadline {
        tokio::time::sleep(interval.min(deadline.saturating_duration_since(Instant::now()))).await;
        let taken = std::mem::take(&mut *samples.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
        let total: usize = taken.values().map(Vec::len).sum();
        print!(
            "{:>6.0} {:>8.0} {:>9.1} {:>10.1}",
            started.elapsed().as_secs_f64(),
            total as f64 / interval.as_secs_f64(),
            status_kib(pid, "VmRSS:") as f64 / 1024.0,
            status_kib(pid, "RssAnon:") as f64 / 1024.0
        );
        for op in OPS {
            let mut v = taken.get(op).cloned().unwrap_or_default();
            let (p50, p99) = (pct(&mut v, 0.50), pct(&mut v, 0.99));
            print!(" {:>17}", format!("{p50:.2}/{p99:.2}"));
        }
        println!();
    }
    for t in tasks {
        let _ = t.await;
    }
    println!(
        "errors: {}",
        errors.load(std::sync::atomic::Ordering::Relaxed)
    );
    Ok(())
}
