//! The rpkv TUI in a real terminal: tmux runs the built `rpkv` binary against
//! the real `devbroker` binary, keys are sent with `send-keys` and the screen
//! is read with `capture-pane`.
//!
//! 1. `:topic`, `/` filter, `E` with EDITOR set to a script that rewrites the
//!    file, review, `y`: the broker has the new value.
//! 2. The editor script changes the key through the HTTP API (another writer)
//!    before saving: the write gets 409, the conflict view appears, Esc
//!    cancels, and the other writer's value survives.
//! 3. Profiles with saved passwords (one also in the URL, one wrong): the
//!    screens and the log file at `RPKV_LOG=trace` never show either.
//! 4. `x` on a topic of three partitions with binary keys, an empty value and
//!    text keys that look like base64 writes what `rpkv kv export` writes;
//!    `rpkv kv import --keep-partitions` of it restores every byte.

use std::path::{Path, PathBuf};

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::tmux::Tmux;
use rpkv_e2e::{Broker, Kv, b64, bin_path, sha256_hex};

fn script(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}\n"))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

fn rpkv_command(broker: &Broker, dir: &Path, editor: &Path) -> String {
    rpkv_e2e::tmux::rpkv_command(
        &format!("EDITOR='{}' VISUAL=", editor.display()),
        dir,
        &broker.url(),
        "127.0.0.1:1",
    )
}

#[tokio::test]
async fn tui_edit_in_editor_writes_with_cas() -> Result<()> {
    let broker = Broker::start(&["--topic", "kv:1"])?;
    let kv = Kv::new(broker.url());
    assert_eq!(kv.put("kv", 0, b"user:42", b"original value").await?, 200);
    assert_eq!(
        kv.put("kv", 0, b"other:1", b"not in the filter").await?,
        200
    );
    let dir = tempfile::tempdir()?;
    let editor = script(
        dir.path(),
        "editor.sh",
        "printf '%s' 'edited in $EDITOR' > \"$1\"",
    )?;
    let tmux = Tmux::start("edit", &rpkv_command(&broker, dir.path(), &editor))?;

    tmux.wait_text("Topics (1)")?;
    tmux.type_text(":topic kv")?;
    tmux.send(&["Enter"])?;
    tmux.wait_for("both keys", |s| {
        s.contains("user:42") && s.contains("other:1")
    })?;
    tmux.type_text("/user:")?;
    tmux.send(&["Enter"])?;
    let s = tmux.wait_text("prefix user:")?;
    tmux.wait_for("filtered table", |s| {
        s.contains("user:42") && !s.contains("other:1")
    })
    .with_context(|| format!("filter did not apply:\n{s}"))?;
    tmux.press_until("E", "Review: edit")?;
    // The popup's title can be on screen a frame before its body.
    let (read, written) = (
        sha256_hex(b"original value"),
        sha256_hex(b"edited in $EDITOR"),
    );
    let review = tmux.wait_for("the review's hashes", |s| {
        s.contains(&read) && s.contains(&written)
    })?;
    assert!(review.contains("ifMatches"), "{review}");
    tmux.send(&["y"])?;
    tmux.wait_text("wrote user:42")?;
    assert_eq!(
        kv.get("kv", 0, b"user:42").await?,
        Some(b"edited in $EDITOR".to_vec())
    );
    tmux.send(&["q"])?;
    Ok(())
}

