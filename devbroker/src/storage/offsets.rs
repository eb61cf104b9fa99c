//! Committed consumer-group offsets: their own LMDB database (`offsets`),
//! written by the writer like every other change (and so in the redo log),
//! with an in-memory copy kept in the [`Store`] for the coordinator's reads.
//!
//! Key: `group length (u16 BE) | group | topic id (u32 BE) | partition (u32 BE)`.
//! The length prefix makes a group's offsets one contiguous key range.
//! Value: `offset (i64 BE) | leader epoch (i32 BE) | commit ms (i64 BE) |
//! topic length (u16 BE) | topic | metadata (the rest, UTF-8)`.
//!
//! The cache changes only once a commit is durable (an [`Effect`] applied by
//! the writer in commit order), so a fetch never sees an offset that a crash
//! could take back, and two commits of one partition land in the cache in the
//! order they landed in LMDB.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::atomic::Ordering;

use heed::RoTxn;

use super::ops::{Effect, Op};
use super::records::TopicMeta;
use super::wal::{Db, Tx};
use super::{Dbs, Result, Store, StoreError, keys};

/// Longest group id that can have committed offsets (LMDB keys are at most
/// 511 bytes).
pub const MAX_GROUP_ID_BYTES: usize = 400;

/// One committed offset as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOffset {
    pub topic: String,
    /// The storage id of the topic at commit time.
    pub topic_id: u32,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_ms: i64,
}

/// The in-memory copy: group -> its offsets, ordered by topic and partition.
pub(crate) type OffsetCache = BTreeMap<String, Vec<StoredOffset>>;

fn group_prefix(group: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + group.len() + 8);
    k.extend_from_slice(&(group.len() as u16).to_be_bytes());
    k.extend_from_slice(group.as_bytes());
    k
}

fn offset_key(group: &str, topic_id: u32, partition: i32) -> Vec<u8> {
    let mut k = group_prefix(group);
    k.extend_from_slice(&topic_id.to_be_bytes());
    k.extend_from_slice(&(partition as u32).to_be_bytes());
    k
}

fn decode_key(k: &[u8]) -> Option<(&str, u32, i32)> {
    let len = u16::from_be_bytes(k.get(..2)?.try_into().ok()?) as usize;
    let group = std::str::from_utf8(k.get(2..2 + len)?).ok()?;
    let rest = k.get(2 + len..)?;
    if rest.len() != 8 {
        return None;
    }
    let topic_id = u32::from_be_bytes(rest[..4].try_into().ok()?);
    let partition = u32::from_be_bytes(rest[4..].try_into().ok()?) as i32;
    Some((group, topic_id, partition))
}

fn encode_value(o: &StoredOffset) -> Vec<u8> {
    let mut v = Vec::with_capacity(22 + o.topic.len() + o.metadata.len());
    v.extend_from_slice(&o.offset.to_be_bytes());
    v.extend_from_slice(&o.leader_epoch.to_be_bytes());
    v.extend_from_slice(&o.commit_ms.to_be_bytes());
    v.extend_from_slice(&(o.topic.len() as u16).to_be_bytes());
    v.extend_from_slice(o.topic.as_bytes());
    v.extend_from_slice(o.metadata.as_bytes());
    v
}

fn decode(k: &[u8], v: &[u8]) -> Result<(String, StoredOffset)> {
    let corrupt = || StoreError::Corrupt("a committed offset does not parse".into());
    let (group, topic_id, partition) = decode_key(k).ok_or_else(corrupt)?;
    let head = v.get(..22).ok_or_else(corrupt)?;
    let offset = i64::from_be_bytes(head[..8].try_into().map_err(|_| corrupt())?);
    let leader_epoch = i32::from_be_bytes(head[8..12].try_into().map_err(|_| corrupt())?);
    let commit_ms = i64::from_be_bytes(head[12..20].try_into().map_err(|_| corrupt())?);
    let tlen = u16::from_be_bytes(head[20..22].try_into().map_err(|_| corrupt())?) as usize;
    let topic = v.get(22..22 + tlen).ok_or_else(corrupt)?;
    let metadata = &v[22 + tlen..];
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| corrupt());
    Ok((
        group.to_string(),
        StoredOffset {
            topic: text(topic)?,
            topic_id,
            partition,
            offset,
            leader_epoch,
            metadata: text(metadata)?,
            commit_ms,
        },
    ))
}

