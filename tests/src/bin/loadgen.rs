//! The benchmark's one load generator (`tests/bench/run.sh`).
//!
//! `loadgen suite` starts the dev broker, a single-node etcd and the no-op server
//! on loopback, preloads keys, drives every workload against each of them over
//! keep-alive HTTP/1.1 connections (one per concurrent worker, closed loop, fixed
//! concurrency, warm-up then a fixed measured duration), and writes a markdown
//! table ending with a `RATIOS ...` line.
//!
//! Same shapes everywhere: 16-byte keys, 256-byte values (see `rpkv_e2e::bench`).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use rpkv_e2e::bench::{b64, counter_value, key, parse_counter, value};
use serde_json::{Value, json};
use sha2::Digest;

#[derive(Parser)]
#[command(about = "Load generator of the rpkv benchmark")]
enum Cli {
    /// Start the systems, preload, run every workload, print and write the table.
    Suite(SuiteArgs),
}

#[derive(Parser, Clone)]
struct SuiteArgs {
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum System {
    Devbroker,
    Etcd,
    Noop,
}

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Devbroker => "devbroker",
            System::Etcd => "etcd",
            System::Noop => "noop",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Puts,
    BatchGet,
    Scan,
    Cas,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Puts => "put",
            Workload::BatchGet => "batch_get(100)",
            Workload::Scan => "scan(1000)",
            Workload::Cas => "cas(16 hot keys)",
        }
    }
}

/// The runs at each key count: workload and connections.
const PLAN: &[(Workload, usize)] = &[
    (Workload::Puts, 1),
    (Workload::Puts, 16),
    (Workload::Puts, 64),
    (Workload::BatchGet, 16),
    (Workload::BatchGet, 64),
    (Workload::Scan, 16),
    (Workload::Scan, 64),
    (Workload::Cas, 16),
];

const TOPIC_PATH: &str = "/kvstore/bench/partition/0";
const BATCH_GET_KEYS: usize = 100;
const SCAN_LIMIT: u64 = 1000;
const HOT_KEYS: u64 = 16;

fn main() -> Result<()> {
    let Cli::Suite(args) = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(suite(args))
}

// ---------------------------------------------------------------- processes

/// A child process killed when dropped.
struct Proc {
    name: &'static str,
    child: Child,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        eprintln!("loadgen: stopped {}", self.name);
    }
}

/// A binary next to this one (target/release/NAME), or NAME_BIN from the environment.
fn sibling_bin(name: &str) -> Result<PathBuf> {
    let var = format!("{}_BIN", name.to_uppercase());
    if let Some(p) = std::env::var_os(&var) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let path = exe.parent().context("exe dir")?.join(name);
    if !path.exists() {
        bail!("{} not found (build it, or set {var})", path.display());
    }
    Ok(path)
}

/// Spawns a server that prints `PREFIX: http listening on ADDR` then `PREFIX: ready`.
fn spawn_announcing(name: &'static str, mut cmd: Command) -> Result<(Proc, SocketAddr)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if std::env::var_os("RUST_LOG").is_none() {
        cmd.env("RUST_LOG", "warn");
    }
    let mut child = cmd.spawn().with_context(|| format!("spawning {name}"))?;
    let stdout = child.stdout.take().context("stdout")?;
    let proc = Proc { name, child };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut addr = None;
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .map_err(|_| anyhow!("{name} did not become ready"))?;
        if let Some(a) = line.split_once(" http listening on ").map(|(_, a)| a) {
            addr = Some(a.trim().parse::<SocketAddr>()?);
        }
        if line.ends_with(": ready") {
            break;
        }
    }
    Ok((proc, addr.context("no http address announced")?))
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_etcd(dir: &Path) -> Result<(Proc, SocketAddr)> {
    let client = free_port()?;
    let peer = free_port()?;
    let log = std::fs::File::create(dir.join("etcd.log"))?;
    let child = Command::new("etcd")
        .args([
            "--name",
            "bench",
            "--data-dir",
            &dir.join("etcd").to_string_lossy(),
            "--listen-client-urls",
            &format!("http://127.0.0.1:{client}"),
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{client}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer}"),
            "--initial-cluster",
            &format!("bench=http://127.0.0.1:{peer}"),
            // Preload sends big transactions; the defaults are 128 ops and 1.5 MiB.
            "--max-txn-ops",
            "10000",
            "--max-request-bytes",
            "33554432",
            "--quota-backend-bytes",
            "8589934592",
            "--log-level",
            "warn",
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .context("spawning etcd (is etcd-server installed?)")?;
    Ok((
        Proc {
            name: "etcd",
            child,
        },
        SocketAddr::from(([127, 0, 0, 1], client)),
    ))
}

// ---------------------------------------------------------------- HTTP

/// One keep-alive HTTP/1.1 connection.
struct Conn {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

impl Conn {
    async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    async fn post(&mut self, path: &Uri, body: Bytes) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let req = Request::post(path.clone())
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// POSTs JSON and fails on anything but 200.
    async fn post_ok(&mut self, path: &Uri, body: Bytes) -> Result<Bytes> {
        let (status, reply) = self.post(path, body).await?;
        if status != StatusCode::OK {
            bail!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&reply[..reply.len().min(300)])
            );
        }
        Ok(reply)
    }
}

