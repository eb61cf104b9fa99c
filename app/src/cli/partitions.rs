//! Which partitions a command's `-p` means, with the error context every
//! command gives a failed partition-count lookup.

use anyhow::{Context, Result, bail};

use crate::client::{Client, partition_for_key};

/// The partition count of `topic` (Kafka Metadata, cached by the client).
pub async fn partition_count(client: &Client, topic: &str) -> Result<i32> {
    client
        .partition_count(topic)
        .await
        .with_context(|| format!("topic {topic:?}: looking up the partition count"))
}

/// `-p N`: that partition; `-p -1`: every partition of the topic.
pub async fn partitions(client: &Client, topic: &str, partition: i32) -> Result<Vec<i32>> {
    match partition {
        p if p >= 0 => Ok(vec![p]),
        -1 => Ok((0..partition_count(client, topic).await?).collect()),
        p => bail!("--partition must be -1 (all partitions) or a partition number, got {p}"),
    }
}

/// `-p N`: that partition for every key; `-p -1`: the partition Kafka's
/// default partitioner picks for each key.
pub async fn partitions_for_keys(
    client: &Client,
    topic: &str,
    partition: i32,
    keys: &[Vec<u8>],
) -> Result<Vec<i32>> {
    match partition {
        p if p >= 0 => Ok(vec![p; keys.len()]),
        -1 => {
            let n = partition_count(client, topic).await?;
            Ok(keys.iter().map(|k| partition_for_key(k, n)).collect())
        }
        p => bail!("--partition must be -1 (partitioner) or a partition number, got {p}"),
    }
}
