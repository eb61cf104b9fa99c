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
use crate::storage::{Store, StoreError, check_key};
use crate::wire::b64;
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
    if reply == Encoding::Json {
        let body = state
            .store
            .read(move |s| json_results(s, &topic, partition, &body.keys))
            .await?;
        return Ok(codec::json_response(body));
    }
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
    if reply == Encoding::Json {
        let body = state
            .store
            .read(move |s| json_entries(s, &topic, partition, &body, limit))
            .await?;
        return Ok(codec::json_response(body));
    }
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

/// The Proto-JSON batch_get reply, written straight from the read transaction
/// (no copies of values, base64 encoded in place): byte for byte what serde
/// writes for a [`GetResponse`].
fn json_results(
    s: &Store,
    topic: &str,
    partition: i32,
    keys: &[Vec<u8>],
) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(32 + keys.len() * 384);
    out.extend_from_slice(b"{\"results\":[");
    let mut first = true;
    s.kv_get_with(topic, partition, keys, |key, value| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":\"");
        b64::encode_into_vec(key, &mut out);
        out.push(b'"');
        if let Some(value) = value {
            out.extend_from_slice(b",\"value\":\"");
            b64::encode_into_vec(value, &mut out);
            out.push(b'"');
        }
        out.push(b'}');
    })?;
    out.extend_from_slice(b"]}");
    Ok(out)
}

/// The Proto-JSON scan reply, written straight from the read transaction:
/// byte for byte what serde writes for a [`ScanResponse`].
fn json_entries(
    s: &Store,
    topic: &str,
    partition: i32,
    req: &ScanRequest,
    limit: usize,
) -> Result<Vec<u8>, StoreError> {
    let mut out = Vec::with_capacity(32 + limit.min(1024) * 384);
    out.extend_from_slice(b"{\"entries\":[");
    let mut first = true;
    s.kv_scan_with(
        topic,
        partition,
        req.start_key.as_deref(),
        req.end_key.as_deref(),
        limit,
        |key, value| {
            if !std::mem::take(&mut first) {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"key\":\"");
            b64::encode_into_vec(key, &mut out);
            out.extend_from_slice(b"\",\"value\":\"");
            b64::encode_into_vec(value, &mut out);
            out.extend_from_slice(b"\"}");
        },
    )?;
    out.extend_from_slice(b"]}");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TopicSpec;
    use crate::storage::StoreOptions;
    use crate::wire::kvstore::Put;

    /// The streamed replies are byte for byte what serde writes.
    #[tokio::test]
    async fn streamed_json_equals_serde() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let spec: TopicSpec = "t:1".parse().unwrap();
        store
            .create_topic(&spec.name, spec.partitions, spec.config)
            .await
            .unwrap();
        let puts = [
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), Vec::new()),
            (vec![0xff; 600], vec![0u8, 1, 2, 254]),
        ]
        .into_iter()
        .map(|(key, value)| Put {
            key,
            value,
            precondition: None,
        })
        .collect();
        let batch = WriteRequest {
            puts,
            deletes: vec![],
        };
        store.kv_write("t", 0, batch).await.unwrap();

        let keys = vec![
            b"b".to_vec(),
            b"zz".to_vec(),
            vec![0xff; 600],
            b"a".to_vec(),
        ];
        let values = store.kv_get("t", 0, &keys).unwrap();
        let results = keys
            .iter()
            .cloned()
            .zip(values)
            .map(|(key, value)| LookupResult { key, value })
            .collect();
        assert_eq!(
            json_results(&store, "t", 0, &keys).unwrap(),
            serde_json::to_vec(&GetResponse { results }).unwrap()
        );
        assert_eq!(
            json_results(&store, "t", 0, &[]).unwrap(),
            serde_json::to_vec(&GetResponse { results: vec![] }).unwrap()
        );

        for (start, limit) in [
            (None, 1000),
            (Some(b"b".to_vec()), 1),
            (Some(vec![0xfe]), 5),
        ] {
            let req = ScanRequest {
                start_key: start.clone(),
                end_key: None,
                limit: 0,
            };
            let entries = store
                .kv_scan("t", 0, start.as_deref(), None, limit)
                .unwrap()
                .into_iter()
                .map(|(key, value)| Entry { key, value })
                .collect();
            assert_eq!(
                json_entries(&store, "t", 0, &req, limit).unwrap(),
                serde_json::to_vec(&ScanResponse { entries }).unwrap()
            );
        }
    }
}
