//! `rpkv kv get|put|delete|scan|hash|export|import|watch`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde::Serialize;

use super::conn::ConnArgs;
use super::kv_partition::{self, PartitionArgs};
use super::transfer::{self, ExportArgs, ImportArgs};
use super::watch::{self, WatchArgs};
use super::{keys, partitions, print_json, print_text};
use crate::client::{PartitionEntry, Precondition, sha256_hex, validate_sha256_hex};
use crate::format::{ByteFormat, OutputFormat, Table};

#[derive(Subcommand, Debug)]
pub enum KvCommand {
    /// Get the values of keys.
    #[command(after_help = "Examples:
  rpkv kv get example-topic foo
  rpkv kv get example-topic foo hello --format json
  rpkv kv get example-topic 666f6f --key-format hex -p 0

With -p -1 (the default) every partition is asked, so keys produced with any
partitioner are found; a key in several partitions is listed once per partition
(json: \"partitions\": [..]) with a warning on stderr.
Missing keys are listed as not found (json: \"found\": false); the exit code stays 0.")]
    Get {
        /// The kvstore topic.
        topic: String,
        /// Keys to read.
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        common: KvFlags,
    },
    /// Put one key (optionally only if it exists / does not exist / matches a hash).
    #[command(after_help = "Examples:
  rpkv kv put example-topic foo bar
  rpkv kv put example-topic lock owned --if-exists false      # create only
  rpkv kv put example-topic counter 11 --if-matches $(rpkv kv hash 10)   # compare-and-swap

With -p -1 (the default) the key is written where it already lives; a new key goes
where --partitioner puts it (murmur2 unless the profile says otherwise). A key in
several partitions is refused (exit 1) unless -p N is given.
A failed precondition writes nothing and exits with code 3.")]
    Put {
        /// The kvstore topic.
        topic: String,
        key: String,
        value: String,
        #[command(flatten)]
        pre: PreconditionFlags,
        #[command(flatten)]
        common: KvFlags,
    },
    /// Delete keys atomically (one atomic write per partition).
    #[command(after_help = "Examples:
  rpkv kv delete example-topic foo
  rpkv kv delete example-topic a b c -p 0 --if-exists true

With -p -1 (the default) each key is deleted in every partition that holds it, each
delete guarded by the value just read: a concurrent write makes it fail with exit 3.
A failed precondition deletes nothing and exits with code 3.")]
    Delete {
        /// The kvstore topic.
        topic: String,
        #[arg(required = true)]
        keys: Vec<String>,
        #[command(flatten)]
        pre: PreconditionFlags,
        #[command(flatten)]
        common: KvFlags,
    },
    /// Scan keys in byte order (all partitions merged by key with -p -1).
    #[command(after_help = "Examples:
  rpkv kv scan example-topic
  rpkv kv scan example-topic --start-key user: --end-key user; --limit 50
  rpkv kv scan example-topic -p 0 --limit 5000 --format json
  rpkv kv scan example-topic --prefix user: --filter '.age > 30'
  rpkv kv scan example-topic --filter 'any(.tags[]; . == \"admin\")'

--start-key is inclusive, --end-key exclusive. More than 1000 entries are read in pages.
--filter keeps entries whose value is JSON for which the jq expression yields a
truthy output (not false or null); it runs here, page by page, after the range
narrowing on the server; --limit counts matches.")]
    Scan {
        /// The kvstore topic.
        topic: String,
        /// First key (inclusive).
        #[arg(long)]
        start_key: Option<String>,
        /// End key (exclusive).
        #[arg(long)]
        end_key: Option<String>,
        /// Only keys starting with this.
        #[arg(long, conflicts_with_all = ["start_key", "end_key"])]
        prefix: Option<String>,
        /// Only entries whose value is JSON matching this jq expression.
        #[arg(long, value_name = "EXPR")]
        filter: Option<String>,
        /// Most entries to return (pages through partitions 1000 at a time).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
        limit: u32,
        #[command(flatten)]
        common: KvFlags,
    },
    /// Print the hex SHA-256 of a value, the hash --if-matches wants.
    #[command(after_help = "Examples:
  rpkv kv hash 10        # 4a44dc15364204a80fe80e9039455cc1608281820fe2b24f1e5233ade6af1dd5
  rpkv kv hash 0aff --value-format hex")]
    Hash {
        value: String,
        /// How VALUE is written.
        #[arg(long, value_enum, default_value_t = ByteFormat::Utf8)]
        value_format: ByteFormat,
    },
    /// Show the partition each producer partitioner picks for keys, and where they live.
    Partition(PartitionArgs),
    /// Export every key of a topic as JSON lines (key, value, partition).
    Export(ExportArgs),
    /// Import JSON lines (as written by export) in atomic batches.
    Import(ImportArgs),
    /// Print each change (put or delete) of a topic as it is written.
    Watch(WatchArgs),
}