#[tokio::test]
async fn tui_conflict_when_another_writer_wins() -> Result<()> {
    let broker = Broker::start(&["--topic", "kv:1"])?;
    let kv = Kv::new(broker.url());
    assert_eq!(kv.put("kv", 0, b"user:42", b"original value").await?, 200);
    let dir = tempfile::tempdir()?;
    // While "the user" edits, another writer changes the key.
    let body = format!(
        r#"{{"puts":[{{"key":"{}","value":"{}"}}]}}"#,
        b64(b"user:42"),
        b64(b"the other writer")
    );
    let editor = script(
        dir.path(),
        "editor.sh",
        &format!(
            "curl -sf -X POST -H 'content-type: application/json' -d '{body}' '{}/kvstore/kv/partition/0/write' >/dev/null\nprintf '%s' 'my edit' > \"$1\"",
            broker.url()
        ),
    )?;
    let tmux = Tmux::start("conflict", &rpkv_command(&broker, dir.path(), &editor))?;

    tmux.wait_text("Topics (1)")?;
    tmux.type_text(":topic kv")?;
    tmux.send(&["Enter"])?;
    tmux.wait_text("user:42")?;
    tmux.type_text("/user:")?;
    tmux.send(&["Enter"])?;
    tmux.wait_text("prefix user:")?;
    tmux.press_until("E", "Review: edit")?;
    tmux.send(&["y"])?;
    let conflict = tmux.wait_text("Conflict (HTTP 409)")?;
    assert!(
        conflict.contains(&sha256_hex(b"the other writer")),
        "{conflict}"
    );
    assert!(conflict.contains("the other writer"), "{conflict}");
    tmux.send(&["Escape"])?;
    tmux.wait_text("the other writer's value stays")?;
    assert_eq!(
        kv.get("kv", 0, b"user:42").await?,
        Some(b"the other writer".to_vec())
    );
    tmux.send(&["q"])?;
    Ok(())
}

