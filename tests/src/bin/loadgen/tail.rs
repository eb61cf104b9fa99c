//! `loadgen tail`: the write-latency tail run. Durable single-key puts of
//! 256-byte values over preloaded keys, at each connection level, against the
//! dev broker and etcd in turn (the order alternates by round, so neither
//! system always runs second on a warmer machine), for several rounds. Every
//! row has p50, p99, p99.9 and max; the verdict lines compare the two systems
//! within the same round and connection level.

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
use crate::stages;
use crate::workload::{System, Workload};

/// The dev broker's max must stay under this (the write-latency issue's target).
const MAX_TARGET_MS: f64 = 50.0;

#[derive(Parser, Clone)]
pub struct TailArgs {
    /// Rounds; each runs every connection level against both systems.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Measured seconds per row.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Warm-up seconds per row.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Connection levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 16])]
    conns: Vec<usize>,
    /// Keys preloaded into each system before the first round.
    #[arg(long, default_value_t = 100_000)]
    keys: u64,
    /// Extra flags for `devbroker serve` (repeatable), e.g.
    /// `--devbroker-arg=--checkpoint-interval-ms=250`.
    #[arg(long = "devbroker-arg", allow_hyphen_values = true)]
    devbroker_args: Vec<String>,
    /// A second dev broker to compare, interleaved with the first and etcd:
    /// `NAME=FLAGS` (flags split on spaces), e.g.
    /// `--variant "writeback=--checkpoint-writeback-ms=20"`, or
    /// `NAME@BINARY=FLAGS` to run another build, e.g.
    /// `--variant "old@/path/to/devbroker-old="`. Repeatable.
    #[arg(long = "variant", allow_hyphen_values = true)]
    variants: Vec<String>,
    /// Where to write the markdown table.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Directory for the systems' data (default: a temporary directory).
    #[arg(long)]
    data_root: Option<PathBuf>,
}

pub async fn tail(args: TailArgs) -> Result<()> {
    let temp = tempfile::Builder::new()
        .prefix("rpkv-tail-")
        .tempdir_in(args.data_root.clone().unwrap_or_else(std::env::temp_dir))?;
    let root = temp.path().to_path_buf();
    // Every dev broker: the default one, then the variants, each on its own data dir.
    let default_bin = sibling_bin("devbroker")?;
    let mut brokers: Vec<(String, PathBuf, Vec<String>)> = vec![(
        "devbroker".to_string(),
        default_bin.clone(),
        args.devbroker_args.clone(),
    )];
    for v in &args.variants {
        let (name, flags) = v.split_once('=').unwrap_or((v, ""));
        let (name, bin) = match name.split_once('@') {
            Some((name, bin)) => (name, PathBuf::from(bin)),
            None => (name, default_bin.clone()),
        };
        let mut all = args.devbroker_args.clone();
        all.extend(flags.split_whitespace().map(str::to_string));
        brokers.push((name.to_string(), bin, all));
    }
    let mut procs = Vec::new();
    let mut devs: Vec<(String, SocketAddr)> = Vec::new();
    for (i, (name, bin, flags)) in brokers.iter().enumerate() {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(root.join(format!("devbroker-{i}")))
            .args(["--http-addr", "127.0.0.1:0"])
            .args(["--kafka-addr", "127.0.0.1:0"])
            .args(["--topic", "bench:1"])
            .args(flags);
        let (p, addr) = spawn_announcing("devbroker", cmd)?;
        eprintln!("loadgen: {name} ({}) on {addr}", flags.join(" "));
        procs.push(p);
        preload(System::Devbroker, addr, 0, args.keys).await?;
        devs.push((name.clone(), addr));
    }
    let (etcd_proc, etcd) = start_etcd(&root)?;
    wait_ready(etcd, "/v3/kv/range", r#"{"key":"AA=="}"#).await?;
    eprintln!("loadgen: etcd on {etcd}");
    preload(System::Etcd, etcd, 0, args.keys).await?;

    let mut rows: Vec<(usize, String, Row)> = Vec::new();
    let mut breakdowns: Vec<(usize, usize, String, String)> = Vec::new();
    for round in 1..=args.rounds {
        for &conns in &args.conns {
            let mut order: Vec<(String, System, SocketAddr)> = devs
                .iter()
                .map(|(name, addr)| (name.clone(), System::Devbroker, *addr))
                .collect();
            order.push(("etcd".to_string(), System::Etcd, etcd));
            if round % 2 == 0 {
                order.reverse();
            }
            for (name, system, addr) in order {
                let spec = RunSpec {
                    system,
                    addr,
                    workload: Workload::Puts,
                    keys: args.keys,
                    conns,
                    warmup: Duration::from_secs_f64(args.warmup),
                    duration: Duration::from_secs_f64(args.duration),
                };
                let before = match system {
                    System::Devbroker => Some(stages::scrape(addr).await?),
                    _ => None,
                };
                rows.push((round, name.clone(), run(&spec).await?));
                if let Some(before) = before {
                    let after = stages::scrape(addr).await?;
                    breakdowns.push((round, conns, name, stages::render(&before, &after)));
                }
            }
        }
    }
    drop((procs, etcd_proc));

    let names: Vec<String> = devs.iter().map(|(n, _)| n.clone()).collect();
    let mut report = render(&rows, &names, &args);
    for (round, conns, name, table) in breakdowns {
        let _ = write!(
            report,
            "\n{name}, round {round}, {conns} connections: its write stages and checkpoints\n\n{table}"
        );
    }
    print!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
        eprintln!("loadgen: wrote {}", out.display());
    }
    Ok(())
}

fn render(rows: &[(usize, String, Row)], names: &[String], args: &TailArgs) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| round | conns | system | puts/s | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) |"
    );
    let _ = writeln!(s, "|---:|---:|---|---:|---:|---:|---:|---:|");
    for (round, name, r) in rows {
        let errors = if r.errors > 0 {
            format!(" ({} errors)", r.errors)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "| {round} | {} | {name}{errors} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.conns, r.ops_per_s, r.p50_ms, r.p99_ms, r.p999_ms, r.max_ms
        );
    }
    let _ = writeln!(
        s,
        "\nTail run: {} rounds, {:.0} s measured per row after {:.0} s of warm-up, {} keys \
         preloaded, single-key durable puts of 256-byte values.\n",
        args.rounds, args.duration, args.warmup, args.keys
    );
    let find = |round: usize, conns: usize, name: &str| {
        rows.iter()
            .find(|(r, n, row)| *r == round && row.conns == conns && n == name)
            .map(|(_, _, row)| row)
    };
    let yes = |b: bool| if b { "yes" } else { "NO" };
    for name in names {
        for round in 1..=args.rounds {
            for &conns in &args.conns {
                let (Some(d), Some(e)) = (find(round, conns, name), find(round, conns, "etcd"))
                else {
                    continue;
                };
                let _ = writeln!(
                    s,
                    "VERDICT {name} round={round} conns={conns} p99<=etcd:{} p99.9<=etcd:{} max<{MAX_TARGET_MS}ms:{}",
                    yes(d.p99_ms <= e.p99_ms),
                    yes(d.p999_ms <= e.p999_ms),
                    yes(d.max_ms < MAX_TARGET_MS)
                );
            }
        }
    }
    s
}
