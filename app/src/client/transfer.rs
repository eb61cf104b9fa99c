//! Export and import of kvstore keys as JSON lines, one key a line: the one
//! format of `rpkv kv export` / `kv import` and of the TUI's export.
//!
//! A line is `{"key":K,"value":V,"partition":P}`. K and V are the bytes as
//! UTF-8 text when they are valid UTF-8; otherwise they are base64 and the
//! line says so with `"key_encoding":"base64"` / `"value_encoding":"base64"`.
//! So a text key that happens to look like base64 (`Zm9v`) stays itself.

use std::collections::BTreeMap;

use rpkv_wire::b64;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use super::Client;
use super::error::Error;
use super::kvstore::{ScanRange, key_after, write_request};
use super::resolve::{LocateError, Partitioner, SeveralPartitions};
use super::scan::{PartitionEntry, PartitionError};
use rpkv_wire::MAX_SCAN_LIMIT;

/// What an export or import can fail with; the message says where.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// Reading a partition failed.
    #[error(transparent)]
    Scan(PartitionError),
    /// Finding where the keys already live failed (nothing was written).
    #[error(transparent)]
    Locate(LocateError),
    /// A key lives in several partitions of the target (nothing was written).
    #[error("{first}{}: nothing imported", if *more > 0 { format!(" (and {more} more keys in several partitions)") } else { String::new() })]
    SeveralPartitions {
        first: SeveralPartitions,
        more: usize,
    },
    /// A batch write failed; the batches before it were written.
    #[error("topic {topic:?} partition {partition} (after {written} of {total} keys)")]
    Write {
        topic: String,
        partition: i32,
        written: usize,
        total: usize,
        #[source]
        source: Error,
    },
    /// An input line is not an export line.
    #[error("line {line}: {detail}")]
    Line { line: usize, detail: String },
    /// Reading the input or writing the output failed.
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// One exported key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportLine {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_encoding: Option<String>,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_encoding: Option<String>,
    pub partition: i32,
}

fn encode_field(bytes: &[u8]) -> (String, Option<String>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), None),
        Err(_) => (b64::encode(bytes), Some("base64".to_owned())),
    }
}

fn decode_field(text: &str, encoding: Option<&str>, what: &str) -> Result<Vec<u8>, String> {
    match encoding {
        None | Some("utf8") => Ok(text.as_bytes().to_vec()),
        Some("base64") => b64::decode(text).map_err(|e| format!("{what} is not base64: {e}")),
        Some(other) => Err(format!(
            "unknown {what}_encoding {other:?} (expected base64 or utf8)"
        )),
    }
}

impl ExportLine {
    pub fn new(key: &[u8], value: &[u8], partition: i32) -> Self {
        let (key, key_encoding) = encode_field(key);
        let (value, value_encoding) = encode_field(value);
        ExportLine {
            key,
            key_encoding,
            value,
            value_encoding,
            partition,
        }
    }

    /// The key and value bytes.
    pub fn decode(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        Ok((
            decode_field(&self.key, self.key_encoding.as_deref(), "key")?,
            decode_field(&self.value, self.value_encoding.as_deref(), "value")?,
        ))
    }

    /// The line as JSON, without the newline.
    pub fn to_json(&self) -> String {
        // Strings and an integer: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses one line of an export.
    pub fn parse(line: &str) -> Result<PartitionEntry, String> {
        let parsed: ExportLine =
            serde_json::from_str(line).map_err(|e| format!("not an export line: {e}"))?;
        let (key, value) = parsed.decode()?;
        Ok(PartitionEntry {
            partition: parsed.partition,
            key,
            value,
        })
    }
}

/// Reads export lines (blank lines are skipped).
pub async fn read_export<R: AsyncBufRead + Unpin>(
    input: R,
) -> Result<Vec<PartitionEntry>, TransferError> {
    let mut out = Vec::new();
    let mut lines = input.lines();
    let mut n = 0usize;
    loop {
        let line = lines
            .next_line()
            .await
            .map_err(|source| TransferError::Io {
                context: "reading input".into(),
                source,
            })?;
        let Some(line) = line else { break };
        n += 1;
        if line.trim().is_empty() {
            continue;
        }
        out.push(
            ExportLine::parse(&line).map_err(|detail| TransferError::Line { line: n, detail })?,
        );
    }
    Ok(out)
}

/// Where imported keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportTarget {
    /// Where the key already lives in the target topic; a key no partition
    /// holds goes where this partitioner puts it. A key that several
    /// partitions hold refuses the whole import.
    Partitioner(Partitioner),
    /// The partition each line records.
    Recorded,
    /// This partition, for every key.
    Partition(i32),
}

