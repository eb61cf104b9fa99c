//! Crash loops: concurrent writers (single puts and atomic three-key batches with
//! preconditions) against the real binary, killed with SIGKILL at random moments,
//! many times over. After every restart each acknowledged write is present and
//! no batch is partly applied.
//!
//! Checkpoints run every 25 ms, so kills land before, during and after them:
//! each restart rolls LMDB back to its last checkpoint and replays the redo log.
//!
//! `CRASH_LOOP_SEED` replays a run; `CRASH_LOOP_CYCLES` changes the cycle count;
//! `CRASH_LOOP_BROKER_ARGS` adds broker flags (split on spaces), e.g.
//! `--checkpoint-writeback-ms 5 --checkpoint-sync-duty 50` for paced checkpoints.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rpkv_e2e::{Broker, Kv, b64};
use serde_json::json;

/// Checkpoint interval of the broker under test, in ms (`--checkpoint-interval-ms`).
const CHECKPOINT_MS: &str = "25";
/// Partitions of the test topic; writers spread over them.
const PARTITIONS: i32 = 2;
const SINGLE_WRITERS: usize = 6;
const BATCH_WRITERS: usize = 6;

/// A tiny xorshift generator (the seed is printed so a failure can be replayed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What the writers of one cycle did.
#[derive(Default)]
struct Log {
    /// (partition, key, value) of single puts answered 200.
    acked_puts: Vec<(i32, String, String)>,
    /// Batches sent: (partition, batch id, acknowledged).
    batches: Vec<(i32, String, bool)>,
}

fn batch_keys(id: &str) -> [String; 3] {
    [format!("{id}-a"), format!("{id}-b"), format!("{id}-c")]
}

/// One atomic batch: three keys with the same value, each `ifExists:false`.
fn batch_body(id: &str) -> serde_json::Value {
    let puts: Vec<_> = batch_keys(id)
        .iter()
        .map(|k| {
            json!({
                "key": b64(k),
                "value": b64(id),
                "precondition": {"ifExists": {"exists": false}},
            })
        })
        .collect();
    json!({ "puts": puts })
}

async fn run_writers(
    kv: &Kv,
    cycle: usize,
    log: Arc<Mutex<Log>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for w in 0..SINGLE_WRITERS {
        let (kv, log) = (kv.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let p = (w as i32) % PARTITIONS;
            for i in 0.. {
                let key = format!("s{cycle:02}-{w}-{i:05}");
                let value = format!("v{cycle}-{w}-{i}");
                match kv.put("crash", p, key.as_bytes(), value.as_bytes()).await {
                    Ok(200) => log.lock().unwrap().acked_puts.push((p, key, value)),
                    Ok(other) => panic!("put {key} answered {other}"),
                    Err(_) => return, // the broker is gone
                }
            }
        }));
    }
    for w in 0..BATCH_WRITERS {
        let (kv, log) = (kv.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            let p = (w as i32) % PARTITIONS;
            for i in 0.. {
                let id = format!("m{cycle:02}-{w}-{i:05}");
                let idx = {
                    let mut l = log.lock().unwrap();
                    l.batches.push((p, id.clone(), false));
                    l.batches.len() - 1
                };
                match kv.call("crash", p, "write", &batch_body(&id)).await {
                    Ok(r) if r.status == 200 => log.lock().unwrap().batches[idx].2 = true,
                    Ok(r) => panic!("batch {id} answered {}: {}", r.status, r.body),
                    Err(_) => return,
                }
            }
        }));
    }
    tasks
}

