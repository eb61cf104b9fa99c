//! Committed offsets, behind [`OffsetStore`].
//!
//! The coordinator validates a commit (group, generation, member) and then
//! hands the offsets to an `OffsetStore`; it never looks at how they are kept.
//! The broker uses [`super::StoreOffsets`]: every change goes through the
//! storage writer, where it shares a group commit with other writes, and the
//! future a mutation returns resolves once the change is durable (the
//! coordinator answers the client only then); reads come from the store's
//! in-memory copy, loaded at start-up, so the read methods stay synchronous.
//! [`MemoryOffsetStore`] keeps them in memory only (tests, `KafkaState::new`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use futures::future::{BoxFuture, FutureExt, ready};

/// A topic partition, by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedOffset {
    pub offset: i64,
    /// -1 when the client did not send one.
    pub leader_epoch: i32,
    /// The client's metadata string, kept as sent (empty for none).
    pub metadata: String,
    pub commit_ms: i64,
    /// The storage id of the topic at commit time: an offset whose topic was
    /// deleted (and perhaps created again, with a new id) is stale.
    pub topic_id: u32,
}

/// An offset store could not take a change.
#[derive(Debug, thiserror::Error)]
pub enum OffsetStoreError {
    #[error("committed offsets cannot be written: {0}")]
    Unavailable(String),
}

/// What a mutation returns: resolves once the change is durable.
pub type Durable = BoxFuture<'static, Result<(), OffsetStoreError>>;

/// Where committed offsets live (see the module docs).
pub trait OffsetStore: Send + Sync {
    /// Records `offsets` for `group`, replacing earlier ones of the same partitions.
    fn commit(&self, group: &str, offsets: Vec<(TopicPartition, CommittedOffset)>) -> Durable;
    /// The committed offset of one partition.
    fn fetch(&self, group: &str, tp: &TopicPartition) -> Option<CommittedOffset>;
    /// Every committed offset of `group`, ordered by topic and partition.
    fn fetch_group(&self, group: &str) -> Vec<(TopicPartition, CommittedOffset)>;
    /// Whether `group` has any committed offset.
    fn has_offsets(&self, group: &str) -> bool;
    /// The groups with committed offsets (a durable store has them at start-up).
    fn groups(&self) -> Vec<String>;
    /// Forgets every offset of `group`.
    fn delete_group(&self, group: &str) -> Durable;
    /// Forgets the offsets of some partitions of `group`.
    fn delete(&self, group: &str, tps: &[TopicPartition]) -> Durable;
    /// Forgets, in every group, the offsets for which `live(topic, topic_id)`
    /// is false (topics deleted since the commit).
    fn retain_live(&self, live: &dyn Fn(&str, u32) -> bool) -> Durable;
}

/// Committed offsets in memory: lost on restart (see the module docs).
#[derive(Default)]
pub struct MemoryOffsetStore {
    groups: Mutex<HashMap<String, BTreeMap<TopicPartition, CommittedOffset>>>,
}

impl MemoryOffsetStore {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, BTreeMap<TopicPartition, CommittedOffset>>) -> T,
    ) -> T {
        // A panic while holding the lock leaves a consistent map (every
        // mutation is one insert or remove), so a poisoned lock is usable.
        let mut g = self
            .groups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut g)
    }
}

fn done() -> Durable {
    ready(Ok(())).boxed()
}

impl OffsetStore for MemoryOffsetStore {
    fn commit(&self, group: &str, offsets: Vec<(TopicPartition, CommittedOffset)>) -> Durable {
        if !offsets.is_empty() {
            self.with(|g| g.entry(group.to_string()).or_default().extend(offsets));
        }
        done()
    }

    fn fetch(&self, group: &str, tp: &TopicPartition) -> Option<CommittedOffset> {
        self.with(|g| g.get(group).and_then(|o| o.get(tp)).cloned())
    }

    fn fetch_group(&self, group: &str) -> Vec<(TopicPartition, CommittedOffset)> {
        self.with(|g| {
            g.get(group)
                .map(|o| o.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default()
        })
    }

    fn has_offsets(&self, group: &str) -> bool {
        self.with(|g| g.get(group).is_some_and(|o| !o.is_empty()))
    }

    fn groups(&self) -> Vec<String> {
        self.with(|g| g.keys().cloned().collect())
    }

    fn delete_group(&self, group: &str) -> Durable {
        self.with(|g| g.remove(group));
        done()
    }

    fn delete(&self, group: &str, tps: &[TopicPartition]) -> Durable {
        self.with(|g| {
            if let Some(o) = g.get_mut(group) {
                for tp in tps {
                    o.remove(tp);
                }
                if o.is_empty() {
                    g.remove(group);
                }
            }
        });
        done()
    }

    fn retain_live(&self, live: &dyn Fn(&str, u32) -> bool) -> Durable {
        self.with(|g| {
            for o in g.values_mut() {
                o.retain(|tp, c| live(&tp.topic, c.topic_id));
            }
            g.retain(|_, o| !o.is_empty());
        });
        done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(offset: i64, topic_id: u32) -> CommittedOffset {
        CommittedOffset {
            offset,
            leader_epoch: -1,
            metadata: "m".into(),
            commit_ms: 0,
            topic_id,
        }
    }

    #[tokio::test]
    async fn commit_fetch_delete() {
        let s = MemoryOffsetStore::default();
        let a0 = TopicPartition::new("a", 0);
        let b1 = TopicPartition::new("b", 1);
        s.commit("g", vec![(a0.clone(), c(5, 1)), (b1.clone(), c(7, 2))])
            .await
            .unwrap();
        s.commit("g", vec![(a0.clone(), c(6, 1))]).await.unwrap();
        assert_eq!(s.fetch("g", &a0).unwrap().offset, 6, "a later commit wins");
        assert_eq!(s.fetch("other", &a0), None);
        assert_eq!(s.fetch_group("g").len(), 2);
        assert!(s.has_offsets("g"));
        assert_eq!(s.groups(), vec!["g".to_string()]);

        s.retain_live(&|topic, id| !(topic == "b" && id == 2))
            .await
            .unwrap();
        assert_eq!(s.fetch("g", &b1), None, "offsets of a deleted topic go");
        s.delete("g", std::slice::from_ref(&a0)).await.unwrap();
        assert!(!s.has_offsets("g"));
        assert!(s.groups().is_empty(), "a group without offsets is gone");

        s.commit("g", vec![(a0.clone(), c(1, 1))]).await.unwrap();
        s.delete_group("g").await.unwrap();
        assert_eq!(s.fetch("g", &a0), None);
    }
}