/// What an import wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    pub keys: usize,
    pub batches: usize,
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// Splits entries into batches of at most `max_bytes` of keys and values
/// (an entry larger than that goes alone).
pub fn batches(entries: Vec<KeyValue>, max_bytes: usize) -> Vec<Vec<KeyValue>> {
    let mut out = Vec::new();
    let mut cur: Vec<KeyValue> = Vec::new();
    let mut size = 0usize;
    for (k, v) in entries {
        let n = k.len() + v.len() + 16;
        if !cur.is_empty() && size + n > max_bytes {
            out.push(std::mem::take(&mut cur));
            size = 0;
        }
        size += n;
        cur.push((k, v));
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Client {
    /// Writes every key of `range` as export lines: partition after
    /// partition, each in key order, paging by 1000. Returns the count.
    pub async fn export<W: AsyncWrite + Unpin>(
        &self,
        topic: &str,
        partitions: &[i32],
        range: &ScanRange,
        out: &mut W,
    ) -> Result<usize, TransferError> {
        let io = |source| TransferError::Io {
            context: "writing the export".into(),
            source,
        };
        let mut count = 0usize;
        for &p in partitions {
            let mut page_range = range.clone();
            loop {
                let page = self
                    .scan_page(topic, p, &page_range, MAX_SCAN_LIMIT)
                    .await
                    .map_err(|source| {
                        TransferError::Scan(PartitionError {
                            topic: topic.to_owned(),
                            partition: p,
                            source,
                        })
                    })?;
                let mut text = String::new();
                for e in &page {
                    text.push_str(&ExportLine::new(&e.key, &e.value, p).to_json());
                    text.push('\n');
                }
                out.write_all(text.as_bytes()).await.map_err(io)?;
                count += page.len();
                match page.last() {
                    Some(last) if page.len() == MAX_SCAN_LIMIT as usize => {
                        page_range.start = Some(key_after(&last.key));
                    }
                    _ => break,
                }
            }
        }
        out.flush().await.map_err(io)?;
        tracing::info!(count, topic, "exported");
        Ok(count)
    }

    /// Writes entries into `topic` in atomic batches of at most `batch_bytes`
    /// of keys and values per partition; `on_batch` hears the key count of
    /// every batch written (for a progress bar).
    pub async fn import(
        &self,
        topic: &str,
        entries: Vec<PartitionEntry>,
        target: ImportTarget,
        batch_bytes: usize,
        mut on_batch: impl FnMut(usize),
    ) -> Result<ImportSummary, TransferError> {
        let total = entries.len();
        let targets: Vec<i32> = match target {
            ImportTarget::Partitioner(partitioner) => {
                let keys: Vec<Vec<u8>> = entries.iter().map(|e| e.key.clone()).collect();
                let located = self
                    .locate(topic, &keys, partitioner)
                    .await
                    .map_err(TransferError::Locate)?;
                let mut several = located
                    .iter()
                    .filter_map(|l| l.write_partition(topic).err());
                if let Some(first) = several.next() {
                    let more = several.count();
                    return Err(TransferError::SeveralPartitions { first, more });
                }
                located
                    .iter()
                    .map(|l| l.write_partition(topic).unwrap_or(l.home))
                    .collect()
            }
            ImportTarget::Partition(p) => vec![p; total],
            ImportTarget::Recorded => entries.iter().map(|e| e.partition).collect(),
        };
        let mut by_partition: BTreeMap<i32, Vec<KeyValue>> = BTreeMap::new();
        for (e, p) in entries.into_iter().zip(targets) {
            by_partition.entry(p).or_default().push((e.key, e.value));
        }
        let mut summary = ImportSummary {
            keys: 0,
            batches: 0,
        };
        for (p, kvs) in by_partition {
            for batch in batches(kvs, batch_bytes.max(1)) {
                let n = batch.len();
                let req = write_request(batch, vec![], None);
                self.write(topic, p, &req)
                    .await
                    .map_err(|source| TransferError::Write {
                        topic: topic.to_owned(),
                        partition: p,
                        written: summary.keys,
                        total,
                        source,
                    })?;
                summary.keys += n;
                summary.batches += 1;
                on_batch(n);
            }
        }
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_broker::TestBroker;
    use super::*;

    #[test]
    fn utf8_stays_text_and_binary_is_marked_base64() {
        let line = ExportLine::new(b"foo", b"bar", 2);
        assert_eq!(
            line.to_json(),
            r#"{"key":"foo","value":"bar","partition":2}"#
        );
        let text = ExportLine::new(b"k", &[0xff, 0x00], 0).to_json();
        assert_eq!(
            text,
            r#"{"key":"k","value":"/wA=","value_encoding":"base64","partition":0}"#
        );
        let back = ExportLine::parse(&text).unwrap();
        assert_eq!((back.key, back.value), (b"k".to_vec(), vec![0xff, 0x00]));
        // Text that looks like base64 stays itself; binary keys are marked.
        let line = ExportLine::new(b"Zm9v", b"/wA=", 1).to_json();
        assert_eq!(line, r#"{"key":"Zm9v","value":"/wA=","partition":1}"#);
        let line = ExportLine::new(&[0x00, 0xff, b'b', b'i', b'n'], b"", 1).to_json();
        assert_eq!(
            line,
            r#"{"key":"AP9iaW4=","key_encoding":"base64","value":"","partition":1}"#
        );
        assert!(ExportLine::parse(r#"{"key":"a","value":"b"}"#).is_err());
        let err =
            ExportLine::parse(r#"{"key":"!","key_encoding":"base64","value":"","partition":0}"#)
                .unwrap_err();
        assert!(err.contains("key is not base64"), "{err}");
        let err =
            ExportLine::parse(r#"{"key":"a","key_encoding":"rot13","value":"","partition":0}"#)
                .unwrap_err();
        assert!(err.contains("unknown key_encoding \"rot13\""), "{err}");
    }

    #[test]
    fn batches_respect_the_size_limit() {
        let entries: Vec<_> = (0..10u8).map(|i| (vec![i], vec![0u8; 100])).collect();
        let b = batches(entries.clone(), 250);
        assert!(b.iter().all(|b| b.len() == 2), "{b:?}");
        assert_eq!(b.concat(), entries);
        assert_eq!(batches(vec![(vec![1], vec![0u8; 1000])], 10).len(), 1);
    }

    #[tokio::test]
    async fn bad_lines_are_named_by_number() {
        let input = b"{\"key\":\"a\",\"value\":\"b\",\"partition\":0}\n\n{not json}\n";
        let err = read_export(&input[..]).await.unwrap_err();
        assert!(matches!(err, TransferError::Line { line: 3, .. }), "{err}");
        assert!(
            err.to_string().starts_with("line 3: not an export line"),
            "{err}"
        );
    }

    /// Keys and values a lossy format would break: binary, empty values, text
    /// that reads as base64. (The kvstore refuses empty keys.)
    const TRICKY: &[(&[u8], &[u8])] = &[
        (&[0x00, 0xff, b'b', b'i', b'n'], b"binary key"),
        (b"Zm9v", b"text key that looks like base64"),
        (b"AP9iaW4=", &[0xff, 0x00, 0xfe]),
        (b"empty", b""),
        ("ключ".as_bytes(), "значение\n\"q\"".as_bytes()),
    ];

    #[tokio::test]
    async fn export_then_import_restores_every_byte() {
        let b = TestBroker::start(&["src:3", "dst:3", "one:1", "fresh:3"]).await;
        let c = &b.client;
        for (i, (k, v)) in TRICKY.iter().enumerate() {
            let p = (i % 3) as i32;
            c.put("src", p, k.to_vec(), v.to_vec(), None)
                .await
                .expect("put");
        }
        let mut out = Vec::new();
        let n = c
            .export("src", &[0, 1, 2], &ScanRange::default(), &mut out)
            .await
            .expect("export");
        assert_eq!(n, TRICKY.len());
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(
                r#"{"key":"Zm9v","value":"text key that looks like base64","partition":1}"#
            ),
            "{text}"
        );
        // Partition after partition, each in key order.
        let parts: Vec<i64> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["partition"]
                    .as_i64()
                    .unwrap()
            })
            .collect();
        assert!(parts.windows(2).all(|w| w[0] <= w[1]), "{parts:?}");

        let entries = read_export(text.as_bytes()).await.expect("read");
        let mut seen = Vec::new();
        let summary = c
            .import("dst", entries.clone(), ImportTarget::Recorded, 40, |n| {
                seen.push(n)
            })
            .await
            .expect("import");
        assert_eq!(summary.keys, TRICKY.len());
        assert!(summary.batches > 3, "{summary:?}");
        assert_eq!(seen.iter().sum::<usize>(), TRICKY.len());
        for p in 0..3 {
            let a = c.scan("src", p, &ScanRange::default(), None).await.unwrap();
            let d = c.scan("dst", p, &ScanRange::default(), None).await.unwrap();
            assert_eq!(a, d, "partition {p}");
        }
        // Into one partition, and by the partitioner.
        c.import(
            "one",
            entries.clone(),
            ImportTarget::Partition(0),
            1 << 20,
            |_| {},
        )
        .await
        .unwrap();
        for (k, v) in TRICKY {
            assert_eq!(c.get("one", 0, k).await.unwrap().as_deref(), Some(*v));
        }
        // By the partitioner: keys already in "dst" (all of them, from the
        // recorded import) stay where they are; new keys go to crc32's choice.
        c.import(
            "dst",
            entries.clone(),
            ImportTarget::Partitioner(Partitioner::Crc32),
            1 << 20,
            |_| {},
        )
        .await
        .unwrap();
        for p in 0..3 {
            let a = c.scan("src", p, &ScanRange::default(), None).await.unwrap();
            let d = c.scan("dst", p, &ScanRange::default(), None).await.unwrap();
            assert_eq!(a, d, "no second copy in partition {p}");
        }
        c.import(
            "fresh",
            entries.clone(),
            ImportTarget::Partitioner(Partitioner::Crc32),
            1 << 20,
            |_| {},
        )
        .await
        .unwrap();
        for (k, v) in TRICKY {
            let p = Partitioner::Crc32.partition_for(k, 3);
            assert_eq!(c.get("fresh", p, k).await.unwrap().as_deref(), Some(*v));
        }
        // A key in two partitions of the target refuses the import.
        c.put("fresh", 0, b"Zm9v".to_vec(), b"x".to_vec(), None)
            .await
            .unwrap();
        c.put("fresh", 1, b"Zm9v".to_vec(), b"y".to_vec(), None)
            .await
            .unwrap();
        c.put("fresh", 2, b"Zm9v".to_vec(), b"z".to_vec(), None)
            .await
            .unwrap();
        let err = c
            .import(
                "fresh",
                entries,
                ImportTarget::Partitioner(Partitioner::Murmur2),
                1 << 20,
                |_| {},
            )
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "key \"Zm9v\" is in partitions 0, 1 and 2 of topic \"fresh\": nothing imported"
        );
        // A range exports only its keys.
        let mut out = Vec::new();
        let range = ScanRange {
            start: Some(b"A".to_vec()),
            end: Some(b"Z".to_vec()),
        };
        c.export("src", &[0, 1, 2], &range, &mut out).await.unwrap();
        let keys: Vec<Vec<u8>> = read_export(&out[..])
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(keys, vec![b"AP9iaW4=".to_vec()]);
        b.stop().await;
    }

    #[tokio::test]
    async fn failures_name_the_partition() {
        let b = TestBroker::start(&["t:1"]).await;
        let mut out = Vec::new();
        let err = b
            .client
            .export("t", &[0, 4], &ScanRange::default(), &mut out)
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "topic \"t\" partition 4");
        let entries = vec![PartitionEntry {
            partition: 3,
            key: b"k".to_vec(),
            value: b"v".to_vec(),
        }];
        let err = b
            .client
            .import("t", entries, ImportTarget::Recorded, 100, |_| {})
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "topic \"t\" partition 3 (after 0 of 1 keys)"
        );
        b.stop().await;
    }
}
