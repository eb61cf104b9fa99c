//! The `rpkv` command line: clap definitions and dispatch. Commands print; the
//! client library does not.

mod conn;
#[cfg(feature = "dev")]
mod dev;
mod group;
mod keys;
mod kv;
mod kv_partition;
mod partitions;
mod profile;
mod topic;
mod transfer;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use conn::ConnArgs;
pub(crate) use partitions::{fixed_partition, partition_count, partitions};

use crate::client;

/// Exit code of a failed precondition (HTTP 409).
pub const EXIT_PRECONDITION: u8 = 3;
/// Exit code of any other error.
pub const EXIT_ERROR: u8 = 1;
/// Exit code of a usage error (as clap uses).
pub const EXIT_USAGE: u8 = 2;

const MAIN_EXAMPLES: &str = "\
Examples:
  rpkv dev --topic example-topic          # run the bundled dev broker
  rpkv topic create example-topic -c redpanda.kvstore=cloud
  rpkv kv put example-topic foo bar
  rpkv kv get example-topic foo
  rpkv kv scan example-topic --format json
  rpkv --profile prod topic list

Connection settings come from flags, then RPKV_* environment variables, then the
profile (--profile or the current one), then the defaults.

Exit codes: 0 ok, 1 error, 2 usage, 3 precondition failed (HTTP 409).";

/// A terminal client and CLI for Redpanda's kvstore, with a bundled dev broker.
#[derive(Parser, Debug)]
#[command(
    name = "rpkv",
    version,
    about,
    long_about = "rpkv reads and writes Redpanda kvstore topics (and the bundled dev broker) \
over the HTTP Proxy's kvstore API, and manages topics over the Kafka protocol. \
Commands are modelled on `rpk kvstore` and `rpk topic`.",
    after_help = MAIN_EXAMPLES
)]
pub struct Cli {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Read and write keys of kvstore topics.
    #[command(subcommand)]
    Kv(kv::KvCommand),
    /// List, create, describe, delete topics; produce and consume records.
    #[command(subcommand)]
    Topic(topic::TopicCommand),
    /// List, describe, seek and delete consumer groups.
    #[command(subcommand)]
    Group(group::GroupCommand),
    /// Manage connection profiles in $XDG_CONFIG_HOME/rpkv/rpkv.toml.
    #[command(subcommand)]
    Profile(profile::ProfileCommand),
    /// Run the bundled dev broker in this process until SIGINT or SIGTERM.
    #[cfg(feature = "dev")]
    Dev(Box<dev::DevArgs>),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  rpkv completions bash > ~/.local/share/bash-completion/completions/rpkv\n  rpkv completions zsh > ~/.zfunc/_rpkv\n  rpkv completions fish > ~/.config/fish/completions/rpkv.fish"
    )]
    Completions {
        /// The shell to generate for.
        shell: clap_complete::Shell,
    },
}

/// The clap command, with `rpkv dev`'s data dir default described as the XDG one.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    #[cfg(feature = "dev")]
    let cmd = cmd.mut_subcommand("dev", |dev| {
        dev.mut_arg("data_dir", |a| {
            a.hide_default_value(true).help(
                "Directory of the LMDB environment (created if missing) \
                 [default: $XDG_DATA_HOME/rpkv/devbroker]",
            )
        })
    });
    cmd
}

/// A parsed command line.
pub struct Parsed {
    pub cli: Cli,
    /// `rpkv dev` got no --data-dir (and no DEVBROKER_DATA_DIR): use the XDG data dir.
    dev_data_dir_defaulted: bool,
}

/// Parses the command line; usage errors print and exit 2, `--help` exits 0.
pub fn parse() -> Parsed {
    let matches = command().get_matches();
    let cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    // Without the `dev` feature there is no `dev` subcommand, and asking clap
    // for one panics (a debug assertion).
    #[cfg(feature = "dev")]
    let dev_data_dir_defaulted = matches
        .subcommand_matches("dev")
        .and_then(|m| m.value_source("data_dir"))
        .is_some_and(|s| s == clap::parser::ValueSource::DefaultValue);
    #[cfg(not(feature = "dev"))]
    let dev_data_dir_defaulted = false;
    Parsed {
        cli,
        dev_data_dir_defaulted,
    }
}

