//! Errors of the tier.

use crate::storage::StoreError;

/// Errors of the tier.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    #[error("invalid --tier URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("object storage {op} of {path} failed: {source}")]
    Store {
        op: &'static str,
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error("tiered object {path} is corrupt ({reason}); it is not served or restored")]
    Corrupt { path: String, reason: String },
    /// The prefix belongs to another broker: refusing to start.
    #[error("{0}")]
    Owned(String),
    /// Another broker took over the prefix: this one no longer writes.
    #[error("this broker is fenced: {0}")]
    Fenced(String),
    /// A manifest version was written by an older owner.
    #[error("manifest {path} was written by another writer (epoch {epoch})")]
    Conflict { path: String, epoch: u64 },
    #[error(transparent)]
    Local(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = TierError> = std::result::Result<T, E>;
