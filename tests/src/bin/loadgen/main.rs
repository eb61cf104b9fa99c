//! The benchmark's one load generator (`tests/bench/run.sh`).
//!
//! `loadgen suite` starts the dev broker, a single-node etcd and the no-op server
//! on loopback, preloads keys, drives every workload against each of them over
//! keep-alive HTTP/1.1 connections (one per concurrent worker, closed loop, fixed
//! concurrency, warm-up then a fixed measured duration), and writes a markdown
//! table ending with a `RATIOS ...` line. `loadgen tail` is the write-latency
//! tail run: single-key durable puts, dev broker and etcd interleaved, rounds
//! repeated, p50 to max per row.
//!
//! Same shapes everywhere: 16-byte keys, 256-byte values (see `rpkv_e2e::bench`).

mod conn;
mod measure;
mod procs;
mod stages;
mod suite;
mod tail;
mod workload;

use anyhow::Result;
use clap::Parser;

#[derive(Parser)]
#[command(about = "Load generator of the rpkv benchmark")]
enum Cli {
    /// Start the systems, preload, run every workload, print and write the table.
    Suite(suite::SuiteArgs),
    /// Write-latency tails: single-key puts, dev broker and etcd interleaved.
    Tail(tail::TailArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli {
        Cli::Suite(args) => runtime.block_on(suite::suite(args)),
        Cli::Tail(args) => runtime.block_on(tail::tail(args)),
    }
}
