//! The `rpkv` binary.

use std::process::ExitCode;

use rpkv::cli;

// `rpkv dev` and the TUI embed the dev broker, whose Kafka decoder can be asked
// for huge, never-used reservations by malformed frames; see `devbroker::alloc`.
#[cfg(feature = "dev")]
#[global_allocator]
static ALLOC: devbroker::alloc::LazyHugeAlloc = devbroker::alloc::LazyHugeAlloc;

fn main() -> ExitCode {
    let parsed = cli::parse();
    if parsed.cli.command.is_none() {
        // TUI entry point (issue #6): `rpkv` with no subcommand opens the TUI
        // in a terminal (it logs to a file); without one it prints the help.
        if rpkv::tui::has_terminal() {
            return rpkv::tui::main_from_cli(&parsed.cli.conn);
        }
        return cli::usage();
    }
    cli::run(parsed)
}
