//! One measured run (closed loop, fixed concurrency, warm-up then a fixed
//! window, latencies in an HDR histogram) and the preload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;
use hdrhistogram::Histogram;
use hyper::http::Uri;
use rpkv_e2e::bench::{b64, key, value};
use serde_json::{Value, json};

use crate::conn::Conn;
use crate::workload::{
    Paths, Rng, System, TOPIC_PATH, Workload, body, cas_once, check_reply, path_of, request_pool,
};

struct Outcome {
    hist: Histogram<u64>,
    ops: u64,
    conflicts: u64,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Clone)]
pub struct Row {
    pub system: System,
    pub workload: Workload,
    pub keys: u64,
    pub conns: usize,
    pub ops_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub conflicts_per_op: f64,
    pub errors: u64,
}

pub struct RunSpec {
    pub system: System,
    pub addr: SocketAddr,
    pub workload: Workload,
    pub keys: u64,
    pub conns: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

pub async fn run(spec: &RunSpec) -> Result<Row> {
    let mut rng = Rng::new(spec.keys ^ spec.conns as u64 ^ 0xbe7c);
    let pool = Arc::new(request_pool(
        spec.system,
        spec.workload,
        spec.keys,
        &mut rng,
    ));
    let path: Uri = path_of(spec.system, spec.workload).parse()?;
    let mut conns = Vec::with_capacity(spec.conns);
    for _ in 0..spec.conns {
        conns.push(Conn::open(spec.addr).await?);
    }
    let start = Instant::now();
    let measure_from = start + spec.warmup;
    let measure_to = measure_from + spec.duration;
    let mut tasks = Vec::new();
    for (w, mut conn) in conns.into_iter().enumerate() {
        let pool = pool.clone();
        let path = path.clone();
        let (system, workload) = (spec.system, spec.workload);
        let mut rng = Rng::new(w as u64 + 1 + spec.keys);
        tasks.push(tokio::spawn(async move {
            let paths = Paths::new();
            let mut out = Outcome {
                hist: Histogram::new_with_bounds(1, 60_000_000, 3)?,
                ops: 0,
                conflicts: 0,
                errors: 0,
                first_error: None,
            };
            let mut checked = false;
            loop {
                let t0 = Instant::now();
                if t0 >= measure_to {
                    break;
                }
                let result = if workload == Workload::Cas {
                    cas_once(&mut conn, system, &mut rng, &paths).await
                } else {
                    let b = pool[rng.below(pool.len() as u64) as usize].clone();
                    match conn.post_ok(&path, b).await {
                        Ok(reply) if !checked => {
                            checked = true;
                            check_reply(system, workload, &reply)?;
                            Ok(0)
                        }
                        Ok(_) => Ok(0),
                        Err(e) => Err(e),
                    }
                };
                let t1 = Instant::now();
                match result {
                    // An op counts if it completes inside the measured window, so
                    // that requests slower than the window still count.
                    Ok(conflicts) if t1 >= measure_from && t1 <= measure_to => {
                        out.hist
                            .saturating_record((t1 - t0).as_micros().max(1) as u64);
                        out.ops += 1;
                        out.conflicts += conflicts;
                    }
                    Ok(_) => {}
                    Err(e) => {
                        out.errors += 1;
                        out.first_error.get_or_insert_with(|| format!("{e:#}"));
                        if out.errors > 1000 {
                            break;
                        }
                        // A broken connection stays broken: open a new one.
                        if conn.sender.is_closed() {
                            conn = Conn::open(spec_addr(&conn)).await?;
                        }
                    }
                }
            }
            Ok::<_, anyhow::Error>(out)
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let (mut ops, mut conflicts, mut errors) = (0, 0, 0);
    let mut first_error = None;
    for t in tasks {
        let o = t.await??;
        hist.add(&o.hist)?;
        ops += o.ops;
        conflicts += o.conflicts;
        errors += o.errors;
        if first_error.is_none() {
            first_error = o.first_error;
        }
    }
    if let Some(e) = first_error {
        eprintln!(
            "loadgen: {} {} had {errors} errors; first: {e}",
            spec.system.name(),
            spec.workload.name()
        );
    }
    let secs = spec.duration.as_secs_f64();
    let row = Row {
        system: spec.system,
        workload: spec.workload,
        keys: spec.keys,
        conns: spec.conns,
        ops_per_s: ops as f64 / secs,
        p50_ms: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        p999_ms: hist.value_at_quantile(0.999) as f64 / 1000.0,
        max_ms: hist.max() as f64 / 1000.0,
        conflicts_per_op: if ops > 0 {
            conflicts as f64 / ops as f64
        } else {
            0.0
        },
        errors,
    };
    eprintln!(
        "loadgen: {:<9} {:<17} keys={:<9} conns={:<3} {:>10.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms  p99.9 {:>7.2} ms  max {:>7.2} ms{}",
        row.system.name(),
        row.workload.name(),
        row.keys,
        row.conns,
        row.ops_per_s,
        row.p50_ms,
        row.p99_ms,
        row.p999_ms,
        row.max_ms,
        if row.workload == Workload::Cas {
            format!("  conflicts/op {:.2}", row.conflicts_per_op)
        } else {
            String::new()
        }
    );
    Ok(row)
}

fn spec_addr(conn: &Conn) -> SocketAddr {
    conn.host
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// Loads keys `from..to` with big batches from a few connections.
pub async fn preload(system: System, addr: SocketAddr, from: u64, to: u64) -> Result<()> {
    if from >= to {
        return Ok(());
    }
    let started = Instant::now();
    // The dev broker takes up to max.message.bytes (1 MiB) per write: ~293 bytes a record.
    // etcd takes up to --max-txn-ops puts per txn.
    let batch: u64 = match system {
        System::Etcd => 2000,
        _ => 3000,
    };
    let next = Arc::new(AtomicU64::new(from));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = Conn::open(addr).await?;
            let path: Uri = match system {
                System::Etcd => "/v3/kv/txn".parse()?,
                _ => format!("{TOPIC_PATH}/write").parse()?,
            };
            loop {
                let lo = next.fetch_add(batch, Ordering::Relaxed);
                if lo >= to {
                    return Ok::<_, anyhow::Error>(());
                }
                let hi = (lo + batch).min(to);
                let req = match system {
                    System::Etcd => {
                        let ops: Vec<Value> = (lo..hi)
                            .map(|i| json!({"request_put": {"key": b64(key(i)), "value": b64(value(i))}}))
                            .collect();
                        json!({ "success": ops })
                    }
                    _ => {
                        let puts: Vec<Value> = (lo..hi)
                            .map(|i| json!({"key": b64(key(i)), "value": b64(value(i))}))
                            .collect();
                        json!({ "puts": puts })
                    }
                };
                conn.post_ok(&path, body(&req)).await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "loadgen: preloaded {} keys {from}..{to} in {secs:.1}s ({:.0} keys/s)",
        system.name(),
        (to - from) as f64 / secs
    );
    Ok(())
}
