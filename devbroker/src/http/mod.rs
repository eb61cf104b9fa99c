//! The HTTP listener: the kvstore API, the HTTP Proxy subset, readiness and metrics.

pub mod auth;
mod codec;
pub mod consumer;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod guard;
mod kvstore;
mod proxy;
#[cfg(test)]
mod tests;
pub mod tls;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::storage::Store;
use crate::tier::Tier;
use error::ApiError;

/// State shared by the handlers.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Round-robin counter for produce requests without key or partition.
    pub round_robin: Arc<AtomicU32>,
    /// Set once the broker serves; `/status/ready` answers 503 before.
    pub ready: Arc<AtomicBool>,
    /// Tiered storage, when on: fetches below the local log start, status.
    pub tier: Option<Tier>,
    /// Turns true when the broker shuts down, so long polls end at once.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// The consumer API's instances, members of the broker's groups.
    pub consumers: consumer::Consumers,
    /// Served over TLS (consumer instances' `base_uri` say `https`).
    pub https: bool,
}

impl AppState {
    pub fn new(store: Store) -> Self {
        AppState {
            round_robin: Arc::new(AtomicU32::new(0)),
            ready: Arc::new(AtomicBool::new(true)),
            tier: None,
            stopping: tokio::sync::watch::channel(false).1,
            consumers: consumer::Consumers::new(
                Arc::new(crate::kafka::groups::GroupCoordinator::in_memory(
                    store.metrics().clone(),
                )),
                consumer::ConsumerConfig::default(),
            ),
            https: false,
            store,
        }
    }

    /// Consumer instances join the groups of `consumers`' coordinator (the
    /// Kafka listener's; its timer must run for groups to make progress).
    pub fn with_consumers(mut self, consumers: consumer::Consumers) -> Self {
        self.consumers = consumers;
        self
    }

    /// Instances' `base_uri` say `https`.
    pub fn with_https(mut self, https: bool) -> Self {
        self.https = https;
        self
    }

    pub fn with_tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Ends long polls when `stopping` turns true.
    pub fn with_stopping(mut self, stopping: tokio::sync::watch::Receiver<bool>) -> Self {
        self.stopping = stopping;
        self
    }
}

/// The whole HTTP API.
pub fn router(state: AppState, max_request_bytes: usize) -> Router {
    router_with_timeout(
        state,
        max_request_bytes,
        std::time::Duration::from_millis(crate::defaults::REQUEST_TIMEOUT_MS),
    )
}

/// The whole HTTP API; a request (body read and handler) taking longer than
/// `request_timeout` gets a 408.
pub fn router_with_timeout(
    state: AppState,
    max_request_bytes: usize,
    request_timeout: std::time::Duration,
) -> Router {
    Router::new()
        .route(
            "/kvstore/{topic}/partition/{partition}/write",
            post(kvstore::write),
        )
        .route(
            "/kvstore/{topic}/partition/{partition}/batch_get",
            post(kvstore::batch_get),
        )
        .route(
            "/kvstore/{topic}/partition/{partition}/scan",
            post(kvstore::scan),
        )
        .route("/topics", get(proxy::list_topics))
        .route("/topics/{topic}", post(proxy::produce))
        .route(
            "/topics/{topic}/partitions/{partition}/records",
            get(proxy::records),
        )
        .route("/brokers", get(proxy::brokers))
        .route("/status/ready", get(ready))
        .route("/status/tier", get(tier_status))
        .route("/metrics", get(metrics))
        .merge(consumer::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_request_bytes))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(middleware::from_fn(guard::json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        Json(serde_json::json!({"status": "ready"})).into_response()
    } else {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "starting up").into_response()
    }
}

/// Per-partition tiering status: log start, high watermark, last uploaded
/// offset, upload lag, last snapshot offset.
async fn tier_status(State(state): State<AppState>) -> Response {
    match &state.tier {
        Some(tier) => Json(tier.status().await).into_response(),
        None => ApiError::new(StatusCode::NOT_FOUND, "tiered storage is off").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    // Consumer lag is computed now, from the committed offsets and the logs.
    state
        .consumers
        .coordinator()
        .refresh_lag_metrics(&state.store)
        .await;
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.store.metrics().render(),
    )
        .into_response()
}

async fn not_found(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!("no endpoint {} {}", req.method(), req.uri().path()),
    )
}

async fn method_not_allowed(req: Request) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "method {} is not allowed on {}",
            req.method(),
            req.uri().path()
        ),
    )
}

/// Counts requests and their latency by route.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let resp = next.run(req).await;
    let m = state.store.metrics();
    m.http_latency
        .with_label_values(&[route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    m.http_requests
        .with_label_values(&[route.as_str(), resp.status().as_str()])
        .inc();
    resp
}
