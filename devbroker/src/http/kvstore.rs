//! `POST /kvstore/{topic}/partition/{partition}/write | batch_get | scan`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::de::DeserializeOwned;

use super::AppState;
use super::codec::{self, Encoding};
use super::error::ApiError;
use crate::storage::{StoreError, check_key};
use crate::wire::kvstore::{
    Entry, GetRequest, GetResponse, LookupResult, ScanRequest, ScanResponse, WriteRequest,
    WriteResponse,
};
use crate::wire::{DEFAULT_SCAN_LIMIT, MAX_KEY_BYTES, MAX_SCAN_LIMIT};

/// Parses the partition segment of a path.
pub(super) fn parse_partition(raw: &str) -> Result<i32, ApiError> {
    raw.parse::<i32>().map_err(|_| {
        ApiError::bad_request(format!(
            "partition {raw:?} is not a number; use a partition id such as 0"
        ))
    })
}

/// A decoded kvstore request for an existing kvstore partition.
struct KvRequest<T> {
    topic: String,
    partition: i32,
    body: T,
    /// The encoding of the reply.
    reply: Encoding,
}

/// What every kvstore endpoint does first: parse the path, decode the body in
/// the request's encoding, and check that the partition exists and is a kvstore.
fn kv_request<T>(
    state: &AppState,
    (topic, partition): (String, String),
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<KvRequest<T>, ApiError>
where
    T: DeserializeOwned + prost::Message + Default,
{
    super::guard::check_topic(&topic)?;
    let partition = parse_partition(&partition)?;
    let enc = Encoding::of_request(headers);
    let body = codec::decode(enc, body)?;
    state.store.kv_partition(&topic, partition)?;
    Ok(KvRequest {
        topic,
        partition,
        body,
        reply: Encoding::of_reply(headers, enc),
    })
}

pub(super) async fn write(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: KvRequest<WriteRequest> = kv_request(&state, path, &headers, body)?;
    state
        .store
        .kv_write(&req.topic, req.partition, req.body)
        .await?;
    Ok(codec::encode(req.reply, &WriteResponse {}))
}

pub(super) async fn batch_get(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let req: KvRequest<GetRequest> = kv_request(&state, path, &headers, body)?;
    for key in &req.body.keys {
        check_key(key)?;
    }
    let KvRequest {
        topic,
        partition,
        body,
        reply,
    } = req;
    let (keys, values) = state
        .store
        .read(move |s| {
            let values = s.kv_get(&topic, partition, &body.keys)?;
            Ok::<_, StoreError>((body.keys, values))
        })
        .await?;
    let results = keys
        .into_iter()
        .zip(values)
        .map(|(key, value)| LookupResult { key, value })
        .collect();
    Ok(codec::encode(reply, &GetResponse { results }))
}

pub(super) async fn scan(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let KvRequest {
        topic,
        partition,
        body,
        reply,
    }: KvRequest<ScanRequest> = kv_request(&state, path, &headers, body)?;
    for key in body.start_key.iter().chain(body.end_key.iter()) {
        if key.len() > MAX_KEY_BYTES {
            return Err(ApiError::bad_request(format!(
                "scan bound too large: {} bytes > {MAX_KEY_BYTES}",
                key.len()
            )));
        }
    }
    // Redpanda: a limit of 0 or less (or none) means the default; more than the maximum is clamped.
    let limit = match body.limit {
        l if l <= 0 => DEFAULT_SCAN_LIMIT,
        l => l.min(MAX_SCAN_LIMIT),
    } as usize;
    let entries = state
        .store
        .read(move |s| {
            s.kv_scan(
                &topic,
                partition,
                body.start_key.as_deref(),
                body.end_key.as_deref(),
                limit,
            )
        })
        .await?
        .into_iter()
        .map(|(key, value)| Entry { key, value })
        .collect();
    Ok(codec::encode(reply, &ScanResponse { entries }))
}
