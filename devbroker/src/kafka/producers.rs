//! Idempotent producer state, in memory: per partition, each producer id's epoch
//! and its last few batches' sequence ranges and offsets.
//!
//! A partition's state sits behind an async mutex that the produce handler holds
//! across check, append and record, so check-and-append is atomic per partition.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use crate::storage::now_ms;

/// Batches remembered per producer and partition (clients keep at most 5 in flight).
const REMEMBERED_BATCHES: usize = 5;

#[derive(Debug, Clone, Copy)]
struct BatchSeq {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug)]
struct ProducerState {
    epoch: i16,
    recent: VecDeque<BatchSeq>,
}

/// What to do with a producer's batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqCheck {
    /// In sequence: append it.
    Append,
    /// Already appended at this offset: acknowledge again, do not append.
    Duplicate { base_offset: i64 },
    /// A gap or a reordering: refuse with OUT_OF_ORDER_SEQUENCE_NUMBER.
    OutOfOrder { expected: i32, got: i32 },
    /// An epoch older than the one seen: refuse with INVALID_PRODUCER_EPOCH.
    StaleEpoch { current: i16, got: i16 },
}

/// Sequence after `seq`; Kafka sequences wrap to 0 after `i32::MAX`.
fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX { 0 } else { seq + 1 }
}

fn last_seq(first: i32, count: usize) -> i32 {
    let span = i64::try_from(count.saturating_sub(1)).unwrap_or(i64::MAX);
    ((i64::from(first) + span) % (i64::from(i32::MAX) + 1)) as i32
}

/// The producers of one partition.
#[derive(Debug, Default)]
pub struct PartitionProducers {
    producers: HashMap<i64, ProducerState>,
}

impl PartitionProducers {
    /// Checks a batch of `count` records starting at sequence `first_seq`.
    pub fn check(&self, producer_id: i64, epoch: i16, first_seq: i32, count: usize) -> SeqCheck {
        let Some(state) = self.producers.get(&producer_id) else {
            return if first_seq == 0 {
                SeqCheck::Append
            } else {
                SeqCheck::OutOfOrder {
                    expected: 0,
                    got: first_seq,
                }
            };
        };
        if epoch < state.epoch {
            return SeqCheck::StaleEpoch {
                current: state.epoch,
                got: epoch,
            };
        }
        if epoch > state.epoch {
            // A bumped epoch starts its sequences again.
            return if first_seq == 0 {
                SeqCheck::Append
            } else {
                SeqCheck::OutOfOrder {
                    expected: 0,
                    got: first_seq,
                }
            };
        }
        let last = last_seq(first_seq, count);
        if let Some(dup) = state
            .recent
            .iter()
            .find(|b| b.first_seq == first_seq && b.last_seq == last)
        {
            return SeqCheck::Duplicate {
                base_offset: dup.base_offset,
            };
        }
        let expected = state.recent.back().map_or(0, |b| next_seq(b.last_seq));
        if first_seq == expected {
            SeqCheck::Append
        } else {
            SeqCheck::OutOfOrder {
                expected,
                got: first_seq,
            }
        }
    }

    /// Records an appended batch.
    pub fn record(
        &mut self,
        producer_id: i64,
        epoch: i16,
        first_seq: i32,
        count: usize,
        base_offset: i64,
    ) {
        let state = self
            .producers
            .entry(producer_id)
            .or_insert_with(|| ProducerState {
                epoch,
                recent: VecDeque::new(),
            });
        if epoch != state.epoch {
            state.epoch = epoch;
            state.recent.clear();
        }
        if state.recent.len() == REMEMBERED_BATCHES {
            state.recent.pop_front();
        }
        state.recent.push_back(BatchSeq {
            first_seq,
            last_seq: last_seq(first_seq, count),
            base_offset,
        });
    }
}

/// A partition's producers behind the lock held across check and append.
pub type PartitionLock = Arc<tokio::sync::Mutex<PartitionProducers>>;

/// Producer ids and the per-partition producer state of the broker.
pub struct ProducerTable {
    next_id: AtomicI64,
    partitions: Mutex<HashMap<(String, i32), PartitionLock>>,
}

impl Default for ProducerTable {
    fn default() -> Self {
        Self::new()
    }
}

impl ProducerTable {
    /// Ids start at the current time in ms, so a restarted broker (whose state
    /// is gone) does not hand out an id an old producer still uses.
    pub fn new() -> Self {
        ProducerTable {
            next_id: AtomicI64::new(now_ms().max(1)),
            partitions: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh producer id.
    pub fn allocate_id(&self) -> i64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The lock-protected producer state of a partition.
    pub fn partition(&self, topic: &str, partition: i32) -> PartitionLock {
        let mut map = match self.partitions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((topic.to_string(), partition))
            .or_default()
            .clone()
    }

    /// Drops the state of a deleted topic.
    pub fn forget_topic(&self, topic: &str) {
        let mut map = match self.partitions.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.retain(|(t, _), _| t != topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_duplicates_and_epochs() {
        let mut p = PartitionProducers::default();
        assert_eq!(p.check(7, 0, 0, 3), SeqCheck::Append);
        p.record(7, 0, 0, 3, 100);
        // The same batch again: acknowledged with its first offset.
        assert_eq!(
            p.check(7, 0, 0, 3),
            SeqCheck::Duplicate { base_offset: 100 }
        );
        // A gap.
        assert_eq!(
            p.check(7, 0, 5, 1),
            SeqCheck::OutOfOrder {
                expected: 3,
                got: 5
            }
        );
        assert_eq!(p.check(7, 0, 3, 2), SeqCheck::Append);
        p.record(7, 0, 3, 2, 103);
        assert_eq!(
            p.check(7, 0, 0, 3),
            SeqCheck::Duplicate { base_offset: 100 }
        );
        // Old epoch fenced, new epoch restarts at 0.
        p.record(7, 1, 0, 1, 105);
        assert_eq!(
            p.check(7, 0, 5, 1),
            SeqCheck::StaleEpoch { current: 1, got: 0 }
        );
        assert_eq!(
            p.check(8, 0, 4, 1),
            SeqCheck::OutOfOrder {
                expected: 0,
                got: 4
            }
        );
    }

    #[test]
    fn sequences_wrap() {
        assert_eq!(next_seq(i32::MAX), 0);
        assert_eq!(last_seq(i32::MAX, 2), 0);
        let mut p = PartitionProducers::default();
        p.record(1, 0, 0, 1, 0);
        // Pretend a long run: the last batch ended at MAX.
        p.record(1, 0, i32::MAX - 1, 2, 10);
        assert_eq!(p.check(1, 0, 0, 2), SeqCheck::Append);
    }

    #[test]
    fn ids_increase() {
        let t = ProducerTable::new();
        let a = t.allocate_id();
        assert!(t.allocate_id() > a);
    }
}
