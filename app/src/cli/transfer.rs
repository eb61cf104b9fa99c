//! `rpkv kv export` and `rpkv kv import`: the flags, the files and the
//! progress bar. The line format and the work are the library's
//! ([`crate::client::ExportLine`], [`Client::export`], [`Client::import`]).

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::{partitions, print_json};
use crate::client::{Client, ImportTarget, ScanRange, read_export};
use crate::format::OutputFormat;

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

A key that one partition of the target topic already holds is written there; a new
key goes where --partitioner puts it (murmur2 unless the profile says otherwise); a
key that several partitions hold refuses the import, with nothing written. -p N
writes every key to partition N, --keep-partitions to the partition recorded in the
file. Each batch is one atomic
write of at most --batch-bytes of keys and values.")]
pub struct ImportArgs {
    /// The kvstore topic to write into.
    pub topic: String,
    /// Read from FILE instead of stdin ("-" = stdin).
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Partition to write every key to; -1 = where the key lives (new keys: --partitioner).
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

pub async fn export(client: &Client, args: ExportArgs) -> Result<()> {
    let parts = partitions(client, &args.topic, args.partition).await?;
    let range = ScanRange::default();
    match &args.output {
        Some(path) => {
            let file = tokio::fs::File::create(path)
                .await
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = tokio::io::BufWriter::new(file);
            client.export(&args.topic, &parts, &range, &mut out).await
        }
        None => {
            let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
            client.export(&args.topic, &parts, &range, &mut out).await
        }
    }
    .context("export")?;
    Ok(())
}

pub async fn import(client: &Client, args: ImportArgs) -> Result<()> {
    let entries = match &args.file {
        Some(p) if p.as_os_str() != "-" => {
            let file = tokio::fs::File::open(p)
                .await
                .with_context(|| format!("opening {}", p.display()))?;
            read_export(tokio::io::BufReader::new(file)).await
        }
        _ => read_export(tokio::io::BufReader::new(tokio::io::stdin())).await,
    }?;
    let target = if args.keep_partitions {
        ImportTarget::Recorded
    } else if args.partition >= 0 {
        ImportTarget::Partition(args.partition)
    } else {
        ImportTarget::Partitioner(client.partitioner())
    };
    let progress = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(entries.len() as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} importing [{bar:40}] {pos}/{len} keys ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let summary = client
        .import(&args.topic, entries, target, args.batch_bytes, |n| {
            progress.inc(n as u64)
        })
        .await
        .map_err(|e| match e {
            several @ crate::client::TransferError::SeveralPartitions { .. } => anyhow::anyhow!(
                "import: {several}; give -p N or --keep-partitions to choose where the keys go"
            ),
            other => anyhow::Error::new(other).context("import"),
        });
    progress.finish_and_clear();
    let summary = summary?;
    match args.format {
        OutputFormat::Json => print_json(&serde_json::json!({
            "operation": "import",
            "topic": args.topic,
            "key_count": summary.keys,
            "batches": summary.batches,
            "success": true,
        })),
        OutputFormat::Text => super::print_text(&format!(
            "imported {} keys into topic {:?} in {} atomic batches\n",
            summary.keys, args.topic, summary.batches
        )),
    }
}
