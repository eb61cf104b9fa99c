//! The servers under test: child processes that announce their address, and etcd.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

/// A child process killed when dropped.
pub struct Proc {
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
pub fn sibling_bin(name: &str) -> Result<PathBuf> {
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
pub fn spawn_announcing(name: &'static str, mut cmd: Command) -> Result<(Proc, SocketAddr)> {
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

pub fn start_etcd(dir: &Path) -> Result<(Proc, SocketAddr)> {
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