/// Every key of the topic with its value, over all partitions.
async fn contents(kv: &Kv) -> BTreeMap<(i32, String), String> {
    let mut out = BTreeMap::new();
    for p in 0..PARTITIONS {
        for (k, v) in kv.scan_all("crash", p).await.unwrap() {
            out.insert(
                (p, String::from_utf8(k).unwrap()),
                String::from_utf8(v).unwrap(),
            );
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_loops_lose_no_acknowledged_write_and_split_no_batch() {
    let cycles: usize = std::env::var("CRASH_LOOP_CYCLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    eprintln!("crash loop: seed {seed} (replay with CRASH_LOOP_SEED={seed}), {cycles} cycles");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let started = Instant::now();

    // Everything acknowledged so far, and every batch ever sent.
    let mut acked: BTreeMap<(i32, String), String> = BTreeMap::new();
    let mut batches: Vec<(i32, String, bool)> = Vec::new();
    let mut checks = 0usize;
    let mut unacked_applied = 0usize;
    let mut unacked_absent = 0usize;

    let extra = std::env::var("CRASH_LOOP_BROKER_ARGS").unwrap_or_default();
    let restart_args: Vec<&str> = ["--checkpoint-interval-ms", CHECKPOINT_MS]
        .into_iter()
        .chain(extra.split_whitespace())
        .collect();
    let topic = format!("crash:{PARTITIONS}");
    let first_args: Vec<&str> = ["--topic", topic.as_str()]
        .into_iter()
        .chain(restart_args.iter().copied())
        .collect();
    let mut broker = Broker::start_in(&data, &first_args).unwrap();
    for cycle in 0..cycles {
        let kv = Kv::new(broker.url());
        let log = Arc::new(Mutex::new(Log::default()));
        let tasks = run_writers(&kv, cycle, log.clone()).await;
        // Kill at a random moment: 20 to 400 ms into the load.
        tokio::time::sleep(Duration::from_millis(20 + rng.below(380))).await;
        let pid = broker.pid();
        tokio::task::spawn_blocking(move || {
            broker.kill9().unwrap();
            drop(broker);
        })
        .await
        .unwrap();
        for t in tasks {
            t.await.unwrap();
        }
        let log = std::mem::take(&mut *log.lock().unwrap());
        for (p, k, v) in log.acked_puts {
            acked.insert((p, k), v);
        }
        for (p, id, ok) in &log.batches {
            if *ok {
                for k in batch_keys(id) {
                    acked.insert((*p, k), id.clone());
                }
            }
        }
        batches.extend(log.batches);

        broker = Broker::start_in(&data, &restart_args).unwrap();
        let kv = Kv::new(broker.url());
        let present = contents(&kv).await;
        for (key, value) in &acked {
            checks += 1;
            assert_eq!(
                present.get(key),
                Some(value),
                "cycle {cycle} (pid {pid} killed): acknowledged write {key:?} lost (seed {seed})"
            );
        }
        // No batch is partly applied, acknowledged or not.
        for (p, id, ok) in &batches {
            let here: Vec<bool> = batch_keys(id)
                .iter()
                .map(|k| present.contains_key(&(*p, k.clone())))
                .collect();
            assert!(
                here.iter().all(|h| *h) || here.iter().all(|h| !*h),
                "cycle {cycle}: batch {id} partly applied: {here:?} (seed {seed})"
            );
            if !ok && here[0] {
                unacked_applied += 1;
                // Visible after a restart means committed: it must stay.
                for k in batch_keys(id) {
                    acked.insert((*p, k), id.clone());
                }
            }
        }
        // An unacknowledged batch that did not land can be resent: its
        // preconditions still hold, and it applies whole.
        let missing: Vec<(i32, String)> = batches
            .iter()
            .filter(|(p, id, ok)| !ok && !present.contains_key(&(*p, batch_keys(id)[0].clone())))
            .map(|(p, id, _)| (*p, id.clone()))
            .collect();
        for (p, id) in missing {
            unacked_absent += 1;
            let r = kv
                .call("crash", p, "write", &batch_body(&id))
                .await
                .unwrap();
            assert_eq!(r.status, 200, "resending batch {id}: {}", r.body);
            for k in batch_keys(&id) {
                acked.insert((p, k), id.clone());
            }
        }
        for b in batches.iter_mut() {
            b.2 = true;
        }
        // The applied ones refuse a resend (ifExists:false) and change nothing.
        if let Some((p, id, _)) = batches.last() {
            let r = kv
                .call("crash", *p, "write", &batch_body(id))
                .await
                .unwrap();
            assert_eq!(r.status, 409, "resending applied batch {id}: {}", r.body);
        }
    }
    let present = contents(&Kv::new(broker.url())).await;
    let unexpected: BTreeSet<_> = present.keys().filter(|k| !acked.contains_key(*k)).collect();
    // Single puts sent but not acknowledged may have landed; nothing else may appear.
    assert!(
        unexpected.iter().all(|(_, k)| k.starts_with('s')),
        "keys no writer sent: {unexpected:?}"
    );
    eprintln!(
        "crash loop: {cycles} SIGKILL cycles in {:.1}s; {} acknowledged writes ({} keys), \
         {} batches ({} unacknowledged but applied, {} unacknowledged and resent); \
         {checks} presence checks",
        started.elapsed().as_secs_f64(),
        acked.len(),
        present.len(),
        batches.len(),
        unacked_applied,
        unacked_absent,
    );
}
