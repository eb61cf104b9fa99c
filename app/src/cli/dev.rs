//! `rpkv dev`: the bundled dev broker, in this process.

use std::io::Write;

use anyhow::{Context, Result};
use clap::Args;
use devbroker::server::{self, ServeArgs};

use crate::config;

/// The flags of `devbroker serve`; the data dir defaults to the XDG data dir.
#[derive(Args, Debug)]
#[command(
    long_about = "Runs the bundled dev broker (the same as `devbroker serve`) in this process \
until SIGINT or SIGTERM, then stops cleanly with exit code 0. Unless --data-dir or \
DEVBROKER_DATA_DIR says otherwise, data lives in $XDG_DATA_HOME/rpkv/devbroker \
(~/.local/share/rpkv/devbroker).",
    after_help = "Examples:
  rpkv dev --topic example-topic
  rpkv dev --topic orders:3 --http-addr 127.0.0.1:8082 --data-dir /tmp/dev"
)]
pub struct DevArgs {
    #[command(flatten)]
    pub serve: ServeArgs,
}

pub async fn run(mut args: DevArgs, data_dir_defaulted: bool) -> Result<()> {
    if data_dir_defaulted {
        args.serve.data_dir = config::default_dev_data_dir();
    }
    let dir = args.serve.data_dir.clone();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating data dir {}", dir.display()))?;
    server::run(args.serve, server::shutdown_signal(), |listening| {
        let mut out = std::io::stdout();
        let _ = write!(out, "{}", listening.announcement());
        let _ = out.flush();
    })
    .await
    .with_context(|| format!("dev broker (data dir {})", dir.display()))
}
