//! Shared by the `tier_*` tests: an S3-compatible server (moto's, from PyPI) on
//! a free loopback port, the two kinds of tier (S3 and `file://`), and helpers
//! that read a whole partition back.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rpkv_e2e::{Broker, Kv, b64, unb64};
use serde_json::{Value, json};

/// A running `moto_server`, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Moto {
    /// Starts moto's S3 server on a free loopback port and creates `bucket`.
    pub async fn start(bucket: &str) -> Result<Moto> {
        let port = free_port()?;
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context(
                "starting moto's server (pip install 'moto[server]'; see tests/install-deps.sh)",
            )?;
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let http = rpkv_e2e::http_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.put(format!("{}/{bucket}", moto.endpoint)).send().await
                && r.status().is_success()
            {
                return Ok(moto);
            }
            if Instant::now() > deadline {
                bail!("moto did not come up on {}", moto.endpoint);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The `AWS_*` environment a broker needs to reach it.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    fn signal(&self, sig: &str) -> Result<()> {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()?
            .success();
        if !ok {
            bail!("kill -{sig} moto failed");
        }
        Ok(())
    }

    /// Freezes the server (SIGSTOP): connections hang, as in an outage.
    pub fn pause(&self) -> Result<()> {
        self.signal("STOP")
    }

    /// Resumes it (SIGCONT).
    pub fn resume(&self) -> Result<()> {
        self.signal("CONT")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.signal("CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a test tiers to: a moto bucket or a local directory.
pub struct TierTarget {
    pub url: String,
    pub env: Vec<(String, String)>,
    pub moto: Option<Moto>,
    _dir: Option<tempfile::TempDir>,
}

impl TierTarget {
    pub async fn s3(prefix: &str) -> Result<TierTarget> {
        let moto = Moto::start("tier-e2e").await?;
        Ok(TierTarget {
            url: format!("s3://tier-e2e/{prefix}"),
            env: moto.env(),
            moto: Some(moto),
            _dir: None,
        })
    }

    pub fn file() -> Result<TierTarget> {
        let dir = tempfile::tempdir()?;
        Ok(TierTarget {
            url: format!("file://{}/bucket", dir.path().display()),
            env: Vec::new(),
            moto: None,
            _dir: Some(dir),
        })
    }

    /// Starts a broker on `data_dir` tiering here.
    pub fn broker(&self, data_dir: &std::path::Path, args: &[&str]) -> Result<Broker> {
        let mut all = vec!["--tier", self.url.as_str()];
        all.extend_from_slice(args);
        Broker::start_in_with_env(data_dir, &all, &self.env)
    }

    /// Runs a broker that is expected to refuse to start: its exit code and stderr.
    pub fn refused(
        &self,
        data_dir: &std::path::Path,
        args: &[&str],
    ) -> Result<(Option<i32>, String)> {
        let mut cmd = Command::new(rpkv_e2e::bin_path("devbroker"));
        cmd.arg("serve")
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--http-addr", "127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"])
            .args(["--tier", &self.url])
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait()?.is_some() {
                let out = child.wait_with_output()?;
                return Ok((
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                ));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the second broker did not exit: it should refuse to start");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A fresh data dir path inside a temp dir.
pub fn data_dir(tmp: &tempfile::TempDir, name: &str) -> PathBuf {
    tmp.path().join(name)
}

/// Writes `puts` (and `deletes`) to one partition in one atomic batch.
pub async fn write(
    kv: &Kv,
    topic: &str,
    p: i32,
    puts: &[(String, String)],
    deletes: &[String],
) -> Result<()> {
    let body = json!({
        "puts": puts.iter().map(|(k, v)| json!({"key": b64(k), "value": b64(v)})).collect::<Vec<_>>(),
        "deletes": deletes.iter().map(|k| json!({"key": b64(k)})).collect::<Vec<_>>(),
    });
    let r = kv.call(topic, p, "write", &body).await?;
    if r.status != 200 {
        bail!("write answered {}: {}", r.status, r.body);
    }
    Ok(())
}

/// Every key and value of a partition's view.
pub async fn view(kv: &Kv, topic: &str, p: i32) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    Ok(kv.scan_all(topic, p).await?.into_iter().collect())
}

/// `GET /status/tier`.
pub async fn tier_status(base: &str) -> Result<Value> {
    Ok(rpkv_e2e::get(format!("{base}/status/tier"))
        .await?
        .json()
        .await?)
}

/// The status of one partition.
pub fn part_status(status: &Value, topic: &str, p: i32) -> Value {
    status["partitions"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|s| s["topic"] == json!(topic) && s["partition"] == json!(p))
                .cloned()
        })
        .unwrap_or(Value::Null)
}

/// The whole log of a partition from offset 0 to `hw`: (offset, key, value).
pub async fn log(
    base: &str,
    topic: &str,
    p: i32,
    hw: u64,
) -> Result<Vec<(u64, Option<Vec<u8>>, Option<Vec<u8>>)>> {
    let mut out = Vec::new();
    let mut next = 0u64;
    let http = rpkv_e2e::http_client();
    while next < hw {
        let resp = http
            .get(format!(
                "{base}/topics/{topic}/partitions/{p}/records?offset={next}&max_bytes=1000000"
            ))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await?;
        if !status.is_success() {
            bail!("records at {next} answered {status}: {body}");
        }
        let recs = body.as_array().cloned().unwrap_or_default();
        if recs.is_empty() {
            bail!("no records at offset {next} (high watermark {hw})");
        }
        for r in recs {
            let offset = r["offset"].as_u64().context("offset")?;
            if offset < next {
                bail!("offset {offset} went backwards (expected >= {next})");
            }
            let key = r["key"].as_str().map(unb64);
            let value = r["value"].as_str().map(unb64);
            out.push((offset, key, value));
            next = offset + 1;
        }
    }
    Ok(out)
}

/// Waits until every listed partition has no upload lag.
pub async fn wait_uploaded(base: &str, parts: &[(&str, i32)], within: Duration) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let status = tier_status(base).await?;
        let done = parts.iter().all(|(t, p)| {
            let s = part_status(&status, t, *p);
            s["upload_lag_offsets"] == json!(0) && s["high_watermark"].as_u64().unwrap_or(0) > 0
        });
        if done {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("uploads did not catch up within {within:?}: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `pred` holds for `GET /status/tier`.
pub async fn wait_for(
    base: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let deadline = Instant::now() + within;
    loop {
        let status = tier_status(base).await?;
        if pred(&status) {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("condition not reached within {within:?}: {status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
