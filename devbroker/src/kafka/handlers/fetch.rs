//! Fetch: long poll (max_wait_ms / min_bytes) over [`Store::subscribe`], with
//! partition- and request-level byte limits. No fetch sessions (session id 0).

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse};

use super::topic_name;
use crate::kafka::KafkaState;
use crate::kafka::errors::store_error;
use crate::kafka::records::encode_batch;
use crate::storage::{Store, StoreError};

/// Longest a fetch waits, whatever the client asks.
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most records read for one partition in one fetch.
const MAX_RECORDS: usize = 100_000;

/// One partition to read.
#[derive(Clone, Debug)]
struct Wanted {
    topic: String,
    partition: i32,
    offset: i64,
    max_bytes: usize,
}

/// One partition's answer.
struct Got {
    error: i16,
    high_watermark: i64,
    log_start: i64,
    records: Bytes,
}

fn read_partition(
    store: &Store,
    w: &Wanted,
    budget: usize,
    first: bool,
) -> Result<Got, StoreError> {
    let state = store.partition_state(&w.topic, w.partition)?;
    let (hw, start) = (state.next_offset as i64, state.log_start as i64);
    let mut got = Got {
        error: 0,
        high_watermark: hw,
        log_start: start,
        records: Bytes::new(),
    };
    if w.offset < start || w.offset > hw {
        got.error = ResponseError::OffsetOutOfRange.code();
        return Ok(got);
    }
    if w.offset == hw || (budget == 0 && !first) {
        return Ok(got);
    }
    let limit = w.max_bytes.min(budget.max(1));
    let read = store.read_log(&w.topic, w.partition, w.offset as u64, limit, MAX_RECORDS)?;
    got.records = encode_batch(&read.records).map_err(|e| StoreError::Internal(e.to_string()))?;
    Ok(got)
}

/// Reads every wanted partition once; returns answers and total record bytes.
fn read_all(store: &Store, wanted: &[Wanted], max_bytes: usize) -> (Vec<Got>, usize, bool) {
    let mut total = 0usize;
    let mut any_error = false;
    let out = wanted
        .iter()
        .map(|w| {
            let budget = max_bytes.saturating_sub(total);
            let got = read_partition(store, w, budget, total == 0).unwrap_or_else(|e| {
                if !matches!(e, StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. }) {
                    tracing::warn!(topic = %w.topic, partition = w.partition, error = %e, "fetch failed");
                }
                Got {
                    error: store_error(&e).code(),
                    high_watermark: -1,
                    log_start: -1,
                    records: Bytes::new(),
                }
            });
            total += got.records.len();
            any_error |= got.error != 0;
            got
        })
        .collect();
    (out, total, any_error)
}

/// Partitions asked below the local log start are read from the tier's bucket
/// (one segment's worth); what the bucket does not have stays OffsetOutOfRange.
async fn from_tier(state: &KafkaState, wanted: &[Wanted], answers: Vec<Got>) -> Vec<Got> {
    let Some(tier) = &state.tier else {
        return answers;
    };
    let mut out = Vec::with_capacity(answers.len());
    for (w, mut got) in wanted.iter().zip(answers) {
        if got.error == ResponseError::OffsetOutOfRange.code()
            && w.offset >= 0
            && w.offset < got.log_start
        {
            match tier
                .read_records(&w.topic, w.partition, w.offset as u64, w.max_bytes.max(1))
                .await
            {
                Ok(records) if !records.is_empty() => match encode_batch(&records) {
                    Ok(bytes) => {
                        got.error = 0;
                        got.records = bytes;
                        got.log_start = tier
                            .log_start(&w.topic, w.partition)
                            .map_or(got.log_start, |s| s as i64);
                    }
                    Err(e) => tracing::warn!(error = %e, "fetch: cannot encode tiered records"),
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(topic = %w.topic, partition = w.partition, error = %e, "fetch from the tier failed");
                    got.error = ResponseError::KafkaStorageError.code();
                }
            }
        }
        out.push(got);
    }
    out
}

/// Fetch, waiting up to `max_wait_ms` for `min_bytes` of records.
pub async fn fetch(state: &KafkaState, req: FetchRequest, version: i16) -> FetchResponse {
    let wanted: Vec<Wanted> = req
        .topics
        .iter()
        .flat_map(|t| {
            t.partitions.iter().map(move |p| Wanted {
                topic: t.topic.0.to_string(),
                partition: p.partition,
                offset: p.fetch_offset,
                max_bytes: usize::try_from(p.partition_max_bytes).unwrap_or(0),
            })
        })
        .collect();
    let max_bytes = usize::try_from(req.max_bytes).unwrap_or(0);
    let min_bytes = usize::try_from(req.min_bytes).unwrap_or(0);
    let wait = Duration::from_millis(u64::try_from(req.max_wait_ms).unwrap_or(0)).min(MAX_WAIT);
    let deadline = tokio::time::Instant::now() + wait;
    let mut commits = state.store.subscribe();
    let mut stop = state.shutdown.clone();
    let answers = loop {
        commits.borrow_and_update();
        let w = wanted.clone();
        let read = state
            .store
            .read(move |s| Ok(read_all(s, &w, max_bytes)))
            .await;
        let (answers, total, any_error) = match read {
            Ok(r) => r,
            Err(e) => {
                let code = store_error(&e).code();
                let failed = wanted
                    .iter()
                    .map(|_| Got {
                        error: code,
                        high_watermark: -1,
                        log_start: -1,
                        records: Bytes::new(),
                    })
                    .collect();
                break failed;
            }
        };
        if total >= min_bytes.max(1) || any_error || tokio::time::Instant::now() >= deadline {
            break answers;
        }
        tokio::select! {
            changed = commits.changed() => if changed.is_err() { break answers },
            _ = tokio::time::sleep_until(deadline) => break answers,
            _ = crate::kafka::stopped(&mut stop) => break answers,
        }
    };
    let answers = from_tier(state, &wanted, answers).await;
    let mut resp = FetchResponse::default();
    let mut answers = answers.into_iter();
    for t in req.topics {
        let mut tr = FetchableTopicResponse::default();
        tr.topic = topic_name(t.topic.0.to_string());
        tr.topic_id = t.topic_id;
        for p in t.partitions {
            let Some(got) = answers.next() else { break };
            let mut pd = PartitionData::default();
            pd.partition_index = p.partition;
            pd.error_code = got.error;
            pd.high_watermark = got.high_watermark;
            pd.last_stable_offset = got.high_watermark;
            if version >= 5 {
                pd.log_start_offset = got.log_start;
            }
            pd.aborted_transactions = Some(Vec::new());
            pd.preferred_read_replica = BrokerId(-1);
            pd.records = Some(got.records);
            tr.partitions.push(pd);
        }
        resp.responses.push(tr);
    }
    resp
}
