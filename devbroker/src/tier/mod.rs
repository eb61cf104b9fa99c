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
//! - `owner`: fencing. The broker claims the prefix with an immutable
//!   `owner/{epoch}.json` (`PutMode::Create`); a second broker refuses to start,
//!   or with `--tier-takeover` fences the first, which then refuses writes.
//!
//! Every manifest version is a new object created with `PutMode::Create`, tagged
//! with the writer's broker id, epoch and a per-put id, so a retried put that
//! collides with its own earlier attempt is recognised as a success.

pub mod layout;
mod owner;
mod restore;
mod uploader;

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::storage::{Floors, Store, StoreError, StoredRecord, now_ms};
use layout::{PartitionManifest, SnapshotInfo, TopicManifest, Writer};

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

/// A handle to the tier; cheap to clone.
#[derive(Clone)]
pub struct Tier {
    inner: Arc<Inner>,
}

struct Inner {
    os: Arc<dyn ObjectStore>,
    root: Path,
    url: String,
    broker_id: String,
    epoch: u64,
    db: Store,
    metrics: Arc<Metrics>,
    opts: TierOptions,
    parts: Mutex<BTreeMap<(String, i32), Arc<PartHandle>>>,
    topics: tokio::sync::Mutex<BTreeMap<String, TopicEntry>>,
    fenced: RwLock<Option<String>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    cache: Mutex<VecDeque<(String, Arc<Vec<StoredRecord>>)>>,
}

/// What the tier knows of a topic it uploads.
struct TopicEntry {
    created_ms: i64,
    incarnation: i64,
    version: u64,
    manifest: TopicManifest,
    started: BTreeSet<i32>,
}

/// One partition being uploaded.
pub(crate) struct PartHandle {
    topic: String,
    partition: i32,
    incarnation: i64,
    /// `created_ms` of the local topic this partition belongs to.
    created_ms: i64,
    state: Mutex<PartState>,
}

#[derive(Default)]
struct PartState {
    manifest: PartitionManifest,
    pending_snapshot: Option<SnapshotInfo>,
    last_snapshot_ms: i64,
    failures: u64,
    last_error: Option<String>,
    lag_bytes: u64,
    /// The open segment as scanned so far (sizes only), so that each poll reads
    /// only the records appended since the last one.
    open: OpenScan,
}

/// Sizes of the records from `from` (the upload cursor) to `next`.
#[derive(Default)]
pub(crate) struct OpenScan {
    from: u64,
    next: u64,
    bytes: u64,
    first_ts: Option<i64>,
}

/// The JSON of `GET /status/tier`.
#[derive(Clone, Debug, Serialize)]
pub struct TierStatus {
    pub url: String,
    pub broker_id: String,
    pub epoch: u64,
    pub fenced: Option<String>,
    pub partitions: Vec<PartitionStatus>,
}

/// One partition in [`TierStatus`].
#[derive(Clone, Debug, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    /// First offset readable (from the bucket, else the local log).
    pub log_start: u64,
    /// First offset in the local log.
    pub local_log_start: u64,
    pub high_watermark: u64,
    /// Last offset in the bucket, if any.
    pub last_uploaded_offset: Option<u64>,
    /// Offsets in the local log not yet in the bucket.
    pub upload_lag_offsets: u64,
    /// Bytes not yet in the bucket (at least this many).
    pub upload_lag_bytes: u64,
    pub segments: usize,
    pub manifest_version: u64,
    pub last_snapshot_offset: Option<u64>,
    pub upload_failures: u64,
    pub last_error: Option<String>,
}

/// A random hex id (no RNG crate: time, pid and a counter through SHA-256).
pub(crate) fn random_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = Sha256::new();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.update(nanos.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    let local = 0u8;
    h.update((&local as *const u8 as usize).to_be_bytes());
    hex::encode(&h.finalize()[..8])
}

/// In the data dir while a restore runs: its presence at start means the last
/// restore did not finish.
const RESTORE_MARKER: &str = "tier-restoring";

/// Creates the restore marker durably (file and directory entry synced).
fn write_marker(path: &std::path::Path) -> Result<()> {
    let err = |e: std::io::Error| TierError::Other(format!("cannot write {}: {e}", path.display()));
    std::fs::File::create(path)
        .and_then(|f| f.sync_all())
        .map_err(err)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(err)?;
    }
    Ok(())
}

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
        let fs = object_store::local::LocalFileSystem::new_with_prefix(rest)
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

