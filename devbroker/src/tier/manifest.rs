//! Manifest versions: reading the latest, and writing the next with a
//! conditional put, which is also where a newer owner's write fences this broker.

use object_store::path::Path;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::layout::{self, Writer};
use super::{Result, Tier, TierError};

impl Tier {
    /// The latest version of a manifest, if any.
    pub(super) async fn latest_manifest<T: DeserializeOwned>(
        &self,
        dir: &str,
    ) -> Result<Option<(u64, T)>> {
        for _ in 0..3 {
            let mut versions: Vec<u64> = self
                .list(dir)
                .await?
                .iter()
                .filter_map(|k| layout::manifest_version(&Path::from(k.as_str())))
                .collect();
            versions.sort_unstable();
            let Some(&latest) = versions.last() else {
                return Ok(None);
            };
            let key = layout::manifest_key(dir, latest);
            match self.get(&key).await {
                Ok(bytes) => {
                    let doc = serde_json::from_slice(&bytes).map_err(|e| TierError::Corrupt {
                        path: key.clone(),
                        reason: e.to_string(),
                    })?;
                    return Ok(Some((latest, doc)));
                }
                // Garbage-collected between list and get: list again.
                Err(TierError::Store {
                    source: object_store::Error::NotFound { .. },
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(TierError::Other(format!(
            "manifest versions under {dir} keep disappearing"
        )))
    }

    /// Writes manifest `version` under `dir` with a conditional put. A collision
    /// with our own earlier attempt (same `put_id`) is a success; one with a
    /// newer owner fences us; one with an older owner is a [`TierError::Conflict`].
    pub(super) async fn write_manifest<T: Serialize>(
        &self,
        dir: &str,
        version: u64,
        doc: &T,
        writer: &Writer,
    ) -> Result<()> {
        let key = layout::manifest_key(dir, version);
        let bytes = serde_json::to_vec_pretty(doc).map_err(|e| TierError::Other(e.to_string()))?;
        let Some(existing) = self.put_create(&key, bytes).await? else {
            if version > 3 {
                self.delete(&layout::manifest_key(dir, version - 3)).await;
            }
            return Ok(());
        };
        let theirs: serde_json::Value = serde_json::from_slice(&existing).unwrap_or_default();
        let w = &theirs["writer"];
        if w["put_id"].as_str() == Some(writer.put_id.as_str()) {
            return Ok(());
        }
        let epoch = w["epoch"].as_u64().unwrap_or(0);
        if epoch > self.inner.epoch {
            let reason = format!(
                "manifest {key} was written by broker {} at epoch {epoch} (this broker has epoch {})",
                w["broker_id"].as_str().unwrap_or("?"),
                self.inner.epoch
            );
            self.set_fenced(reason.clone());
            return Err(TierError::Fenced(reason));
        }
        Err(TierError::Conflict { path: key, epoch })
    }
}
