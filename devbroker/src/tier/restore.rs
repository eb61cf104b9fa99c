//! Restore: a broker started on an empty data dir rebuilds every topic from the
//! bucket before it reports ready: the topic with its configs, then per
//! partition the latest view snapshot and the records of every segment at or
//! after the snapshot's offset, at their original offsets. Records below the
//! snapshot stay in the bucket and are read from it on demand.

use std::time::Instant;

use futures::StreamExt;

use super::layout::{self, PartitionManifest, TopicManifest};
use super::{Result, Tier, TierError};
use crate::storage::{RestoreBatch, StoreError, now_ms};

/// View entries or records per write job.
const BATCH: usize = 20_000;
/// Segments downloaded at once.
const PARALLEL_GETS: usize = 8;

/// In the data dir while a restore runs: its presence at start means the last
/// restore did not finish.
pub(super) const RESTORE_MARKER: &str = "tier-restoring";

/// Creates the restore marker durably (file and directory entry synced).
pub(super) fn write_marker(path: &std::path::Path) -> Result<()> {
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

pub(super) async fn restore_all(tier: &Tier) -> Result<()> {
    let names = tier.list_dirs(&layout::topics_dir()).await?;
    if names.is_empty() {
        return Ok(());
    }
    let started = Instant::now();
    tracing::info!(tier = %tier.url(), topics = names.len(), "tier: restoring from the bucket");
    let mut restored = 0usize;
    for name in names {
        let Some((version, m)) = tier
            .latest_manifest::<TopicManifest>(&layout::topic_manifest_dir(&name))
            .await?
        else {
            continue;
        };
        if m.deleted {
            tracing::info!(topic = %name, version, "tier: topic was deleted; not restored");
            continue;
        }
        restore_topic(tier, &m).await?;
        restored += 1;
    }
    tracing::info!(
        topics = restored,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tier: restore finished"
    );
    Ok(())
}

async fn restore_topic(tier: &Tier, m: &TopicManifest) -> Result<()> {
    let db = tier.db();
    match db
        .create_topic(&m.name, m.partitions, m.config.clone())
        .await
    {
        Ok(_) | Err(StoreError::TopicExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    tracing::info!(topic = %m.name, partitions = m.partitions, "tier: restoring topic");
    for p in 0..m.partitions {
        let dir = layout::partition_manifest_dir(&m.name, m.incarnation, p);
        let Some((_, pm)) = tier.latest_manifest::<PartitionManifest>(&dir).await? else {
            continue;
        };
        restore_partition(tier, m, &pm).await?;
    }
    Ok(())
}

async fn restore_partition(tier: &Tier, m: &TopicManifest, pm: &PartitionManifest) -> Result<()> {
    let started = Instant::now();
    let db = tier.db();
    let (topic, p) = (m.name.clone(), pm.partition);
    let mut from = 0u64;
    let mut keys = 0usize;
    if let Some(sn) = &pm.snapshot {
        let bytes = tier.get(&sn.key).await?;
        let corrupt = |reason: String| TierError::Corrupt {
            path: sn.key.clone(),
            reason,
        };
        let (offset, entries) = layout::decode_snapshot(&bytes).map_err(|e| corrupt(e.0))?;
        let trailer = hex::encode(&bytes[bytes.len() - 32..]);
        if offset != sn.offset || !trailer.eq_ignore_ascii_case(&sn.sha256) {
            return Err(corrupt(format!(
                "snapshot says offset {offset} and sha256 {trailer}, the manifest {} and {}",
                sn.offset, sn.sha256
            )));
        }
        drop(bytes);
        // Keys whose latest record is past retention are not brought back.
        let cutoff = m
            .config
            .retention_ms()
            .filter(|_| m.config.cleanup_policy().delete)
            .map(|ms| now_ms().saturating_sub(ms));
        let mut batch = Vec::with_capacity(BATCH);
        for e in entries {
            if cutoff.is_some_and(|c| e.timestamp < c) {
                continue;
            }
            keys += 1;
            batch.push((e.key, e.value, e.offset, e.timestamp));
            if batch.len() >= BATCH {
                db.restore(RestoreBatch {
                    topic: topic.clone(),
                    partition: p,
                    view: std::mem::take(&mut batch),
                    ..Default::default()
                })
                .await?;
            }
        }
        if !batch.is_empty() {
            db.restore(RestoreBatch {
                topic: topic.clone(),
                partition: p,
                view: batch,
                ..Default::default()
            })
            .await?;
        }
        from = offset;
    }
    let segments: Vec<_> = pm
        .segments
        .iter()
        .filter(|s| s.last_offset >= from)
        .cloned()
        .collect();
    let mut records = 0usize;
    let mut first_local = None;
    let mut downloads = futures::stream::iter(
        segments
            .iter()
            .map(|s| async move { tier.segment_records(s).await }),
    )
    .buffered(PARALLEL_GETS);
    while let Some(seg) = downloads.next().await {
        let seg = seg?;
        let recs: Vec<_> = seg.iter().filter(|r| r.offset >= from).cloned().collect();
        if let Some(r) = recs.first() {
            first_local.get_or_insert(r.offset);
        }
        records += recs.len();
        for chunk in recs.chunks(BATCH) {
            db.restore(RestoreBatch {
                topic: topic.clone(),
                partition: p,
                records: chunk.to_vec(),
                ..Default::default()
            })
            .await?;
        }
    }
    let next = pm.next_offset;
    db.restore(RestoreBatch {
        topic: topic.clone(),
        partition: p,
        log_start: Some(first_local.unwrap_or(next).max(from).min(next)),
        next_offset: Some(next),
        ..Default::default()
    })
    .await?;
    tracing::info!(
        topic = %topic,
        partition = p,
        snapshot_offset = pm.snapshot.as_ref().map(|s| s.offset),
        snapshot_keys = keys,
        segments_replayed = segments.len(),
        records_replayed = records,
        high_watermark = next,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "tier: partition restored"
    );
    Ok(())
}
