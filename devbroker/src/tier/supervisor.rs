//! Per-topic supervision: the supervisor task brings the bucket's topic
//! manifests in line with the local topics, starts an uploader per new
//! partition and stops those of deleted topics; the upload floors for retention.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::layout::{self, PartitionManifest, SnapshotInfo, TopicManifest};
use super::{Result, Tier, TierError, uploader};
use crate::storage::{Floors, now_ms};

/// What the tier knows of a topic it uploads.
pub(super) struct TopicEntry {
    pub(super) created_ms: i64,
    pub(super) incarnation: i64,
    pub(super) version: u64,
    pub(super) manifest: TopicManifest,
    pub(super) started: BTreeSet<i32>,
}

/// One partition being uploaded.
pub(super) struct PartHandle {
    pub(super) topic: String,
    pub(super) partition: i32,
    pub(super) incarnation: i64,
    /// `created_ms` of the local topic this partition belongs to.
    pub(super) created_ms: i64,
    pub(super) state: Mutex<PartState>,
}

#[derive(Default)]
pub(super) struct PartState {
    pub(super) manifest: PartitionManifest,
    pub(super) pending_snapshot: Option<SnapshotInfo>,
    pub(super) last_snapshot_ms: i64,
    pub(super) failures: u64,
    pub(super) last_error: Option<String>,
    pub(super) lag_bytes: u64,
    /// The open segment as scanned so far (sizes only), so that each poll reads
    /// only the records appended since the last one.
    pub(super) open: OpenScan,
}

/// Sizes of the records from `from` (the upload cursor) to `next`.
#[derive(Default)]
pub(super) struct OpenScan {
    pub(super) from: u64,
    pub(super) next: u64,
    pub(super) bytes: u64,
    pub(super) first_ts: Option<i64>,
}

impl Tier {
    pub(super) async fn supervise(&self) {
        let mut stop = self.stopping();
        loop {
            tokio::select! {
                _ = stop.changed() => return,
                _ = tokio::time::sleep(self.inner.opts.poll_interval) => {}
            }
            if *stop.borrow() {
                return;
            }
            if self.fenced().is_some() {
                continue;
            }
            if let Err(e) = self.sync_topics().await {
                self.inner.metrics.tier.upload_failures.inc();
                tracing::warn!(error = %e, "tier: topic sync failed; retrying");
            }
            if let Err(e) = self.sync_offsets().await {
                self.inner.metrics.tier.upload_failures.inc();
                tracing::warn!(error = %e, "tier: uploading committed offsets failed; retrying");
            }
        }
    }

