//! `rpkv group list|describe|seek|delete|offset-delete`, shaped like `rpk group`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;

use super::conn::ConnArgs;
use super::{PreconditionUnmet, print_json, print_text};
use crate::client::{GroupDescription, GroupError, SeekTo, parse_topic_partitions};
use crate::format::{OutputFormat, Table};

#[derive(Subcommand, Debug)]
pub enum GroupCommand {
    /// List the consumer groups of the cluster.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:
  rpkv group list
  rpkv group list --format json"
    )]
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Show groups: state, members, and per partition the committed offset,
    /// log offsets, lag and owner.
    #[command(after_help = "Examples:
  rpkv group describe my-group
  rpkv group describe my-group other-group --format json

LAG is LOG-END-OFFSET - CURRENT-OFFSET; without a commit (CURRENT-OFFSET -) it is
LOG-END-OFFSET - LOG-START-OFFSET.")]
    Describe {
        #[arg(required = true)]
        groups: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Commit new offsets for a group that has no members.
    #[command(after_help = "Examples:
  rpkv group seek my-group --to start
  rpkv group seek my-group --to end --topics orders
  rpkv group seek my-group --to 1700000000000          # first offsets at or after a time
  rpkv group seek my-group --to offsets.txt            # lines of `topic partition offset`
  rpkv group seek my-group --to-file offsets.txt       # the same, as rpk spells it

Without --topics every partition the group has an offset in moves; with it, all
partitions of those topics. Kafka only takes offsets for a group without members:
stop its consumers first (exit code 3 otherwise).")]
    Seek {
        group: String,
        /// start, end, a Unix timestamp (seconds, milliseconds or
        /// nanoseconds), or a file of `topic partition offset` lines.
        #[arg(long, required_unless_present = "to_file", conflicts_with = "to_file")]
        to: Option<String>,
        /// A file of `topic partition offset` lines.
        #[arg(long, value_name = "FILE")]
        to_file: Option<PathBuf>,
        /// Only these topics (comma separated or repeated).
        #[arg(long, value_delimiter = ',')]
        topics: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Delete groups that have no members (and their committed offsets).
    #[command(after_help = "Examples:
  rpkv group delete my-group other-group")]
    Delete {
        #[arg(required = true)]
        groups: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Delete a group's committed offsets of some topics or partitions.
    #[command(after_help = "Examples:
  rpkv group offset-delete my-group --topic orders
  rpkv group offset-delete my-group --topic orders:0,1 --topic logs

Kafka refuses topics that members of the group are subscribed to.")]
    OffsetDelete {
        group: String,
        /// TOPIC or TOPIC:P,P,... (repeatable).
        #[arg(long = "topic", required = true, value_name = "TOPIC[:P,P]")]
        topics: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

#[derive(Serialize)]
struct SeekRow {
    topic: String,
    partition: i32,
    prior_offset: Option<i64>,
    current_offset: i64,
    error: Option<String>,
}

#[derive(Serialize)]
struct GroupStatusRow {
    group: String,
    status: String,
}

#[derive(Serialize)]
struct OffsetStatusRow {
    topic: String,
    partition: i32,
    status: String,
}

/// A group error for anyhow: a refusal because of members is a failed
/// precondition (exit 3), as a refused kvstore precondition is.
fn refusal(e: GroupError) -> anyhow::Error {
    match e {
        e @ GroupError::NotEmpty { .. } => PreconditionUnmet(e.to_string()).into(),
        e => e.into(),
    }
}

pub async fn run(conn: &ConnArgs, cmd: GroupCommand) -> Result<()> {
    let client = conn.client()?;
    match cmd {
        GroupCommand::List { format } => {
            let groups = client.list_groups().await.context("listing groups")?;
            match format {
                OutputFormat::Json => print_json(&groups),
                OutputFormat::Text => {
                    let mut t = Table::new(["BROKER", "GROUP", "STATE", "PROTOCOL-TYPE"]);
                    for g in groups {
                        t.row([g.coordinator.to_string(), g.name, g.state, g.protocol_type]);
                    }
                    print_text(&t.render())
                }
            }
        }
        GroupCommand::Describe { groups, format } => {
            let mut found = Vec::new();
            let mut failed = Vec::new();
            for g in &groups {
                match client.describe_group(g).await {
                    Ok(d) => found.push(d),
                    Err(e) => failed.push(format!("describing group {g:?}: {e}")),
                }
            }
            match format {
                OutputFormat::Json => print_json(&found)?,
                OutputFormat::Text => {
                    let text: Vec<String> = found.iter().map(describe_text).collect();
                    print_text(&text.join("\n"))?;
                }
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
            Ok(())
        }
        GroupCommand::Seek {
            group,
            to,
            to_file,
            topics,
            format,
        } => {
            let target = match (to, to_file) {
                (_, Some(path)) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    SeekTo::parse_file(&text)
                        .with_context(|| format!("seek file {}", path.display()))?
                }
                (Some(to), None) if SeekTo::parse(&to).is_err() && Path::new(&to).is_file() => {
                    let text =
                        std::fs::read_to_string(&to).with_context(|| format!("reading {to}"))?;
                    SeekTo::parse_file(&text).with_context(|| format!("seek file {to}"))?
                }
                (Some(to), None) => SeekTo::parse(&to)?,
                (None, None) => bail!("give --to or --to-file"),
            };
            let outcomes = client
                .seek_group(&group, &target, &topics)
                .await
                .map_err(refusal)
                .with_context(|| format!("seeking group {group:?}"))?;
            let mut failed = Vec::new();
            let rows: Vec<SeekRow> = outcomes
                .into_iter()
                .map(|o| {
                    let error = o.result.err().map(|e| {
                        failed.push(format!("{}/{}: {e}", o.topic, o.partition));
                        e.to_string()
                    });
                    SeekRow {
                        topic: o.topic,
                        partition: o.partition,
                        prior_offset: o.prior_offset,
                        current_offset: o.new_offset,
                        error,
                    }
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&rows)?,
                OutputFormat::Text => {
                    let mut t = Table::new([
                        "TOPIC",
                        "PARTITION",
                        "PRIOR-OFFSET",
                        "CURRENT-OFFSET",
                        "ERROR",
                    ]);
                    for r in rows {
                        t.row([
                            r.topic,
                            r.partition.to_string(),
                            opt(r.prior_offset),
                            r.current_offset.to_string(),
                            r.error.unwrap_or_default(),
                        ]);
                    }
                    print_text(&t.render())?;
                }
            }
            if !failed.is_empty() {
                bail!("seeking group {group:?}: {}", failed.join("; "));
            }
            Ok(())
        }
        GroupCommand::Delete { groups, format } => {
            let outcomes = client
                .delete_groups(&groups)
                .await
                .context("deleting groups")?;
            let mut failed = Vec::new();
            let rows: Vec<GroupStatusRow> = outcomes
                .into_iter()
                .map(|o| GroupStatusRow {
                    status: match o.result {
                        Ok(()) => "OK".to_owned(),
                        Err(e) => {
                            failed.push(e.to_string());
                            e.to_string()
                        }
                    },
                    group: o.group,
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&rows)?,
                OutputFormat::Text => {
                    let mut t = Table::new(["GROUP", "STATUS"]);
                    for r in rows {
                        t.row([r.group, r.status]);
                    }
                    print_text(&t.render())?;
                }
            }
            if !failed.is_empty() {
                bail!("{}", failed.join("; "));
            }
            Ok(())
        }
        GroupCommand::OffsetDelete {
            group,
            topics,
            format,
        } => {
            let topics = topics
                .iter()
                .map(|t| parse_topic_partitions(t))
                .collect::<Result<Vec<_>, _>>()?;
            let outcomes = client
                .delete_group_offsets(&group, &topics)
                .await
                .map_err(refusal)
                .with_context(|| format!("deleting offsets of group {group:?}"))?;
            let mut failed = Vec::new();
            let rows: Vec<OffsetStatusRow> = outcomes
                .into_iter()
                .map(|o| OffsetStatusRow {
                    status: match o.result {
                        Ok(()) => "OK".to_owned(),
                        Err(e) => {
                            failed.push(format!("{}/{}: {e}", o.topic, o.partition));
                            e.to_string()
                        }
                    },
                    topic: o.topic,
                    partition: o.partition,
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&rows)?,
                OutputFormat::Text => {
                    let mut t = Table::new(["TOPIC", "PARTITION", "STATUS"]);
                    for r in rows {
                        t.row([r.topic, r.partition.to_string(), r.status]);
                    }
                    print_text(&t.render())?;
                }
            }
            if !failed.is_empty() {
                bail!("deleting offsets of group {group:?}: {}", failed.join("; "));
            }
            Ok(())
        }
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// `rpk group describe`'s layout: a header, then one row per partition.
fn describe_text(d: &GroupDescription) -> String {
    let mut head = Table::new(["GROUP", d.name.as_str()]);
    head.row(["COORDINATOR".to_owned(), d.coordinator.to_string()]);
    head.row(["STATE", d.state.as_str()]);
    head.row(["BALANCER", d.protocol.as_str()]);
    head.row(["MEMBERS".to_owned(), d.members.len().to_string()]);
    head.row(["TOTAL-LAG".to_owned(), d.total_lag.to_string()]);
    let mut rows = Table::new([
        "TOPIC",
        "PARTITION",
        "CURRENT-OFFSET",
        "LOG-START-OFFSET",
        "LOG-END-OFFSET",
        "LAG",
        "MEMBER-ID",
        "CLIENT-ID",
        "HOST",
    ]);
    for p in &d.partitions {
        rows.row([
            p.topic.clone(),
            p.partition.to_string(),
            opt(p.current_offset),
            opt(p.log_start_offset),
            opt(p.log_end_offset),
            opt(p.lag),
            p.member_id.clone().unwrap_or_default(),
            p.client_id.clone().unwrap_or_default(),
            p.host.clone().unwrap_or_default(),
        ]);
    }
    format!("{}\n{}", head.render(), rows.render())
}
