//! `POST /kvstore/{topic}/partition/{partition}/write | batch_get | scan`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::AppState;
use super::codec::{self, Encoding};
use super::error::ApiError;
use crate::storage::StoreError;
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

fn check_key(key: &[u8]) -> Result<(), ApiError> {
    if key.is_empty() {
        return Err(ApiError::bad_request("key must not be empty"));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::bad_request(format!(
            "key too large: {} bytes > {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

pub(super) async fn write(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let partition = parse_partition(&partition)?;
    let enc = Encoding::of_request(&headers);
    let req: WriteRequest = codec::decode(enc, body)?;
    state.store.kv_partition(&topic, partition)?;
    state.store.kv_write(&topic, partition, req).await?;
    Ok(codec::encode(
        Encoding::of_reply(&headers, enc),
        &WriteResponse {},
    ))
}

pub(super) async fn batch_get(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let partition = parse_partition(&partition)?;
    let enc = Encoding::of_request(&headers);
    let req: GetRequest = codec::decode(enc, body)?;
    state.store.kv_partition(&topic, partition)?;
    for key in &req.keys {
        check_key(key)?;
    }
    let keys = req.keys;
    let (keys, values) = state
        .store
        .read(move |s| {
            let values = s.kv_get(&topic, partition, &keys)?;
            Ok::<_, StoreError>((keys, values))
        })
        .await?;
    let results = keys
        .into_iter()
        .zip(values)
        .map(|(key, value)| LookupResult { key, value })
        .collect();
    Ok(codec::encode(
        Encoding::of_reply(&headers, enc),
        &GetResponse { results },
    ))
}

pub(super) async fn scan(
    State(state): State<AppState>,
    Path((topic, partition)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let partition = parse_partition(&partition)?;
    let enc = Encoding::of_request(&headers);
    let req: ScanRequest = codec::decode(enc, body)?;
    state.store.kv_partition(&topic, partition)?;
    for key in req.start_key.iter().chain(req.end_key.iter()) {
        if key.len() > MAX_KEY_BYTES {
            return Err(ApiError::bad_request(format!(
                "scan bound too large: {} bytes > {MAX_KEY_BYTES}",
                key.len()
            )));
        }
    }
    // Redpanda: a limit of 0 or less (or none) means the default; more than the maximum is clamped.
    let limit = match req.limit {
        l if l <= 0 => DEFAULT_SCAN_LIMIT,
        l => l.min(MAX_SCAN_LIMIT),
    } as usize;
    let entries = state
        .store
        .read(move |s| {
            s.kv_scan(
                &topic,
                partition,
                req.start_key.as_deref(),
                req.end_key.as_deref(),
                limit,
            )
        })
        .await?
        .into_iter()
        .map(|(key, value)| Entry { key, value })
        .collect();
    Ok(codec::encode(
        Encoding::of_reply(&headers, enc),
        &ScanResponse { entries },
    ))
}
