//! devbroker: a one-command local stand-in for a Redpanda broker with kvstore.
//!
//! - [`storage`]: LMDB (heed) partition logs and key-value views, one writer thread
//!   with group commit.
//! - [`http`]: the kvstore API and an HTTP Proxy subset (axum).
//! - [`wire`], [`partitioner`]: request and response bodies and Kafka's
//!   partitioner, shared with clients (the `rpkv-wire` crate, re-exported).
//! - [`tier`]: tiered storage to S3-compatible object storage, with restore.
//! - [`kafka`]: the Kafka wire protocol listener.
//! - [`alloc`]: an allocator guard against huge reservations from malformed frames.
//! - [`server`]: wires it all together with graceful shutdown; [`defaults`]:
//!   every default, once.

pub mod alloc;
pub mod config;
pub mod defaults;
pub mod durable;
pub mod http;
pub mod kafka;
pub mod metrics;
pub mod server;
pub mod storage;
pub mod tier;

/// The wire types, from the `rpkv-wire` crate the rpkv client shares.
pub use rpkv_wire as wire;
pub use rpkv_wire::partitioner;

// Unit tests feed malformed frames to the Kafka decoders; see `alloc`.
#[cfg(test)]
#[global_allocator]
static TEST_ALLOC: alloc::LazyHugeAlloc = alloc::LazyHugeAlloc;
