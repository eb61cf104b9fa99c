//! Live changes of a kvstore topic: its log read with Kafka Fetch long polls.
//!
//! [`Client::watch`] looks the partitions' leaders up in Metadata and runs one
//! task per leader, each with its own connection, fetching all of that
//! leader's partitions in one long poll. A supervisor task restarts a leader
//! task that fails (connection lost, broker restarting, leadership moved)
//! after a fresh Metadata lookup, with backoff, from the offset after the last
//! record it handed over: no change is missed or repeated while the [`Watch`]
//! lives. Changes reach the caller over a bounded channel, so a slow reader
//! slows the fetching instead of growing memory.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::BrokerId;
use kafka_protocol::messages::ListOffsetsRequest;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::fetch;
use super::filter::ValueFilter;
use super::kafka::{Conn, kafka_error, topic_name};
use super::{Client, Error, Result, ScanRange};

/// Where a watch starts reading each partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WatchFrom {
    /// The partition's end when the watch starts: only new changes.
    #[default]
    Now,
    /// The partition's log start: every change the log still holds.
    Beginning,
    /// This offset, in every watched partition.
    Offset(i64),
}

/// What to watch.
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Partitions to follow.
    pub partitions: Vec<i32>,
    /// Only keys in this range (start inclusive, end exclusive).
    pub range: ScanRange,
    pub from: WatchFrom,
    /// Only puts whose value matches; deletes carry no value and are dropped.
    pub filter: Option<Arc<ValueFilter>>,
}

/// One change of one key: a put (`value` is `Some`) or a delete.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub partition: i32,
    pub offset: i64,
    /// Record timestamp, milliseconds since the Unix epoch.
    pub timestamp: i64,
}

/// What a [`Watch`] reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchEvent {
    /// The partition is followed from `offset` (once per partition, when the
    /// start offset is known).
    Started { partition: i32, offset: i64 },
    /// Changes of one partition, in offset order (an atomic batch arrives
    /// whole unless the broker's byte limit cut it).
    Changes(Vec<Change>),
    /// The connection to `broker` failed; the watch retries after `delay`
    /// from where it was.
    Retrying {
        broker: String,
        error: String,
        delay: Duration,
    },
}

