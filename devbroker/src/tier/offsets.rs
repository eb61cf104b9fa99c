//! Committed consumer-group offsets in the bucket: the supervisor uploads a
//! new version of `offsets/manifest/{version:020}.json` whenever they changed
//! (with the same conditional put, fencing and pruning as every manifest), and
//! a restore writes them back once the topics are back. Offsets are kept by
//! topic name: a restored topic gets a new storage id.

use serde::{Deserialize, Serialize};

use super::layout::{self, Writer};
use super::{Result, Tier};
use crate::storage::{StoredOffset, now_ms};

/// The directory of the offsets manifest versions.
pub fn offsets_manifest_dir() -> String {
    "offsets/manifest".to_string()
}

/// One committed offset in the bucket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetEntry {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ms: i64,
}

/// One group's committed offsets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupOffsets {
    pub group: String,
    pub offsets: Vec<OffsetEntry>,
}

/// A version of the offsets manifest: every group's committed offsets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OffsetsManifest {
    pub format: u32,
    pub version: u64,
    pub groups: Vec<GroupOffsets>,
    pub written_ms: i64,
    pub writer: Writer,
}

/// What the last sync left: the manifest version in the bucket and the
/// store's offsets version it holds.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct OffsetsSync {
    pub(super) synced: Option<(u64, u64)>,
}

fn snapshot(all: Vec<(String, Vec<StoredOffset>)>) -> Vec<GroupOffsets> {
    all.into_iter()
        .map(|(group, offsets)| GroupOffsets {
            group,
            offsets: offsets
                .into_iter()
                .map(|o| OffsetEntry {
                    topic: o.topic,
                    partition: o.partition,
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata,
                    commit_ms: o.commit_ms,
                })
                .collect(),
        })
        .collect()
}

impl Tier {
    /// Uploads the committed offsets if they changed since the last upload.
    pub(super) async fn sync_offsets(&self) -> Result<()> {
        let mut state = self.inner.offsets.lock().await;
        let db = self.db();
        // Read the store's version before its contents: a change after this
        // read bumps it, so the next sync uploads again.
        let store_version = db.offsets_version();
        if state.synced.is_some_and(|(_, v)| v == store_version) {
            return Ok(());
        }
        let groups = snapshot(db.all_offsets());
        let dir = offsets_manifest_dir();
        let latest = match state.synced {
            Some((version, _)) => version,
            None => match self.latest_manifest::<OffsetsManifest>(&dir).await? {
                Some((version, m)) if m.groups == groups => {
                    state.synced = Some((version, store_version));
                    return Ok(());
                }
                Some((version, _)) => version,
                None if groups.is_empty() => {
                    state.synced = Some((0, store_version));
                    return Ok(());
                }
                None => 0,
            },
        };
        let writer = self.writer();
        let doc = OffsetsManifest {
            format: layout::FORMAT,
            version: latest + 1,
            groups,
            written_ms: now_ms(),
            writer: writer.clone(),
        };
        match self.write_manifest(&dir, doc.version, &doc, &writer).await {
            Ok(()) => {
                state.synced = Some((doc.version, store_version));
                Ok(())
            }
            Err(e) => {
                // Read the bucket's latest version again next time.
                state.synced = None;
                Err(e)
            }
        }
    }
}

/// Writes the bucket's committed offsets back (after the topics were restored):
/// offsets of topics not restored are left out.
pub(super) async fn restore_offsets(tier: &Tier) -> Result<()> {
    let Some((version, m)) = tier
        .latest_manifest::<OffsetsManifest>(&offsets_manifest_dir())
        .await?
    else {
        return Ok(());
    };
    let db = tier.db();
    let mut restored = 0usize;
    for g in m.groups {
        let offsets: Vec<StoredOffset> = g
            .offsets
            .into_iter()
            .filter_map(|o| {
                let meta = db.topic(&o.topic)?;
                (o.partition >= 0 && o.partition < meta.partitions).then(|| StoredOffset {
                    topic: o.topic,
                    topic_id: meta.id,
                    partition: o.partition,
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata,
                    commit_ms: o.commit_ms,
                })
            })
            .collect();
        if offsets.is_empty() {
            continue;
        }
        restored += offsets.len();
        db.commit_offsets(&g.group, offsets).await?;
    }
    tracing::info!(
        version,
        offsets = restored,
        "tier: committed offsets restored"
    );
    Ok(())
}