impl Tier {
    /// Opens the tier: claims the prefix (or refuses, see `owner`), and restores
    /// every topic from the bucket when the local store is empty. Call
    /// [`Tier::start`] after creating preset topics.
    pub async fn open(opts: TierOptions, db: Store) -> Result<Tier> {
        let (os, root) = open_object_store(&opts.url)?;
        let metrics = db.metrics().clone();
        // A restore that did not finish (the bucket failed, the process died)
        // left part of the bucket in the store: it is dropped and redone, or the
        // broker would come up with part of the data and reuse its offsets.
        let marker = opts.data_dir.join(RESTORE_MARKER);
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
                fenced: RwLock::new(None),
                stop,
                tasks: Mutex::new(Vec::new()),
                cache: Mutex::new(VecDeque::new()),
            }),
        };
        if store_empty {
            write_marker(&marker)?;
            restore::restore_all(&tier).await?;
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

    fn push_task(&self, task: JoinHandle<()>) {
        if let Ok(mut t) = self.inner.tasks.lock() {
            t.push(task);
        }
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    pub(crate) fn db(&self) -> &Store {
        &self.inner.db
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn opts(&self) -> &TierOptions {
        &self.inner.opts
    }

    pub(crate) fn writer(&self) -> Writer {
        Writer {
            broker_id: self.inner.broker_id.clone(),
            epoch: self.inner.epoch,
            put_id: random_id(),
        }
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.inner.epoch
    }

    pub(crate) fn stopping(&self) -> watch::Receiver<bool> {
        self.inner.stop.subscribe()
    }

    /// `Some(reason)` once another broker took over the prefix.
    pub fn fenced(&self) -> Option<String> {
        self.inner.fenced.read().ok().and_then(|f| f.clone())
    }

    pub(crate) fn set_fenced(&self, reason: String) {
        if let Ok(mut f) = self.inner.fenced.write()
            && f.is_none()
        {
            tracing::error!(reason = %reason, "tier: this broker is fenced; it stops uploading and refuses writes");
            self.inner.metrics.tier.fenced.set(1);
            *f = Some(reason);
        }
    }

    /// `Err(message)` when writes must be refused (the broker is fenced). The
    /// HTTP write routes call it; the Kafka Produce handler should too.
    pub fn check_writable(&self) -> std::result::Result<(), String> {
        match self.fenced() {
            Some(reason) => Err(format!(
                "this broker is fenced and refuses writes: {reason}"
            )),
            None => Ok(()),
        }
    }

    // ---- object helpers -------------------------------------------------

    pub(crate) fn path(&self, rel: &str) -> Path {
        layout::join(&self.inner.root, rel)
    }

    pub(crate) async fn put(&self, rel: &str, bytes: Bytes) -> Result<()> {
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
    pub(crate) async fn put_create(&self, rel: &str, bytes: Vec<u8>) -> Result<Option<Bytes>> {
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

    pub(crate) async fn get(&self, rel: &str) -> Result<Bytes> {
        let path = self.path(rel);
        let store_err = |source| TierError::Store {
            op: "get",
            path: path.to_string(),
            source,
        };
        let got = self.inner.os.get(&path).await.map_err(store_err)?;
        got.bytes().await.map_err(store_err)
    }

    pub(crate) async fn delete(&self, rel: &str) {
        let path = self.path(rel);
        if let Err(e) = self.inner.os.delete(&path).await
            && !matches!(e, object_store::Error::NotFound { .. })
        {
            tracing::debug!(path = %path, error = %e, "tier: delete failed");
        }
    }

    /// Object paths (relative to the prefix) under a directory.
    pub(crate) async fn list(&self, rel_dir: &str) -> Result<Vec<String>> {
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
    pub(crate) async fn list_dirs(&self, rel_dir: &str) -> Result<Vec<String>> {
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

    /// The latest version of a manifest, if any.
    pub(crate) async fn latest_manifest<T: DeserializeOwned>(
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
    pub(crate) async fn write_manifest<T: Serialize>(
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

    // ---- topics and partitions ------------------------------------------

    async fn supervise(&self) {
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
        }
    }

    /// Brings the bucket's topic manifests in line with the local topics and
    /// starts an uploader for every new partition.
    pub(crate) async fn sync_topics(&self) -> Result<()> {
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

    fn stop_topic(&self, name: &str) {
        if let Ok(mut parts) = self.inner.parts.lock() {
            parts.retain(|(t, _), _| t != name);
        }
        let m = &self.inner.metrics.tier;
        for gauge in [
            &m.lag_offsets,
            &m.lag_bytes,
            &m.last_uploaded_offset,
            &m.last_snapshot_offset,
        ] {
            let _ = gauge.remove_label_values(&[name, "0"]);
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

    pub(crate) fn part(&self, topic: &str, p: i32) -> Option<Arc<PartHandle>> {
        self.inner
            .parts
            .lock()
            .ok()?
            .get(&(topic.to_string(), p))
            .cloned()
    }

    fn all_parts(&self) -> Vec<Arc<PartHandle>> {
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

    // ---- reads from the bucket ------------------------------------------

    /// The first offset the bucket holds for a partition (Kafka ListOffsets
    /// "earliest" is the smaller of this and the local log start).
    pub fn log_start(&self, topic: &str, partition: i32) -> Option<u64> {
        let part = self.part(topic, partition)?;
        let s = part.state.lock().ok()?;
        s.manifest.segments.first().map(|sg| sg.base_offset)
    }

    /// Records of a partition from `from` on, read from the bucket: at most
    /// `max_bytes` (the first record always whole), all from one segment. Empty
    /// when the bucket has nothing at or after `from`. For fetches below the local
    /// log start (HTTP Proxy records, Kafka Fetch).
    pub async fn read_records(
        &self,
        topic: &str,
        partition: i32,
        from: u64,
        max_bytes: usize,
    ) -> Result<Vec<StoredRecord>> {
        let Some(part) = self.part(topic, partition) else {
            return Ok(Vec::new());
        };
        let seg = {
            let s = part
                .state
                .lock()
                .map_err(|_| TierError::Other("partition state poisoned".into()))?;
            let segs = &s.manifest.segments;
            let i = segs.partition_point(|sg| sg.last_offset < from);
            segs.get(i).cloned()
        };
        let Some(seg) = seg else {
            return Ok(Vec::new());
        };
        let records = self.segment_records(&seg).await?;
        // Records past the topic's (total) retention are gone from the log, here too.
        let cutoff = self.inner.db.topic(topic).and_then(|m| {
            m.config
                .retention_ms()
                .filter(|_| m.config.cleanup_policy().delete)
                .map(|ms| now_ms().saturating_sub(ms))
        });
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for r in records
            .iter()
            .filter(|r| r.offset >= from && cutoff.is_none_or(|c| r.record.timestamp >= c))
        {
            bytes += r.record.wire_size();
            if !out.is_empty() && bytes > max_bytes {
                break;
            }
            out.push(r.clone());
        }
        Ok(out)
    }

    /// A segment's records, downloaded, verified and cached.
    pub(crate) async fn segment_records(
        &self,
        seg: &layout::SegmentInfo,
    ) -> Result<Arc<Vec<StoredRecord>>> {
        const CACHED: usize = 8;
        if let Ok(c) = self.inner.cache.lock()
            && let Some((_, r)) = c.iter().find(|(k, _)| *k == seg.key)
        {
            return Ok(r.clone());
        }
        let bytes = self.get(&seg.key).await?;
        let records = Arc::new(verify_segment(&seg.key, &seg.sha256, &bytes)?);
        if let Ok(mut c) = self.inner.cache.lock() {
            c.push_front((seg.key.clone(), records.clone()));
            c.truncate(CACHED);
        }
        Ok(records)
    }

    // ---- status and shutdown --------------------------------------------

    /// Per-partition upload status (`GET /status/tier`).
    pub async fn status(&self) -> TierStatus {
        let mut partitions = Vec::new();
        for part in self.all_parts() {
            let (t, p) = (part.topic.clone(), part.partition);
            let state = self
                .inner
                .db
                .read(move |s| s.partition_state(&t, p))
                .await
                .unwrap_or_default();
            let Ok(s) = part.state.lock() else { continue };
            let m = &s.manifest;
            let uploaded_next = m.next_offset;
            partitions.push(PartitionStatus {
                topic: part.topic.clone(),
                partition: part.partition,
                log_start: m
                    .segments
                    .first()
                    .map_or(state.log_start, |sg| sg.base_offset.min(state.log_start)),
                local_log_start: state.log_start,
                high_watermark: state.next_offset,
                last_uploaded_offset: uploaded_next.checked_sub(1),
                upload_lag_offsets: state.next_offset.saturating_sub(uploaded_next),
                upload_lag_bytes: if state.next_offset > uploaded_next {
                    s.lag_bytes
                } else {
                    0
                },
                segments: m.segments.len(),
                manifest_version: m.version,
                last_snapshot_offset: m.snapshot.as_ref().map(|sn| sn.offset),
                upload_failures: s.failures,
                last_error: s.last_error.clone(),
            });
        }
        TierStatus {
            url: self.inner.url.clone(),
            broker_id: self.inner.broker_id.clone(),
            epoch: self.inner.epoch,
            fenced: self.fenced(),
            partitions,
        }
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

/// Verifies a segment object against the manifest's checksum and decodes it.
pub(crate) fn verify_segment(key: &str, sha256: &str, bytes: &[u8]) -> Result<Vec<StoredRecord>> {
    let corrupt = |reason: String| TierError::Corrupt {
        path: key.to_string(),
        reason,
    };
    let records = layout::decode_segment(bytes).map_err(|e| corrupt(e.0))?;
    let trailer = hex::encode(&bytes[bytes.len() - 32..]);
    if !sha256.is_empty() && !trailer.eq_ignore_ascii_case(sha256) {
        return Err(corrupt(format!(
            "sha256 {trailer} differs from the manifest's {sha256}"
        )));
    }
    Ok(records)
}

#[cfg(test)]
mod tests;

/// Every object under `dir` (recursively), with list errors named by path.
pub(crate) async fn list_objects(
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
