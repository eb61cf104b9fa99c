//! Helpers shared by the Kafka end-to-end tests: run real client processes
//! (kcat, python3 with kafka-python) with a deadline, and fail loudly when a
//! client is not installed (tests never skip).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Repository root (the parent of the `tests` package).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Runs a command with optional stdin, killing it after `limit`.
pub fn run_with(cmd: &mut Command, stdin: Option<&str>, limit: Duration) -> Output {
    let name = format!("{cmd:?}");
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}; run tests/install-deps.sh"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    // Drain both pipes on threads so a chatty child never blocks.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not finish within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&t_err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: t_out.join().unwrap_or_default(),
        stderr: t_err.join().unwrap_or_default(),
    }
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let name = format!("{cmd:?}");
    let out = run_with(cmd, stdin, Duration::from_secs(90));
    assert!(
        out.status.success(),
        "{name} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
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
    reqwest::get(format!("{base}/topics"))
        .await
        .expect("GET /topics")
        .json()
        .await
        .expect("topics JSON")
}
