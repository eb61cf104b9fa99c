//! Fetching records of an instance's partitions, committing offsets and
//! reading committed ones.
//!
//! An instance reads each assigned partition from its position: where the
//! last fetch stopped, else the group's committed offset, else the log start
//! (`auto.offset.reset=earliest`) or end (`latest`). Positions are dropped
//! when the assignment changes, so a partition that comes back starts again
//! from the committed offset, as a Kafka consumer does after a rebalance.
//! Committed offsets are Kafka's: the offset of the next record to read.
//! Positions below the local log start are read from the tier's bucket.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kafka_protocol::ResponseError;
use serde::Deserialize;

use super::body::{self, Offset, Offsets, OffsetsQuery};
use super::handlers::{instance, json_body, no_content, v2_json};
use super::instance::{Assignment, Instance, Reset};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::proxy::{MAX_POLL, consumed, query_number, stopped, tier_error};
use crate::kafka::groups::{CommittedOffset, TopicPartition};
use crate::storage::{StoreError, now_ms};
use crate::wire::proxy::{ConsumedRecord, EmbeddedFormat};

/// Records one fetch returns at most.
const MAX_RECORDS: usize = 10_000;
/// The default of `max_bytes`.
const DEFAULT_MAX_BYTES: usize = 1 << 20;

#[derive(Deserialize)]
pub(super) struct RecordsQuery {
    timeout: Option<String>,
    max_bytes: Option<String>,
}

/// The Accept header must ask for the instance's format (or anything).
fn check_accept(headers: &HeaderMap, format: EmbeddedFormat) -> Result<(), ApiError> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let asked: Vec<EmbeddedFormat> = accept
        .split(',')
        .filter_map(EmbeddedFormat::from_media_type)
        .collect();
    if asked.is_empty() || asked.contains(&format) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        format!(
            "The requested embedded data format does not match the deserializer for this consumer instance; read with Accept: {}",
            format.media_type()
        ),
    )
    .with_code(body::FORMAT_MISMATCH))
}

/// `GET .../records?timeout=MS&max_bytes=N`: long-polls up to `timeout`
/// (default `consumer.request.timeout.ms`, at most 30 s) for records of the
/// assigned partitions, waiting for an assignment too.
pub(super) async fn records(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    Query(q): Query<RecordsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    check_accept(&headers, inst.format)?;
    let timeout = query_number::<u64>(&q.timeout, "timeout")?
        .map_or(inst.request_timeout, Duration::from_millis)
        .min(MAX_POLL);
    let max_bytes = query_number::<usize>(&q.max_bytes, "max_bytes")?
        .unwrap_or(DEFAULT_MAX_BYTES)
        .max(1);
    if inst.auto_commit {
        // Kafka's auto commit: what earlier polls returned is committed on
        // the next poll (a failure is retried then).
        let _ = commit_positions(&state, &inst).await;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut commits = state.store.subscribe();
    let mut assigned = inst.assignment.subscribe();
    let read = loop {
        commits.borrow_and_update();
        let a = assigned.borrow_and_update().clone();
        let read = read_assigned(&state, &inst, &a, max_bytes).await?;
        if !read.is_empty() || tokio::time::Instant::now() >= deadline {
            break read;
        }
        let mut stopping = state.stopping.clone();
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, commits.changed()) => {
                if changed.is_err() {
                    break read;
                }
            }
            _ = assigned.changed() => {}
            _ = stopped(&mut stopping) => break read,
        }
    };
    inst.touch();
    Ok((
        [(header::CONTENT_TYPE, inst.format.media_type())],
        axum::Json(read),
    )
        .into_response())
}

