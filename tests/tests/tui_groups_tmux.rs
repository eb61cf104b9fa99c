//! The TUI's groups view in a real terminal: tmux runs the built `rpkv`
//! against the real `devbroker` with its Kafka listener; kafka-python commits
//! offsets and holds a live member, kcat produces. The detail's lag follows
//! new records without a key press; a delete asks first and goes through; a
//! seek of a group with a member is refused with Kafka's reason.

mod kafka_common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kafka_common::{kcat, python, repo_root, require_kafka_python};
use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::{Broker, bin_path};

/// One tmux server (own socket) running one rpkv session.
struct Tmux(String);

impl Tmux {
    fn start(command: &str) -> Result<Tmux> {
        let t = Tmux(format!("rpkv-e2e-{}-groups", std::process::id()));
        let status = Command::new("tmux")
            .args([
                "-L",
                &t.0,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
            ])
            .args(["-x", "120", "-y", "36", command])
            .status()
            .context("running tmux (install it: apt-get install tmux)")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(t)
    }

    fn send(&self, keys: &[&str]) -> Result<()> {
        let status = Command::new("tmux")
            .args(["-L", &self.0, "send-keys", "-t", "main"])
            .args(keys)
            .status()?;
        if !status.success() {
            bail!("tmux send-keys {keys:?} failed");
        }
        Ok(())
    }

    fn command(&self, line: &str) -> Result<()> {
        self.send(&["-l", &format!(":{line}")])?;
        self.send(&["Enter"])
    }

    fn screen(&self) -> Result<String> {
        let out = Command::new("tmux")
            .args(["-L", &self.0, "capture-pane", "-p", "-t", "main"])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn wait_text(&self, text: &str) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen()?;
            if s.contains(text) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {text:?}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

/// A kafka-python group member, killed when dropped.
struct Member(Child);

impl Drop for Member {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn member(addr: &str, group: &str) -> Member {
    require_kafka_python();
    let mut child = Command::new("python3")
        .arg(repo_root().join("tests/python/kafka_group.py"))
        .args(["member", addr, "orders", group, "6000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || for _ in BufReader::new(stdout).lines() {});
    Member(child)
}

fn produce(addr: &str, n: usize) {
    let input: String = (0..n).map(|i| format!("v{i}\n")).collect();
    kcat(addr, &["-P", "-t", "orders", "-p", "0"], Some(&input));
}

#[test]
fn tui_groups_view_follows_lag_and_asks_before_changes() -> Result<()> {
    let broker = Broker::start(&["--topic", "orders:3"])?;
    let addr = broker.kafka_addr.context("kafka listener")?.to_string();
    produce(&addr, 6);
    // kafka-python commits after reading 2 records: lag 4 on partition 0.
    python("kafka_group.py", &["consume", &addr, "orders", "g", "2"]);
    let _live = member(&addr, "live");
    let dir = tempfile::tempdir()?;
    let tmux = Tmux::start(&format!(
        "env XDG_STATE_HOME='{}' XDG_CONFIG_HOME='{}' '{}' --http-url '{}' --brokers '{addr}'; sleep 30",
        dir.path().join("state").display(),
        dir.path().join("config").display(),
        bin_path("rpkv").display(),
        broker.url(),
    ))?;
    tmux.wait_text("Topics (1)")?;
    tmux.command("groups")?;
    tmux.wait_text("Consumer groups (2)")?;
    // The listing refreshes on its own until the member's group is Stable.
    tmux.wait_text("Stable")?;

    // g (first by name): its partitions, then the lag follows new records.
    tmux.send(&["Enter"])?;
    let s = tmux.wait_text("total lag 4")?;
    assert!(s.contains("Group g"), "{s}");
    produce(&addr, 3);
    tmux.wait_text("total lag 7")?;

    // Delete asks first; `y` deletes it on the broker.
    tmux.send(&["d"])?;
    tmux.wait_text("Delete consumer group g and its committed offsets?")?;
    tmux.send(&["y"])?;
    tmux.wait_text("group g deleted")?;
    tmux.wait_text("Consumer groups (1)")?;
    let listed = Rpkv::new(&broker)
        .run(&["group", "list", "--format", "json"])
        .ok()
        .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["name"], "live");

    // A seek of the group with a member: asked, then refused with the reason.
    tmux.command("seek start")?;
    tmux.wait_text("Seek consumer group live to the start")?;
    tmux.send(&["y"])?;
    tmux.wait_text("1 active member")?;
    tmux.send(&["q"])?;
    Ok(())
}