/// Prints the help and returns the usage exit code.
pub fn usage() -> ExitCode {
    let mut cmd = command();
    let _ = cmd.print_help();
    ExitCode::from(EXIT_USAGE)
}

/// Runs a subcommand; errors are one line on stderr and exit 1 (3 for a failed
/// precondition). Without a subcommand it prints the help (exit 2).
pub fn run(parsed: Parsed) -> ExitCode {
    let Parsed {
        cli,
        dev_data_dir_defaulted,
    } = parsed;
    #[cfg(not(feature = "dev"))]
    let _ = dev_data_dir_defaulted;
    let Some(sub) = cli.command else {
        return usage();
    };
    #[cfg(feature = "dev")]
    let serving = matches!(sub, Command::Dev(_));
    #[cfg(not(feature = "dev"))]
    let serving = false;
    init_tracing(serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rpkv: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    };
    let result = runtime.block_on(async {
        match sub {
            Command::Kv(c) => kv::run(&cli.conn, c).await,
            Command::Topic(c) => topic::run(&cli.conn, c).await,
            Command::Group(c) => group::run(&cli.conn, c).await,
            Command::Profile(c) => profile::run(&cli.conn, c),
            #[cfg(feature = "dev")]
            Command::Dev(args) => dev::run(*args, dev_data_dir_defaulted).await,
            Command::Completions { shell } => {
                let mut cmd = command();
                clap_complete::generate(shell, &mut cmd, "rpkv", &mut std::io::stdout());
                Ok(())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = exit_code(&e);
            let line = format!("{e:#}").replace(['\n', '\r'], " ");
            let _ = writeln!(std::io::stderr(), "rpkv: {line}");
            ExitCode::from(code)
        }
    }
}

/// A precondition the CLI checked itself (against values it read) that
/// does not hold: exit 3, like one the broker refuses.
#[derive(Debug, thiserror::Error)]
#[error("precondition failed: {0}")]
pub struct PreconditionUnmet(pub String);

/// 3 for a failed precondition anywhere in the chain, else 1.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    let precondition = e.chain().any(|c| {
        c.downcast_ref::<client::Error>()
            .is_some_and(client::Error::is_precondition_failed)
            || c.is::<PreconditionUnmet>()
    });
    if precondition {
        EXIT_PRECONDITION
    } else {
        EXIT_ERROR
    }
}

fn init_tracing(dev: bool) {
    let default = if dev { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Prints a JSON document on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// Prints text on stdout.
pub(crate) fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn parsed_command_lines_debug_without_passwords() {
        for args in [
            &[
                "rpkv",
                "--http-url",
                "http://alice:url-s3cret@127.0.0.1:18082",
                "--user",
                "alice",
                "--password",
                "flag-s3cret",
                "kv",
                "get",
                "t",
                "k",
            ][..],
            &["rpkv", "dev", "--basic-auth", "alice:dev-s3cret"][..],
        ] {
            let cli = <Cli as clap::Parser>::try_parse_from(args).unwrap();
            let shown = format!("{cli:?} {cli:#?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("alice"), "{shown}");
        }
    }

    #[test]
    fn precondition_failures_exit_3() {
        let e = anyhow::Error::new(client::Error::PreconditionFailed {
            message: "m".into(),
        })
        .context("topic \"t\" partition 0");
        assert_eq!(exit_code(&e), EXIT_PRECONDITION);
        let e = anyhow::Error::new(PreconditionUnmet("k".into())).context("delete");
        assert_eq!(exit_code(&e), EXIT_PRECONDITION);
        assert_eq!(exit_code(&anyhow::anyhow!("other")), EXIT_ERROR);
    }
}
