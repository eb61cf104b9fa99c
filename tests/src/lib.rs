//! Helpers for end-to-end tests: start the real `devbroker` binary on free
//! loopback ports, talk to it over HTTP, stop or kill it.
//!
//! The binaries are the ones `cargo build --workspace --bins` put next to the test
//! executable (`target/<profile>/`); `DEVBROKER_BIN` overrides the broker's path.

pub mod bench;
pub mod cli;
pub mod flaky_proxy;
pub mod pki;
pub mod tmux;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

/// Path of a workspace binary built next to the running test executable.
pub fn bin_path(name: &str) -> PathBuf {
    let env_name = format!("{}_BIN", name.to_uppercase().replace('-', "_"));
    if let Ok(p) = std::env::var(&env_name) {
        return PathBuf::from(p);
    }
    // target/<profile>/deps/<test-exe> -> target/<profile>/<name>
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile> directory");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} not found; run `cargo build --workspace --bins` first (or set {env_name})",
        path.display()
    );
    path
}

/// A running `devbroker serve`, killed when dropped.
pub struct Broker {
    child: Option<Child>,
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub kafka_addr: Option<SocketAddr>,
    pub stdout_lines: Vec<String>,
    _temp: Option<tempfile::TempDir>,
}

impl Broker {
    /// Starts a broker on a fresh temporary data dir with extra `serve` flags.
    pub fn start(args: &[&str]) -> Result<Broker> {
        let temp = tempfile::tempdir()?;
        let dir = temp.path().join("data");
        let mut b = Self::start_in(&dir, args)?;
        b._temp = Some(temp);
        Ok(b)
    }

    /// Starts a broker on the given data dir (kept after the broker stops).
    pub fn start_in(data_dir: &Path, args: &[&str]) -> Result<Broker> {
        Self::start_in_with_env(data_dir, args, &[])
    }

    /// Like [`Broker::start_in`], with extra environment variables (e.g. `AWS_*`).
    pub fn start_in_with_env(
        data_dir: &Path,
        args: &[&str],
        env: &[(String, String)],
    ) -> Result<Broker> {
        let mut cmd = Command::new(bin_path("devbroker"));
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        cmd.arg("serve").arg("--data-dir").arg(data_dir);
        // Free ports unless the caller pins them (a restart on the same ports).
        for flag in ["--http-addr", "--kafka-addr"] {
            if !args.contains(&flag) {
                cmd.args([flag, "127.0.0.1:0"]);
            }
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "warn");
        }
        let mut child = cmd.spawn().context("spawning devbroker")?;
        let stdout = child.stdout.take().context("stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut addrs = HashMap::new();
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some((name, addr)) = line
                        .strip_prefix("devbroker: ")
                        .and_then(|l| l.split_once(" listening on "))
                    {
                        addrs.insert(name.to_string(), addr.parse::<SocketAddr>()?);
                    }
                    let ready = line == "devbroker: ready";
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait()?;
                    bail!("devbroker did not become ready ({status}); stdout: {lines:?}");
                }
            }
        }
        Ok(Broker {
            child: Some(child),
            data_dir: data_dir.to_path_buf(),
            http_addr: *addrs.get("http").context("no http listener announced")?,
            kafka_addr: addrs.get("kafka").copied(),
            stdout_lines: lines,
            _temp: None,
        })
    }

    /// Base URL of the HTTP listener.
    pub fn url(&self) -> String {
        format!("http://{}", self.http_addr)
    }

    /// PID of the broker process.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Sends a signal and waits for the process to exit.
    pub fn signal(&mut self, sig: &str) -> Result<ExitStatus> {
        let mut child = self.child.take().context("broker already stopped")?;
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &child.id().to_string()])
            .status()?;
        if !status.success() {
            bail!("kill -{sig} failed");
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                bail!("broker did not exit within 60s of SIG{sig}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Graceful stop (SIGTERM); returns the exit status.
    pub fn terminate(&mut self) -> Result<ExitStatus> {
        self.signal("TERM")
    }

    /// Hard kill (SIGKILL), as a crash would.
    pub fn kill9(&mut self) -> Result<()> {
        self.signal("KILL").map(drop)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Standard base64.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub fn unb64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).expect("valid base64 from the broker")
}

/// Hex SHA-256.
pub fn sha256_hex(v: impl AsRef<[u8]>) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(v))
}

