//! Reads over several partitions of a topic: scans merged by key (one page at
//! a time, or up to a count) and batch gets of keys that live in different
//! partitions. The CLI (`kv scan -p -1`, `kv get`) and the TUI (the scan table,
//! `:get`) both use these.
//!
//! A merged scan keeps one cursor per partition: a buffer of the entries read
//! and where its next page starts. The next row is the smallest buffered key
//! (ties, which only different partitions can have, in partition order); a
//! cursor is refilled only when its buffer runs dry, so no partition is read
//! further than the rows taken need.

use std::collections::{BTreeMap, VecDeque};

use rpkv_wire::MAX_SCAN_LIMIT;
use rpkv_wire::kvstore::Entry;

use super::Client;
use super::error::{Error, Result};
use super::kvstore::{Lookup, ScanRange, key_after};

/// Keys per batch get when looking keys up (the kvstore's batches stay small).
pub(crate) const LOOKUP_BATCH: usize = 1000;

/// A key of one partition with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionEntry {
    pub partition: i32,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// One page of a merged scan.
#[derive(Clone, Debug)]
pub struct MergedPage {
    /// In (key, partition) order.
    pub rows: Vec<PartitionEntry>,
    /// False once every partition is exhausted.
    pub more: bool,
}

/// A call that failed on one partition of a topic. Its message names the
/// topic and partition; the cause is its [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[error("topic {topic:?} partition {partition}")]
pub struct PartitionError {
    pub topic: String,
    pub partition: i32,
    #[source]
    pub source: Error,
}

struct Cursor {
    partition: i32,
    buf: VecDeque<Entry>,
    /// Where the next page starts; `None` once the partition is exhausted.
    next: Option<ScanRange>,
}

/// The cursors of one merged scan.
struct Merge<'a> {
    client: &'a Client,
    topic: &'a str,
    page: i32,
    cursors: Vec<Cursor>,
}

impl<'a> Merge<'a> {
    fn new(
        client: &'a Client,
        topic: &'a str,
        partitions: &[i32],
        range: &ScanRange,
        page: usize,
    ) -> Self {
        let page = i32::try_from(page.clamp(1, MAX_SCAN_LIMIT as usize)).unwrap_or(MAX_SCAN_LIMIT);
        Merge {
            client,
            topic,
            page,
            cursors: partitions
                .iter()
                .map(|&partition| Cursor {
                    partition,
                    buf: VecDeque::new(),
                    next: Some(range.clone()),
                })
                .collect(),
        }
    }

    /// Reads the next page of every cursor whose buffer is empty, in parallel.
    async fn refill(&mut self) -> Result<(), PartitionError> {
        let (client, topic, page) = (self.client, self.topic, self.page);
        let reads = self
            .cursors
            .iter_mut()
            .filter(|c| c.buf.is_empty() && c.next.is_some())
            .map(|c| async move {
                let Some(range) = c.next.take() else {
                    return Ok(());
                };
                let entries = client
                    .scan_page(topic, c.partition, &range, page)
                    .await
                    .map_err(|source| PartitionError {
                        topic: topic.to_owned(),
                        partition: c.partition,
                        source,
                    })?;
                if entries.len() >= page as usize
                    && let Some(last) = entries.last()
                {
                    c.next = Some(ScanRange {
                        start: Some(key_after(&last.key)),
                        end: range.end.clone(),
                    });
                }
                c.buf = entries.into();
                Ok(())
            });
        for r in futures::future::join_all(reads).await {
            r?;
        }
        Ok(())
    }

    /// The cursor holding the smallest buffered key.
    fn smallest(&self) -> Option<usize> {
        self.cursors
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.buf.front().map(|e| (i, &e.key, c.partition)))
            .min_by(|a, b| a.1.cmp(b.1).then(a.2.cmp(&b.2)))
            .map(|(i, _, _)| i)
    }

    fn pop(&mut self, i: usize) -> Option<PartitionEntry> {
        let c = &mut self.cursors[i];
        c.buf.pop_front().map(|e| PartitionEntry {
            partition: c.partition,
            key: e.key,
            value: e.value,
        })
    }

    /// Takes up to `n` rows in (key, partition) order.
    async fn take(&mut self, n: usize) -> Result<Vec<PartitionEntry>, PartitionError> {
        let mut out = Vec::new();
        while out.len() < n {
            self.refill().await?;
            let Some(i) = self.smallest() else { break };
            out.extend(self.pop(i));
        }
        Ok(out)
    }

    fn more(&self) -> bool {
        self.cursors
            .iter()
            .any(|c| !c.buf.is_empty() || c.next.is_some())
    }
}