    /// Brings the bucket's topic manifests in line with the local topics and
    /// starts an uploader for every new partition.
    pub(super) async fn sync_topics(&self) -> Result<()> {
        let mut topics = self.inner.topics.lock().await;
        let local = self.inner.db.topics();
        let mut first_err = None;
        for meta in &local {
            let changed = topics
                .get(&meta.name)
                .map(|e| e.created_ms != meta.created_ms);
            if changed == Some(true) {
                // Deleted and created again locally: a new incarnation.
                self.stop_topic(&meta.name);
                if let Some(old) = topics.remove(&meta.name)
                    && let Err(e) = self.write_deleted(&meta.name, &old).await
                {
                    first_err.get_or_insert(e);
                    continue;
                }
            }
            if !topics.contains_key(&meta.name) {
                let latest = self
                    .latest_manifest::<TopicManifest>(&layout::topic_manifest_dir(&meta.name))
                    .await;
                let latest = match latest {
                    Ok(l) => l,
                    Err(e) => {
                        first_err.get_or_insert(e);
                        continue;
                    }
                };
                let (incarnation, version, manifest) = match latest {
                    Some((v, m))
                        if !m.deleted && changed.is_none() && m.partitions == meta.partitions =>
                    {
                        (m.incarnation, v, Some(m))
                    }
                    Some((v, _)) => (meta.created_ms, v, None),
                    None => (meta.created_ms, 0, None),
                };
                let manifest = manifest.unwrap_or_else(|| TopicManifest {
                    format: layout::FORMAT,
                    version,
                    name: meta.name.clone(),
                    incarnation,
                    partitions: 0,
                    config: Default::default(),
                    deleted: true,
                    written_ms: 0,
                    writer: self.writer(),
                });
                topics.insert(
                    meta.name.clone(),
                    TopicEntry {
                        created_ms: meta.created_ms,
                        incarnation,
                        version,
                        manifest,
                        started: BTreeSet::new(),
                    },
                );
            }
            let Some(entry) = topics.get_mut(&meta.name) else {
                continue;
            };
            let m = &entry.manifest;
            if m.deleted || m.partitions != meta.partitions || m.config != meta.config {
                let writer = self.writer();
                let doc = TopicManifest {
                    format: layout::FORMAT,
                    version: entry.version + 1,
                    name: meta.name.clone(),
                    incarnation: entry.incarnation,
                    partitions: meta.partitions,
                    config: meta.config.clone(),
                    deleted: false,
                    written_ms: now_ms(),
                    writer: writer.clone(),
                };
                let dir = layout::topic_manifest_dir(&meta.name);
                match self.write_manifest(&dir, doc.version, &doc, &writer).await {
                    Ok(()) => {
                        tracing::info!(topic = %meta.name, version = doc.version, "tier: topic manifest written");
                        entry.version = doc.version;
                        entry.manifest = doc;
                    }
                    Err(TierError::Conflict { .. }) => {
                        // An older owner wrote after we took over: go past it.
                        entry.version += 1;
                        continue;
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                        continue;
                    }
                }
            }
            for p in 0..meta.partitions {
                if entry.started.contains(&p) {
                    continue;
                }
                match self
                    .start_partition(&meta.name, p, entry.incarnation, meta.created_ms)
                    .await
                {
                    Ok(()) => {
                        entry.started.insert(p);
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        let gone: Vec<String> = topics
            .keys()
            .filter(|n| !local.iter().any(|m| &m.name == *n))
            .cloned()
            .collect();
        for name in gone {
            self.stop_topic(&name);
            if let Some(entry) = topics.get(&name) {
                match self.write_deleted(&name, entry).await {
                    Ok(()) => {
                        topics.remove(&name);
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    async fn write_deleted(&self, name: &str, entry: &TopicEntry) -> Result<()> {
        let writer = self.writer();
        let mut doc = entry.manifest.clone();
        doc.version = entry.version + 1;
        doc.deleted = true;
        doc.written_ms = now_ms();
        doc.writer = writer.clone();
        self.write_manifest(
            &layout::topic_manifest_dir(name),
            doc.version,
            &doc,
            &writer,
        )
        .await?;
        tracing::info!(topic = %name, "tier: topic marked deleted in the bucket");
        Ok(())
    }

    /// Forgets a topic's partitions (their uploaders stop) and removes the
    /// gauges of every one of them. Under the partitions lock, which
    /// [`Tier::if_registered`] holds while an uploader sets its gauges, so no
    /// gauge of a stopped partition comes back.
    pub(super) fn stop_topic(&self, name: &str) {
        let Ok(mut parts) = self.inner.parts.lock() else {
            return;
        };
        let mut stopped = Vec::new();
        parts.retain(|(t, p), _| {
            let keep = t != name;
            if !keep {
                stopped.push(*p);
            }
            keep
        });
        let m = &self.inner.metrics.tier;
        for p in stopped {
            let p = p.to_string();
            for gauge in [
                &m.lag_offsets,
                &m.lag_bytes,
                &m.last_uploaded_offset,
                &m.last_snapshot_offset,
            ] {
                let _ = gauge.remove_label_values(&[name, p.as_str()]);
            }
        }
    }

    /// Runs `f` only while `part` is still a registered partition (its topic
    /// not stopped), holding the lock [`Tier::stop_topic`] takes.
    pub(super) fn if_registered(&self, part: &PartHandle, f: impl FnOnce()) {
        let Ok(parts) = self.inner.parts.lock() else {
            return;
        };
        let key = (part.topic.clone(), part.partition);
        if parts
            .get(&key)
            .is_some_and(|h| std::ptr::eq(Arc::as_ptr(h), part))
        {
            f();
        }
    }

    async fn start_partition(
        &self,
        topic: &str,
        p: i32,
        incarnation: i64,
        created_ms: i64,
    ) -> Result<()> {
        let dir = layout::partition_manifest_dir(topic, incarnation, p);
        let manifest = match self.latest_manifest::<PartitionManifest>(&dir).await? {
            Some((_, m)) => m,
            None => PartitionManifest {
                format: layout::FORMAT,
                version: 0,
                topic: topic.to_string(),
                partition: p,
                incarnation,
                ..Default::default()
            },
        };
        let handle = Arc::new(PartHandle {
            topic: topic.to_string(),
            partition: p,
            incarnation,
            created_ms,
            state: Mutex::new(PartState {
                manifest,
                last_snapshot_ms: now_ms(),
                ..Default::default()
            }),
        });
        if let Ok(mut parts) = self.inner.parts.lock() {
            parts.insert((topic.to_string(), p), handle.clone());
        }
        let me = self.clone();
        let task = tokio::spawn(async move { uploader::run(me, handle).await });
        self.push_task(task);
        Ok(())
    }

    pub(super) fn part(&self, topic: &str, p: i32) -> Option<Arc<PartHandle>> {
        self.inner
            .parts
            .lock()
            .ok()?
            .get(&(topic.to_string(), p))
            .cloned()
    }

    pub(super) fn all_parts(&self) -> Vec<Arc<PartHandle>> {
        self.inner
            .parts
            .lock()
            .map(|p| p.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Upload floors for retention: per partition, the first offset not in the bucket.
    pub fn floors(&self) -> Floors {
        let mut out = HashMap::new();
        for part in self.all_parts() {
            if let Ok(s) = part.state.lock() {
                out.insert((part.topic.clone(), part.partition), s.manifest.next_offset);
            }
        }
        out
    }
}
