//! scripts/rpkv-demo.sh (the seed's demo replayed with rpkv against `rpkv dev`)
//! runs to the end and shows what the seed's demo shows.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use rpkv_e2e::bin_path;
use rpkv_e2e::cli::run_command;

#[test]
fn demo_script_replays_the_seed_demo() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf();
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/rpkv-demo.sh"))
        .env("RPKV", bin_path("rpkv"))
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("RPKV_HTTP_URL")
        .env_remove("RPKV_BROKERS")
        .env_remove("RPKV_PROFILE");
    let run = run_command(cmd, None, Duration::from_secs(120));
    assert_eq!(run.code, 0, "{run:?}");
    let out = &run.stdout;
    for expected in [
        "example-topic  OK\n",
        "Produced to partition 0 at offset 2.\n",
        "foo bar\nhello world\nfoo qux\n",
        "KEY  VALUE  PARTITION\nfoo  qux    0\n",
        "KEY    VALUE  PARTITION\nfoo    qux    0\nhello  world  0\n",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}
