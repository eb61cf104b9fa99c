//! `rpkv kv watch` against the real dev broker (Kafka Fetch long polls):
//! puts, deletes and atomic batches written over the HTTP kvstore API, every
//! partition followed, a broker restart mid-stream (offsets checked: nothing
//! missed, nothing repeated), the start options, key narrowing, and the ways
//! it ends (--count, --timeout, --duration) with exit 0.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::{Broker, Kv, b64};
use serde_json::{Value, json};

/// A running `rpkv kv watch`, its stdout and stderr read line by line.
struct Watching {
    child: Child,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
    stderr: Vec<String>,
}

fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Watching {
    fn start(r: &Rpkv, args: &[&str]) -> Watching {
        let mut all = vec!["kv", "watch"];
        all.extend_from_slice(args);
        let mut child = r
            .command(&all)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rpkv kv watch");
        let out = lines(child.stdout.take().expect("stdout"));
        let err = lines(child.stderr.take().expect("stderr"));
        Watching {
            child,
            out,
            err,
            stderr: Vec::new(),
        }
    }

    /// Waits until `n` partitions are reported as watched.
    fn started(&mut self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self
            .stderr
            .iter()
            .filter(|l| l.contains("from offset"))
            .count()
            < n
        {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.err.recv_timeout(left) {
                Ok(l) => self.stderr.push(l),
                Err(_) => panic!("watch did not start: stderr {:?}", self.stderr),
            }
        }
    }

    /// The next `n` JSON lines.
    fn changes(&mut self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut got = Vec::new();
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.out.recv_timeout(left) {
                Ok(l) => got.push(serde_json::from_str(&l).expect("a JSON line")),
                Err(_) => {
                    self.stderr.extend(self.err.try_iter());
                    panic!(
                        "{} of {n} changes: {got:?}; stderr {:?}",
                        got.len(),
                        self.stderr
                    )
                }
            }
        }
        got
    }

    /// Waits for the exit; returns the code and the rest of stdout.
    fn exit(mut self, limit: Duration) -> (i32, Vec<String>) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                std::thread::sleep(Duration::from_millis(50));
                return (s.code().unwrap_or(-1), self.out.try_iter().collect());
            }
            assert!(Instant::now() < deadline, "watch did not exit in {limit:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key(v: &Value) -> &str {
    v["key"].as_str().expect("key")
}