#[tokio::test]
async fn tui_never_shows_or_logs_passwords() -> Result<()> {
    const RIGHT: &str = "right-pw-1618";
    const WRONG: &str = "wrong-pw-2236";
    let broker = Broker::start(&["--topic", "kv:1", "--basic-auth", &format!("alice:{RIGHT}")])?;
    let port = broker.http_addr.port();
    let dir = tempfile::tempdir()?;
    // Two profiles with saved passwords, one in the URL too; "bad" is wrong.
    let config = dir.path().join("config/rpkv/rpkv.toml");
    std::fs::create_dir_all(config.parent().context("config dir")?)?;
    std::fs::write(
        &config,
        format!(
            "current = \"ci\"\n\
             [profiles.ci]\nhttp_url = \"http://alice:{RIGHT}@127.0.0.1:{port}\"\n\
             brokers = \"127.0.0.1:1\"\nuser = \"alice\"\npassword = \"{RIGHT}\"\n\
             [profiles.bad]\nhttp_url = \"http://127.0.0.1:{port}\"\n\
             brokers = \"127.0.0.1:1\"\nuser = \"alice\"\npassword = \"{WRONG}\"\n"
        ),
    )?;
    let state = dir.path().join("state");
    let command = format!(
        "env -u RPKV_HTTP_URL -u RPKV_BROKERS -u RPKV_PROFILE -u RPKV_USER -u RPKV_PASSWORD \
         VISUAL= RPKV_LOG=trace XDG_STATE_HOME='{}' XDG_CONFIG_HOME='{}' '{}'; sleep 30",
        state.display(),
        dir.path().join("config").display(),
        bin_path("rpkv").display(),
    );
    let tmux = Tmux::start("secrets", &command)?;
    let mut screens = vec![tmux.wait_text("Topics (1)")?];
    screens.push(tmux.wait_text(&format!("http://alice:***@127.0.0.1:{port}"))?);
    tmux.type_text(":ctx")?;
    tmux.send(&["Enter"])?;
    screens.push(tmux.wait_text("profiles: bad, ci")?);
    tmux.type_text(":ctx bad")?;
    tmux.send(&["Enter"])?;
    screens.push(tmux.wait_text("401")?);
    tmux.send(&["?"])?;
    screens.push(tmux.wait_text("Help")?);
    tmux.send(&["Escape"])?;
    // An Escape and the next key read together are Alt-key: wait for the
    // popup to close before typing on.
    tmux.wait_for("the help to close", |s| !s.contains("any key closes"))?;
    tmux.type_text(":ctx ci")?;
    tmux.send(&["Enter"])?;
    tmux.wait_text("profile ci")?;
    tmux.type_text(":topic kv")?;
    tmux.send(&["Enter"])?;
    screens.push(tmux.wait_text("(no keys in this range)")?);
    tmux.send(&["q"])?;
    let log = state.join("rpkv/rpkv.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("401") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(text.contains("starting the TUI"), "{text}");
    assert!(text.contains("401"), "the failed request is logged: {text}");
    for secret in [RIGHT, WRONG] {
        for s in &screens {
            assert!(!s.contains(secret), "{secret} on screen:\n{s}");
        }
        assert!(!text.contains(secret), "{secret} in {}", log.display());
    }
    Ok(())
}

#[tokio::test]
async fn tui_export_imports_back_byte_for_byte() -> Result<()> {
    let broker = Broker::start(&["--topic", "src:3", "--topic", "dst:3"])?;
    let kafka = broker.kafka_addr.context("a Kafka listener")?;
    let kv = Kv::new(broker.url());
    // (partition, key, value): keys and values that a lossy export breaks.
    let keys: &[(i32, &[u8], &[u8])] = &[
        (0, &[0x00, 0xff, b'b', b'i', b'n'], b"binary key"),
        (1, b"Zm9v", b"text key that looks like base64"),
        (2, b"AP9iaW4=", &[0xff, 0x00, 0xfe]),
        (0, b"empty", b""),
        (1, "cl\u{e9}".as_bytes(), b"V2058dHQ="),
    ];
    for (p, k, v) in keys {
        assert_eq!(kv.put("src", *p, k, v).await?, 200);
    }
    let dir = tempfile::tempdir()?;
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work)?;
    // The TUI exports into its working directory.
    let command = format!(
        "cd '{}' && env VISUAL= XDG_STATE_HOME='{}' XDG_CONFIG_HOME='{}' '{}' --http-url '{}' --brokers '{kafka}'; sleep 30",
        work.display(),
        dir.path().join("state").display(),
        dir.path().join("config").display(),
        bin_path("rpkv").display(),
        broker.url(),
    );
    let tmux = Tmux::start("export", &command)?;
    tmux.wait_text("Topics (2)")?;
    tmux.type_text(":topic src")?;
    tmux.send(&["Enter"])?;
    // All three partitions merged: rows of 0, 1 and 2 show (NUL and 0xff escaped).
    tmux.wait_for("the keys of every partition", |s| {
        s.contains("Zm9v") && s.contains("AP9iaW4=") && s.contains("\\u{0}\\xffbin")
    })?;
    let exported = work.join("src-all.jsonl");
    tmux.press_until("x", "exported 5 keys")?;
    tmux.send(&["q"])?;
    let text = std::fs::read_to_string(&exported)
        .with_context(|| format!("reading {}", exported.display()))?;

    // The same lines as `rpkv kv export`.
    let rpkv = Rpkv::new(&broker);
    assert_eq!(text, rpkv.run(&["kv", "export", "src"]).ok().stdout);
    assert!(
        text.contains(r#"{"key":"Zm9v","value":"text key that looks like base64","partition":1}"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"{"key":"AP9iaW4=","key_encoding":"base64","value":"binary key","partition":0}"#
        ),
        "{text}"
    );

    let file = exported.to_string_lossy();
    let out = rpkv
        .run(&[
            "kv",
            "import",
            "dst",
            "--keep-partitions",
            "-f",
            file.as_ref(),
        ])
        .ok();
    assert!(out.stdout.contains("imported 5 keys"), "{out:?}");
    for (p, k, v) in keys {
        assert_eq!(kv.get("dst", *p, k).await?.as_deref(), Some(*v), "{k:?}");
    }
    for p in 0..3 {
        assert_eq!(kv.scan_all("src", p).await?, kv.scan_all("dst", p).await?);
    }
    // The base64 text of the binary key was not written as a key.
    assert_eq!(kv.get("dst", 0, b"AP9iaW4=").await?, None);
    Ok(())
}
