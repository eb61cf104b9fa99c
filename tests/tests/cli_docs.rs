//! The CLI walkthrough of the README runs as written (the second bash block of
//! its Walkthrough section), with `rpkv` on PATH, against a fresh dev broker.

use std::process::Command;
use std::time::Duration;

use rpkv_e2e::cli::run_command;
use rpkv_e2e::{Broker, bin_path};

#[test]
fn cli_walkthrough_works_verbatim() {
    let section = rpkv_e2e::readme_after("### Walkthrough");
    let blocks: Vec<&str> = section
        .split("```bash\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap_or(""))
        .collect();
    assert!(
        blocks[0].contains("rpkv dev"),
        "first block starts the dev broker"
    );
    let script = blocks[1];

    let b = Broker::start(&[]).unwrap();
    let work = tempfile::tempdir().unwrap();
    let bin_dir = bin_path("rpkv").parent().unwrap().to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-euo", "pipefail", "-c", script])
        .current_dir(work.path())
        .env("PATH", path)
        .env("RPKV_HTTP_URL", b.url())
        .env(
            "RPKV_BROKERS",
            b.kafka_addr.expect("Kafka listener").to_string(),
        )
        .env("XDG_CONFIG_HOME", work.path().join("config"))
        .env_remove("RPKV_PROFILE");
    let run = run_command(cmd, None, Duration::from_secs(120));
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    for expected in [
        "foo bar\nhello world\nfoo qux\n",
        "KEY  VALUE  PARTITION\nfoo  qux    0\n",
        "exit code 3\n",
        r#"[{"key":"counter","value":"11","found":true,"partition":0}]"#,
        "imported 3 keys into topic \"example-copy\"",
        "KEY      VALUE  PARTITION\ncounter  11     0\nfoo      qux    0\nhello    world  0\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(run.stderr.contains("precondition failed"), "{run:?}");
}
