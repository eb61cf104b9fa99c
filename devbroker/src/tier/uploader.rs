//! The per-partition uploader: cuts closed segments from the local log, uploads
//! them and a new partition manifest version; uploads view snapshots.

use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::{self, PartitionManifest, SegmentInfo, SnapshotInfo};
use super::supervisor::{OpenScan, PartHandle};
use super::{Result, Tier, TierError};
use crate::storage::{StoreError, now_ms};

/// Most segments uploaded before one manifest write (catching up after an outage).
const MAX_BATCH: usize = 8;
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs until the tier stops or the partition's topic goes away.
pub(super) async fn run(tier: Tier, part: Arc<PartHandle>) {
    let mut stop = tier.stopping();
    let mut backoff = Duration::ZERO;
    let mut next_try = Instant::now();
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(tier.opts().poll_interval) => {}
        }
        if *stop.borrow() {
            return;
        }
        if tier.fenced().is_some() {
            continue;
        }
        if !still_local(&tier, &part) {
            tracing::debug!(topic = %part.topic, partition = part.partition, "tier: topic gone; uploader stops");
            return;
        }
        if Instant::now() < next_try {
            continue;
        }
        let res = match step(&tier, &part, false).await {
            Ok(()) => maybe_snapshot(&tier, &part).await,
            Err(e) => Err(e),
        };
        match res {
            Ok(()) => {
                if !backoff.is_zero() {
                    tracing::info!(topic = %part.topic, partition = part.partition, "tier: uploads recovered");
                }
                backoff = Duration::ZERO;
            }
            Err(e) => {
                backoff = (backoff * 2).clamp(Duration::from_millis(200), MAX_BACKOFF);
                next_try = Instant::now() + backoff;
                failed(&tier, &part, &e);
                tracing::warn!(topic = %part.topic, partition = part.partition, error = %e, retry_in_ms = backoff.as_millis() as u64, "tier: upload failed");
            }
        }
    }
}

fn failed(tier: &Tier, part: &PartHandle, e: &TierError) {
    tier.metrics().tier.upload_failures.inc();
    if let Ok(mut s) = part.state.lock() {
        s.failures += 1;
        s.last_error = Some(e.to_string());
    }
}

fn still_local(tier: &Tier, part: &PartHandle) -> bool {
    tier.db()
        .topic(&part.topic)
        .is_some_and(|m| m.created_ms == part.created_ms && part.partition < m.partitions)
}

