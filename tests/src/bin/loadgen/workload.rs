//! What is sent: the systems, the workloads, request bodies built ahead of
//! the clock, reply checks and the CAS loop.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::ValueEnum;
use hyper::http::{StatusCode, Uri};
use rpkv_e2e::bench::{b64, counter_value, key, parse_counter, value};
use serde_json::{Value, json};
use sha2::Digest;

use crate::conn::Conn;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum System {
    Devbroker,
    Etcd,
    Noop,
}

impl System {
    pub fn name(self) -> &'static str {
        match self {
            System::Devbroker => "devbroker",
            System::Etcd => "etcd",
            System::Noop => "noop",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    Puts,
    BatchGet,
    Scan,
    Cas,
}

impl Workload {
    pub fn name(self) -> &'static str {
        match self {
            Workload::Puts => "put",
            Workload::BatchGet => "batch_get(100)",
            Workload::Scan => "scan(1000)",
            Workload::Cas => "cas(16 hot keys)",
        }
    }
}

/// The runs at each key count: workload and connections.
pub const PLAN: &[(Workload, usize)] = &[
    (Workload::Puts, 1),
    (Workload::Puts, 16),
    (Workload::Puts, 64),
    (Workload::BatchGet, 16),
    (Workload::BatchGet, 64),
    (Workload::Scan, 16),
    (Workload::Scan, 64),
    (Workload::Cas, 16),
];

pub const TOPIC_PATH: &str = "/kvstore/bench/partition/0";
pub const BATCH_GET_KEYS: usize = 100;
pub const SCAN_LIMIT: u64 = 1000;
pub const HOT_KEYS: u64 = 16;

/// xorshift64*: cheap, seeded per worker.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

pub fn body(v: &Value) -> Bytes {
    Bytes::from(v.to_string())
}

pub fn path_of(system: System, workload: Workload) -> &'static str {
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
pub fn request_pool(system: System, workload: Workload, keys: u64, rng: &mut Rng) -> Vec<Bytes> {
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
pub fn check_reply(system: System, workload: Workload, reply: &[u8]) -> Result<()> {
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
pub async fn cas_once(
    conn: &mut Conn,
    system: System,
    rng: &mut Rng,
    paths: &Paths,
) -> Result<u64> {
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

pub struct Paths {
    etcd_range: Uri,
    etcd_txn: Uri,
    batch_get: Uri,
    write: Uri,
}

impl Paths {
    pub fn new() -> Paths {
        Paths {
            etcd_range: Uri::from_static("/v3/kv/range"),
            etcd_txn: Uri::from_static("/v3/kv/txn"),
            batch_get: Uri::from_static("/kvstore/bench/partition/0/batch_get"),
            write: Uri::from_static("/kvstore/bench/partition/0/write"),
        }
    }
}
