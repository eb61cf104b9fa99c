//! `rpkv dev`: the bundled dev broker in the rpkv process becomes ready, serves,
//! keeps its data in the XDG data dir by default, and stops with exit 0 on
//! SIGTERM and SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rpkv_e2e::cli::Rpkv;

/// Starts `rpkv dev ARGS` and waits for `devbroker: ready`; returns the child and
/// the announced HTTP URL.
fn start_dev(r: &Rpkv, args: &[&str]) -> (Child, String) {
    let mut all = vec![
        "dev",
        "--http-addr",
        "127.0.0.1:0",
        "--kafka-addr",
        "127.0.0.1:0",
    ];
    all.extend_from_slice(args);
    let mut cmd = r.command(&all);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().expect("spawn rpkv dev");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut url = None;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("rpkv dev did not become ready");
        if let Some(addr) = line.strip_prefix("devbroker: http listening on ") {
            url = Some(format!("http://{addr}"));
        }
        if line == "devbroker: ready" {
            break;
        }
    }
    (child, url.expect("http address announced"))
}

fn stop(child: &mut Child, signal: &str) -> i32 {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s.code().unwrap_or(-1);
        }
        assert!(Instant::now() < deadline, "rpkv dev did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn dev_serves_from_the_xdg_data_dir_and_stops_cleanly_on_sigterm() {
    let r = Rpkv::with_urls("http://127.0.0.1:1", "127.0.0.1:1");
    let (mut child, url) = start_dev(&r, &["--topic", "devtopic:2"]);
    let client = Rpkv::with_urls(&url, "127.0.0.1:1");
    client
        .run(&["kv", "put", "devtopic", "foo", "bar", "-p", "1"])
        .ok();
    assert!(
        r.home().join("data/rpkv/devbroker").is_dir(),
        "default data dir is $XDG_DATA_HOME/rpkv/devbroker"
    );
    assert_eq!(stop(&mut child, "TERM"), 0);

    // Restarted on the same (default) data dir, the data is still there.
    let (mut child, url) = start_dev(&r, &[]);
    let out = Rpkv::with_urls(&url, "127.0.0.1:1")
        .run(&[
            "kv", "get", "devtopic", "foo", "-p", "1", "--format", "json",
        ])
        .ok();
    assert_eq!(out.json()[0]["value"], "bar");
    assert_eq!(stop(&mut child, "INT"), 0);
}

#[test]
fn dev_honours_an_explicit_data_dir() {
    let r = Rpkv::with_urls("http://127.0.0.1:1", "127.0.0.1:1");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("explicit");
    let data_s = data.display().to_string();
    let (mut child, _url) = start_dev(&r, &["--data-dir", &data_s, "--topic", "x"]);
    assert!(data.is_dir());
    assert!(!r.home().join("data/rpkv/devbroker").exists());
    assert_eq!(stop(&mut child, "TERM"), 0);
}
