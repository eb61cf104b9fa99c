//! Helpers shared by the Kafka end-to-end tests: run real client processes
//! (kcat, python3 with kafka-python) with a deadline, and fail loudly when a
//! client is not installed (tests never skip).

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

/// Repository root (the parent of the `tests` package).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Runs a command that must succeed within 90 s; returns its stdout.
pub fn run_ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let name = format!("{cmd:?}");
    let cmd = std::mem::replace(cmd, Command::new("true"));
    let run = rpkv_e2e::cli::run_command(cmd, stdin.map(str::as_bytes), Duration::from_secs(90));
    assert!(
        run.code == 0,
        "{name} failed (exit {}):\nstdout: {}\nstderr: {}",
        run.code,
        run.stdout,
        run.stderr
    );
    assert!(
        !run.stdout.contains('\u{FFFD}'),
        "{name}: stdout is not UTF-8"
    );
    run.stdout
}

/// Fails the test (never skips) when kcat is missing.
pub fn require_kcat() {
    let ok = Command::new("kcat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "kcat is not installed; run tests/install-deps.sh (Debian package kcat)"
    );
}

/// Fails the test (never skips) when python3 or kafka-python is missing.
pub fn require_kafka_python() {
    let ok = Command::new("python3")
        .args(["-c", "import kafka"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "python3 with kafka-python is not installed; run tests/install-deps.sh"
    );
}

/// kcat against a broker.
pub fn kcat(addr: &str, args: &[&str], stdin: Option<&str>) -> String {
    require_kcat();
    run_ok(Command::new("kcat").arg("-b").arg(addr).args(args), stdin)
}

/// One of the scripts in tests/python; returns its JSON document.
pub fn python(script: &str, args: &[&str]) -> Value {
    require_kafka_python();
    let path = repo_root().join("tests/python").join(script);
    let out = run_ok(Command::new("python3").arg(path).args(args), None);
    let last = out.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{script} printed {out:?}: {e}"))
}

/// Topic names from `GET /topics`.
pub async fn http_topics(base: &str) -> Vec<String> {
    rpkv_e2e::get(format!("{base}/topics"))
        .await
        .expect("GET /topics")
        .json()
        .await
        .expect("topics JSON")
}

/// A kafka-python group member (`tests/python/kafka_group.py member`): it
/// joins `group`, consumes `topic` and prints its assignment as JSON lines;
/// killed (as by `kill -9`) when dropped.
pub struct GroupMember {
    child: Child,
    lines: mpsc::Receiver<Value>,
    /// The partitions it last said it owns (see [`GroupMember::update`]).
    pub assignment: BTreeSet<i64>,
}

impl GroupMember {
    pub fn start(addr: &str, topic: &str, group: &str, session_ms: u64) -> GroupMember {
        require_kafka_python();
        let mut child = Command::new("python3")
            .arg(repo_root().join("tests/python/kafka_group.py"))
            .args(["member", addr, topic, group, &session_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 starts");
        // Read its lines on a thread, so it never blocks on a full pipe.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let Ok(v) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        GroupMember {
            child,
            lines: rx,
            assignment: BTreeSet::new(),
        }
    }

    /// Takes in what the member printed so far.
    pub fn update(&mut self) {
        while let Ok(v) = self.lines.try_recv() {
            if let Some(a) = v["assignment"].as_array() {
                self.assignment = a.iter().filter_map(Value::as_i64).collect();
            }
        }
    }

    /// Kills it at once (no LeaveGroup): its session must expire.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.assignment.clear();
    }
}

impl Drop for GroupMember {
    fn drop(&mut self) {
        self.kill9();
    }
}