impl Client {
    /// One page of `partitions` merged by key: each partition is read once,
    /// `limit` (1..=1000) entries from `range.start`; the first `limit` rows in
    /// (key, partition) order are kept, plus the other partitions' rows with
    /// the same key as the last one, so that the next page can start at
    /// [`key_after`] that key.
    pub async fn scan_merged_page(
        &self,
        topic: &str,
        partitions: &[i32],
        range: &ScanRange,
        limit: usize,
    ) -> Result<MergedPage, PartitionError> {
        let limit = limit.clamp(1, MAX_SCAN_LIMIT as usize);
        let mut merge = Merge::new(self, topic, partitions, range, limit);
        let mut rows = merge.take(limit).await?;
        // A partition whose whole page was taken gave every row, and its next
        // key is larger than the last: the ties are all buffered already.
        if let Some(last) = rows.last().map(|r| r.key.clone()) {
            while let Some(i) = merge.smallest() {
                if merge.cursors[i].buf.front().is_some_and(|e| e.key == last) {
                    rows.extend(merge.pop(i));
                } else {
                    break;
                }
            }
        }
        Ok(MergedPage {
            rows,
            more: merge.more(),
        })
    }

    /// The first `max` entries of `partitions` merged by key, reading each
    /// partition in pages of up to 1000 as the merge needs them.
    pub async fn scan_merged(
        &self,
        topic: &str,
        partitions: &[i32],
        range: &ScanRange,
        max: usize,
    ) -> Result<Vec<PartitionEntry>, PartitionError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        Merge::new(self, topic, partitions, range, max)
            .take(max)
            .await
    }

    /// Looks up keys that may live in different partitions, one batch get
    /// per partition; the results come in the order of `keys`.
    pub async fn get_many(
        &self,
        topic: &str,
        keys: Vec<(i32, Vec<u8>)>,
    ) -> Result<Vec<(i32, Lookup)>, PartitionError> {
        let mut by_partition: BTreeMap<i32, Vec<(usize, Vec<u8>)>> = BTreeMap::new();
        for (i, (p, k)) in keys.into_iter().enumerate() {
            by_partition.entry(p).or_default().push((i, k));
        }
        let mut found: Vec<(usize, i32, Lookup)> = Vec::new();
        for (p, ks) in by_partition {
            let (order, ks): (Vec<usize>, Vec<Vec<u8>>) = ks.into_iter().unzip();
            let values = self.partition_values(topic, p, &ks).await?;
            for ((i, key), value) in order.into_iter().zip(ks).zip(values) {
                found.push((i, p, Lookup { key, value }));
            }
        }
        found.sort_by_key(|(i, _, _)| *i);
        Ok(found.into_iter().map(|(_, p, l)| (p, l)).collect())
    }

    /// The values of `keys` in one partition, in the order of `keys` (`None`:
    /// not found), at most [`LOOKUP_BATCH`] keys per batch get; an error names
    /// the partition.
    pub(crate) async fn partition_values(
        &self,
        topic: &str,
        partition: i32,
        keys: &[Vec<u8>],
    ) -> Result<Vec<Option<Vec<u8>>>, PartitionError> {
        let mut values = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(LOOKUP_BATCH) {
            let got = self
                .batch_get(topic, partition, chunk.to_vec())
                .await
                .map_err(|source| PartitionError {
                    topic: topic.to_owned(),
                    partition,
                    source,
                })?;
            // The kvstore answers one result per key in request order; a short
            // answer leaves the rest not found.
            let mut got = got.into_iter();
            values.extend(chunk.iter().map(|_| got.next().and_then(|l| l.value)));
        }
        Ok(values)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_broker::TestBroker;
    use super::*;

    /// Every key of `keys` put into its partition.
    async fn put_all(b: &TestBroker, topic: &str, keys: &[(i32, &[u8], &[u8])]) {
        for (p, k, v) in keys {
            b.client
                .put(topic, *p, k.to_vec(), v.to_vec(), None)
                .await
                .expect("put");
        }
    }

    fn keys(rows: &[PartitionEntry]) -> Vec<(i32, Vec<u8>)> {
        rows.iter().map(|r| (r.partition, r.key.clone())).collect()
    }

    #[tokio::test]
    async fn merged_pages_cover_every_row_once_in_key_order_across_ties() {
        let b = TestBroker::start(&["t:3"]).await;
        // "b" and "d" live in two partitions each (written there directly).
        put_all(
            &b,
            "t",
            &[
                (0, b"a", b"0a"),
                (1, b"b", b"1b"),
                (2, b"b", b"2b"),
                (0, b"c", b"0c"),
                (2, b"d", b"2d"),
                (0, b"d", b"0d"),
                (1, b"e", b"1e"),
                (1, b"f", b"1f"),
                (2, b"g", b""),
            ],
        )
        .await;
        let expected: Vec<(i32, Vec<u8>)> = [
            (0, "a"),
            (1, "b"),
            (2, "b"),
            (0, "c"),
            (0, "d"),
            (2, "d"),
            (1, "e"),
            (1, "f"),
            (2, "g"),
        ]
        .iter()
        .map(|(p, k)| (*p, k.as_bytes().to_vec()))
        .collect();
        let parts = [0, 1, 2];
        for limit in 1..=4 {
            let mut range = ScanRange::default();
            let mut seen = Vec::new();
            let mut pages = 0;
            loop {
                let page = b
                    .client
                    .scan_merged_page("t", &parts, &range, limit)
                    .await
                    .expect("page");
                pages += 1;
                assert!(page.rows.len() >= limit.min(9 - seen.len()), "{limit}");
                seen.extend(keys(&page.rows));
                match (page.more, page.rows.last()) {
                    (true, Some(last)) => range.start = Some(key_after(&last.key)),
                    _ => break,
                }
                assert!(pages < 20, "paging does not end");
            }
            assert_eq!(seen, expected, "pages of {limit}");
        }
        // A page that ends on "b" of partition 1 takes "b" of partition 2 too.
        let page = b
            .client
            .scan_merged_page("t", &parts, &ScanRange::default(), 2)
            .await
            .unwrap();
        assert_eq!(keys(&page.rows), expected[..3].to_vec());
        assert!(page.more);
        // The last page says there is nothing more.
        let tail = ScanRange {
            start: Some(b"f".to_vec()),
            end: None,
        };
        let page = b
            .client
            .scan_merged_page("t", &parts, &tail, 5)
            .await
            .unwrap();
        assert_eq!(keys(&page.rows), expected[7..].to_vec());
        assert!(!page.more);
        assert_eq!(page.rows[1].value, b"");
        // An end key bounds every partition.
        let bounded = ScanRange {
            start: Some(b"b".to_vec()),
            end: Some(b"d".to_vec()),
        };
        let rows = b
            .client
            .scan_merged("t", &parts, &bounded, 100)
            .await
            .unwrap();
        assert_eq!(keys(&rows), expected[1..4].to_vec());
        b.stop().await;
    }

    #[tokio::test]
    async fn merged_scans_page_each_partition_past_1000() {
        let b = TestBroker::start(&["wide:2"]).await;
        // 1500 keys in each partition, interleaved: even numbers in 0, odd in 1.
        for p in 0..2 {
            let puts: Vec<(Vec<u8>, Vec<u8>)> = (0..1500)
                .map(|i| {
                    let n = i * 2 + p;
                    (format!("k{n:05}").into_bytes(), n.to_string().into_bytes())
                })
                .collect();
            for chunk in puts.chunks(500) {
                let req = super::super::write_request(chunk.to_vec(), vec![], None);
                b.client.write("wide", p, &req).await.expect("write");
            }
        }
        let everything = ScanRange::default();
        let scan = |max| b.client.scan_merged("wide", &[0, 1], &everything, max);
        let rows = scan(2500).await.expect("scan");
        assert_eq!(rows.len(), 2500);
        for (n, r) in rows.iter().enumerate() {
            assert_eq!(r.key, format!("k{n:05}").into_bytes());
            assert_eq!(r.partition, (n % 2) as i32);
            assert_eq!(r.value, n.to_string().into_bytes());
        }
        let all = scan(10_000).await.expect("scan");
        assert_eq!(all.len(), 3000);
        assert!(all.windows(2).all(|w| w[0].key < w[1].key));
        // A partition that does not exist names itself.
        let err = b
            .client
            .scan_merged("wide", &[0, 7], &ScanRange::default(), 10)
            .await
            .unwrap_err();
        assert_eq!(err.partition, 7);
        assert!(err.to_string().contains("partition 7"), "{err}");
        b.stop().await;
    }

    #[tokio::test]
    async fn get_many_answers_in_request_order_across_partitions() {
        let b = TestBroker::start(&["t:3"]).await;
        put_all(
            &b,
            "t",
            &[(0, b"x", b"0x"), (2, b"y", b"2y"), (1, b"x", b"1x")],
        )
        .await;
        let got = b
            .client
            .get_many(
                "t",
                vec![
                    (2, b"y".to_vec()),
                    (0, b"x".to_vec()),
                    (2, b"missing".to_vec()),
                    (1, b"x".to_vec()),
                ],
            )
            .await
            .expect("get");
        let got: Vec<String> = got
            .iter()
            .map(|(p, l)| format!("{p} {:?} {:?}", l.key, l.value))
            .collect();
        let want: Vec<String> = [
            (2, &b"y"[..], Some(&b"2y"[..])),
            (0, b"x", Some(b"0x")),
            (2, b"missing", None),
            (1, b"x", Some(b"1x")),
        ]
        .iter()
        .map(|(p, k, v)| format!("{p} {:?} {:?}", k.to_vec(), v.map(<[u8]>::to_vec)))
        .collect();
        assert_eq!(got, want);
        b.stop().await;
    }
}