/// Flags every key command shares.
#[derive(Args, Debug, Clone)]
pub struct KvFlags {
    /// Partition; -1 = wherever the key lives (every partition is asked; a new key
    /// goes where --partitioner puts it; scan: all partitions merged).
    #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
    pub partition: i32,
    /// How keys are written and printed.
    #[arg(long, value_enum, default_value_t = ByteFormat::Utf8)]
    pub key_format: ByteFormat,
    /// How values are written and printed.
    #[arg(long, value_enum, default_value_t = ByteFormat::Utf8)]
    pub value_format: ByteFormat,
    /// Output: an aligned table or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// Write preconditions.
#[derive(Args, Debug, Clone)]
pub struct PreconditionFlags {
    /// Write only if the key exists (true) or does not (false).
    #[arg(long, value_name = "true|false", conflicts_with = "if_matches")]
    pub if_exists: Option<bool>,
    /// Write only if the current value's SHA-256 is HASH (64 hex digits; see `rpkv kv hash`).
    #[arg(long, value_name = "HASH", value_parser = parse_hash)]
    pub if_matches: Option<String>,
}

impl PreconditionFlags {
    pub(super) fn precondition(&self) -> Option<Precondition> {
        match (&self.if_exists, &self.if_matches) {
            (Some(e), _) => Some(Precondition::if_exists(*e)),
            (None, Some(h)) => Some(Precondition::if_matches(h.clone())),
            (None, None) => None,
        }
    }
}

/// Validates `--if-matches` at parse time, so a bad hash is a usage error (exit 2).
fn parse_hash(s: &str) -> Result<String, String> {
    validate_sha256_hex(s).map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct ScanResult {
    key: String,
    value: String,
    partition: i32,
}

#[derive(Serialize)]
pub(super) struct WriteResult<'a> {
    pub operation: &'a str,
    pub topic: &'a str,
    pub partition: i32,
    pub key_count: usize,
    pub success: bool,
}

fn parse_all(format: ByteFormat, items: &[String], what: &str) -> Result<Vec<Vec<u8>>> {
    items
        .iter()
        .map(|s| format.parse(s).map_err(|e| anyhow::anyhow!("{what}: {e}")))
        .collect()
}

/// Context naming where a call went: topic and partition.
pub(super) fn at(topic: &str, partition: i32) -> String {
    format!("topic {topic:?} partition {partition}")
}

pub async fn run(conn: &ConnArgs, cmd: KvCommand) -> Result<()> {
    match cmd {
        KvCommand::Hash {
            value,
            value_format,
        } => {
            let bytes = value_format
                .parse(&value)
                .map_err(|e| anyhow::anyhow!("value: {e}"))?;
            print_text(&format!("{}\n", sha256_hex(&bytes)))
        }
        KvCommand::Get {
            topic,
            keys,
            common,
        } => {
            let keys = parse_all(common.key_format, &keys, "key")?;
            keys::get(&conn.client()?, &topic, keys, &common).await
        }
        KvCommand::Put {
            topic,
            key,
            value,
            pre,
            common,
        } => {
            let client = conn.client()?;
            let key = common
                .key_format
                .parse(&key)
                .map_err(|e| anyhow::anyhow!("key: {e}"))?;
            let value = common
                .value_format
                .parse(&value)
                .map_err(|e| anyhow::anyhow!("value: {e}"))?;
            keys::put(&client, &topic, key, value, pre.precondition(), &common).await
        }
        KvCommand::Delete {
            topic,
            keys,
            pre,
            common,
        } => {
            let keys = parse_all(common.key_format, &keys, "key")?;
            keys::delete(&conn.client()?, &topic, keys, &pre, &common).await
        }
        KvCommand::Partition(args) => kv_partition::run(conn, args).await,
        KvCommand::Scan {
            topic,
            start_key,
            end_key,
            prefix,
            filter,
            limit,
            common,
        } => {
            let range = watch::key_range(
                &common,
                prefix.as_deref(),
                start_key.as_deref(),
                end_key.as_deref(),
            )?;
            let filter = watch::compile_filter(filter.as_deref())?;
            let client = conn.client()?;
            let parts = partitions(&client, &topic, common.partition).await?;
            let entries = match filter {
                Some(f) => client
                    .scan_matching(&topic, &parts, &range, &f, limit as usize, |_, _| {})
                    .await
                    .context("scan")?,
                None => client
                    .scan_merged(&topic, &parts, &range, limit as usize)
                    .await
                    .context("scan")?,
            };
            print_scan(&common, &entries)
        }
        KvCommand::Export(args) => transfer::export(&conn.client()?, args).await,
        KvCommand::Import(args) => transfer::import(&conn.client()?, args).await,
        KvCommand::Watch(args) => watch::run(conn, args).await,
    }
}

fn print_scan(common: &KvFlags, entries: &[PartitionEntry]) -> Result<()> {
    let rows = entries.iter().map(|e| ScanResult {
        key: common.key_format.render(&e.key),
        value: common.value_format.render(&e.value),
        partition: e.partition,
    });
    match common.format {
        OutputFormat::Json => print_json(&rows.collect::<Vec<_>>()),
        OutputFormat::Text => {
            let mut t = Table::new(["KEY", "VALUE", "PARTITION"]);
            for r in rows {
                t.row([r.key, r.value, r.partition.to_string()]);
            }
            print_text(&t.render())
        }
    }
}

pub(super) fn print_writes(
    format: OutputFormat,
    results: &[WriteResult<'_>],
    as_list: bool,
) -> Result<()> {
    match format {
        OutputFormat::Json if as_list => print_json(&results),
        OutputFormat::Json => match results.first() {
            Some(r) => print_json(r),
            None => Ok(()),
        },
        OutputFormat::Text => {
            let mut t = Table::new(["OPERATION", "TOPIC", "PARTITION", "KEYS", "SUCCESS"]);
            for r in results {
                t.row([
                    r.operation.to_owned(),
                    r.topic.to_owned(),
                    r.partition.to_string(),
                    r.key_count.to_string(),
                    r.success.to_string(),
                ]);
            }
            print_text(&t.render())
        }
    }
}
