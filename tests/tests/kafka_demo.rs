//! The seed's demo flow with kcat (scripts/kcat-demo.sh) against a started broker.

mod kafka_common;

use std::process::Command;

use kafka_common::{repo_root, require_kcat, run_ok};
use rpkv_e2e::Broker;

#[test]
fn kcat_demo_script_shows_the_latest_value_per_key() {
    require_kcat();
    let b = Broker::start(&["--topic", "example-topic"]).unwrap();
    let out = run_ok(
        Command::new("bash")
            .arg(repo_root().join("scripts/kcat-demo.sh"))
            .env("KAFKA_BROKERS", b.kafka_addr.unwrap().to_string())
            .env("HTTP_URL", b.url())
            .env("TOPIC", "example-topic"),
        None,
    );
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "foo bar (partition 0, offset 0)",
        "hello world (partition 0, offset 1)",
        "foo qux (partition 0, offset 2)",
        "foo=qux",
        "hello=world",
        "partition 0: foo=qux",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(
        !lines.contains(&"foo=bar"),
        "the view keeps only the latest value:\n{out}"
    );
}
