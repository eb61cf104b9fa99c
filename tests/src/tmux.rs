//! A real terminal for TUI tests: one tmux server (own socket) running one
//! command; keys go in with `send-keys`, the screen comes out with
//! `capture-pane`. The server is killed when the value is dropped.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// One tmux server (own socket) running one rpkv session.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn start(name: &str, command: &str) -> Result<Tmux> {
        let socket = format!("rpkv-e2e-{}-{name}", std::process::id());
        let t = Tmux { socket };
        let status = Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-s",
                "main",
                "-x",
                "120",
                "-y",
                "36",
            ])
            .arg(command)
            .status()
            .context("running tmux (install it: apt-get install tmux)")?;
        if !status.success() {
            bail!("tmux new-session failed: {status}");
        }
        Ok(t)
    }

    pub fn send(&self, keys: &[&str]) -> Result<()> {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "main"])
            .args(keys)
            .status()?;
        if !status.success() {
            bail!("tmux send-keys {keys:?} failed");
        }
        Ok(())
    }

    /// Types `:LINE` and Enter (a TUI command).
    pub fn command(&self, line: &str) -> Result<()> {
        self.type_text(&format!(":{line}"))?;
        self.send(&["Enter"])
    }

    /// Types text literally (no key-name lookup).
    pub fn type_text(&self, text: &str) -> Result<()> {
        self.send(&["-l", text])
    }

    pub fn screen(&self) -> Result<String> {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", "main"])
            .output()?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Waits until the screen satisfies `pred`; fails with the last screen.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> Result<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.screen()?;
            if pred(&s) {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn wait_text(&self, text: &str) -> Result<String> {
        self.wait_for(text, |s| s.contains(text))
    }

    /// Presses `key` until `text` shows: a key pressed while the TUI is still
    /// busy with the previous request (a slow, loaded machine) may be refused.
    pub fn press_until(&self, key: &str, text: &str) -> Result<String> {
        for _ in 0..4 {
            self.send(&[key])?;
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                let s = self.screen()?;
                if s.contains(text) {
                    return Ok(s);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        self.wait_text(text)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

/// The shell command that runs the built `rpkv` against `http_url` and
/// `brokers` with its state and config under `dir` (so nothing of the user's
/// is read or written), `env` first (e.g. `EDITOR='...'`), then keeps the
/// pane 30 s after it exits so its last screen can be read.
pub fn rpkv_command(env: &str, dir: &std::path::Path, http_url: &str, brokers: &str) -> String {
    format!(
        "env {env} XDG_STATE_HOME='{}' XDG_CONFIG_HOME='{}' '{}' --http-url '{http_url}' --brokers '{brokers}'; sleep 30",
        dir.join("state").display(),
        dir.join("config").display(),
        crate::bin_path("rpkv").display(),
    )
}
