//! Which partitions a command's `-p` means, with the error context every
//! command gives a failed partition-count lookup.

use anyhow::{Context, Result, bail};

use crate::client::Client;

/// The partition count of `topic` (Kafka Metadata, cached by the client).
pub async fn partition_count(client: &Client, topic: &str) -> Result<i32> {
    client
        .partition_count(topic)
        .await
        .with_context(|| format!("topic {topic:?}: looking up the partition count"))
}

/// `-p N`: that partition; `-p -1`: every partition of the topic.
pub async fn partitions(client: &Client, topic: &str, partition: i32) -> Result<Vec<i32>> {
    match fixed_partition(partition)? {
        Some(p) => Ok(vec![p]),
        None => Ok((0..partition_count(client, topic).await?).collect()),
    }
}

/// A key command's `-p`: `Some(N)`, or `None` for -1 (find where each key
/// lives; place new keys with the partitioner).
pub fn fixed_partition(partition: i32) -> Result<Option<i32>> {
    match partition {
        p if p >= 0 => Ok(Some(p)),
        -1 => Ok(None),
        p => bail!("--partition must be -1 (where the key lives) or a partition number, got {p}"),
    }
}
