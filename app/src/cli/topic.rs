//! `rpkv topic list|create|describe|delete|produce|consume`.

use std::io::Write;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde::Serialize;

use super::conn::ConnArgs;
use super::{print_json, print_text};
use crate::client::{Client, Error as ClientError, NewTopic, OffsetSpec, OutgoingRecord};
use crate::format::{OutputFormat, Table};
use crate::record_format::{RecordFields, RecordFormat};

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// List topics: partition and replica counts, and which are kvstore topics.
    #[command(
        visible_alias = "ls",
        after_help = "Examples:
  rpkv topic list
  rpkv topic list --format json"
    )]
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Create topics (Kafka CreateTopics).
    #[command(after_help = "Examples:
  rpkv topic create example-topic -c redpanda.kvstore=cloud
  rpkv topic create orders -p 3 -c redpanda.kvstore=cloud -c retention.ms=3600000

A kvstore topic needs -c redpanda.kvstore=cloud.")]
    Create {
        #[arg(required = true)]
        topics: Vec<String>,
        /// Partitions per topic; -1 = the broker's default.
        #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
        partitions: i32,
        /// Replication factor; -1 = the broker's default.
        #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
        replicas: i16,
        /// Topic config KEY=VALUE (repeatable).
        #[arg(short = 'c', long = "topic-config", value_name = "KEY=VALUE")]
        configs: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Show a topic's partitions, offsets and configs.
    #[command(after_help = "Examples:
  rpkv topic describe example-topic
  rpkv topic describe example-topic --format json")]
    Describe {
        topic: String,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Delete topics (Kafka DeleteTopics).
    #[command(after_help = "Examples:
  rpkv topic delete example-topic")]
    Delete {
        #[arg(required = true)]
        topics: Vec<String>,
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Produce records read from stdin (via the HTTP Proxy).
    #[command(after_help = "Examples:
  printf 'foo bar\\nhello world\\nfoo qux\\n' | rpkv topic produce example-topic -f '%k %v\\n'
  echo 'some value' | rpkv topic produce example-topic -k mykey

Format directives: %k key, %v value, %p partition; \\n \\t \\\\ escapes; other text is a
literal delimiter. Keyed records go where Kafka's partitioner puts them unless -p is given.")]
    Produce {
        topic: String,
        /// How to split stdin into records.
        #[arg(short = 'f', long, default_value = "%v\\n")]
        format: String,
        /// A key for every record (overrides %k).
        #[arg(short, long)]
        key: Option<String>,
        /// Partition; -1 = Kafka's partitioner for keyed records, round robin otherwise.
        #[arg(short, long, default_value_t = -1, allow_negative_numbers = true)]
        partition: i32,
        /// Output: one line per record, or one JSON document.
        #[arg(long = "output", value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Consume records (via the HTTP Proxy) and print them.
    #[command(after_help = "Examples:
  rpkv topic consume example-topic -n 3
  rpkv topic consume example-topic -o start -n 3 -f '%k %v\\n'
  rpkv topic consume example-topic -p 0 -o 42 -f '%o %k=%v\\n'
  rpkv topic consume example-topic -o end           # follow new records until Ctrl-C

Without -f each record is a JSON line (topic, key, value, timestamp, partition, offset).
Format directives: %t %k %v %p %o %T (timestamp ms) %K %V (lengths) %%; \\n \\t escapes.")]
    Consume {
        topic: String,
        /// Where to start: start, end, or an offset.
        #[arg(short, long, default_value = "start")]
        offset: String,
        /// Stop after COUNT records (default: follow forever).
        #[arg(short, long)]
        num: Option<u64>,
        /// Partitions to read (repeatable; default: all).
        #[arg(short, long)]
        partition: Vec<i32>,
        /// Output format of each record.
        #[arg(short = 'f', long)]
        format: Option<String>,
    },
}

#[derive(Serialize)]
struct TopicRow {
    name: String,
    partitions: usize,
    replicas: usize,
    kvstore: bool,
}

#[derive(Serialize)]
struct StatusRow {
    topic: String,
    status: String,
}

#[derive(Serialize)]
struct PartitionRow {
    partition: i32,
    leader: i32,
    replicas: Vec<i32>,
    log_start_offset: Option<i64>,
    high_watermark: Option<i64>,
}

#[derive(Serialize)]
struct ConfigRow {
    key: String,
    value: Option<String>,
    source: String,
}

#[derive(Serialize)]
struct Description {
    name: String,
    partitions: Vec<PartitionRow>,
    configs: Vec<ConfigRow>,
}

#[derive(Serialize)]
struct ConsumedJson {
    topic: String,
    key: Option<String>,
    value: Option<String>,
    timestamp: Option<i64>,
    partition: i32,
    offset: i64,
}

pub async fn run(conn: &ConnArgs, cmd: TopicCommand) -> Result<()> {
    let client = conn.client()?;
    match cmd {
        TopicCommand::List { format } => {
            let topics = client.topic_summaries().await.context("listing topics")?;
            let rows: Vec<TopicRow> = topics
                .into_iter()
                .map(|t| TopicRow {
                    name: t.name,
                    partitions: t.partitions,
                    replicas: t.replicas,
                    kvstore: t.kvstore,
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&rows),
                OutputFormat::Text => {
                    let mut t = Table::new(["NAME", "PARTITIONS", "REPLICAS", "KVSTORE"]);
                    for r in rows {
                        t.row([
                            r.name,
                            r.partitions.to_string(),
                            r.replicas.to_string(),
                            r.kvstore.to_string(),
                        ]);
                    }
                    print_text(&t.render())
                }
            }
        }
        TopicCommand::Create {
            topics,
            partitions,
            replicas,
            configs,
            format,
        } => {
            let configs = configs
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .filter(|(k, _)| !k.is_empty())
                        .with_context(|| format!("-c {c:?}: expected KEY=VALUE"))
                })
                .collect::<Result<Vec<_>>>()?;
            let new: Vec<NewTopic> = topics
                .iter()
                .map(|name| NewTopic {
                    name: name.clone(),
                    partitions,
                    replication: replicas,
                    configs: configs.clone(),
                })
                .collect();
            let outcomes = client
                .create_topics(&new)
                .await
                .context("creating topics")?;
            print_outcomes(format, outcomes)
        }
        TopicCommand::Delete { topics, format } => {
            let outcomes = client
                .delete_topics(&topics)
                .await
                .context("deleting topics")?;
            print_outcomes(format, outcomes)
        }
        TopicCommand::Describe { topic, format } => describe(&client, &topic, format).await,
        TopicCommand::Produce {
            topic,
            format,
            key,
            partition,
            output,
        } => produce(&client, &topic, &format, key, partition, output).await,
        TopicCommand::Consume {
            topic,
            offset,
            num,
            partition,
            format,
        } => consume(&client, &topic, &offset, num, partition, format).await,
    }
}

fn print_outcomes(format: OutputFormat, outcomes: Vec<crate::client::TopicOutcome>) -> Result<()> {
    let mut failed = Vec::new();
    let rows: Vec<StatusRow> = outcomes
        .into_iter()
        .map(|o| {
            let status = match &o.result {
                Ok(()) => "OK".to_owned(),
                Err(e) => {
                    failed.push(format!("topic {:?}: {e}", o.name));
                    e.to_string()
                }
            };
            StatusRow {
                topic: o.name,
                status,
            }
        })
        .collect();
    match format {
        OutputFormat::Json => print_json(&rows)?,
        OutputFormat::Text => {
            let mut t = Table::new(["TOPIC", "STATUS"]);
            for r in rows {
                t.row([r.topic, r.status]);
            }
            print_text(&t.render())?;
        }
    }
    if !failed.is_empty() {
        bail!("{}", failed.join("; "));
    }
    Ok(())
}

async fn describe(client: &Client, topic: &str, format: OutputFormat) -> Result<()> {
    let info = client
        .topic_info(topic)
        .await
        .with_context(|| format!("describing topic {topic:?}"))?;
    let ids: Vec<i32> = info.partitions.iter().map(|p| p.id).collect();
    let offsets = match client.partition_offsets(topic, &ids).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read partition offsets");
            Vec::new()
        }
    };
    let configs = client
        .topic_configs(topic)
        .await
        .with_context(|| format!("reading configs of topic {topic:?}"))?;
    let desc = Description {
        name: info.name.clone(),
        partitions: info
            .partitions
            .iter()
            .map(|p| {
                let o = offsets.iter().find(|o| o.partition == p.id);
                PartitionRow {
                    partition: p.id,
                    leader: p.leader,
                    replicas: p.replicas.clone(),
                    log_start_offset: o.map(|o| o.start),
                    high_watermark: o.map(|o| o.end),
                }
            })
            .collect(),
        configs: configs
            .into_iter()
            .map(|c| ConfigRow {
                key: c.name,
                value: if c.sensitive { None } else { c.value },
                source: c.source,
            })
            .collect(),
    };
    match format {
        OutputFormat::Json => print_json(&desc),
        OutputFormat::Text => {
            let mut s = String::from("SUMMARY\n=======\n");
            let mut t = Table::new(["NAME", "PARTITIONS", "REPLICAS"]);
            t.row([
                desc.name.clone(),
                desc.partitions.len().to_string(),
                info.replication().to_string(),
            ]);
            s.push_str(&t.render());
            s.push_str("\nCONFIGS\n=======\n");
            let mut t = Table::new(["KEY", "VALUE", "SOURCE"]);
            for c in &desc.configs {
                t.row([
                    c.key.clone(),
                    c.value.clone().unwrap_or_else(|| "-".into()),
                    c.source.clone(),
                ]);
            }
            s.push_str(&t.render());
            s.push_str("\nPARTITIONS\n==========\n");
            let mut t = Table::new([
                "PARTITION",
                "LEADER",
                "REPLICAS",
                "LOG-START-OFFSET",
                "HIGH-WATERMARK",
            ]);
            let opt = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
            for p in &desc.partitions {
                t.row([
                    p.partition.to_string(),
                    p.leader.to_string(),
                    format!("{:?}", p.replicas),
                    opt(p.log_start_offset),
                    opt(p.high_watermark),
                ]);
            }
            s.push_str(&t.render());
            print_text(&s)
        }
    }
}

