//! rpkv: a client library and CLI (and a TUI, issue #6) for Redpanda's kvstore.
//!
//! - [`client`]: the async client (kvstore, HTTP Proxy, Kafka admin); no printing.
//! - [`config`]: connection profiles in `$XDG_CONFIG_HOME/rpkv/rpkv.toml`.
//! - [`format`]: byte formats (utf8, hex, base64) and text tables.
//! - [`paths`]: where files live (XDG config, data and state dirs).
//! - [`record_format`]: rpk-style `-f '%k %v\n'` record formats.
//! - [`cli`]: the `rpkv` command line.
//! - [`tui`]: the terminal UI that `rpkv` opens without a subcommand.

pub mod cli;
pub mod client;
pub mod config;
pub mod format;
pub mod paths;
pub mod record_format;
pub mod tui;
