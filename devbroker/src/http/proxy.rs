//! The HTTP Proxy subset (pandaproxy / Confluent REST v2 shapes): list topics,
//! produce, read records, list brokers.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::AppState;
use super::error::ApiError;
use super::kvstore::parse_partition;
use crate::partitioner::partition_for_key;
use crate::storage::{Record, StoreError, StoredRecord, now_ms};
use crate::tier::TierError;
use crate::wire::b64;
use crate::wire::proxy::{
    BrokersResponse, ConsumedRecord, EmbeddedFormat, PROXY_V2, ProduceOffset, ProduceRequest,
    ProduceResponse,
};

/// Confluent REST error codes for a missing topic or partition.
const TOPIC_NOT_FOUND: i32 = 40401;
const PARTITION_NOT_FOUND: i32 = 40402;

fn proxy_json<T: serde::Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => ([(header::CONTENT_TYPE, PROXY_V2)], bytes).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Proxy endpoints answer 404 for a missing topic or partition, as pandaproxy does.
fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::UnknownTopic(_) => {
            ApiError::new(StatusCode::NOT_FOUND, e.to_string()).with_code(TOPIC_NOT_FOUND)
        }
        StoreError::UnknownPartition { .. } => {
            ApiError::new(StatusCode::NOT_FOUND, e.to_string()).with_code(PARTITION_NOT_FOUND)
        }
        other => other.into(),
    }
}

pub(super) async fn list_topics(State(state): State<AppState>) -> Response {
    let names: Vec<String> = state
        .store
        .topics()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    proxy_json(&names)
}

pub(super) async fn brokers() -> Response {
    proxy_json(&BrokersResponse { brokers: vec![0] })
}

/// Turns an embedded key or value into bytes; JSON `null` (or absent) is `None`.
fn embedded_bytes(
    format: EmbeddedFormat,
    v: Option<Value>,
    what: &str,
    index: usize,
) -> Result<Option<Vec<u8>>, ApiError> {
    match (format, v) {
        (_, None | Some(Value::Null)) => Ok(None),
        (EmbeddedFormat::Binary, Some(Value::String(s))) => {
            b64::decode(&s).map(Some).map_err(|e| {
                ApiError::bad_request(format!("records[{index}].{what} is not valid base64: {e}"))
            })
        }
        (EmbeddedFormat::Binary, Some(_)) => Err(ApiError::bad_request(format!(
            "records[{index}].{what} must be a base64 string in binary.v2"
        ))),
        (EmbeddedFormat::Json, Some(v)) => Ok(Some(v.to_string().into_bytes())),
    }
}

pub(super) async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    super::guard::check_topic(&topic)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let format = EmbeddedFormat::from_media_type(content_type).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "unsupported Content-Type {content_type:?}; use {} or {}",
                EmbeddedFormat::Binary.media_type(),
                EmbeddedFormat::Json.media_type()
            ),
        )
    })?;
    let body = body.map_err(|e| ApiError::new(e.status(), format!("cannot read body: {e}")))?;
    let req: ProduceRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("invalid produce body: {e}")))?;
    let meta = state
        .store
        .topic(&topic)
        .ok_or_else(|| not_found(StoreError::UnknownTopic(topic.clone())))?;
    // Group records by partition, keeping each record's place in the reply.
    let now = now_ms();
    let mut by_partition: BTreeMap<i32, Vec<(usize, Record)>> = BTreeMap::new();
    for (i, r) in req.records.into_iter().enumerate() {
        let key = embedded_bytes(format, r.key, "key", i)?;
        let value = embedded_bytes(format, r.value, "value", i)?;
        let partition = match (r.partition, &key) {
            (Some(p), _) => p,
            (None, Some(k)) => partition_for_key(k, meta.partitions),
            (None, None) => {
                let n = state.round_robin.fetch_add(1, Ordering::Relaxed);
                (n % meta.partitions.max(1) as u32) as i32
            }
        };
        if partition < 0 || partition >= meta.partitions {
            return Err(not_found(StoreError::UnknownPartition {
                topic: topic.clone(),
                partition,
                partitions: meta.partitions,
            }));
        }
        by_partition
            .entry(partition)
            .or_default()
            .push((i, Record::new(now, key, value)));
    }
    let total: usize = by_partition.values().map(Vec::len).sum();
    let mut offsets = vec![ProduceOffset::default(); total];
    let mut appended = false;
    for (partition, records) in by_partition {
        let places: Vec<usize> = records.iter().map(|(i, _)| *i).collect();
        let batch = records.into_iter().map(|(_, r)| r).collect();
        match state.store.append(&topic, partition, batch).await {
            // A fenced broker refuses the whole request (503) while nothing of
            // it was appended; past that, the offsets say which part failed.
            Err(e @ StoreError::Fenced(_)) if !appended => return Err(e.into()),
            Ok(res) => {
                appended = true;
                for (n, place) in places.into_iter().enumerate() {
                    offsets[place] = ProduceOffset {
                        partition,
                        offset: (res.base_offset + n as u64) as i64,
                        error_code: None,
                        error: None,
                    };
                }
            }
            Err(e) => {
                let err = not_found(e);
                for place in places {
                    offsets[place] = ProduceOffset {
                        partition,
                        offset: -1,
                        error_code: Some(err.code),
                        error: Some(err.message.clone()),
                    };
                }
            }
        }
    }
    Ok(proxy_json(&ProduceResponse { offsets }))
}