/// Sends parsed records as they are read, remembering the partition count.
struct Producer<'a> {
    client: &'a Client,
    topic: &'a str,
    fixed_key: Option<Vec<u8>>,
    partition: i32,
    partition_count: Option<i32>,
    output: OutputFormat,
    produced: Vec<crate::client::ProduceOffset>,
}

impl Producer<'_> {
    async fn send(&mut self, parsed: Vec<crate::record_format::ParsedRecord>) -> Result<()> {
        let mut records = Vec::with_capacity(parsed.len());
        for r in parsed {
            let key = self.fixed_key.clone().or(r.key);
            let p = match (self.partition, r.partition, &key) {
                (p, _, _) if p >= 0 => Some(p),
                (_, Some(p), _) => Some(p),
                (_, None, Some(k)) => {
                    let n = match self.partition_count {
                        Some(n) => n,
                        None => {
                            let n = super::partition_count(self.client, self.topic).await?;
                            self.partition_count = Some(n);
                            n
                        }
                    };
                    Some(self.client.partitioner().partition_for(k, n))
                }
                (_, None, None) => None,
            };
            records.push(OutgoingRecord {
                key,
                value: r.value,
                partition: p,
            });
        }
        for chunk in records.chunks(500) {
            let offsets = self
                .client
                .produce(self.topic, chunk.to_vec())
                .await
                .with_context(|| format!("producing to topic {:?}", self.topic))?;
            if self.output == OutputFormat::Text {
                let mut s = String::new();
                for o in &offsets {
                    s.push_str(&format!(
                        "Produced to partition {} at offset {}.\n",
                        o.partition, o.offset
                    ));
                }
                print_text(&s)?;
            }
            self.produced.extend(offsets);
        }
        Ok(())
    }
}