fn sort(v: &mut [StoredOffset]) {
    v.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
}

/// Every committed offset (at open).
pub(crate) fn load_all(rtxn: &RoTxn<'_, heed::WithoutTls>, dbs: Dbs) -> Result<OffsetCache> {
    let mut cache = OffsetCache::new();
    for item in dbs.offsets.iter(rtxn)? {
        let (k, v) = item?;
        let (group, o) = decode(k, v)?;
        cache.entry(group).or_default().push(o);
    }
    for v in cache.values_mut() {
        sort(v);
    }
    Ok(cache)
}

/// The offsets of one group as the transaction sees them.
fn group_in_txn(txn: &Tx, dbs: Dbs, group: &str) -> Result<Vec<StoredOffset>> {
    let lower = group_prefix(group);
    let upper = keys::prefix_successor(&lower);
    let range = (
        Bound::Included(&lower[..]),
        upper.as_deref().map_or(Bound::Unbounded, Bound::Excluded),
    );
    let mut out = Vec::new();
    for item in dbs.offsets.range(txn, &range)? {
        let (k, v) = item?;
        out.push(decode(k, v)?.1);
    }
    sort(&mut out);
    Ok(out)
}

fn check_group(group: &str) -> Result<()> {
    if group.len() > MAX_GROUP_ID_BYTES {
        return Err(StoreError::InvalidRequest(format!(
            "group id is {} bytes; groups with committed offsets have ids of at most {MAX_GROUP_ID_BYTES} bytes",
            group.len()
        )));
    }
    Ok(())
}

/// Writes `offsets` of `group`. An offset whose topic no longer exists with
/// the id it was committed for (deleted meanwhile) is dropped.
pub(crate) fn commit(
    txn: &mut Tx,
    dbs: Dbs,
    group: &str,
    offsets: &[StoredOffset],
    effects: &mut Vec<Effect>,
) -> Result<()> {
    check_group(group)?;
    if let Some(o) = offsets.iter().find(|o| o.partition < 0) {
        return Err(StoreError::InvalidRequest(format!(
            "partition {} of topic {} is negative",
            o.partition, o.topic
        )));
    }
    let mut ids: HashMap<&str, Option<u32>> = HashMap::new();
    for o in offsets {
        if !ids.contains_key(o.topic.as_str()) {
            let id = match dbs.topics.get(txn, &o.topic)? {
                Some(b) => serde_json::from_slice::<TopicMeta>(b)
                    .map(|m| m.id)
                    .map_err(|e| StoreError::Corrupt(format!("topic {}: {e}", o.topic)))
                    .map(Some)?,
                None => None,
            };
            ids.insert(&o.topic, id);
        }
    }
    for o in offsets {
        if ids.get(o.topic.as_str()).copied().flatten() != Some(o.topic_id) {
            continue;
        }
        let key = offset_key(group, o.topic_id, o.partition);
        txn.put(Db::Offsets, &key, &encode_value(o))?;
    }
    effects.push(Effect::GroupOffsets(
        group.to_string(),
        group_in_txn(txn, dbs, group)?,
    ));
    Ok(())
}

/// Deletes the offsets of some partitions of `group`, or all of them.
pub(crate) fn delete(
    txn: &mut Tx,
    dbs: Dbs,
    group: &str,
    partitions: Option<&[(String, i32)]>,
    effects: &mut Vec<Effect>,
) -> Result<()> {
    let lower = group_prefix(group);
    match partitions {
        None => {
            let upper = keys::prefix_successor(&lower);
            txn.delete_range(Db::Offsets, &lower, upper.as_deref())?;
        }
        Some(tps) => {
            for o in group_in_txn(txn, dbs, group)? {
                if tps.iter().any(|(t, p)| *t == o.topic && *p == o.partition) {
                    txn.delete(Db::Offsets, &offset_key(group, o.topic_id, o.partition))?;
                }
            }
        }
    }
    effects.push(Effect::GroupOffsets(
        group.to_string(),
        group_in_txn(txn, dbs, group)?,
    ));
    Ok(())
}