#[derive(Deserialize)]
pub(super) struct RecordsQuery {
    offset: Option<String>,
    timeout: Option<String>,
    max_bytes: Option<String>,
}

pub(super) fn query_number<T: std::str::FromStr>(
    v: &Option<String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    v.as_deref()
        .map(|s| {
            s.parse::<T>().map_err(|_| {
                ApiError::bad_request(format!(
                    "query parameter {name}={s:?} is not a valid number"
                ))
            })
        })
        .transpose()
}

/// Longest long poll a client may ask for.
pub(super) const MAX_POLL: Duration = Duration::from_secs(30);

pub(super) async fn records(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    Query(q): Query<RecordsQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    super::guard::check_topic(&topic)?;
    let partition = parse_partition(&partition)?;
    let format = match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        None => EmbeddedFormat::Binary,
        Some(accept) => accept
            .split(',')
            .find_map(EmbeddedFormat::from_media_type)
            .unwrap_or(EmbeddedFormat::Binary),
    };
    let offset: i64 = query_number(&q.offset, "offset")?
        .ok_or_else(|| ApiError::bad_request("query parameter offset is required"))?;
    let offset = u64::try_from(offset)
        .map_err(|_| ApiError::bad_request("query parameter offset must not be negative"))?;
    let timeout = Duration::from_millis(query_number::<u64>(&q.timeout, "timeout")?.unwrap_or(0))
        .min(MAX_POLL);
    let max_bytes = query_number::<usize>(&q.max_bytes, "max_bytes")?
        .unwrap_or(1 << 20)
        .max(1);
    state
        .store
        .partition(&topic, partition)
        .map_err(not_found)?;

    // Below the local log start, records come from the tier's bucket.
    if let Some(tier) = &state.tier {
        let t = topic.clone();
        let local = state
            .store
            .read(move |s| s.partition_state(&t, partition))
            .await
            .map_err(not_found)?;
        if offset < local.log_start {
            let records = tier
                .read_records(&topic, partition, offset, max_bytes)
                .await
                .map_err(tier_error)?;
            if !records.is_empty() {
                let out = records
                    .into_iter()
                    .map(|r| consumed(&topic, partition, format, r))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok(
                    ([(header::CONTENT_TYPE, format.media_type())], Json(out)).into_response()
                );
            }
        }
    }

    let deadline = tokio::time::Instant::now() + timeout;
    let mut commits = state.store.subscribe();
    let read = loop {
        commits.borrow_and_update();
        let t = topic.clone();
        let read = state
            .store
            .read(move |s| s.read_log(&t, partition, offset, max_bytes, 10_000))
            .await
            .map_err(not_found)?;
        if !read.records.is_empty() || tokio::time::Instant::now() >= deadline {
            break read;
        }
        let mut stopping = state.stopping.clone();
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, commits.changed()) => {
                if changed.is_err() {
                    break read;
                }
            }
            _ = stopped(&mut stopping) => break read,
        }
    };
    let out = read
        .records
        .into_iter()
        .map(|r| consumed(&topic, partition, format, r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(([(header::CONTENT_TYPE, format.media_type())], Json(out)).into_response())
}

/// A failed read from the tier: a corrupt object is a 502 naming it (never data),
/// an unreachable bucket a 503.
pub(super) fn tier_error(e: TierError) -> ApiError {
    match e {
        TierError::Corrupt { .. } => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
        other => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("cannot read from tiered storage: {other}"),
        ),
    }
}

pub(super) fn consumed(
    topic: &str,
    partition: i32,
    format: EmbeddedFormat,
    r: StoredRecord,
) -> Result<ConsumedRecord, ApiError> {
    let offset = r.offset;
    let embed = |bytes: Option<Vec<u8>>| -> Result<Value, ApiError> {
        match (format, bytes) {
            (_, None) => Ok(Value::Null),
            (EmbeddedFormat::Binary, Some(b)) => Ok(Value::String(b64::encode(&b))),
            (EmbeddedFormat::Json, Some(b)) => serde_json::from_slice(&b).map_err(|_| {
                ApiError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    format!(
                        "record at offset {offset} is not JSON; read it with Accept: {}",
                        EmbeddedFormat::Binary.media_type()
                    ),
                )
            }),
        }
    };
    Ok(ConsumedRecord {
        topic: topic.to_string(),
        key: embed(r.record.key)?,
        value: embed(r.record.value)?,
        partition,
        offset: offset as i64,
        timestamp: Some(r.record.timestamp),
    })
}

/// Completes once the broker is stopping; never if nobody can stop it.
pub(super) async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    if stopping.wait_for(|s| *s).await.is_err() {
        std::future::pending::<()>().await;
    }
}
