//! Running the real `rpkv` binary against a broker, with a private config dir
//! and no connection settings leaking in from the environment.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Broker, bin_path};

/// What one run of `rpkv` did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "rpkv failed: {self:?}");
        self
    }

    /// Asserts the exit code and that stderr is exactly one line; returns the line.
    #[track_caller]
    pub fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "unexpected exit code: {self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr is not one line: {self:?}");
        lines[0].to_owned()
    }

    /// Parses stdout as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }
}

/// An `rpkv` command line bound to one broker.
pub struct Rpkv {
    pub http_url: String,
    pub brokers: String,
    pub extra_env: Vec<(String, String)>,
    home: tempfile::TempDir,
}

impl Rpkv {
    /// Connection settings of a running broker (Kafka: its listener, if any).
    pub fn new(broker: &Broker) -> Self {
        Self::with_urls(
            &broker.url(),
            &broker
                .kafka_addr
                .map_or_else(|| "127.0.0.1:1".to_owned(), |a| a.to_string()),
        )
    }

    pub fn with_urls(http_url: &str, brokers: &str) -> Self {
        Rpkv {
            http_url: http_url.to_owned(),
            brokers: brokers.to_owned(),
            extra_env: Vec::new(),
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The private XDG config/data home of this runner.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Path of the profile file this runner's rpkv uses.
    pub fn config_file(&self) -> PathBuf {
        self.home
            .path()
            .join("config")
            .join("rpkv")
            .join("rpkv.toml")
    }

    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.extra_env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The command, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin_path("rpkv"));
        for (k, _) in std::env::vars() {
            if k.starts_with("RPKV_") || k.starts_with("DEVBROKER_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("RPKV_HTTP_URL", &self.http_url)
            .env("RPKV_BROKERS", &self.brokers)
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_DATA_HOME", self.home.path().join("data"))
            .env("HOME", self.home.path())
            .env("RUST_LOG", "warn");
        // A short request timeout keeps a hung test short. Not for `kv watch`,
        // whose --timeout is how long it watches.
        if args.get(..2) != Some(&["kv", "watch"][..]) {
            cmd.args(["--timeout", "10"]);
        }
        cmd.args(args);
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs rpkv with `args` and no stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_stdin(args, None)
    }

    /// Runs rpkv with `args` and `stdin`, killing it after 60 s.
    pub fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Run {
        run_command(self.command(args), stdin, Duration::from_secs(60))
    }
}

/// Runs a command to completion with a deadline, capturing its output.
pub fn run_command(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> Run {
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
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        let input = input.to_vec();
        std::thread::spawn(move || {
            let _ = pipe.write_all(&input);
        });
    }
    let out = child.stdout.take().expect("stdout pipe");
    let err = child.stderr.take().expect("stderr pipe");
    let read = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let t_out = read(Box::new(out));
    let t_err = read(Box::new(err));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{name} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
    }
}