/// Reads from the position of every assigned partition, up to `max_bytes`
/// in all, and moves the positions past what it returns.
async fn read_assigned(
    state: &AppState,
    inst: &Instance,
    a: &Assignment,
    max_bytes: usize,
) -> Result<Vec<ConsumedRecord>, ApiError> {
    if a.partitions.is_empty() {
        return Ok(Vec::new());
    }
    let mut positions = inst.positions.lock().await;
    if positions.0 != a.generation {
        *positions = (a.generation, BTreeMap::new());
    }
    // Committed offsets for partitions without a position (in memory).
    let mut start: Vec<(String, i32, Option<u64>)> = Vec::new();
    for (topic, p) in &a.partitions {
        let pos = match positions.1.get(&(topic.clone(), *p)) {
            Some(pos) => Some(*pos),
            None => committed(state, &inst.group, topic, *p).and_then(|o| u64::try_from(o).ok()),
        };
        start.push((topic.clone(), *p, pos));
    }
    let reset = inst.reset;
    let tiered = state.tier.is_some();
    // Kafka's earliest is the bucket's log start when the tier holds more
    // than the local log (as ListOffsets answers).
    let tier_starts: BTreeMap<(String, i32), u64> = match &state.tier {
        Some(tier) if reset == Reset::Earliest => start
            .iter()
            .filter(|(_, _, pos)| pos.is_none())
            .filter_map(|(t, p, _)| Some(((t.clone(), *p), tier.log_start(t, *p)?)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let read = state
        .store
        .read(move |s| {
            let mut budget = max_bytes;
            let mut out = Vec::new();
            let mut moved = Vec::new();
            // Positions below the local log start, read from the tier below.
            let mut below = Vec::new();
            for (topic, p, pos) in start {
                let from = match pos {
                    Some(pos) => pos,
                    None => match s.partition_state(&topic, p) {
                        Ok(st) if reset == Reset::Earliest => tier_starts
                            .get(&(topic.clone(), p))
                            .map_or(st.log_start, |t| st.log_start.min(*t)),
                        Ok(st) => st.next_offset,
                        // Deleted since the assignment: nothing to read.
                        Err(StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. }) => {
                            continue;
                        }
                        Err(e) => return Err(e),
                    },
                };
                if budget == 0 || out.len() >= MAX_RECORDS {
                    moved.push((topic, p, from));
                    continue;
                }
                if tiered
                    && let Ok(st) = s.partition_state(&topic, p)
                    && from < st.log_start
                {
                    below.push((topic, p, from, st.log_start));
                    continue;
                }
                let log = match s.read_log(&topic, p, from, budget, MAX_RECORDS - out.len()) {
                    Ok(log) => log,
                    Err(StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. }) => {
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let next = log
                    .records
                    .last()
                    .map_or(from.max(log.log_start), |r| r.offset + 1);
                for r in log.records {
                    budget = budget.saturating_sub(r.record.wire_size());
                    out.push((topic.clone(), p, r));
                }
                moved.push((topic, p, next));
            }
            Ok((out, moved, below, budget))
        })
        .await
        .map_err(ApiError::from)?;
    let (mut records, mut moved, below, budget) = read;
    // Below the local log start, records come from the tier's bucket, as for
    // the records endpoint; if the bucket has none there, the partition goes
    // on from the local log start.
    if let Some(tier) = &state.tier {
        for (topic, p, from, local_start) in below {
            let got = tier
                .read_records(&topic, p, from, budget.max(1))
                .await
                .map_err(tier_error)?;
            let next = got.last().map_or(local_start, |r| r.offset + 1);
            records.extend(got.into_iter().map(|r| (topic.clone(), p, r)));
            moved.push((topic, p, next));
        }
    }
    // A record the format cannot show fails the fetch without moving on.
    let records = records
        .into_iter()
        .map(|(topic, partition, r)| consumed(&topic, partition, inst.format, r))
        .collect::<Result<Vec<_>, _>>()?;
    for (topic, p, next) in moved {
        positions.1.insert((topic, p), next);
    }
    Ok(records)
}

/// The group's committed offset of a partition, if the topic is still the
/// one it was committed for.
fn committed(state: &AppState, group: &str, topic: &str, partition: i32) -> Option<i64> {
    let meta = state.store.topic(topic)?;
    let c = state
        .consumers
        .coordinator()
        .committed(group, &TopicPartition::new(topic, partition))?;
    (c.topic_id == meta.id && c.offset >= 0).then_some(c.offset)
}

/// Commits what the instance fetched (its positions in its partitions).
pub(super) async fn commit_positions(state: &AppState, inst: &Instance) -> Result<(), ApiError> {
    let a = inst.assignment.borrow().clone();
    let offsets: Vec<Offset> = {
        let positions = inst.positions.lock().await;
        if positions.0 != a.generation {
            Vec::new()
        } else {
            positions
                .1
                .iter()
                .filter(|(tp, _)| a.partitions.contains(*tp))
                .map(|((topic, partition), pos)| Offset {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *pos as i64,
                    metadata: String::new(),
                })
                .collect()
        }
    };
    commit_offsets(state, inst, &a, offsets).await
}

async fn commit_offsets(
    state: &AppState,
    inst: &Instance,
    a: &Assignment,
    offsets: Vec<Offset>,
) -> Result<(), ApiError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    let mut out = Vec::with_capacity(offsets.len());
    for o in offsets {
        crate::http::guard::check_topic(&o.topic)?;
        let meta = state.store.partition(&o.topic, o.partition).map_err(|e| {
            ApiError::new(StatusCode::NOT_FOUND, e.to_string()).with_code(body::TOPIC_NOT_FOUND)
        })?;
        if o.offset < 0 {
            return Err(ApiError::bad_request(format!(
                "offset {} of {}/{} is negative",
                o.offset, o.topic, o.partition
            )));
        }
        out.push((
            TopicPartition::new(o.topic, o.partition),
            CommittedOffset {
                offset: o.offset,
                leader_epoch: -1,
                metadata: o.metadata,
                commit_ms: now,
                topic_id: meta.id,
            },
        ));
    }
    // Not a member (no subscription): a standalone commit, which the
    // coordinator takes only while the group has no members.
    let (generation, member) = if a.generation >= 0 {
        (a.generation, a.member_id.as_str())
    } else {
        (-1, "")
    };
    state
        .consumers
        .coordinator()
        .commit(&inst.group, generation, member, None, out)
        .await
        .map_err(|e| commit_error(&inst.group, e))
}

fn commit_error(group: &str, e: ResponseError) -> ApiError {
    use ResponseError as E;
    match e {
        E::RebalanceInProgress | E::IllegalGeneration | E::UnknownMemberId => ApiError::new(
            StatusCode::CONFLICT,
            format!("the commit was refused ({e:?}): group {group} is rebalancing or this instance has no assignment; fetch again and commit the new positions"),
        )
        .with_code(body::REBALANCING),
        E::OffsetMetadataTooLarge => ApiError::bad_request("offset metadata is too large (4096 bytes at most)"),
        other => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the commit failed ({other:?}); retry"),
        ),
    }
}

/// `POST .../offsets`: commits the offsets given, or with no body every
/// position the instance fetched to.
pub(super) async fn commit(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    match json_body::<Offsets>(&headers, raw, "the offsets")? {
        None => commit_positions(&state, &inst).await?,
        Some(o) => {
            let a = inst.assignment.borrow().clone();
            commit_offsets(&state, &inst, &a, o.offsets).await?
        }
    }
    Ok(no_content())
}

/// `GET .../offsets` with `{"partitions": [...]}`: the group's committed
/// offsets (-1 where none).
pub(super) async fn committed_offsets(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    let q: OffsetsQuery = json_body(&headers, raw, "the partitions")?.ok_or_else(|| {
        ApiError::bad_request(
            "name the partitions: {\"partitions\": [{\"topic\": ..., \"partition\": ...}]}",
        )
    })?;
    let offsets = q
        .partitions
        .into_iter()
        .map(|p| {
            let c = state
                .consumers
                .coordinator()
                .committed(&inst.group, &TopicPartition::new(&p.topic, p.partition));
            let live = state.store.topic(&p.topic).map(|m| m.id);
            let (offset, metadata) = match c {
                Some(c) if Some(c.topic_id) == live => (c.offset, c.metadata),
                _ => (-1, String::new()),
            };
            Offset {
                topic: p.topic,
                partition: p.partition,
                offset,
                metadata,
            }
        })
        .collect();
    Ok(v2_json(StatusCode::OK, &Offsets { offsets }))
}
