//! Finding log offsets by timestamp (Kafka ListOffsets). Read-only.

use std::ops::Bound;

use super::keys::{self, partition_prefix};
use super::records::Record;
use super::{Result, Store, StoreError, load_state};

impl Store {
    /// The first record with `timestamp >= ts`: its offset and timestamp.
    /// Scans the partition's log (fine for a dev broker's log sizes).
    pub fn offset_for_timestamp(
        &self,
        topic: &str,
        partition: i32,
        ts: i64,
    ) -> Result<Option<(u64, i64)>> {
        let mut found = None;
        self.visit_log(topic, partition, |offset, record| {
            if record.timestamp >= ts {
                found = Some((offset, record.timestamp));
                false
            } else {
                true
            }
        })?;
        Ok(found)
    }

    /// The record with the largest timestamp (the first of equals).
    pub fn max_timestamp(&self, topic: &str, partition: i32) -> Result<Option<(u64, i64)>> {
        let mut best: Option<(u64, i64)> = None;
        self.visit_log(topic, partition, |offset, record| {
            if best.is_none_or(|(_, t)| record.timestamp > t) {
                best = Some((offset, record.timestamp));
            }
            true
        })?;
        Ok(best)
    }

    /// Visits the records of a partition in offset order until `visit` returns false.
    fn visit_log(
        &self,
        topic: &str,
        partition: i32,
        mut visit: impl FnMut(u64, &Record) -> bool,
    ) -> Result<()> {
        let meta = self.partition(topic, partition)?;
        let prefix = partition_prefix(meta.id, partition);
        let rtxn = self.read_txn()?;
        let state = load_state(&rtxn, self.inner.dbs.parts, &prefix)?;
        let lower = keys::log_key(&prefix, state.log_start);
        let upper = keys::log_key(&prefix, state.next_offset);
        for item in self.inner.dbs.log.range(
            &rtxn,
            &(Bound::Included(&lower[..]), Bound::Excluded(&upper[..])),
        )? {
            let (k, v) = item?;
            let offset = keys::log_offset(k);
            let record = Record::decode(v).map_err(|e| {
                StoreError::Corrupt(format!("record {offset} of {topic}/{partition}: {e}"))
            })?;
            if !visit(offset, &record) {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::TopicConfig;
    use crate::storage::{Record, Store, StoreOptions};

    #[tokio::test]
    async fn offsets_by_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store
            .create_topic("t", 1, TopicConfig::default())
            .await
            .unwrap();
        let recs = [10, 20, 20, 5]
            .iter()
            .map(|ts| Record::new(*ts, None, Some(b"v".to_vec())))
            .collect();
        store.append("t", 0, recs).await.unwrap();
        assert_eq!(
            store.offset_for_timestamp("t", 0, 0).unwrap(),
            Some((0, 10))
        );
        assert_eq!(
            store.offset_for_timestamp("t", 0, 11).unwrap(),
            Some((1, 20))
        );
        assert_eq!(store.offset_for_timestamp("t", 0, 21).unwrap(), None);
        assert_eq!(store.max_timestamp("t", 0).unwrap(), Some((1, 20)));
        assert!(store.offset_for_timestamp("nope", 0, 0).is_err());
        store.close().await.unwrap();
    }
}
