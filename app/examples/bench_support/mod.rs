//! What the TUI benchmarks share: an in-process dev broker, loading it, the
//! process's memory, percentiles. (Not an example of its own: cargo only
//! takes `examples/*.rs` and `examples/*/main.rs` as examples.)

use std::time::Duration;

use rpkv::client::{Client, ClientConfig, write_request};
use tokio::sync::oneshot;

/// A field of /proc/self/status in KiB (`VmRSS`, `RssAnon` = heap and
/// stacks, `RssFile` = mapped files such as the broker's LMDB pages); 0 where
/// there is no /proc.
pub fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// The `p` quantile of sorted durations.
pub fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

/// A dev broker in this process, on free ports, with its Kafka listener.
pub struct InProcess {
    pub config: ClientConfig,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl InProcess {
    /// Starts a broker with `topics` (e.g. `big:1`) in `dir`.
    pub async fn start(dir: &std::path::Path, topics: &[&str]) -> anyhow::Result<InProcess> {
        let mut args = devbroker::server::ServeArgs::ephemeral(dir.join("data"));
        for t in topics {
            args.topics
                .push(t.parse().map_err(|e| anyhow::anyhow!("{t}: {e}"))?);
        }
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let r = devbroker::server::spawn(
                args,
                async move {
                    let _ = stop_rx.await;
                },
                move |l| {
                    let _ = ready_tx.send((l.http_addr, l.kafka_addr));
                },
            )
            .await;
            match r {
                Ok(Err(e)) => eprintln!("broker: {e}"),
                Err(e) => eprintln!("broker task: {e}"),
                Ok(Ok(())) => {}
            }
        });
        let (http, kafka) = ready_rx.await?;
        let kafka = kafka.ok_or_else(|| anyhow::anyhow!("the broker has no Kafka listener"))?;
        let config = ClientConfig {
            http_url: format!("http://{http}"),
            brokers: vec![kafka.to_string()],
            ..ClientConfig::default()
        };
        Ok(InProcess { config, stop, task })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// Puts keys 0..n into `topic`, key number i into partition i % `partitions`:
/// batches of up to 1000, 16 writers (group commit). `entry(i)` is the key
/// and value of key number i.
pub async fn load(
    client: &Client,
    topic: &str,
    partitions: i32,
    n: u64,
    entry: fn(u64) -> (Vec<u8>, Vec<u8>),
) -> anyhow::Result<()> {
    let parts = u64::try_from(partitions.max(1))?;
    let batches: Vec<u64> = (0..n).step_by(1000).collect();
    let mut tasks = Vec::new();
    for chunk in batches.chunks(batches.len().div_ceil(16).max(1)) {
        let chunk = chunk.to_vec();
        let client = client.clone();
        let topic = topic.to_owned();
        tasks.push(tokio::spawn(async move {
            for start in chunk {
                for p in 0..parts {
                    let puts: Vec<_> = (start..(start + 1000).min(n))
                        .filter(|i| i % parts == p)
                        .map(entry)
                        .collect();
                    if puts.is_empty() {
                        continue;
                    }
                    let partition = i32::try_from(p)?;
                    client
                        .write(&topic, partition, &write_request(puts, vec![], None))
                        .await?;
                }
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}
