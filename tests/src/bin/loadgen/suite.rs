//! `loadgen suite`: every workload against every system, the markdown table
//! and its `RATIOS` line.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use crate::conn::wait_ready;
use crate::measure::{Row, RunSpec, preload, run};
use crate::procs::{sibling_bin, spawn_announcing, start_etcd};
use crate::workload::{PLAN, System, Workload};

#[derive(Parser, Clone)]
pub struct SuiteArgs {
    /// 100k keys and short runs (about 3 minutes in all).
    #[arg(long)]
    quick: bool,
    /// Where to write the markdown table.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Key counts to preload and measure at, comma-separated
    /// (default 10000,1000000; quick: 100000).
    #[arg(long, value_delimiter = ',')]
    levels: Vec<u64>,
    /// Key count of the dev-broker-only batch-get run (default 10000000; with --quick
    /// or --levels: none; 0: skip).
    #[arg(long)]
    big_keys: Option<u64>,
    /// Warm-up seconds per run (default 2; quick: 1).
    #[arg(long)]
    warmup: Option<f64>,
    /// Measured seconds per run (default 10; quick: 3).
    #[arg(long)]
    duration: Option<f64>,
    /// Systems to run (default all).
    #[arg(long, value_delimiter = ',')]
    systems: Vec<System>,
    /// Workloads to run (default all).
    #[arg(long, value_delimiter = ',')]
    workloads: Vec<Workload>,
    /// Use a dev broker already running at this address (with a `bench` topic)
    /// instead of starting one, e.g. to profile it.
    #[arg(long)]
    devbroker_addr: Option<SocketAddr>,
    /// Keys already loaded in the systems (with --devbroker-addr): preload skips them.
    #[arg(long, default_value_t = 0)]
    preloaded: u64,
    /// Directory for the systems' data (default: a temporary directory).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

pub async fn suite(args: SuiteArgs) -> Result<()> {
    let levels = if !args.levels.is_empty() {
        args.levels.clone()
    } else if args.quick {
        vec![100_000]
    } else {
        vec![10_000, 1_000_000]
    };
    let big = args
        .big_keys
        .unwrap_or(if args.quick || !args.levels.is_empty() {
            0
        } else {
            10_000_000
        });
    let warmup = Duration::from_secs_f64(args.warmup.unwrap_or(if args.quick { 1.0 } else { 2.0 }));
    let duration =
        Duration::from_secs_f64(args.duration.unwrap_or(if args.quick { 3.0 } else { 10.0 }));
    let systems = if args.systems.is_empty() {
        vec![System::Devbroker, System::Etcd, System::Noop]
    } else {
        args.systems.clone()
    };
    let workloads = if args.workloads.is_empty() {
        vec![
            Workload::Puts,
            Workload::BatchGet,
            Workload::Scan,
            Workload::Cas,
        ]
    } else {
        args.workloads.clone()
    };
    let temp = tempfile::Builder::new()
        .prefix("rpkv-bench-")
        .tempdir_in(args.data_root.clone().unwrap_or_else(std::env::temp_dir))?;
    let root = temp.path().to_path_buf();

    // Start what is needed.
    let mut procs = Vec::new();
    let mut addrs: Vec<(System, SocketAddr)> = Vec::new();
    if systems.contains(&System::Devbroker) {
        let addr = match args.devbroker_addr {
            Some(a) => a,
            None => {
                let mut cmd = Command::new(sibling_bin("devbroker")?);
                cmd.arg("serve")
                    .arg("--data-dir")
                    .arg(root.join("devbroker"))
                    .args(["--http-addr", "127.0.0.1:0"])
                    .args(["--kafka-addr", "127.0.0.1:0"])
                    .args(["--topic", "bench:1"]);
                let (p, a) = spawn_announcing("devbroker", cmd)?;
                procs.push(p);
                a
            }
        };
        eprintln!("loadgen: devbroker on {addr}");
        addrs.push((System::Devbroker, addr));
    }
    if systems.contains(&System::Etcd) {
        let (p, a) = start_etcd(&root)?;
        procs.push(p);
        wait_ready(a, "/v3/kv/range", r#"{"key":"AA=="}"#).await?;
        eprintln!("loadgen: etcd on {a}");
        addrs.push((System::Etcd, a));
    }
    if systems.contains(&System::Noop) {
        let mut cmd = Command::new(sibling_bin("noop_server")?);
        cmd.args(["--http-addr", "127.0.0.1:0"]);
        let (p, a) = spawn_announcing("noop", cmd)?;
        procs.push(p);
        eprintln!("loadgen: noop on {a}");
        addrs.push((System::Noop, a));
    }
    let addr_of = |s: System| addrs.iter().find(|(x, _)| *x == s).map(|(_, a)| *a);

    let mut rows: Vec<Row> = Vec::new();
    let mut loaded = args.preloaded;
    for &level in &levels {
        for &(system, addr) in &addrs {
            if system != System::Noop {
                preload(system, addr, loaded, level).await?;
            }
        }
        loaded = level;
        for &(workload, conns) in PLAN {
            if !workloads.contains(&workload) {
                continue;
            }
            for &(system, addr) in &addrs {
                if system == System::Noop && workload != Workload::BatchGet {
                    continue;
                }
                let spec = RunSpec {
                    system,
                    addr,
                    workload,
                    keys: level,
                    conns,
                    warmup,
                    duration,
                };
                rows.push(run(&spec).await?);
            }
        }
    }
    if big > 0
        && let Some(addr) = addr_of(System::Devbroker)
        && workloads.contains(&Workload::BatchGet)
    {
        preload(System::Devbroker, addr, loaded, big).await?;
        for conns in [16, 64] {
            let spec = RunSpec {
                system: System::Devbroker,
                addr,
                workload: Workload::BatchGet,
                keys: big,
                conns,
                warmup,
                duration,
            };
            rows.push(run(&spec).await?);
        }
    }
    drop(procs);

    let ratio_level = if args.quick {
        levels[0]
    } else {
        levels
            .iter()
            .copied()
            .find(|&l| l == 1_000_000)
            .unwrap_or(*levels.last().unwrap_or(&0))
    };
    let report = render(&rows, ratio_level, &args, warmup, duration);
    print!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("loadgen: wrote {}", out.display());
    }
    Ok(())
}

fn find(rows: &[Row], s: System, w: Workload, keys: u64, conns: usize) -> Option<&Row> {
    rows.iter()
        .find(|r| r.system == s && r.workload == w && r.keys == keys && r.conns == conns)
}

fn ratio(a: Option<&Row>, b: Option<&Row>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b.ops_per_s > 0.0 => Some(a.ops_per_s / b.ops_per_s),
        _ => None,
    }
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "n/a".to_string(), |r| format!("{r:.2}"))
}