async fn wait_ready(addr: SocketAddr, path: &str, body: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let uri: Uri = path.parse()?;
    loop {
        if let Ok(mut c) = Conn::open(addr).await
            && c.post_ok(&uri, Bytes::from(body.to_string())).await.is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{addr} not ready within 60s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------- requests

/// xorshift64*: cheap, seeded per worker.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn body(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

fn path_of(system: System, workload: Workload) -> &'static str {
    match (system, workload) {
        (System::Etcd, Workload::Puts) => "/v3/kv/put",
        (System::Etcd, Workload::BatchGet) => "/v3/kv/txn",
        (System::Etcd, Workload::Scan) => "/v3/kv/range",
        (System::Etcd, Workload::Cas) => "/v3/kv/range",
        (_, Workload::Puts) => "/kvstore/bench/partition/0/write",
        (_, Workload::BatchGet) => "/kvstore/bench/partition/0/batch_get",
        (_, Workload::Scan) => "/kvstore/bench/partition/0/scan",
        (_, Workload::Cas) => "/kvstore/bench/partition/0/batch_get",
    }
}

/// A pool of request bodies, built before the clock starts so that the load
/// generator spends its CPU on requests, not on building them.
fn request_pool(system: System, workload: Workload, keys: u64, rng: &mut Rng) -> Vec<Bytes> {
    let n = match workload {
        Workload::Puts => 4096,
        _ => 512,
    };
    (0..n)
        .map(|_| match (system, workload) {
            (System::Etcd, Workload::Puts) => {
                let i = rng.below(keys);
                body(&json!({"key": b64(key(i)), "value": b64(value(i ^ 1))}))
            }
            (System::Etcd, Workload::BatchGet) => {
                let ops: Vec<Value> = (0..BATCH_GET_KEYS)
                    .map(|_| json!({"request_range": {"key": b64(key(rng.below(keys)))}}))
                    .collect();
                body(&json!({"success": ops}))
            }
            (System::Etcd, Workload::Scan) => {
                let start = rng.below(keys.saturating_sub(SCAN_LIMIT));
                // range_end "\0": every key >= key.
                body(&json!({"key": b64(key(start)), "range_end": b64([0u8]), "limit": SCAN_LIMIT}))
            }
            (_, Workload::Puts) => {
                let i = rng.below(keys);
                body(&json!({"puts": [{"key": b64(key(i)), "value": b64(value(i ^ 1))}]}))
            }
            (_, Workload::BatchGet) => {
                let ks: Vec<String> = (0..BATCH_GET_KEYS)
                    .map(|_| b64(key(rng.below(keys))))
                    .collect();
                body(&json!({ "keys": ks }))
            }
            (_, Workload::Scan) => {
                let start = rng.below(keys.saturating_sub(SCAN_LIMIT));
                body(&json!({"startKey": b64(key(start)), "limit": SCAN_LIMIT}))
            }
            (_, Workload::Cas) => Bytes::new(),
        })
        .collect()
}

/// Checks that a reply is what the workload expects (once per worker, so a
/// misconfigured run fails instead of measuring errors).
fn check_reply(system: System, workload: Workload, reply: &[u8]) -> Result<()> {
    if system == System::Noop {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(reply).context("reply is not JSON")?;
    let ok = match (system, workload) {
        (System::Etcd, Workload::BatchGet) => v["responses"].as_array().is_some_and(|r| {
            r.len() == BATCH_GET_KEYS
                && r.iter().all(|x| {
                    x["response_range"]["kvs"]
                        .as_array()
                        .is_some_and(|k| k.len() == 1)
                })
        }),
        (System::Etcd, Workload::Scan) => v["kvs"]
            .as_array()
            .is_some_and(|k| k.len() == SCAN_LIMIT as usize),
        (_, Workload::BatchGet) => v["results"]
            .as_array()
            .is_some_and(|r| r.len() == BATCH_GET_KEYS && r.iter().all(|x| x["value"].is_string())),
        (_, Workload::Scan) => v["entries"]
            .as_array()
            .is_some_and(|k| k.len() == SCAN_LIMIT as usize),
        _ => true,
    };
    if !ok {
        bail!(
            "{} {} reply is not as expected: {}",
            system.name(),
            workload.name(),
            String::from_utf8_lossy(&reply[..reply.len().min(300)])
        );
    }
    Ok(())
}

fn sha256_hex(v: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(v))
}

fn unb64(s: &str) -> Result<Vec<u8>> {
    use base64::Engine;
    Ok(base64::engine::general_purpose::STANDARD.decode(s)?)
}

/// One CAS increment of a hot key; returns the number of conflicts (retries).
async fn cas_once(conn: &mut Conn, system: System, rng: &mut Rng, paths: &Paths) -> Result<u64> {
    let k = b64(key(rng.below(HOT_KEYS)));
    let mut conflicts = 0;
    loop {
        match system {
            System::Etcd => {
                let reply = conn
                    .post_ok(&paths.etcd_range, body(&json!({ "key": k })))
                    .await?;
                let v: Value = serde_json::from_slice(&reply)?;
                let kv = &v["kvs"][0];
                let current = unb64(kv["value"].as_str().context("hot key missing")?)?;
                let rev = kv["mod_revision"].clone();
                let next = b64(counter_value(parse_counter(&current) + 1));
                let txn = json!({
                    "compare": [{"key": k, "result": "EQUAL", "target": "MOD", "mod_revision": rev}],
                    "success": [{"request_put": {"key": k, "value": next}}],
                });
                let reply = conn.post_ok(&paths.etcd_txn, body(&txn)).await?;
                let v: Value = serde_json::from_slice(&reply)?;
                if v["succeeded"].as_bool() == Some(true) {
                    return Ok(conflicts);
                }
            }
            _ => {
                let reply = conn
                    .post_ok(&paths.batch_get, body(&json!({ "keys": [k] })))
                    .await?;
                let v: Value = serde_json::from_slice(&reply)?;
                let current = unb64(
                    v["results"][0]["value"]
                        .as_str()
                        .context("hot key missing")?,
                )?;
                let next = b64(counter_value(parse_counter(&current) + 1));
                let write = json!({"puts": [{"key": k, "value": next,
                    "precondition": {"ifMatches": {"sha256Hash": sha256_hex(&current)}}}]});
                let (status, reply) = conn.post(&paths.write, body(&write)).await?;
                match status {
                    StatusCode::OK => return Ok(conflicts),
                    StatusCode::CONFLICT => {}
                    s => bail!(
                        "CAS write answered {s}: {}",
                        String::from_utf8_lossy(&reply)
                    ),
                }
            }
        }
        conflicts += 1;
    }
}

struct Paths {
    etcd_range: Uri,
    etcd_txn: Uri,
    batch_get: Uri,
    write: Uri,
}

impl Paths {
    fn new() -> Paths {
        Paths {
            etcd_range: Uri::from_static("/v3/kv/range"),
            etcd_txn: Uri::from_static("/v3/kv/txn"),
            batch_get: Uri::from_static("/kvstore/bench/partition/0/batch_get"),
            write: Uri::from_static("/kvstore/bench/partition/0/write"),
        }
    }
}

// ---------------------------------------------------------------- runs

struct Outcome {
    hist: Histogram<u64>,
    ops: u64,
    conflicts: u64,
    errors: u64,
    first_error: Option<String>,
}

#[derive(Clone)]
struct Row {
    system: System,
    workload: Workload,
    keys: u64,
    conns: usize,
    ops_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
    conflicts_per_op: f64,
    errors: u64,
}

struct RunSpec {
    system: System,
    addr: SocketAddr,
    workload: Workload,
    keys: u64,
    conns: usize,
    warmup: Duration,
    duration: Duration,
}

async fn run(spec: &RunSpec) -> Result<Row> {
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
        conflicts_per_op: if ops > 0 {
            conflicts as f64 / ops as f64
        } else {
            0.0
        },
        errors,
    };
    eprintln!(
        "loadgen: {:<9} {:<17} keys={:<9} conns={:<3} {:>10.0} ops/s  p50 {:>7.2} ms  p99 {:>7.2} ms{}",
        row.system.name(),
        row.workload.name(),
        row.keys,
        row.conns,
        row.ops_per_s,
        row.p50_ms,
        row.p99_ms,
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

// ---------------------------------------------------------------- preload

/// Loads keys `from..to` with big batches from a few connections.
async fn preload(system: System, addr: SocketAddr, from: u64, to: u64) -> Result<()> {
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

// ---------------------------------------------------------------- suite

async fn suite(args: SuiteArgs) -> Result<()> {
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
        "| system | workload | keys | conns | throughput (ops/s) | p50 (ms) | p99 (ms) | ratio |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|");
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
            "| {} | {} | {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            r.system.name(),
            workload,
            keys,
            r.conns,
            r.ops_per_s,
            r.p50_ms,
            r.p99_ms,
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
