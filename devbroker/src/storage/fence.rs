//! The write fence: the one gate every change passes. Once another broker took
//! over this broker's tier prefix, the tier's owner watch sets the fence; from
//! then on the writer thread refuses, before applying it, every operation that
//! changes data (kvstore writes, produce over HTTP and Kafka, topic creation and
//! deletion, config changes, retention and compaction) with
//! [`StoreError::Fenced`], so whichever front end or background task asked, the
//! data stays as it was. Reads go on. Restore is not gated: it runs at open,
//! before the broker serves. A fence is never lifted; a restart claims again.

use std::sync::{Arc, OnceLock};

use super::{Result, StoreError};

/// Shared by the store's handles and its writer thread; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Fence {
    reason: Arc<OnceLock<String>>,
}

impl Fence {
    /// Fences the store with a reason a client can read. `true` the first
    /// time; later calls keep the first reason.
    pub fn set(&self, reason: String) -> bool {
        self.reason.set(reason).is_ok()
    }

    /// Why the store is fenced, once it is.
    pub fn reason(&self) -> Option<&str> {
        self.reason.get().map(String::as_str)
    }

    /// `Err(StoreError::Fenced)` once the store is fenced.
    pub(crate) fn check(&self) -> Result<()> {
        match self.reason() {
            Some(reason) => Err(StoreError::Fenced(reason.to_string())),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