async fn write(kv: &Kv, topic: &str, p: i32, body: Value) {
    let r = kv.call(topic, p, "write", &body).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn sees_puts_deletes_and_atomic_batches_on_every_partition() {
    let b = Broker::start(&["--topic", "kv:3"]).unwrap();
    let r = Rpkv::new(&b);
    let kv = Kv::new(b.url());
    kv.put("kv", 2, b"old", b"x").await.unwrap(); // before the watch: not shown
    let mut w = Watching::start(&r, &["kv", "--format", "json", "--count", "8"]);
    w.started(3);
    kv.put("kv", 0, b"a", b"1").await.unwrap();
    kv.put("kv", 1, b"b", b"2").await.unwrap();
    write(
        &kv,
        "kv",
        2,
        json!({"puts": [
            {"key": b64("k1"), "value": b64("v1")},
            {"key": b64("k2"), "value": b64("v2")},
            {"key": b64("k3"), "value": b64("v3")},
        ], "deletes": [{"key": b64("old")}]}),
    )
    .await;
    write(&kv, "kv", 0, json!({"deletes": [{"key": b64("a")}]})).await;
    kv.put("kv", 1, b"b", b"3").await.unwrap();
    let got = w.changes(8);
    let mut by_partition: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for c in &got {
        by_partition
            .entry(c["partition"].as_i64().unwrap())
            .or_default()
            .push(c);
        assert!(c["timestamp"].as_i64().unwrap() > 1_600_000_000_000, "{c}");
    }
    assert_eq!(by_partition.len(), 3, "every partition: {got:?}");
    let p0 = &by_partition[&0];
    assert_eq!(
        p0.iter().map(|c| (*c).clone()).collect::<Vec<_>>(),
        [
            json!({"key": "a", "value": "1", "partition": 0, "offset": 0, "timestamp": p0[0]["timestamp"]}),
            json!({"key": "a", "deleted": true, "partition": 0, "offset": 1, "timestamp": p0[1]["timestamp"]}),
        ]
    );
    let p1: Vec<(&str, &str)> = by_partition[&1]
        .iter()
        .map(|c| (key(c), c["value"].as_str().unwrap()))
        .collect();
    assert_eq!(p1, [("b", "2"), ("b", "3")]);
    // The batch: four records at consecutive offsets after `old`'s put (0).
    let p2 = &by_partition[&2];
    let offsets: Vec<i64> = p2.iter().map(|c| c["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, [1, 2, 3, 4], "{p2:?}");
    let puts: Vec<&str> = p2
        .iter()
        .filter(|c| c["value"].is_string())
        .map(|c| key(c))
        .collect();
    assert_eq!(puts, ["k1", "k2", "k3"], "puts in the order written");
    let deleted: Vec<&str> = p2
        .iter()
        .filter(|c| c["deleted"] == true)
        .map(|c| key(c))
        .collect();
    assert_eq!(deleted, ["old"]);
    // --count 8: done, exit 0.
    let (code, rest) = w.exit(Duration::from_secs(10));
    assert_eq!(code, 0);
    assert!(rest.is_empty(), "nothing after --count: {rest:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn survives_a_broker_restart_without_missing_or_repeating() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut b = Broker::start_in(&data, &["--topic", "kv:2"]).unwrap();
    let (http, kafka) = (b.http_addr.to_string(), b.kafka_addr.unwrap().to_string());
    let r = Rpkv::new(&b);
    let mut w = Watching::start(&r, &["kv", "--format", "json"]);
    w.started(2);
    let mut got = Vec::new();
    // Three rounds of 40 puts; between them the broker stops while the
    // watch's long polls are open (SIGTERM, then SIGKILL as a crash would) and
    // comes back on the same ports and data dir. The puts after a restart
    // usually land while the watch is still backing off, so it must resume
    // from its own position, not from the partition's end.
    for round in 0..3 {
        let kv = Kv::new(b.url());
        for i in round * 40..(round + 1) * 40 {
            kv.put("kv", i % 2, format!("k{i:03}").as_bytes(), b"v")
                .await
                .unwrap();
        }
        got.extend(w.changes(40));
        if round == 2 {
            break;
        }
        if round == 0 {
            b.terminate().unwrap();
        } else {
            b.kill9().unwrap();
        }
        drop(b);
        std::thread::sleep(Duration::from_millis(700));
        let addrs = ["--http-addr", &http, "--kafka-addr", &kafka];
        let mut args = vec!["--topic", "kv:2"];
        args.extend(addrs);
        b = Broker::start_in(&data, &args).unwrap();
    }
    for p in 0..2 {
        let offsets: Vec<i64> = got
            .iter()
            .filter(|c| c["partition"] == p)
            .map(|c| c["offset"].as_i64().unwrap())
            .collect();
        assert_eq!(offsets, (0..60).collect::<Vec<i64>>(), "partition {p}");
    }
    let mut keys: Vec<&str> = got.iter().map(key).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), 120, "every key once");
    std::thread::sleep(Duration::from_millis(500));
    assert!(w.out.try_recv().is_err(), "nothing printed twice");
    w.stderr.extend(w.err.try_iter());
    let retries = w
        .stderr
        .iter()
        .filter(|l| l.contains("retrying in"))
        .count();
    assert!(
        retries >= 2,
        "each lost connection is reported: {:?}",
        w.stderr
    );
    drop(b);
}

#[tokio::test(flavor = "multi_thread")]
async fn start_offsets_key_ranges_and_byte_formats() {
    let b = Broker::start(&["--topic", "kv:1"]).unwrap();
    let r = Rpkv::new(&b);
    let kv = Kv::new(b.url());
    for k in ["user:1", "user:2", "order:1", "user:3"] {
        kv.put("kv", 0, k.as_bytes(), b"v").await.unwrap();
    }
    // --from-beginning sees the whole log; --prefix narrows it.
    let run = r.run(&[
        "kv",
        "watch",
        "kv",
        "--from-beginning",
        "--prefix",
        "user:",
        "--count",
        "3",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "p0 @0  put  user:1  v\np0 @1  put  user:2  v\np0 @3  put  user:3  v\n"
    );
    // --from-offset, a range, hex keys.
    let (start, end) = (hex::encode("order:"), hex::encode("user:3"));
    let run = r.run(&[
        "kv",
        "watch",
        "kv",
        "--from-offset",
        "1",
        "--start-key",
        &start,
        "--end-key",
        &end,
        "--count",
        "2",
        "--format",
        "json",
        "--key-format",
        "hex",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let got: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(got[0]["key"], hex::encode("user:2"));
    assert_eq!(got[1]["key"], hex::encode("order:1"));
    assert_eq!(got[1]["offset"], 2);
    // An offset past the end: the valid range is named, exit 1.
    let run = r.run(&[
        "kv",
        "watch",
        "kv",
        "--from-offset",
        "99",
        "--duration",
        "5s",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    let err = run.stderr.lines().last().unwrap_or_default();
    assert!(
        err.contains("offset 99 is outside the log (offsets 0..4)"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn duration_and_ctrl_c_end_with_exit_0() {
    let b = Broker::start(&["--topic", "kv:2"]).unwrap();
    let r = Rpkv::new(&b);
    let t = Instant::now();
    let run = r.run(&["kv", "watch", "kv", "--duration", "1500ms"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(run.stdout, "");

    // --timeout is the issue's spelling: seconds (or a duration), and the
    // changes before it was up are printed.
    let put = r.run(&["kv", "put", "kv", "-p", "0", "t1", "v1"]);
    assert_eq!(put.code, 0, "{put:?}");
    let t = Instant::now();
    let run = r.run(&["kv", "watch", "kv", "--from-beginning", "--timeout", "2"]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(t.elapsed() >= Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    assert_eq!(run.stdout, "p0 @0  put  t1  v1\n", "{run:?}");
    let bad = r.run(&["kv", "watch", "kv", "--timeout", "0"]);
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--timeout"), "{bad:?}");

    let mut w = Watching::start(&r, &["kv"]);
    w.started(2);
    let kill = std::process::Command::new("kill")
        .args(["-INT", &w.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let (code, _) = w.exit(Duration::from_secs(10));
    assert_eq!(code, 0, "Ctrl-C is a normal end");

    let err = r
        .run(&["kv", "watch", "nosuch", "--duration", "5s"])
        .fails(1);
    assert!(err.contains("unknown topic \"nosuch\""), "{err}");
}

/// The README's "Watching changes" walkthrough as written: the watch of its
/// first block (on a topic at offset 7, as the CLI walkthrough leaves it), the
/// curl writes of its second, and exactly the lines and the stderr note shown.
#[test]
fn readme_watch_walkthrough_prints_what_it_shows() {
    let after = rpkv_e2e::readme_after("### Watching changes");
    let section = after.split("\n### ").next().unwrap_or_default();
    let bash: Vec<&str> = section
        .split("```bash\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or_default())
        .collect();
    let watch = bash[0]
        .lines()
        .find_map(|l| l.strip_prefix("rpkv "))
        .expect("a watch command");
    let note = bash[0]
        .lines()
        .find_map(|l| l.strip_prefix("# rpkv: "))
        .expect("its stderr note");
    let shown: Vec<&str> = section
        .split("```bash\n")
        .nth(2)
        .and_then(|rest| rest.split("```").nth(2))
        .expect("the lines shown after the curl block")
        .trim_matches('\n')
        .lines()
        .collect();
    assert!(shown.len() >= 3, "{shown:?}");

    let b = Broker::start(&["--topic", "example-topic:1"]).unwrap();
    let r = Rpkv::new(&b);
    for i in 0..7 {
        let put = r.run(&[
            "kv",
            "put",
            "example-topic",
            "-p",
            "0",
            &format!("k{i}"),
            "v",
        ]);
        assert_eq!(put.code, 0, "{put:?}");
    }
    let args: Vec<&str> = watch.split_whitespace().collect();
    assert_eq!(args.get(..2), Some(&["kv", "watch"][..]), "{watch}");
    let mut w = Watching::start(&r, &args[2..]);
    w.started(1);
    assert!(
        w.stderr
            .iter()
            .any(|l| l.strip_prefix("rpkv: ") == Some(note)),
        "stderr {:?}, README {note:?}",
        w.stderr
    );
    rpkv_e2e::run_bash(&bash[1].replace("localhost:18082", &b.url()));
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut printed = Vec::new();
    while printed.len() < shown.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        match w.out.recv_timeout(left) {
            Ok(l) => printed.push(l),
            Err(_) => panic!("printed {printed:?}, README shows {shown:?}"),
        }
    }
    assert_eq!(printed, shown);
    w.child.kill().expect("kill the watch");
    let _ = w.child.wait();
}