/// Installs ring as rustls's process default crypto provider (reqwest is built
/// without one of its own); call before building a reqwest client or S3 store.
pub fn install_crypto_provider() {
    // Err means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A reqwest client with default settings (after [`install_crypto_provider`]).
pub fn http_client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// `reqwest::get` with the crypto provider installed first (plain
/// `reqwest::get` panics in a process where none is installed yet).
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http_client().get(url).send().await
}

/// A small blocking-free client for the kvstore API.
#[derive(Clone)]
pub struct Kv {
    pub http: reqwest::Client,
    pub base: String,
}

/// A reply: status and JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Kv {
    pub fn new(base: impl Into<String>) -> Self {
        Kv {
            http: http_client(),
            base: base.into(),
        }
    }

    /// POSTs JSON to `/kvstore/{topic}/partition/{p}/{op}`.
    pub async fn call(&self, topic: &str, p: i32, op: &str, body: &Value) -> Result<Reply> {
        let resp = self
            .http
            .post(format!("{}/kvstore/{topic}/partition/{p}/{op}", self.base))
            .json(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok(Reply { status, body })
    }

    /// Puts one key; returns the status.
    pub async fn put(&self, topic: &str, p: i32, key: &[u8], value: &[u8]) -> Result<u16> {
        let body = json!({"puts": [{"key": b64(key), "value": b64(value)}]});
        Ok(self.call(topic, p, "write", &body).await?.status)
    }

    /// Gets one key's value.
    pub async fn get(&self, topic: &str, p: i32, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let r = self
            .call(topic, p, "batch_get", &json!({"keys": [b64(key)]}))
            .await?;
        if r.status != 200 {
            bail!("batch_get answered {}: {}", r.status, r.body);
        }
        Ok(r.body["results"][0]["value"].as_str().map(unb64))
    }

    /// Scans a whole partition, paging with startKey continuation.
    pub async fn scan_all(&self, topic: &str, p: i32) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let mut body = json!({"limit": 1000});
            if let Some((last, _)) = out.last() {
                let mut next = last.clone();
                next.push(0);
                body["startKey"] = json!(b64(next));
            }
            let r = self.call(topic, p, "scan", &body).await?;
            if r.status != 200 {
                bail!("scan answered {}: {}", r.status, r.body);
            }
            let entries = r.body["entries"].as_array().cloned().unwrap_or_default();
            let n = entries.len();
            for e in entries {
                out.push((
                    unb64(e["key"].as_str().unwrap_or_default()),
                    unb64(e["value"].as_str().unwrap_or_default()),
                ));
            }
            if n < 1000 {
                return Ok(out);
            }
        }
    }
}

/// The README's text after the heading `heading` (e.g. `"### Walkthrough"`),
/// for tests that run its examples verbatim.
pub fn readme_after(heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README has no {heading:?}"))
        .to_owned()
}

/// The first ```` ```bash ```` block after the README heading `heading`
/// (e.g. `"### kvstore API walkthrough"`), for tests that run it verbatim.
pub fn readme_bash_block(heading: &str) -> String {
    let section = readme_after(heading);
    let block = section
        .split("```bash")
        .nth(1)
        .unwrap_or_else(|| panic!("no ```bash block after {heading:?}"));
    block.split("```").next().unwrap_or_default().to_owned()
}

/// Runs `script` with `bash -c` under `set -euo pipefail`; panics with its
/// output if it fails; returns its stdout.
pub fn run_bash(script: &str) -> String {
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("set -euo pipefail\n{script}"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