fn render(
    rows: &[Row],
    ratio_level: u64,
    args: &SuiteArgs,
    warmup: Duration,
    duration: Duration,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| system | workload | keys | conns | throughput (ops/s) | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | ratio |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let ratio = match r.system {
            System::Devbroker => {
                let etcd = find(rows, System::Etcd, r.workload, r.keys, r.conns);
                ratio(Some(r), etcd).map(|x| format!("{x:.2}x etcd"))
            }
            System::Noop => {
                let dev = find(rows, System::Devbroker, r.workload, r.keys, r.conns);
                ratio(dev, Some(r)).map(|x| format!("devbroker {:.0}%", x * 100.0))
            }
            System::Etcd => None,
        };
        let keys = if r.system == System::Noop {
            "-".to_string()
        } else {
            r.keys.to_string()
        };
        let mut workload = r.workload.name().to_string();
        if r.workload == Workload::Cas {
            let _ = write!(workload, ", {:.2} conflicts/op", r.conflicts_per_op);
        }
        if r.errors > 0 {
            let _ = write!(workload, " ({} errors)", r.errors);
        }
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
            r.system.name(),
            workload,
            keys,
            r.conns,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.max_ms,
            ratio.unwrap_or_default()
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "{} run: warm-up {:.0} s, measured {:.0} s per row; 16-byte keys, 256-byte values; \
         an op is one request (batch_get: 100 keys, scan: 1000 entries), a CAS op is one \
         successful increment including its retries.",
        if args.quick { "Quick" } else { "Full" },
        warmup.as_secs_f64(),
        duration.as_secs_f64()
    );
    let _ = writeln!(s);
    let l = ratio_level;
    let d = System::Devbroker;
    let e = System::Etcd;
    let puts = ratio(
        find(rows, d, Workload::Puts, l, 64),
        find(rows, e, Workload::Puts, l, 64),
    );
    let bg = ratio(
        find(rows, d, Workload::BatchGet, l, 64),
        find(rows, e, Workload::BatchGet, l, 64),
    );
    let scan = ratio(
        find(rows, d, Workload::Scan, l, 64),
        find(rows, e, Workload::Scan, l, 64),
    );
    let cas = ratio(
        find(rows, d, Workload::Cas, l, 16),
        find(rows, e, Workload::Cas, l, 16),
    );
    let ceiling = ratio(
        find(rows, d, Workload::BatchGet, l, 64),
        find(rows, System::Noop, Workload::BatchGet, l, 64),
    );
    let _ = writeln!(
        s,
        "RATIOS puts={} batch_get={} scan={} cas={} ceiling={}",
        fmt_ratio(puts),
        fmt_ratio(bg),
        fmt_ratio(scan),
        fmt_ratio(cas),
        fmt_ratio(ceiling)
    );
    s
}