/// A running watch; dropping it stops its tasks.
pub struct Watch {
    rx: mpsc::Receiver<Result<WatchEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// The next event; an `Err` is fatal (the watch has stopped), `None`
    /// means it stopped without one.
    pub async fn next(&mut self) -> Option<Result<WatchEvent>> {
        self.rx.recv().await
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A partition's position: resolved, or still to be looked up.
#[derive(Clone, Copy, Debug)]
enum Pos {
    At(i64),
    From(WatchFrom),
}

const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Longest long poll; shorter when the request timeout is short.
const MAX_WAIT: Duration = Duration::from_secs(5);

/// Kafka errors a retry (after a Metadata refresh) can get past.
fn transient(code: i16) -> bool {
    matches!(
        ResponseError::try_from_code(code),
        Some(
            ResponseError::LeaderNotAvailable
                | ResponseError::NotLeaderOrFollower
                | ResponseError::RequestTimedOut
                | ResponseError::NetworkException
                | ResponseError::KafkaStorageError
                | ResponseError::FencedLeaderEpoch
                | ResponseError::UnknownLeaderEpoch
                | ResponseError::NotEnoughReplicas
                | ResponseError::OffsetNotAvailable
                | ResponseError::ReplicaNotAvailable
        )
    )
}

fn is_transient(e: &Error) -> bool {
    match e {
        Error::KafkaTransport { .. } | Error::Connect { .. } | Error::Timeout { .. } => true,
        Error::Kafka { code, .. } => transient(*code),
        _ => false,
    }
}

/// Shared state of the tasks of one watch.
struct Ctx {
    client: Client,
    topic: String,
    range: ScanRange,
    filter: Option<Arc<ValueFilter>>,
    max_wait: Duration,
    tx: mpsc::Sender<Result<WatchEvent>>,
}

impl Client {
    /// Follows changes of `topic` (see the module docs). Fails at once on an
    /// unknown topic or partition; later failures arrive as an `Err` event.
    pub async fn watch(&self, topic: &str, opts: WatchOptions) -> Result<Watch> {
        let info = self.topic_info(topic).await?;
        for p in &opts.partitions {
            if !info.partitions.iter().any(|i| i.id == *p) {
                return Err(Error::InvalidInput(format!(
                    "topic {topic:?} has no partition {p} (it has {})",
                    info.partitions.len()
                )));
            }
        }
        if let WatchFrom::Offset(o) = opts.from
            && o < 0
        {
            return Err(Error::InvalidInput(format!(
                "--from-offset must be 0 or more, got {o}"
            )));
        }
        let (tx, rx) = mpsc::channel(64);
        let ctx = Arc::new(Ctx {
            client: self.clone(),
            topic: topic.to_owned(),
            range: opts.range,
            filter: opts.filter,
            max_wait: MAX_WAIT.min(self.kafka_timeout / 2),
            tx,
        });
        let start = opts
            .partitions
            .iter()
            .map(|p| (*p, Pos::From(opts.from)))
            .collect();
        let task = tokio::spawn(supervise(ctx, start));
        Ok(Watch { rx, task })
    }
}

/// How a leader task ended: the positions it had, and why.
struct Ended {
    broker: String,
    positions: Vec<(i32, Pos)>,
    error: Error,
    fetched: bool,
}

async fn supervise(ctx: Arc<Ctx>, start: Vec<(i32, Pos)>) {
    let mut pending: Vec<(i32, Pos)> = start;
    let mut tasks: JoinSet<Ended> = JoinSet::new();
    let mut backoff = FIRST_BACKOFF;
    loop {
        if !pending.is_empty() {
            match group_by_leader(&ctx, &pending).await {
                Ok(groups) => {
                    pending.clear();
                    for (broker, parts) in groups {
                        tasks.spawn(follow(ctx.clone(), broker, parts));
                    }
                }
                Err(e) if is_transient(&e) => {
                    if !retry(&ctx, "metadata".into(), &e, &mut backoff).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    let _ = ctx.tx.send(Err(e)).await;
                    return;
                }
            }
        }
        tokio::select! {
            ended = tasks.join_next() => {
                let Some(ended) = ended else { return };
                let ended = match ended {
                    Ok(ended) => ended,
                    Err(e) => {
                        let _ = ctx.tx.send(Err(Error::InvalidInput(format!("watch task failed: {e}")))).await;
                        return;
                    }
                };
                if !is_transient(&ended.error) {
                    let _ = ctx.tx.send(Err(ended.error)).await;
                    return;
                }
                if ended.fetched {
                    backoff = FIRST_BACKOFF;
                }
                pending.extend(ended.positions);
                if !retry(&ctx, ended.broker, &ended.error, &mut backoff).await {
                    return;
                }
            }
            () = ctx.tx.closed() => return,
        }
    }
}

/// Reports a retry, waits `backoff` and doubles it; false once nobody listens.
async fn retry(ctx: &Ctx, broker: String, error: &Error, backoff: &mut Duration) -> bool {
    let delay = *backoff;
    tracing::debug!(%broker, %error, ?delay, "watch: retrying");
    let event = WatchEvent::Retrying {
        broker,
        error: error.to_string(),
        delay,
    };
    if ctx.tx.send(Ok(event)).await.is_err() {
        return false;
    }
    tokio::time::sleep(delay).await;
    *backoff = (delay * 2).min(MAX_BACKOFF);
    true
}

/// Partitions grouped by the `host:port` of their leader (Metadata now).
async fn group_by_leader(
    ctx: &Ctx,
    pending: &[(i32, Pos)],
) -> Result<BTreeMap<String, Vec<(i32, Pos)>>> {
    let names = [ctx.topic.clone()];
    let meta = ctx.client.cluster_metadata(Some(&names)).await?;
    let topic = meta
        .topics
        .iter()
        .find(|t| t.name == ctx.topic)
        .ok_or_else(|| Error::UnknownTopic(ctx.topic.clone()))?;
    let mut groups: BTreeMap<String, Vec<(i32, Pos)>> = BTreeMap::new();
    for &(p, pos) in pending {
        let leader = topic
            .partitions
            .iter()
            .find(|i| i.id == p)
            .map_or(-1, |i| i.leader);
        let broker = meta
            .brokers
            .iter()
            .find(|b| b.id == leader)
            .ok_or_else(|| Error::Kafka {
                code: ResponseError::LeaderNotAvailable.code(),
                name: ResponseError::LeaderNotAvailable.to_string(),
                message: Some(format!("partition {p} has no leader yet")),
            })?;
        groups
            .entry(format!("{}:{}", broker.host, broker.port))
            .or_default()
            .push((p, pos));
    }
    Ok(groups)
}

/// Follows `parts` on one leader until something fails.
async fn follow(ctx: Arc<Ctx>, broker: String, parts: Vec<(i32, Pos)>) -> Ended {
    let mut positions = parts;
    let mut fetched = false;
    let error = match follow_inner(&ctx, &broker, &mut positions, &mut fetched).await {
        Ok(never) => match never {},
        Err(e) => e,
    };
    Ended {
        broker,
        positions,
        error,
        fetched,
    }
}

enum Never {}

async fn follow_inner(
    ctx: &Ctx,
    broker: &str,
    positions: &mut [(i32, Pos)],
    fetched: &mut bool,
) -> Result<Never> {
    let mut conn = ctx.client.kafka_at(broker).await?;
    resolve(ctx, &mut conn, positions).await?;
    loop {
        let at: Vec<(i32, i64)> = positions
            .iter()
            .filter_map(|&(p, pos)| match pos {
                Pos::At(o) => Some((p, o)),
                Pos::From(_) => None,
            })
            .collect();
        let resp = conn
            .request(fetch::request(&ctx.topic, &at, ctx.max_wait))
            .await?;
        if let Some(e) = kafka_error(resp.error_code, None) {
            return Err(e);
        }
        *fetched = true;
        for answer in fetch::answers(resp) {
            let Some(slot) = positions.iter_mut().find(|(p, _)| *p == answer.partition) else {
                continue;
            };
            let Pos::At(from) = slot.1 else { continue };
            if answer.error_code == ResponseError::OffsetOutOfRange.code() {
                return Err(Error::InvalidInput(format!(
                    "topic {:?} partition {}: offset {from} is outside the log \
                     (offsets {}..{}); pick one in that range or use --from-beginning",
                    ctx.topic, answer.partition, answer.log_start, answer.high_watermark
                )));
            }
            if let Some(e) = kafka_error(answer.error_code, None) {
                return Err(e);
            }
            let (records, next) = fetch::decode(answer.records, from)
                .map_err(|e| conn.transport(format!("partition {}: {e}", answer.partition)))?;
            let changes: Vec<Change> = records
                .into_iter()
                .filter_map(|r| {
                    let key = r.key?;
                    if !in_range(&ctx.range, &key) {
                        return None;
                    }
                    let value = r.value.map(|v| v.to_vec());
                    if let Some(f) = &ctx.filter {
                        // A delete has no value to test.
                        if !value.as_deref().is_some_and(|v| f.matches(v)) {
                            return None;
                        }
                    }
                    Some(Change {
                        key: key.to_vec(),
                        value,
                        partition: answer.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                    })
                })
                .collect();
            if !changes.is_empty() && ctx.tx.send(Ok(WatchEvent::Changes(changes))).await.is_err() {
                return Err(Error::InvalidInput("the watch was dropped".into()));
            }
            // Only now: what was handed over is never fetched again.
            slot.1 = Pos::At(next);
        }
    }
}

fn in_range(range: &ScanRange, key: &[u8]) -> bool {
    range.start.as_deref().is_none_or(|s| key >= s) && range.end.as_deref().is_none_or(|e| key < e)
}

/// Looks start offsets up (ListOffsets on the leader) for partitions that
/// have none yet, and reports each as started.
async fn resolve(ctx: &Ctx, conn: &mut Conn, positions: &mut [(i32, Pos)]) -> Result<()> {
    let newly: Vec<i32> = positions
        .iter()
        .filter(|(_, pos)| matches!(pos, Pos::From(_)))
        .map(|(p, _)| *p)
        .collect();
    let mut ask = Vec::new();
    for (p, pos) in positions.iter_mut() {
        match *pos {
            Pos::At(_) => {}
            Pos::From(WatchFrom::Offset(o)) => *pos = Pos::At(o),
            Pos::From(WatchFrom::Now) => ask.push((*p, -1)),
            Pos::From(WatchFrom::Beginning) => ask.push((*p, -2)),
        }
    }
    if !ask.is_empty() {
        let req = ListOffsetsRequest::default()
            .with_replica_id(BrokerId(-1))
            .with_topics(vec![
                ListOffsetsTopic::default()
                    .with_name(topic_name(&ctx.topic))
                    .with_partitions(
                        ask.iter()
                            .map(|&(p, ts)| {
                                ListOffsetsPartition::default()
                                    .with_partition_index(p)
                                    .with_current_leader_epoch(-1)
                                    .with_timestamp(ts)
                            })
                            .collect(),
                    ),
            ]);
        let resp = conn.request(req).await?;
        for part in resp.topics.into_iter().flat_map(|t| t.partitions) {
            if let Some(e) = kafka_error(part.error_code, None) {
                return Err(e);
            }
            if let Some(slot) = positions
                .iter_mut()
                .find(|(p, _)| *p == part.partition_index)
            {
                slot.1 = Pos::At(part.offset);
            }
        }
    }
    for (p, pos) in positions.iter() {
        let Pos::At(offset) = *pos else {
            return Err(conn.transport(format!("ListOffsets did not answer for partition {p}")));
        };
        // Once per partition: a restarted task finds its positions resolved.
        if newly.contains(p) {
            let event = WatchEvent::Started {
                partition: *p,
                offset,
            };
            if ctx.tx.send(Ok(event)).await.is_err() {
                return Err(Error::InvalidInput("the watch was dropped".into()));
            }
        }
    }
    Ok(())
}