/// Reads stdin as it arrives: every complete record (up to the format's final
/// delimiter) is produced right away, so `tail -f log | rpkv topic produce` works.
async fn produce(
    client: &Client,
    topic: &str,
    format: &str,
    key: Option<String>,
    partition: i32,
    output: OutputFormat,
) -> Result<()> {
    use tokio::io::AsyncReadExt;

    let fmt = RecordFormat::parse(format).map_err(|e| anyhow::anyhow!("-f: {e}"))?;
    let parse = |bytes: &[u8]| {
        fmt.parse_records(bytes)
            .map_err(|e| anyhow::anyhow!("parsing stdin with -f {format:?}: {e}"))
    };
    let mut producer = Producer {
        client,
        topic,
        fixed_key: key.map(String::into_bytes),
        partition,
        partition_count: None,
        output,
        produced: Vec::new(),
    };
    let terminator = fmt.terminator().map(<[u8]>::to_vec);
    let mut stdin = tokio::io::stdin();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = stdin.read(&mut chunk).await.context("reading stdin")?;
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&chunk[..n]);
        if let Some(t) = &terminator
            && let Some(end) = rfind(&pending, t)
        {
            let rest = pending.split_off(end + t.len());
            let complete = std::mem::replace(&mut pending, rest);
            producer.send(parse(&complete)?).await?;
        }
    }
    if !pending.is_empty() {
        producer.send(parse(&pending)?).await?;
    }
    match output {
        OutputFormat::Json => print_json(&producer.produced),
        OutputFormat::Text => Ok(()),
    }
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

