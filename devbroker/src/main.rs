//! The `devbroker` binary.

use clap::{Parser, Subcommand};
use devbroker::server::{self, ServeArgs};
use std::io::Write;

// Malformed Kafka frames can ask the protocol decoder for huge, never-used
// reservations; see `devbroker::alloc`.
#[global_allocator]
static ALLOC: devbroker::alloc::LazyHugeAlloc = devbroker::alloc::LazyHugeAlloc;

/// A one-command local stand-in for a Redpanda broker with kvstore.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the broker until SIGINT or SIGTERM.
    ///
    /// Example: devbroker serve --topic example-topic --topic orders:3
    Serve(ServeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => {
            runtime.block_on(server::run(args, server::shutdown_signal(), |l| {
                // One line on stdout that scripts and tests can wait for.
                let mut out = std::io::stdout();
                let _ = write!(out, "{}", l.announcement());
                let _ = out.flush();
            }))?
        }
    }
    Ok(())
}
