//! The TUI's groups view in a real terminal: tmux runs the built `rpkv`
//! against the real `devbroker` with its Kafka listener; kafka-python commits
//! offsets and holds a live member, kcat produces. The detail's lag follows
//! new records without a key press; a delete asks first and goes through; a
//! seek of a group with a member is refused with Kafka's reason.

mod kafka_common;

use anyhow::{Context, Result};
use kafka_common::{GroupMember, kcat, python};
use rpkv_e2e::Broker;
use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::tmux::{Tmux, rpkv_command};

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
    let _live = GroupMember::start(&addr, "orders", "live", 6000);
    let dir = tempfile::tempdir()?;
    let tmux = Tmux::start(
        "groups",
        &rpkv_command("", dir.path(), &broker.url(), &addr),
    )?;
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
