//! Creating and deleting instances, their subscriptions and assignments.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::body::{self, Assignments, CreateRequest, CreateResponse, Partition, Subscription};
use super::instance::{self, Instance, MemberCtx, Reset};
use super::{Consumers, InsertError};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::wire::proxy::{EmbeddedFormat, PROXY_V2};

/// The default of `consumer.request.timeout.ms` (Confluent's).
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(1_000);

/// A JSON answer in `application/vnd.kafka.v2+json`.
pub(super) fn v2_json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, PROXY_V2)], bytes).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(super) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// The instance, or 404 with Confluent's 40403.
pub(super) fn instance(
    consumers: &Consumers,
    group: &str,
    name: &str,
) -> Result<Arc<Instance>, ApiError> {
    consumers.get(group, name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Consumer instance not found: {name} in group {group}"),
        )
        .with_code(body::INSTANCE_NOT_FOUND)
    })
}

/// Reads an optional JSON body: empty is `None`; a body must be JSON in
/// `application/vnd.kafka.v2+json` (or `application/json`).
pub(super) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    what: &str,
) -> Result<Option<T>, ApiError> {
    let body = body.map_err(|e| ApiError::new(e.status(), format!("cannot read body: {e}")))?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case(PROXY_V2) && !media.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported Content-Type {ct:?}; send {what} as {PROXY_V2}"),
        ));
    }
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::bad_request(format!("invalid {what}: {e}")))
}

/// Group and instance names follow the topic-name rules, so they are safe
/// in a URL without escaping.
fn check_name(kind: &str, name: &str) -> Result<(), ApiError> {
    crate::config::validate_topic_name(name).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid {kind} name {name:?}: {e} (1-249 of a-z A-Z 0-9 . _ -)"
        ))
    })
}

fn invalid_config(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_code(body::INVALID_CONFIG)
}

/// `POST /consumers/{group}`.
pub(super) async fn create(
    State(state): State<AppState>,
    Path(group): Path<String>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    check_name("group", &group)?;
    let req: CreateRequest = json_body(&headers, raw, "the consumer config")?.unwrap_or_default();
    let consumers = &state.consumers;
    let name = match req.name {
        Some(n) => {
            check_name("instance", &n)?;
            n
        }
        None => consumers.fresh_name(),
    };
    let format = match req.format.as_deref().unwrap_or("binary") {
        "binary" => EmbeddedFormat::Binary,
        "json" => EmbeddedFormat::Json,
        other => {
            return Err(invalid_config(format!(
                "format {other:?} is not supported; use \"binary\" or \"json\""
            )));
        }
    };
    let reset = match req.auto_offset_reset.as_deref().unwrap_or("latest") {
        "earliest" | "smallest" => Reset::Earliest,
        "latest" | "largest" => Reset::Latest,
        other => {
            return Err(invalid_config(format!(
                "auto.offset.reset {other:?} is not supported; use \"earliest\" or \"latest\""
            )));
        }
    };
    let auto_commit = body::flag(&req.auto_commit_enable, "auto.commit.enable")
        .map_err(invalid_config)?
        .unwrap_or(false);
    body::number(&req.fetch_min_bytes, "fetch.min.bytes").map_err(invalid_config)?;
    let request_timeout = body::number(&req.request_timeout_ms, "consumer.request.timeout.ms")
        .map_err(invalid_config)?
        .map_or(DEFAULT_REQUEST_TIMEOUT, Duration::from_millis);
    let inst = Arc::new(Instance::new(
        group.clone(),
        name.clone(),
        format,
        reset,
        auto_commit,
        request_timeout,
        consumers.config().idle_timeout,
    ));
    match consumers.insert(inst.clone()) {
        Ok(()) => {}
        Err(InsertError::Exists) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Consumer instance with the specified name already exists: {name} in group {group}"),
            )
            .with_code(body::INSTANCE_EXISTS));
        }
        Err(InsertError::Full) => {
            let max = consumers.config().max_instances;
            tracing::warn!(
                max,
                "HTTP consumer instance refused: the broker holds its maximum"
            );
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "the broker holds {max} consumer instances already; delete unused ones (DELETE /consumers/{{group}}/instances/{{instance}}) or let idle ones expire"
                ),
            ));
        }
    }
    let registry = consumers.clone();
    let me = inst.clone();
    let ctx = MemberCtx {
        coordinator: consumers.coordinator().clone(),
        store: state.store.clone(),
        stopping: state.stopping.clone(),
        on_idle: Box::new(move || {
            registry.remove(&me);
        }),
    };
    tokio::spawn(instance::run(inst, ctx));
    let scheme = if state.https { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    tracing::debug!(%group, instance = %name, "HTTP consumer instance created");
    Ok(v2_json(
        StatusCode::OK,
        &CreateResponse {
            base_uri: format!("{scheme}://{host}/consumers/{group}/instances/{name}"),
            instance_id: name,
        },
    ))
}

/// `DELETE /consumers/{group}/instances/{instance}`: leaves the group (an
/// auto-commit instance commits what it fetched first).
pub(super) async fn delete(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    if inst.auto_commit {
        let _ = super::fetch::commit_positions(&state, &inst).await;
    }
    state.consumers.remove(&inst);
    inst.deleted.send_replace(true);
    Ok(no_content())
}

/// `POST .../subscription`: `{"topics": [...]}`; replaces the subscription.
pub(super) async fn subscribe(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    let sub: Subscription = json_body(&headers, raw, "the subscription")?.ok_or_else(|| {
        ApiError::bad_request("the subscription needs a body: {\"topics\": [...]}")
    })?;
    if sub.topic_pattern.is_some() {
        return Err(ApiError::bad_request(
            "topic_pattern is not supported; name the topics in \"topics\"",
        ));
    }
    if sub.topics.is_empty() {
        return Err(ApiError::bad_request(
            "\"topics\" is empty; name at least one topic (DELETE the subscription to unsubscribe)",
        ));
    }
    for t in &sub.topics {
        crate::http::guard::check_topic(t)?;
    }
    let mut topics = sub.topics;
    topics.sort();
    topics.dedup();
    inst.subscription.send_if_modified(|cur| {
        let changed = *cur != topics;
        *cur = topics;
        changed
    });
    Ok(no_content())
}

/// `GET .../subscription`.
pub(super) async fn subscription(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    let topics = inst.subscription.borrow().clone();
    Ok(v2_json(
        StatusCode::OK,
        &Subscription {
            topics,
            topic_pattern: None,
        },
    ))
}

/// `DELETE .../subscription`: leaves the group, keeps the instance.
pub(super) async fn unsubscribe(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    inst.subscription.send_if_modified(|cur| {
        let changed = !cur.is_empty();
        cur.clear();
        changed
    });
    Ok(no_content())
}

/// `GET .../assignments`: the partitions the group gave this instance
/// (none while it rebalances).
pub(super) async fn assignments(
    State(state): State<AppState>,
    Path((group, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let inst = instance(&state.consumers, &group, &name)?;
    let partitions = inst
        .assignment
        .borrow()
        .partitions
        .iter()
        .map(|(topic, partition)| Partition {
            topic: topic.clone(),
            partition: *partition,
        })
        .collect();
    Ok(v2_json(StatusCode::OK, &Assignments { partitions }))
}
