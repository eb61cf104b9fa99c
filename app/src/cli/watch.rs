//! `rpkv kv watch`: print each change of a kvstore topic as it is written.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use serde::Serialize;

use super::conn::ConnArgs;
use super::kv::KvFlags;
use super::partitions;
use crate::client::{
    Change, ScanRange, ValueFilter, WatchEvent, WatchFrom, WatchOptions, prefix_successor,
};
use crate::format::OutputFormat;

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  rpkv kv watch example-topic
  rpkv kv watch example-topic --prefix user: --format json
  rpkv kv watch example-topic -p 0 --from-beginning --count 10
  rpkv kv watch example-topic --filter '.age > 30' --timeout 1m

Each change is one line: the partition and offset, then `put KEY VALUE` or
`delete KEY` (json: key, value or \"deleted\": true, partition, offset, timestamp
in ms). Where each partition starts is said once on stderr. A lost connection is
retried (stderr says so) from the offset after the last change printed.
Ends with exit 0 on Ctrl-C, after --count changes or after --timeout
(or --duration); requests keep the default timeout.
With --filter only puts whose JSON value matches are printed (a delete has no
value to test).")]
pub struct WatchArgs {
    /// The kvstore topic.
    pub topic: String,
    /// Only keys starting with this.
    #[arg(long, conflicts_with_all = ["start_key", "end_key"])]
    pub prefix: Option<String>,
    /// First key (inclusive).
    #[arg(long)]
    pub start_key: Option<String>,
    /// End key (exclusive).
    #[arg(long)]
    pub end_key: Option<String>,
    /// Start at this offset in every watched partition.
    #[arg(long, conflicts_with_all = ["from_now", "from_beginning"])]
    pub from_offset: Option<i64>,
    /// Start at the end of each partition: only new changes (the default).
    #[arg(long, conflicts_with = "from_beginning")]
    pub from_now: bool,
    /// Start at the beginning of each partition's log.
    #[arg(long)]
    pub from_beginning: bool,
    /// Stop after printing this many changes.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,
    /// Stop after this long (e.g. 30s, 5m, 1h 30m); the same as --timeout.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Only puts whose value is JSON matching this jq expression (truthy output).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub common: KvFlags,
}

#[derive(Serialize)]
struct ChangeLine {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    partition: i32,
    offset: i64,
    timestamp: i64,
}

/// The key range of `--prefix` or `--start-key`/`--end-key`.
pub(super) fn key_range(
    common: &KvFlags,
    prefix: Option<&str>,
    start: Option<&str>,
    end: Option<&str>,
) -> Result<ScanRange> {
    let parse = |what: &str, k: &str| {
        common
            .key_format
            .parse(k)
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    if let Some(p) = prefix {
        let p = parse("--prefix", p)?;
        return Ok(ScanRange {
            end: prefix_successor(&p),
            start: Some(p),
        });
    }
    Ok(ScanRange {
        start: start.map(|k| parse("--start-key", k)).transpose()?,
        end: end.map(|k| parse("--end-key", k)).transpose()?,
    })
}

/// Compiles `--filter`; a bad expression is an error with the parser's message.
pub(super) fn compile_filter(expr: Option<&str>) -> Result<Option<Arc<ValueFilter>>> {
    expr.map(|e| ValueFilter::new(e).map(Arc::new))
        .transpose()
        .map_err(anyhow::Error::from)
}

pub async fn run(conn: &ConnArgs, args: WatchArgs) -> Result<()> {
    let WatchArgs {
        topic,
        prefix,
        start_key,
        end_key,
        from_offset,
        from_now: _,
        from_beginning,
        count,
        duration,
        filter,
        common,
    } = args;
    let range = key_range(
        &common,
        prefix.as_deref(),
        start_key.as_deref(),
        end_key.as_deref(),
    )?;
    let filter = compile_filter(filter.as_deref())?;
    let from = match (from_offset, from_beginning) {
        (Some(o), _) => WatchFrom::Offset(o),
        (None, true) => WatchFrom::Beginning,
        (None, false) => WatchFrom::Now,
    };
    // In `kv watch`, --timeout is how long to watch; each request keeps the
    // default timeout (a long watch must not mean slow failure detection).
    let stop_after = duration.or(conn.timeout);
    let client = ConnArgs {
        timeout: None,
        ..conn.clone()
    }
    .client()?;
    let parts = partitions(&client, &topic, common.partition).await?;
    let mut watch = client
        .watch(
            &topic,
            WatchOptions {
                partitions: parts,
                range,
                from,
                filter,
            },
        )
        .await
        .with_context(|| format!("watching topic {topic:?}"))?;
    let deadline = stop_after.map(|d| tokio::time::Instant::now() + d);
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    let mut printed = 0u64;
    loop {
        let event = tokio::select! {
            e = watch.next() => e,
            _ = &mut ctrl_c => return Ok(()),
            () = &mut until => return Ok(()),
        };
        let event = match event {
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                return Err(e).with_context(|| format!("watching topic {topic:?}"));
            }
            None => return Ok(()),
        };
        match event {
            WatchEvent::Started { partition, offset } => {
                eprintln!("rpkv: watching {topic:?} partition {partition} from offset {offset}");
            }
            WatchEvent::Retrying {
                broker,
                error,
                delay,
            } => {
                eprintln!(
                    "rpkv: warning: {broker}: {error}; retrying in {}",
                    humantime::format_duration(delay)
                );
            }
            WatchEvent::Changes(changes) => {
                let left = count.map_or(usize::MAX, |c| {
                    usize::try_from(c - printed).unwrap_or(usize::MAX)
                });
                let shown = &changes[..changes.len().min(left)];
                print_changes(&common, shown)?;
                printed += shown.len() as u64;
                if count.is_some_and(|c| printed >= c) {
                    return Ok(());
                }
            }
        }
    }
}

fn print_changes(common: &KvFlags, changes: &[Change]) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for c in changes {
        match common.format {
            OutputFormat::Json => {
                let line = ChangeLine {
                    key: common.key_format.render(&c.key),
                    value: c.value.as_deref().map(|v| common.value_format.render(v)),
                    deleted: c.value.is_none(),
                    partition: c.partition,
                    offset: c.offset,
                    timestamp: c.timestamp,
                };
                serde_json::to_writer(&mut out, &line)?;
                writeln!(out)?;
            }
            OutputFormat::Text => {
                let key = common.key_format.render_line(&c.key);
                match &c.value {
                    Some(v) => writeln!(
                        out,
                        "p{} @{}  put  {key}  {}",
                        c.partition,
                        c.offset,
                        common.value_format.render_line(v)
                    )?,
                    None => writeln!(out, "p{} @{}  delete  {key}", c.partition, c.offset)?,
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
