//! Tiered storage: the bucket (S3-compatible or a local directory, through
//! `object_store`) is the durable copy of every partition, LMDB the hot one.
//!
//! - [`layout`]: object keys, manifest documents, segment and snapshot formats.
//! - `uploader`: one background task per partition cuts closed segments
//!   (`segment.bytes` / `segment.ms`) from the local log and uploads them, then a
//!   new partition manifest version; it also uploads view snapshots. Failures are
//!   retried with exponential backoff; writes never wait on the bucket.
//! - `restore`: a broker started on an empty data dir restores every topic, its
//!   configs and its view (latest snapshot + later segments) before it is ready.
//! - `offsets`: committed consumer-group offsets, uploaded as a versioned
//!   manifest whenever they change and restored after the topics.
//! - `owner`: fencing. The broker claims the prefix with an immutable
//!   `owner/{epoch}.json` (`PutMode::Create`); a second broker refuses to start,
//!   or with `--tier-takeover` fences the first, which then refuses writes.
//!
//! Every manifest version is a new object created with `PutMode::Create`, tagged
//! with the writer's broker id, epoch and a per-put id, so a retried put that
//! collides with its own earlier attempt is recognised as a success.
//!
//! The rest, one idea a file: `handle` (options, shared state, open / start /
//! shutdown), `bucket` (the object store and its operations), `manifest`
//! (versioned manifests; a newer owner's manifest fences), `supervisor` (topics
//! and their partitions' uploaders, upload floors), `local` (the `file://`
//! store, whose puts are durable and paced), `reads` (bucket reads below
//! the local log and their segment cache), `status` (`GET /status/tier`),
//! `ids` (random ids), `error`.

mod bucket;
mod error;
mod handle;
mod ids;
pub mod layout;
mod local;
mod manifest;
pub mod offsets;
mod owner;
mod reads;
mod restore;
mod status;
mod supervisor;
mod uploader;

pub use bucket::open_object_store;
pub use error::{Result, TierError};
pub use handle::{Tier, TierOptions};
pub use status::{PartitionStatus, TierStatus};

#[cfg(test)]
mod tests;
