//! The bucket: opening the object store of a `--tier` URL, and the object
//! operations every part of the tier uses (paths relative to the prefix).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::{Result, Tier, TierError, layout};

/// Opens the object store of a `--tier` URL: the store and the prefix in it.
pub fn open_object_store(url: &str) -> Result<(Arc<dyn ObjectStore>, Path)> {
    let bad = |reason: &str| TierError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if let Some(rest) = url.strip_prefix("file://") {
        if !rest.starts_with('/') {
            return Err(bad("a file URL needs an absolute path: file:///path"));
        }
        std::fs::create_dir_all(rest)
            .map_err(|e| bad(&format!("cannot create directory {rest}: {e}")))?;
        // Puts are durable before they return (see `local`).
        let fs = super::local::DurableLocal::new(std::path::Path::new(rest))
            .map_err(|e| bad(&e.to_string()))?;
        Ok((Arc::new(fs), Path::from("")))
    } else if let Some(rest) = url.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("missing bucket: s3://bucket/prefix"));
        }
        use object_store::ClientConfigKey;
        use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
        crate::http::tls::install_crypto_provider();
        let s3 = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_config(AmazonS3ConfigKey::Client(ClientConfigKey::Timeout), "10s")
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                "2s",
            )
            .with_retry(object_store::RetryConfig {
                backoff: object_store::BackoffConfig::default(),
                max_retries: 2,
                retry_timeout: Duration::from_secs(10),
            })
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok((Arc::new(s3), Path::from(prefix.trim_matches('/'))))
    } else {
        Err(bad("expected file:///path or s3://bucket/prefix"))
    }
}

/// Every object under `dir` (recursively), with list errors named by path.
pub(super) async fn list_objects(
    os: &Arc<dyn ObjectStore>,
    dir: &Path,
) -> Result<Vec<object_store::ObjectMeta>> {
    use futures::TryStreamExt;
    os.list(Some(dir))
        .try_collect()
        .await
        .map_err(|source| TierError::Store {
            op: "list",
            path: dir.to_string(),
            source,
        })
}

impl Tier {
    pub(super) fn path(&self, rel: &str) -> Path {
        layout::join(&self.inner.root, rel)
    }

    pub(super) async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(rel);
        let len = bytes.len() as u64;
        self.inner
            .os
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|source| TierError::Store {
                op: "put",
                path: path.to_string(),
                source,
            })?;
        self.inner.metrics.tier.uploaded_bytes.inc_by(len);
        Ok(())
    }

    /// Creates an object only if it does not exist: `Ok(None)` when created,
    /// `Ok(Some(existing))` when it existed.
    pub(super) async fn put_create(&self, rel: &str, bytes: Vec<u8>) -> Result<Option<Bytes>> {
        let path = self.path(rel);
        let len = bytes.len() as u64;
        let opts = PutOptions::from(PutMode::Create);
        match self
            .inner
            .os
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => {
                self.inner.metrics.tier.uploaded_bytes.inc_by(len);
                Ok(None)
            }
            Err(object_store::Error::AlreadyExists { .. }) => Ok(Some(self.get(rel).await?)),
            Err(source) => Err(TierError::Store {
                op: "conditional put",
                path: path.to_string(),
                source,
            }),
        }
    }

    pub(super) async fn get(&self, rel: &str) -> Result<Bytes> {
        let path = self.path(rel);
        let store_err = |source| TierError::Store {
            op: "get",
            path: path.to_string(),
            source,
        };
        let got = self.inner.os.get(&path).await.map_err(store_err)?;
        got.bytes().await.map_err(store_err)
    }

    pub(super) async fn delete(&self, rel: &str) {
        let path = self.path(rel);
        if let Err(e) = self.inner.os.delete(&path).await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::debug!(path = %path, error = %e, "tier: delete failed");
        }
    }

    /// Object paths (relative to the prefix) under a directory.
    pub(super) async fn list(&self, rel_dir: &str) -> Result<Vec<String>> {
        let dir = self.path(rel_dir);
        let root_len = match self.inner.root.as_ref() {
            "" => 0,
            r => r.len() + 1,
        };
        let metas = list_objects(&self.inner.os, &dir).await?;
        Ok(metas
            .into_iter()
            .map(|m| {
                m.location
                    .as_ref()
                    .get(root_len..)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect())
    }

    /// Names of the direct children "directories" of a directory.
    pub(super) async fn list_dirs(&self, rel_dir: &str) -> Result<Vec<String>> {
        let dir = self.path(rel_dir);
        let res = self
            .inner
            .os
            .list_with_delimiter(Some(&dir))
            .await
            .map_err(|source| TierError::Store {
                op: "list",
                path: dir.to_string(),
                source,
            })?;
        Ok(res
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }
}
