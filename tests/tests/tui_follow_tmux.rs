//! TUI follow mode in a real terminal: tmux runs the built `rpkv` against the
//! real `devbroker` with its Kafka listener (the watch reads the log with
//! Fetch long polls); curl writes over the kvstore HTTP API meanwhile. A key
//! written shows up without a key press, keys inserted above the selection
//! leave it (and the value view) on its key, a deleted key goes, and the
//! changes popup lists what happened.

use std::process::Command;

use anyhow::{Context, Result, ensure};
use rpkv_e2e::tmux::{Tmux, rpkv_command};
use rpkv_e2e::{Broker, b64};

/// One atomic write through curl: `puts` of (key, value), `deletes` of keys.
fn curl_write(broker: &Broker, puts: &[(&str, &str)], deletes: &[&str]) -> Result<()> {
    let puts: Vec<String> = puts
        .iter()
        .map(|(k, v)| {
            format!(
                r#"{{"key":"{}","value":"{}"}}"#,
                b64(k.as_bytes()),
                b64(v.as_bytes())
            )
        })
        .collect();
    let deletes: Vec<String> = deletes
        .iter()
        .map(|k| format!(r#"{{"key":"{}"}}"#, b64(k.as_bytes())))
        .collect();
    let body = format!(
        r#"{{"puts":[{}],"deletes":[{}]}}"#,
        puts.join(","),
        deletes.join(",")
    );
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-H", "content-type: application/json"])
        .args(["-d", &body])
        .arg(format!("{}/kvstore/kv/partition/0/write", broker.url()))
        .output()
        .context("running curl")?;
    ensure!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The scan table's rows (key column) in screen order: the table has the
/// focus (a heavy border) and is the second pane of its lines.
fn shown_keys(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter(|l| l.contains('┃'))
        .filter_map(|l| l.split(['┃', '│']).nth(3))
        .filter_map(|cell| {
            let cell = cell.trim_start_matches(['~', '●', ' ']);
            let key = cell.split_whitespace().next()?;
            key.contains(':').then(|| key.to_owned())
        })
        .collect()
}

#[test]
fn tui_follow_shows_writes_drops_deletes_and_keeps_the_selection() -> Result<()> {
    let broker = Broker::start(&["--topic", "kv:1"])?;
    let addr = broker.kafka_addr.context("kafka listener")?.to_string();
    curl_write(
        &broker,
        &[
            ("m:1", "one"),
            ("m:2", "two"),
            ("m:3", "three"),
            ("m:4", "four"),
        ],
        &[],
    )?;
    let dir = tempfile::tempdir()?;
    let tmux = Tmux::start(
        "follow",
        &rpkv_command("", dir.path(), &broker.url(), &addr),
    )?;
    tmux.wait_text("Topics (1)")?;
    tmux.command("topic kv")?;
    tmux.wait_text("m:4")?;
    // Select m:3.
    tmux.send(&["Down"])?;
    tmux.send(&["Down"])?;
    tmux.wait_text("key m:3")?;
    tmux.send(&["F"])?;
    tmux.wait_text("following: 0 changes")?;

    // A key written by curl appears, above the selection, in byte order; the
    // selection and the value view stay on m:3. (The wait is generous for a
    // loaded machine; on an idle one the key shows well within a second.)
    curl_write(&broker, &[("a:1", "new")], &[])?;
    let s = tmux.wait_text("a:1")?;
    assert!(s.contains("key m:3"), "the value view left m:3:\n{s}");
    assert_eq!(shown_keys(&s), ["a:1", "m:1", "m:2", "m:3", "m:4"], "{s}");

    // Two more above it in one batch: still on m:3.
    curl_write(&broker, &[("b:1", "x"), ("b:2", "y")], &[])?;
    let s = tmux.wait_text("b:2")?;
    assert!(s.contains("key m:3"), "the value view left m:3:\n{s}");
    assert_eq!(
        shown_keys(&s),
        ["a:1", "b:1", "b:2", "m:1", "m:2", "m:3", "m:4"],
        "{s}"
    );
    // The selection is on m:3: a Down moves to m:4.
    tmux.send(&["Down"])?;
    tmux.wait_text("key m:4")?;
    tmux.send(&["Up"])?;
    tmux.wait_text("key m:3")?;

    // A delete: the key goes.
    curl_write(&broker, &[], &["a:1"])?;
    let s = tmux.wait_for("a:1 deleted", |s| !shown_keys(s).contains(&"a:1".into()))?;
    assert!(s.contains("key m:3"), "{s}");
    tmux.wait_text("following: 4 changes")?;

    // The changes popup lists them, newest first.
    tmux.send(&["c"])?;
    let s = tmux.wait_text("Changes · last 4 of 4")?;
    assert!(s.contains("delete"), "{s}");
    tmux.send(&["Escape"])?;
    tmux.send(&["F"])?;
    tmux.wait_text("follow mode off")?;
    tmux.send(&["q"])?;
    Ok(())
}
