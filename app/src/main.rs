//! The `rpkv` binary.

use std::process::ExitCode;

use rpkv::cli;

// `rpkv dev` and the TUI embed the dev broker, whose Kafka decoder can be asked
// for huge, never-used reservations by malformed frames; see `devbroker::alloc`.
#[global_allocator]
static ALLOC: devbroker::alloc::LazyHugeAlloc = devbroker::alloc::LazyHugeAlloc;

fn main() -> ExitCode {
    let parsed = cli::parse();
    if parsed.cli.command.is_none() {
        // TUI entry point (issue #6): `rpkv` with no subcommand will open the TUI
        // here, built on `rpkv::client::Client` and `parsed.cli.conn.client()`.
        // Until then it prints the help and exits with the usage code.
        return cli::usage();
    }
    cli::run(parsed)
}
