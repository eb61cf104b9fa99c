//! `GET /status/tier`: per-partition upload status.

use serde::Serialize;

use super::Tier;

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

impl Tier {
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
}