async fn consume(
    client: &Client,
    topic: &str,
    offset: &str,
    num: Option<u64>,
    partitions: Vec<i32>,
    format: Option<String>,
) -> Result<()> {
    let fmt = format
        .as_deref()
        .map(RecordFormat::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("-f: {e}"))?;
    let partitions = if partitions.is_empty() {
        super::partitions(client, topic, -1).await?
    } else {
        partitions
    };
    let mut next: Vec<(i32, i64)> = match offset {
        "start" | "oldest" => match client
            .list_offsets(topic, &partitions, OffsetSpec::Earliest)
            .await
        {
            Ok(o) => o,
            Err(ClientError::KafkaTransport { .. }) => partitions.iter().map(|p| (*p, 0)).collect(),
            Err(e) => return Err(e).context(format!("topic {topic:?}: reading start offsets")),
        },
        "end" | "newest" => client
            .list_offsets(topic, &partitions, OffsetSpec::Latest)
            .await
            .with_context(|| format!("topic {topic:?}: reading end offsets"))?,
        n => {
            let o: i64 = n
                .parse()
                .ok()
                .filter(|o| *o >= 0)
                .with_context(|| format!("-o {n:?}: expected start, end or an offset"))?;
            partitions.iter().map(|p| (*p, o)).collect()
        }
    };
    let mut seen = 0u64;
    let mut out = std::io::stdout().lock();
    loop {
        let mut got_any = false;
        // Long-poll only when a single partition is read; otherwise poll each in turn.
        let wait_ms = if next.len() == 1 { 1000 } else { 0 };
        for (p, off) in next.iter_mut() {
            let records = client
                .fetch_records(topic, *p, *off, wait_ms, 1 << 20)
                .await
                .with_context(|| format!("consume: topic {topic:?} partition {p}"))?;
            for r in records {
                if num.is_some_and(|n| seen >= n) {
                    break;
                }
                *off = r.offset + 1;
                seen += 1;
                got_any = true;
                let mut buf = Vec::new();
                match &fmt {
                    Some(f) => f.render(
                        &RecordFields {
                            topic: &r.topic,
                            partition: r.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            key: r.key.as_deref(),
                            value: r.value.as_deref(),
                        },
                        &mut buf,
                    ),
                    None => {
                        let j = ConsumedJson {
                            topic: r.topic.clone(),
                            key: r
                                .key
                                .as_deref()
                                .map(|k| String::from_utf8_lossy(k).into_owned()),
                            value: r
                                .value
                                .as_deref()
                                .map(|v| String::from_utf8_lossy(v).into_owned()),
                            timestamp: r.timestamp,
                            partition: r.partition,
                            offset: r.offset,
                        };
                        serde_json::to_writer(&mut buf, &j)?;
                        buf.push(b'\n');
                    }
                }
                out.write_all(&buf)?;
            }
            out.flush()?;
            if num.is_some_and(|n| seen >= n) {
                return Ok(());
            }
        }
        if !got_any && next.len() > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}