/// Uploads everything, closing the open segment; retries until it is done (the
/// caller bounds it with a timeout). Used at shutdown.
pub(super) async fn flush_all(tier: &Tier, part: &Arc<PartHandle>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        if !still_local(tier, part) {
            return;
        }
        match step(tier, part, true).await {
            Ok(()) => {
                let (t, p) = (part.topic.clone(), part.partition);
                let hw = tier
                    .db()
                    .read(move |s| s.partition_state(&t, p))
                    .await
                    .map(|s| s.next_offset)
                    .unwrap_or(0);
                let uploaded = part
                    .state
                    .lock()
                    .map(|s| s.manifest.next_offset)
                    .unwrap_or(0);
                if uploaded >= hw {
                    return;
                }
            }
            Err(TierError::Fenced(_)) => return,
            Err(e) => {
                failed(tier, part, &e);
                tracing::warn!(topic = %part.topic, partition = part.partition, error = %e, "tier: upload at shutdown failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        }
    }
}

/// The age after which the open segment is closed: `segment.ms`, shortened by
/// retention so that records can leave the local log on time.
fn roll_ms(cfg: &crate::config::TopicConfig) -> i64 {
    [
        Some(cfg.segment_ms()),
        cfg.retention_ms().filter(|_| cfg.cleanup_policy().delete),
        cfg.retention_local_target_ms(),
    ]
    .into_iter()
    .flatten()
    .filter(|v| *v >= 0)
    .min()
    .unwrap_or(i64::MAX)
}

/// Whether the segment starting at `cursor` is closed, reading only the records
/// appended since the last call; also the bytes scanned so far.
async fn scan_open(
    tier: &Tier,
    part: &Arc<PartHandle>,
    cursor: u64,
    seg_bytes: usize,
    roll: i64,
    now: i64,
) -> Result<(bool, u64)> {
    let (from, bytes) = {
        let mut s = part
            .state
            .lock()
            .map_err(|_| TierError::Other("partition state poisoned".into()))?;
        if s.open.from != cursor || s.open.next < cursor {
            s.open = OpenScan {
                from: cursor,
                next: cursor,
                bytes: 0,
                first_ts: None,
            };
        }
        (s.open.next, s.open.bytes)
    };
    let budget = (seg_bytes as u64).saturating_sub(bytes).max(1) as usize;
    let (t, p) = (part.topic.clone(), part.partition);
    // Only sizes, the first timestamp and the last offset are needed: the
    // records are looked at, not kept.
    let (span, first_ts, last) = tier
        .db()
        .read(move |s| {
            let (mut first_ts, mut last) = (None, 0);
            let span = s.read_log_with(&t, p, from, budget, 1_000_000, |offset, r| {
                first_ts.get_or_insert(r.timestamp);
                last = offset;
            })?;
            Ok((span, first_ts, last))
        })
        .await?;
    let mut s = part
        .state
        .lock()
        .map_err(|_| TierError::Other("partition state poisoned".into()))?;
    let mut more = false;
    if let Some(first_ts) = first_ts {
        s.open.first_ts.get_or_insert(first_ts);
        s.open.bytes += span.bytes as u64;
        s.open.next = last + 1;
        more = last + 1 < span.high_watermark;
    }
    let closed = more
        || s.open.bytes >= seg_bytes as u64
        || s.open
            .first_ts
            .is_some_and(|ts| now.saturating_sub(ts) >= roll);
    Ok((closed, s.open.bytes))
}

/// One upload round: up to [`MAX_BATCH`] closed segments, then one manifest.
async fn step(tier: &Tier, part: &Arc<PartHandle>, force: bool) -> Result<()> {
    let Some(meta) = tier.db().topic(&part.topic) else {
        return Ok(());
    };
    let seg_bytes = meta.config.segment_bytes().max(1) as usize;
    let roll = roll_ms(&meta.config);
    let (t, p) = (part.topic.clone(), part.partition);
    let state = tier.db().read(move |s| s.partition_state(&t, p)).await?;
    let mut cursor = part
        .state
        .lock()
        .map(|s| s.manifest.next_offset)
        .unwrap_or(0);
    // Records removed locally before upload (compaction) are skipped.
    cursor = cursor.max(state.log_start);
    let now = now_ms();
    let mut segments: Vec<(SegmentInfo, Bytes)> = Vec::new();
    let mut open_bytes = 0u64;
    while segments.len() < MAX_BATCH && cursor < state.next_offset {
        if !force {
            let (closed, bytes) = scan_open(tier, part, cursor, seg_bytes, roll, now).await?;
            if !closed {
                open_bytes = bytes;
                break;
            }
        }
        // The segment is encoded and sealed inside the read transaction: no
        // decoded records held at once, no hashing on the runtime's threads.
        let (t, p) = (part.topic.clone(), part.partition);
        let read = tier
            .db()
            .read(move |s| {
                let mut w = layout::SegmentWriter::new();
                let span = s.read_log_with(&t, p, cursor, seg_bytes, 1_000_000, |offset, r| {
                    w.push(offset, &r)
                })?;
                if w.count() == 0 {
                    return Ok(Segment::Empty);
                }
                let (_, last) = w.offsets();
                let (first_ts, _) = w.timestamps();
                let more = last + 1 < span.high_watermark;
                let closed = force
                    || more
                    || span.bytes >= seg_bytes
                    || now.saturating_sub(first_ts) >= roll;
                if !closed {
                    return Ok(Segment::Open(span.bytes as u64));
                }
                Ok(Segment::Closed(Sealed::from(w)))
            })
            .await?;
        match read {
            Segment::Empty => break,
            Segment::Open(bytes) => {
                open_bytes = bytes;
                break;
            }
            Segment::Closed(sealed) => {
                cursor = sealed.last + 1;
                segments.push(segment_info(tier, part, sealed));
            }
        }
    }
    if let Ok(mut s) = part.state.lock() {
        s.lag_bytes = open_bytes + segments.iter().map(|(i, _)| i.size_bytes).sum::<u64>();
    }
    update_gauges(tier, part, state.next_offset);
    if segments.is_empty() {
        return Ok(());
    }
    let uploads = segments
        .iter()
        .map(|(info, bytes)| tier.put(&info.key, bytes.clone()));
    futures::future::try_join_all(uploads).await?;
    let infos: Vec<SegmentInfo> = segments.into_iter().map(|(i, _)| i).collect();
    let n = infos.len() as u64;
    write_manifest(tier, part, |m| {
        m.segments.extend(infos.iter().cloned());
        m.next_offset = cursor;
    })
    .await?;
    tier.metrics().tier.uploaded_segments.inc_by(n);
    if let Ok(mut s) = part.state.lock() {
        s.lag_bytes = open_bytes;
    }
    update_gauges(tier, part, state.next_offset);
    tracing::debug!(topic = %part.topic, partition = part.partition, segments = n, next_offset = cursor, "tier: segments uploaded");
    Ok(())
}

/// What one read of the log for the next segment found.
enum Segment {
    Empty,
    /// Not closed yet: this many bytes so far.
    Open(u64),
    Closed(Sealed),
}

/// A closed segment, encoded and checksummed.
struct Sealed {
    bytes: Bytes,
    sha256: String,
    base: u64,
    last: u64,
    records: u64,
    first_ts: i64,
    last_ts: i64,
}

impl From<layout::SegmentWriter> for Sealed {
    fn from(w: layout::SegmentWriter) -> Self {
        let (base, last) = w.offsets();
        let (first_ts, last_ts) = w.timestamps();
        let records = u64::from(w.count());
        let (bytes, sha256) = w.finish();
        Sealed {
            bytes: Bytes::from(bytes),
            sha256,
            base,
            last,
            records,
            first_ts,
            last_ts,
        }
    }
}

fn segment_info(tier: &Tier, part: &PartHandle, s: Sealed) -> (SegmentInfo, Bytes) {
    let info = SegmentInfo {
        key: layout::segment_key(
            &part.topic,
            part.incarnation,
            part.partition,
            s.base,
            s.last,
            tier.epoch(),
        ),
        base_offset: s.base,
        last_offset: s.last,
        records: s.records,
        size_bytes: s.bytes.len() as u64,
        first_timestamp: s.first_ts,
        last_timestamp: s.last_ts,
        sha256: s.sha256,
    };
    (info, s.bytes)
}

/// Writes the next manifest version: the current one changed by `change`, with
/// a pending snapshot attached once the segments cover it.
async fn write_manifest(
    tier: &Tier,
    part: &PartHandle,
    change: impl FnOnce(&mut PartitionManifest),
) -> Result<()> {
    let writer = tier.writer();
    let (mut next, pending) = {
        let s = part
            .state
            .lock()
            .map_err(|_| TierError::Other("partition state poisoned".into()))?;
        (s.manifest.clone(), s.pending_snapshot.clone())
    };
    change(&mut next);
    next.format = layout::FORMAT;
    next.version += 1;
    next.written_ms = now_ms();
    next.writer = Some(writer.clone());
    let attach = pending.filter(|sn| sn.offset <= next.next_offset);
    if let Some(sn) = &attach {
        next.snapshot = Some(sn.clone());
    }
    let dir = layout::partition_manifest_dir(&part.topic, part.incarnation, part.partition);
    match tier
        .write_manifest(&dir, next.version, &next, &writer)
        .await
    {
        Ok(()) => {
            let mut replaced = None;
            if let Ok(mut s) = part.state.lock() {
                if attach.is_some() {
                    s.pending_snapshot = None;
                    replaced = s.manifest.snapshot.take().map(|sn| sn.key);
                }
                s.manifest = next;
            }
            // The previous snapshot is superseded: only the latest is restored.
            if let Some(old) = replaced {
                tier.delete(&old).await;
            }
            Ok(())
        }
        Err(TierError::Conflict { path, epoch }) => {
            // An older owner wrote this version after we took over; ours goes
            // past it on the next try.
            tracing::warn!(path = %path, epoch, "tier: manifest version taken by an older owner; its upload is not part of this broker's log");
            if let Ok(mut s) = part.state.lock() {
                s.manifest.version = next.version;
            }
            Err(TierError::Conflict { path, epoch })
        }
        Err(e) => Err(e),
    }
}

/// Sets the partition's gauges, unless its topic was stopped meanwhile (its
/// gauges are gone and must stay gone).
fn update_gauges(tier: &Tier, part: &PartHandle, hw: u64) {
    let Ok(s) = part.state.lock() else { return };
    let m = &tier.metrics().tier;
    let p = part.partition.to_string();
    let labels = [part.topic.as_str(), p.as_str()];
    let uploaded = s.manifest.next_offset;
    tier.if_registered(part, || {
        m.lag_offsets
            .with_label_values(&labels)
            .set(hw.saturating_sub(uploaded) as i64);
        m.lag_bytes
            .with_label_values(&labels)
            .set(s.lag_bytes as i64);
        m.last_uploaded_offset
            .with_label_values(&labels)
            .set(uploaded as i64 - 1);
        m.last_snapshot_offset.with_label_values(&labels).set(
            s.manifest
                .snapshot
                .as_ref()
                .map_or(-1, |sn| sn.offset as i64),
        );
    });
}

/// Uploads a snapshot of the view when the interval passed and the view changed.
async fn maybe_snapshot(tier: &Tier, part: &Arc<PartHandle>) -> Result<()> {
    let now = now_ms();
    let (due, last_offset) = {
        let s = part
            .state
            .lock()
            .map_err(|_| TierError::Other("partition state poisoned".into()))?;
        let interval = tier.opts().snapshot_interval.as_millis() as i64;
        let last = s
            .pending_snapshot
            .as_ref()
            .or(s.manifest.snapshot.as_ref())
            .map(|sn| sn.offset);
        (now - s.last_snapshot_ms >= interval, last)
    };
    if !due {
        return Ok(());
    }
    if !tier
        .db()
        .topic(&part.topic)
        .is_some_and(|m| m.config.kvstore())
    {
        return Ok(());
    }
    let (t, p) = (part.topic.clone(), part.partition);
    let hw = tier
        .db()
        .read(move |s| s.partition_state(&t, p))
        .await?
        .next_offset;
    if hw == 0 || Some(hw) == last_offset {
        if let Ok(mut s) = part.state.lock() {
            s.last_snapshot_ms = now;
        }
        return Ok(());
    }
    take_snapshot(tier, part).await
}

/// Uploads a snapshot of the partition's view now.
pub(super) async fn take_snapshot(tier: &Tier, part: &Arc<PartHandle>) -> Result<()> {
    let started = Instant::now();
    let (t, p) = (part.topic.clone(), part.partition);
    // Encoded inside the read transaction, straight into one buffer.
    let snapshot = tier.db().read(move |s| {
        let mut w = layout::SnapshotWriter::new();
        let state = s.view_snapshot_with(&t, p, |key, value, offset, ts| {
            w.push(key, offset, ts, value)
        })?;
        let count = w.count();
        Ok((state.next_offset, count, w.finish(state.next_offset)))
    });
    let (offset, count, (bytes, sha)) = match snapshot.await {
        Ok(x) => x,
        Err(StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let info = SnapshotInfo {
        key: layout::snapshot_key(
            &part.topic,
            part.incarnation,
            part.partition,
            offset,
            tier.epoch(),
        ),
        offset,
        entries: count,
        size_bytes: bytes.len() as u64,
        sha256: sha,
        taken_ms: now_ms(),
    };
    tier.put(&info.key, Bytes::from(bytes)).await?;
    let covered = {
        let mut s = part
            .state
            .lock()
            .map_err(|_| TierError::Other("partition state poisoned".into()))?;
        s.last_snapshot_ms = now_ms();
        s.pending_snapshot = Some(info.clone());
        s.manifest.next_offset >= offset
    };
    tracing::info!(topic = %part.topic, partition = part.partition, offset, keys = info.entries, bytes = info.size_bytes, elapsed_ms = started.elapsed().as_millis() as u64, "tier: view snapshot uploaded");
    if covered {
        write_manifest(tier, part, |_| {}).await?;
    }
    Ok(())
}