/// Deletes every group's offsets of topic `topic_id` (a topic delete).
pub(crate) fn delete_topic(
    txn: &mut Tx,
    dbs: Dbs,
    topic_id: u32,
    effects: &mut Vec<Effect>,
) -> Result<()> {
    let mut doomed = Vec::new();
    for item in dbs.offsets.iter(txn)? {
        let (k, _) = item?;
        if decode_key(k).is_some_and(|(_, id, _)| id == topic_id) {
            doomed.push(k.to_vec());
        }
    }
    let mut groups = Vec::new();
    for k in &doomed {
        txn.delete(Db::Offsets, k)?;
        if let Some((g, _, _)) = decode_key(k)
            && groups.last() != Some(&g)
        {
            groups.push(g);
        }
    }
    for g in groups {
        effects.push(Effect::GroupOffsets(
            g.to_string(),
            group_in_txn(txn, dbs, g)?,
        ));
    }
    Ok(())
}

impl Store {
    /// Records committed offsets of `group` (replacing earlier ones of the same
    /// partitions); returns once they are durable. Offsets of a topic deleted
    /// since `topic_id` was read are dropped.
    pub async fn commit_offsets(&self, group: &str, offsets: Vec<StoredOffset>) -> Result<()> {
        self.submit(Op::CommitOffsets {
            group: group.to_string(),
            offsets,
        })
        .await
        .map(drop)
    }

    /// Deletes the committed offsets of some partitions of `group`
    /// (`Some`), or every one of them (`None`); returns once durable.
    pub async fn delete_offsets(
        &self,
        group: &str,
        partitions: Option<Vec<(String, i32)>>,
    ) -> Result<()> {
        self.submit(Op::DeleteOffsets {
            group: group.to_string(),
            partitions,
        })
        .await
        .map(drop)
    }

    fn with_offsets<T>(&self, f: impl FnOnce(&OffsetCache) -> T) -> T {
        let cache = self
            .inner
            .offsets
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&cache)
    }

    /// The committed offset of one partition, from memory.
    pub fn committed_offset(
        &self,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<StoredOffset> {
        self.with_offsets(|c| {
            c.get(group)?
                .iter()
                .find(|o| o.topic == topic && o.partition == partition)
                .cloned()
        })
    }

    /// Every committed offset of `group`, ordered by topic and partition.
    pub fn group_offsets(&self, group: &str) -> Vec<StoredOffset> {
        self.with_offsets(|c| c.get(group).cloned().unwrap_or_default())
    }

    /// The groups that have committed offsets.
    pub fn offset_groups(&self) -> Vec<String> {
        self.with_offsets(|c| c.keys().cloned().collect())
    }

    /// Every group's committed offsets (for the tier's snapshot).
    pub fn all_offsets(&self) -> Vec<(String, Vec<StoredOffset>)> {
        self.with_offsets(|c| c.iter().map(|(g, o)| (g.clone(), o.clone())).collect())
    }

    /// A number that changes whenever committed offsets change.
    pub fn offsets_version(&self) -> u64 {
        self.inner.offsets_version.load(Ordering::Acquire)
    }

    /// Applies a durable change of a group's offsets to the cache.
    pub(crate) fn set_group_offsets(&self, group: String, offsets: Vec<StoredOffset>) {
        let mut cache = self
            .inner
            .offsets
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if offsets.is_empty() {
            cache.remove(&group);
        } else {
            cache.insert(group, offsets);
        }
        self.inner.offsets_version.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_group_then_topic_id_then_partition() {
        let a = offset_key("g", 1, 2);
        let b = offset_key("g", 2, 0);
        let c = offset_key("gg", 0, 0);
        assert!(a < b);
        // The length prefix keeps "g" before "gg" and their ranges apart.
        assert!(b < c);
        let p = group_prefix("g");
        assert!(a.starts_with(&p) && !c.starts_with(&p));
        assert_eq!(decode_key(&a), Some(("g", 1, 2)));
    }

    #[test]
    fn value_round_trip() {
        let o = StoredOffset {
            topic: "t".into(),
            topic_id: 7,
            partition: 3,
            offset: 42,
            leader_epoch: -1,
            metadata: "meta ✓".into(),
            commit_ms: 1_700_000_000_000,
        };
        let (g, back) = decode(&offset_key("grp", 7, 3), &encode_value(&o)).unwrap();
        assert_eq!((g.as_str(), back), ("grp", o));
        assert!(decode(&offset_key("grp", 7, 3), b"short").is_err());
    }
}
