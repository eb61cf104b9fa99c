//! Consumer lag, computed when `/metrics` is scraped: for every committed
//! offset of every group, the partition's log end offset (high watermark)
//! minus the committed offset, never below 0. Offsets of a deleted (or
//! re-created) topic are left out. Bounded by the groups the broker holds
//! offsets for (at most the coordinator's group limit).

use std::collections::BTreeMap;

use super::GroupCoordinator;
use crate::storage::{Store, StoreError};

/// One partition's lag in one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionLag {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub lag: i64,
}

impl GroupCoordinator {
    /// The lag of every committed offset (see the module docs). The log end
    /// offsets are read on a blocking thread.
    pub async fn lag(&self, store: &Store) -> Result<Vec<PartitionLag>, StoreError> {
        let max = self.lock().cfg.max_groups;
        let mut groups = self.offsets.groups();
        groups.sort();
        groups.truncate(max);
        let mut wanted = Vec::new();
        for group in groups {
            for (tp, c) in self.offsets.fetch_group(&group) {
                let live = store
                    .topic(&tp.topic)
                    .is_some_and(|m| m.id == c.topic_id && tp.partition < m.partitions);
                if live {
                    wanted.push((group.clone(), tp.topic, tp.partition, c.offset));
                }
            }
        }
        store
            .read(move |s| {
                let mut ends: BTreeMap<(String, i32), i64> = BTreeMap::new();
                let mut out = Vec::with_capacity(wanted.len());
                for (group, topic, partition, committed) in wanted {
                    let key = (topic, partition);
                    let end = match ends.get(&key) {
                        Some(e) => *e,
                        None => match s.partition_state(&key.0, partition) {
                            Ok(st) => {
                                let e = st.next_offset as i64;
                                ends.insert(key.clone(), e);
                                e
                            }
                            // Deleted since the check above.
                            Err(
                                StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. },
                            ) => {
                                continue;
                            }
                            Err(e) => return Err(e),
                        },
                    };
                    out.push(PartitionLag {
                        group,
                        topic: key.0,
                        partition,
                        lag: (end - committed.max(0)).max(0),
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Sets the lag gauges to what [`GroupCoordinator::lag`] finds now
    /// (series of partitions no longer committed disappear).
    pub async fn refresh_lag_metrics(&self, store: &Store) {
        let rows = match self.lag(store).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!(error = %e, "cannot compute consumer lag for /metrics");
                return;
            }
        };
        let m = &self.metrics.groups;
        m.lag.reset();
        m.lag_total.reset();
        let mut totals: BTreeMap<&str, i64> = BTreeMap::new();
        for r in &rows {
            let p = r.partition.to_string();
            m.lag
                .with_label_values(&[r.group.as_str(), r.topic.as_str(), p.as_str()])
                .set(r.lag);
            *totals.entry(&r.group).or_default() += r.lag;
        }
        for (g, total) in totals {
            m.lag_total.with_label_values(&[g]).set(total);
        }
    }
}
