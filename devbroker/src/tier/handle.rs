//! The tier handle: its options, the state its tasks share, and its life:
//! open (claim the prefix, restore an empty store), start (the supervisor and
//! the owner watch), shutdown (last uploads, release the prefix).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use object_store::ObjectStore;
use object_store::path::Path;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::ids::random_id;
use super::layout::Writer;
use super::reads::SegmentCache;
use super::supervisor::{PartHandle, TopicEntry};
use super::{Result, TierError, bucket, offsets, owner, restore, uploader};
use crate::metrics::Metrics;
use crate::storage::Store;

/// How the tier runs.
#[derive(Clone, Debug)]
pub struct TierOptions {
    /// `file:///path` or `s3://bucket/prefix`.
    pub url: String,
    /// The broker's data dir (its broker id lives there).
    pub data_dir: PathBuf,
    /// How often the uploader looks for closed segments.
    pub poll_interval: Duration,
    /// How often a partition's view is snapshotted (when it changed).
    pub snapshot_interval: Duration,
    /// Claim the prefix even if another broker holds it (fencing that broker).
    pub takeover: bool,
}

/// A handle to the tier; cheap to clone.
#[derive(Clone)]
pub struct Tier {
    pub(super) inner: Arc<Inner>,
}

/// What the handles share.
pub(super) struct Inner {
    pub(super) os: Arc<dyn ObjectStore>,
    pub(super) root: Path,
    pub(super) url: String,
    pub(super) broker_id: String,
    pub(super) epoch: u64,
    pub(super) db: Store,
    pub(super) metrics: Arc<Metrics>,
    pub(super) opts: TierOptions,
    pub(super) parts: Mutex<BTreeMap<(String, i32), Arc<PartHandle>>>,
    pub(super) topics: tokio::sync::Mutex<BTreeMap<String, TopicEntry>>,
    pub(super) stop: watch::Sender<bool>,
    pub(super) tasks: Mutex<Vec<JoinHandle<()>>>,
    pub(super) cache: SegmentCache,
    /// What the last upload of committed offsets left (see `offsets`).
    pub(super) offsets: tokio::sync::Mutex<offsets::OffsetsSync>,
}

impl Tier {
    /// Opens the tier: claims the prefix (or refuses, see `owner`), and restores
    /// every topic from the bucket when the local store is empty. Call
    /// [`Tier::start`] after creating preset topics.
    pub async fn open(opts: TierOptions, db: Store) -> Result<Tier> {
        let (os, root) = bucket::open_object_store(&opts.url)?;
        let metrics = db.metrics().clone();
        // A restore that did not finish (the bucket failed, the process died)
        // left part of the bucket in the store: it is dropped and redone, or the
        // broker would come up with part of the data and reuse its offsets.
        let marker = opts.data_dir.join(restore::RESTORE_MARKER);
        let unfinished = marker.exists();
        if unfinished {
            tracing::warn!(marker = %marker.display(), "tier: the last restore did not finish; restoring again");
            for t in db.topics() {
                db.delete_topic(&t.name).await?;
            }
        }
        let store_empty = db.topics().is_empty();
        let claim = owner::claim(&os, &root, &opts, store_empty).await?;
        tracing::info!(tier = %opts.url, broker_id = %claim.broker_id, epoch = claim.epoch, "tiering to object storage");
        let (stop, _) = watch::channel(false);
        let tier = Tier {
            inner: Arc::new(Inner {
                os,
                root,
                url: opts.url.clone(),
                broker_id: claim.broker_id,
                epoch: claim.epoch,
                db,
                metrics,
                opts,
                parts: Mutex::new(BTreeMap::new()),
                topics: tokio::sync::Mutex::new(BTreeMap::new()),
                stop,
                tasks: Mutex::new(Vec::new()),
                cache: SegmentCache::default(),
                offsets: tokio::sync::Mutex::new(offsets::OffsetsSync::default()),
            }),
        };
        if store_empty {
            restore::write_marker(&marker)?;
            restore::restore_all(&tier).await?;
            offsets::restore_offsets(&tier).await?;
            std::fs::remove_file(&marker).map_err(|e| {
                TierError::Other(format!("cannot remove {}: {e}", marker.display()))
            })?;
        }
        Ok(tier)
    }

    /// Registers every local topic with the tier and starts the background tasks.
    pub async fn start(&self) -> Result<()> {
        if let Err(e) = self.sync_topics().await {
            tracing::warn!(error = %e, "tier: first topic sync failed; retrying in the background");
        }
        let me = self.clone();
        let supervisor = tokio::spawn(async move { me.supervise().await });
        let me = self.clone();
        let watcher = tokio::spawn(async move { owner::watch(me).await });
        self.push_task(supervisor);
        self.push_task(watcher);
        Ok(())
    }

    pub(super) fn push_task(&self, task: JoinHandle<()>) {
        if let Ok(mut t) = self.inner.tasks.lock() {
            t.push(task);
        }
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub(super) fn db(&self) -> &Store {
        &self.inner.db
    }

    pub(super) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(super) fn opts(&self) -> &TierOptions {
        &self.inner.opts
    }

    pub(super) fn writer(&self) -> Writer {
        Writer {
            broker_id: self.inner.broker_id.clone(),
            epoch: self.inner.epoch,
            put_id: random_id(),
        }
    }

    pub(super) fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    pub(super) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// Stops the background tasks, then uploads what is pending, closing every
    /// open segment, within `timeout`; finally releases the prefix. Call after
    /// the listeners stopped taking writes and before closing the store.
    pub async fn shutdown(&self, timeout: Duration) {
        // send_replace: the value changes even when no task subscribed yet.
        self.inner.stop.send_replace(true);
        let tasks: Vec<JoinHandle<()>> = self
            .inner
            .tasks
            .lock()
            .map(|mut t| t.drain(..).collect())
            .unwrap_or_default();
        for t in tasks {
            let _ = t.await;
        }
        if let Some(reason) = self.fenced() {
            tracing::warn!(reason = %reason, "tier: fenced; nothing uploaded at shutdown");
            return;
        }
        let started = std::time::Instant::now();
        let flush = async {
            let mut backoff = Duration::from_millis(100);
            loop {
                match self.sync_topics().await {
                    Ok(()) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "tier: topic sync at shutdown failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            if let Err(e) = self.sync_offsets().await {
                tracing::warn!(error = %e, "tier: uploading committed offsets at shutdown failed");
            }
            let parts = self.all_parts();
            futures::future::join_all(parts.iter().map(|p| uploader::flush_all(self, p))).await;
        };
        match tokio::time::timeout(timeout, flush).await {
            Ok(()) => {
                tracing::info!(
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "tier: everything uploaded"
                );
                owner::release(self).await;
            }
            Err(_) => {
                let status = self.status().await;
                let lag: u64 = status.partitions.iter().map(|p| p.upload_lag_offsets).sum();
                tracing::warn!(
                    timeout_ms = timeout.as_millis() as u64,
                    records_not_uploaded = lag,
                    "tier: shutdown timeout reached before everything was uploaded; the local data dir still has it and uploads resume when this broker starts again (the prefix stays claimed)"
                );
            }
        }
    }
}
