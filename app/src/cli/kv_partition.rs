//! `rpkv kv partition TOPIC KEY...`: the partition each producer partitioner
//! picks for a key, and (when the broker answers) where the key lives, so
//! users can tell which partitioner their producers use.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use super::conn::ConnArgs;
use super::{print_json, print_text};
use crate::client::{Located, Partitioner};
use crate::format::{ByteFormat, OutputFormat, Table};

#[derive(Args, Debug)]
#[command(after_help = "Examples:
  rpkv kv partition example-topic user:1 user:2
  rpkv kv partition example-topic user:1 --partitions 12 --format json   # without a broker

murmur2: Java client, kafka-python, franz-go, librdkafka murmur2_random.
crc32:   librdkafka's default consistent_random (kcat, confluent-kafka-python/go/dotnet,
         node-rdkafka, rdkafka-rust), and consistent.
fnv1a:   Sarama's default, librdkafka fnv1a_random.
LIVES-IN lists the partitions that hold the key; MATCHES the partitioners that put it there.")]
pub struct PartitionArgs {
    /// The kvstore topic.
    pub topic: String,
    /// Keys to place.
    #[arg(required = true)]
    pub keys: Vec<String>,
    /// Compute for N partitions instead of the topic's count (needs no broker;
    /// where the keys live is then not looked up).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub partitions: Option<i32>,
    /// How keys are written and printed.
    #[arg(long, value_enum, default_value_t = ByteFormat::Utf8)]
    pub key_format: ByteFormat,
    /// Output: an aligned table or one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Serialize)]
struct Row {
    key: String,
    partition_count: i32,
    murmur2: i32,
    crc32: i32,
    fnv1a: i32,
    /// The partitions holding the key; absent when they were not looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    lives_in: Option<Vec<i32>>,
    /// The partitioners whose choice holds the key; absent when not looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    matches: Option<Vec<&'static str>>,
}

pub async fn run(conn: &ConnArgs, args: PartitionArgs) -> Result<()> {
    let keys: Vec<Vec<u8>> = args
        .keys
        .iter()
        .map(|k| {
            args.key_format
                .parse(k)
                .map_err(|e| anyhow::anyhow!("key: {e}"))
        })
        .collect::<Result<_>>()?;
    let client = conn.client()?;
    let topic = &args.topic;
    let counted = client.partition_count(topic).await;
    let (n, ask) = match (args.partitions, counted) {
        (Some(n), Ok(m)) if n != m => {
            eprintln!(
                "rpkv: warning: topic {topic:?} has {m} partitions; computing for --partitions {n} \
                 and not looking up where the keys live"
            );
            (n, false)
        }
        (Some(n), Ok(_)) => (n, true),
        (Some(n), Err(_)) => (n, false),
        (None, Ok(m)) => (m, true),
        (None, Err(e)) => {
            return Err(anyhow::Error::new(e).context(format!(
                "topic {topic:?}: looking up the partition count (give --partitions N to compute \
                 without the broker)"
            )));
        }
    };
    let located: Option<Vec<Located>> = if ask {
        match client.locate(topic, &keys, client.partitioner()).await {
            Ok(l) => Some(l),
            Err(e) => {
                let e = anyhow::Error::new(e);
                eprintln!("rpkv: warning: could not look up where the keys live: {e:#}");
                None
            }
        }
    } else {
        None
    };
    if located.as_ref().is_some_and(|l| l.len() != keys.len()) {
        bail!("the broker answered for fewer keys than asked");
    }
    let rows: Vec<Row> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let lives = located.as_ref().map(|l| l[i].partitions());
            let choice = |p: Partitioner| p.partition_for(k, n);
            let matches = lives.as_ref().map(|lives| {
                Partitioner::ALL
                    .into_iter()
                    .filter(|p| lives.contains(&choice(*p)))
                    .map(Partitioner::name)
                    .collect()
            });
            Row {
                key: args.key_format.render(k),
                partition_count: n,
                murmur2: choice(Partitioner::Murmur2),
                crc32: choice(Partitioner::Crc32),
                fnv1a: choice(Partitioner::Fnv1a),
                lives_in: lives,
                matches,
            }
        })
        .collect();
    match args.format {
        OutputFormat::Json => print_json(&rows),
        OutputFormat::Text => {
            let mut t = Table::new(["KEY", "MURMUR2", "CRC32", "FNV1A", "LIVES-IN", "MATCHES"]);
            for r in &rows {
                let (lives, matches) = match (&r.lives_in, &r.matches) {
                    (Some(l), _) if l.is_empty() => ("(not found)".to_owned(), String::new()),
                    (Some(l), Some(m)) => (
                        l.iter().map(i32::to_string).collect::<Vec<_>>().join(","),
                        if m.is_empty() {
                            "(none)".to_owned()
                        } else {
                            m.join(",")
                        },
                    ),
                    _ => ("?".to_owned(), String::new()),
                };
                t.row([
                    r.key.clone(),
                    r.murmur2.to_string(),
                    r.crc32.to_string(),
                    r.fnv1a.to_string(),
                    lives,
                    matches,
                ]);
            }
            print_text(&t.render()).context("printing")
        }
    }
}
