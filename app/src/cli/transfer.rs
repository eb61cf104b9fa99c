//! `rpkv kv export` and `rpkv kv import`: JSON lines, one key per line.
//!
//! A line is `{"key":K,"value":V,"partition":P}`. K and V are UTF-8 text when the
//! bytes are valid UTF-8; otherwise they are base64 and the line says so with
//! `"key_encoding":"base64"` / `"value_encoding":"base64"`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use super::print_json;
use crate::client::{Client, ScanRange, partition_for_key, write_request};
use crate::format::OutputFormat;
use rpkv_wire::b64;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  rpkv kv export example-topic > example.jsonl
  rpkv kv export example-topic -p 0 -o partition0.jsonl

Each line: {\"key\":\"foo\",\"value\":\"bar\",\"partition\":0}; bytes that are not UTF-8 are
base64 and marked with \"key_encoding\":\"base64\" / \"value_encoding\":\"base64\".")]
pub struct ExportArgs {
    /// The kvstore topic.
    pub topic: String,
    /// Partition to export; -1 = all partitions.
    #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
    pub partition: i32,
    /// Write to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  rpkv kv import other-topic < example.jsonl
  rpkv kv import other-topic -f example.jsonl --keep-partitions

Keys go where Kafka's partitioner puts them in the target topic (or to -p N, or to
the partition recorded in the file with --keep-partitions). Each batch is one atomic
write of at most --batch-bytes of keys and values.")]
pub struct ImportArgs {
    /// The kvstore topic to write into.
    pub topic: String,
    /// Read from FILE instead of stdin ("-" = stdin).
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Partition to write every key to; -1 = Kafka's partitioner on the key.
    #[arg(short, long, default_value_t = -1, allow_negative_numbers = true, conflicts_with = "keep_partitions")]
    pub partition: i32,
    /// Write each key to the partition recorded in the file.
    #[arg(long)]
    pub keep_partitions: bool,
    /// Largest sum of key and value bytes in one atomic batch.
    #[arg(long, default_value_t = 512 * 1024)]
    pub batch_bytes: usize,
    /// Output: a summary line or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// A key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

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

fn decode_field(text: &str, encoding: Option<&str>, what: &str) -> Result<Vec<u8>> {
    match encoding {
        None | Some("utf8") => Ok(text.as_bytes().to_vec()),
        Some("base64") => b64::decode(text).with_context(|| format!("{what} is not base64")),
        Some(other) => bail!("unknown {what}_encoding {other:?} (expected base64 or utf8)"),
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
    pub fn decode(&self) -> Result<(Vec<u8>, Vec<u8>)> {
        Ok((
            decode_field(&self.key, self.key_encoding.as_deref(), "key")?,
            decode_field(&self.value, self.value_encoding.as_deref(), "value")?,
        ))
    }
}

pub async fn export(client: &Client, args: ExportArgs) -> Result<()> {
    let partitions: Vec<i32> = if args.partition >= 0 {
        vec![args.partition]
    } else {
        let n = client
            .partition_count(&args.topic)
            .await
            .with_context(|| format!("topic {:?}: looking up the partition count", args.topic))?;
        (0..n).collect()
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let mut count = 0usize;
    for p in partitions {
        let mut range = ScanRange::default();
        loop {
            let page = client
                .scan_page(&args.topic, p, &range, crate::client::MAX_SCAN_LIMIT)
                .await
                .with_context(|| format!("export: topic {:?} partition {p}", args.topic))?;
            let full = page.len() == crate::client::MAX_SCAN_LIMIT as usize;
            for e in &page {
                serde_json::to_writer(&mut out, &ExportLine::new(&e.key, &e.value, p))?;
                out.write_all(b"\n")?;
                count += 1;
            }
            match page.last() {
                Some(last) if full => range.start = Some(crate::client::key_after(&last.key)),
                _ => break,
            }
        }
    }
    out.flush()?;
    tracing::info!(count, topic = %args.topic, "exported");
    Ok(())
}

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

pub async fn import(client: &Client, args: ImportArgs) -> Result<()> {
    let reader: Box<dyn BufRead> = match &args.file {
        Some(p) if p.as_os_str() != "-" => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?,
        )),
        _ => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let mut lines = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.context("reading input")?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = serde_json::from_str(&line)
            .with_context(|| format!("line {}: not an export line", i + 1))?;
        let (k, v) = parsed.decode().with_context(|| format!("line {}", i + 1))?;
        lines.push((parsed.partition, k, v));
    }
    let count = lines.len();
    let partition_count =
        if args.keep_partitions || args.partition >= 0 {
            None
        } else {
            Some(client.partition_count(&args.topic).await.with_context(|| {
                format!("topic {:?}: looking up the partition count", args.topic)
            })?)
        };
    let mut by_partition: BTreeMap<i32, Vec<KeyValue>> = BTreeMap::new();
    for (recorded, k, v) in lines {
        let p = match partition_count {
            Some(n) => partition_for_key(&k, n),
            None if args.keep_partitions => recorded,
            None => args.partition,
        };
        by_partition.entry(p).or_default().push((k, v));
    }
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(count as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} keys ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut written = 0usize;
    let mut batch_count = 0usize;
    for (p, entries) in by_partition {
        for batch in batches(entries, args.batch_bytes.max(1)) {
            let n = batch.len();
            let req = write_request(batch, vec![], None);
            client.write(&args.topic, p, &req).await.with_context(|| {
                format!(
                    "import: topic {:?} partition {p} (after {written} of {count} keys)",
                    args.topic
                )
            })?;
            written += n;
            batch_count += 1;
            progress.inc(n as u64);
        }
    }
    progress.finish_and_clear();
    match args.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "operation": "import",
            "topic": args.topic,
            "key_count": written,
            "batches": batch_count,
            "success": true,
        })),
        OutputFormat::Text => super::print_text(&format!(
            "imported {written} keys into topic {:?} in {batch_count} atomic batches\n",
            args.topic
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_stays_text_and_binary_is_marked_base64() {
        let line = ExportLine::new(b"foo", b"bar", 2);
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"key":"foo","value":"bar","partition":2}"#
        );
        let line = ExportLine::new(b"k", &[0xff, 0x00], 0);
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"key":"k","value":"/wA=","value_encoding":"base64","partition":0}"#
        );
        let back: ExportLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back.decode().unwrap(), (b"k".to_vec(), vec![0xff, 0x00]));
        // A UTF-8 value that looks like base64 stays itself.
        let line = ExportLine::new(b"k", b"/wA=", 0);
        assert_eq!(line.decode().unwrap().1, b"/wA=");
    }

    #[test]
    fn batches_respect_the_size_limit() {
        let entries: Vec<_> = (0..10u8).map(|i| (vec![i], vec![0u8; 100])).collect();
        let b = batches(entries.clone(), 250);
        assert!(
            b.iter().all(|b| b.len() == 2),
            "{:?}",
            b.iter().map(Vec::len).collect::<Vec<_>>()
        );
        assert_eq!(b.concat(), entries);
        let big = batches(vec![(vec![1], vec![0u8; 1000])], 10);
        assert_eq!(big.len(), 1);
    }
}
