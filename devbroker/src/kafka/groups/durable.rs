//! [`StoreOffsets`]: committed offsets in the broker's storage, durable.
//!
//! Every change is a storage op, applied by the writer in a group commit with
//! the other writes and recorded in the redo log; the future it returns
//! resolves once the change is durable, so the coordinator acknowledges an
//! OffsetCommit only then. Reads come from the store's in-memory copy, loaded
//! at open and changed by the writer once each commit is durable.

use futures::FutureExt;

use super::offsets::{CommittedOffset, Durable, OffsetStore, OffsetStoreError, TopicPartition};
use crate::storage::{Store, StoreError, StoredOffset};

/// Committed offsets kept in a [`Store`] (see the module docs).
pub struct StoreOffsets {
    store: Store,
}

impl StoreOffsets {
    pub fn new(store: Store) -> Self {
        StoreOffsets { store }
    }
}

fn unavailable(e: StoreError) -> OffsetStoreError {
    OffsetStoreError::Unavailable(e.to_string())
}

fn stored(tp: TopicPartition, c: CommittedOffset) -> StoredOffset {
    StoredOffset {
        topic: tp.topic,
        topic_id: c.topic_id,
        partition: tp.partition,
        offset: c.offset,
        leader_epoch: c.leader_epoch,
        metadata: c.metadata,
        commit_ms: c.commit_ms,
    }
}

fn committed(o: StoredOffset) -> (TopicPartition, CommittedOffset) {
    (
        TopicPartition::new(o.topic, o.partition),
        CommittedOffset {
            offset: o.offset,
            leader_epoch: o.leader_epoch,
            metadata: o.metadata,
            commit_ms: o.commit_ms,
            topic_id: o.topic_id,
        },
    )
}

impl OffsetStore for StoreOffsets {
    fn commit(&self, group: &str, offsets: Vec<(TopicPartition, CommittedOffset)>) -> Durable {
        let store = self.store.clone();
        let group = group.to_string();
        let offsets = offsets.into_iter().map(|(tp, c)| stored(tp, c)).collect();
        async move {
            store
                .commit_offsets(&group, offsets)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn fetch(&self, group: &str, tp: &TopicPartition) -> Option<CommittedOffset> {
        self.store
            .committed_offset(group, &tp.topic, tp.partition)
            .map(|o| committed(o).1)
    }

    fn fetch_group(&self, group: &str) -> Vec<(TopicPartition, CommittedOffset)> {
        self.store
            .group_offsets(group)
            .into_iter()
            .map(committed)
            .collect()
    }

    fn has_offsets(&self, group: &str) -> bool {
        !self.store.group_offsets(group).is_empty()
    }

    fn groups(&self) -> Vec<String> {
        self.store.offset_groups()
    }

    fn delete_group(&self, group: &str) -> Durable {
        let store = self.store.clone();
        let group = group.to_string();
        async move {
            store
                .delete_offsets(&group, None)
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn delete(&self, group: &str, tps: &[TopicPartition]) -> Durable {
        let store = self.store.clone();
        let group = group.to_string();
        let tps: Vec<(String, i32)> = tps.iter().map(|t| (t.topic.clone(), t.partition)).collect();
        async move {
            if tps.is_empty() {
                return Ok(());
            }
            store
                .delete_offsets(&group, Some(tps))
                .await
                .map_err(unavailable)
        }
        .boxed()
    }

    fn retain_live(&self, live: &dyn Fn(&str, u32) -> bool) -> Durable {
        // The closure cannot go to the writer: pick the stale partitions now.
        let stale: Vec<(String, Vec<(String, i32)>)> = self
            .store
            .all_offsets()
            .into_iter()
            .filter_map(|(g, offsets)| {
                let tps: Vec<(String, i32)> = offsets
                    .into_iter()
                    .filter(|o| !live(&o.topic, o.topic_id))
                    .map(|o| (o.topic, o.partition))
                    .collect();
                (!tps.is_empty()).then_some((g, tps))
            })
            .collect();
        let store = self.store.clone();
        async move {
            for (group, tps) in stale {
                store
                    .delete_offsets(&group, Some(tps))
                    .await
                    .map_err(unavailable)?;
            }
            Ok(())
        }
        .boxed()
    }
}
