//! rpkv: a client library and CLI (and a TUI, issue #6) for Redpanda's kvstore.
//!
//! - [`client`]: the async client (kvstore, HTTP Proxy, Kafka admin); no printing.
//! - [`tui`]: the terminal UI that `rpkv` opens without a subcommand.

pub mod client;
pub mod tui;
