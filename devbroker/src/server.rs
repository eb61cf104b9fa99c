//! `devbroker serve`: opens the store, creates preset topics, serves HTTP, runs
//! retention, and shuts down gracefully. Shared by the `devbroker` binary and
//! `rpkv dev`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::config::TopicSpec;
use crate::defaults;
use crate::http::{self, AppState};
use crate::kafka::KafkaListener;
use crate::metrics::Metrics;
use crate::storage::{Store, StoreError, StoreOptions, now_ms};
use crate::tier::{Tier, TierError, TierOptions};

/// The flags of `devbroker serve` (also flattened into `rpkv dev`).
#[derive(Clone, Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory of the LMDB environment (created if missing).
    #[arg(long, default_value = defaults::DATA_DIR, env = "DEVBROKER_DATA_DIR")]
    pub data_dir: PathBuf,
    /// Address of the HTTP Proxy and kvstore API. Port 0 picks a free port.
    #[arg(long, default_value = defaults::HTTP_ADDR)]
    pub http_addr: SocketAddr,
    /// Address of the Kafka listener.
    #[arg(long, default_value = defaults::KAFKA_ADDR)]
    pub kafka_addr: SocketAddr,
    /// Object storage to tier to: file:///path or s3://bucket/prefix
    /// (default: file://<data-dir>/bucket).
    #[arg(long)]
    pub tier: Option<String>,
    /// Topic to create at start-up if missing: NAME[:PARTITIONS[:KEY=VALUE,...]].
    /// Presets are kvstore topics unless they set redpanda.kvstore=none. Repeatable.
    #[arg(long = "topic", value_name = "SPEC")]
    pub topics: Vec<TopicSpec>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = defaults::MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Largest Kafka request frame accepted, in bytes; a larger one closes the connection.
    #[arg(long, default_value_t = defaults::KAFKA_MAX_REQUEST_BYTES)]
    pub kafka_max_request_bytes: usize,
    /// Close a Kafka connection that sends no request for this long, in ms
    /// (Kafka's connections.max.idle.ms).
    #[arg(long, default_value_t = defaults::KAFKA_IDLE_TIMEOUT_MS)]
    pub kafka_idle_timeout_ms: u64,
    /// Ceiling of the LMDB map in bytes; writes get 507 once it is reached.
    #[arg(long, default_value_t = defaults::MAX_DB_SIZE)]
    pub max_db_size: usize,
    /// How often the LMDB file is made durable (a checkpoint), in ms; until then
    /// writes are durable in the redo log, replayed at the next start.
    #[arg(long, default_value_t = defaults::CHECKPOINT_INTERVAL_MS)]
    pub checkpoint_interval_ms: u64,
    /// How often the LMDB file's dirty pages are handed to the disk between
    /// checkpoints, in ms, so a checkpoint's sync has little left to write
    /// (Linux; 0: never).
    #[arg(long, default_value_t = defaults::CHECKPOINT_WRITEBACK_MS)]
    pub checkpoint_writeback_ms: u64,
    /// At most this percent of a checkpoint's data sync keeps the disk busy;
    /// it pauses the rest of the time, so the redo log's syncs do not wait
    /// behind it (Linux; 100: write everything at once).
    #[arg(long, default_value_t = defaults::CHECKPOINT_SYNC_DUTY,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub checkpoint_sync_duty: u8,
    /// How long the writer may keep an LMDB transaction open across writes it
    /// has answered (they are durable in the redo log), in ms, so that many
    /// share one LMDB commit; a read that needs them commits at once (0: one
    /// commit per group).
    #[arg(long, default_value_t = defaults::COMMIT_HOLD_MS)]
    pub commit_hold_ms: u64,
    /// How often retention and compaction run, in milliseconds.
    #[arg(long, default_value_t = defaults::RETENTION_CHECK_MS)]
    pub retention_check_ms: u64,
    /// Committed offsets of a consumer group expire this long after it became
    /// Empty, in minutes (Kafka's offsets.retention.minutes).
    #[arg(long, default_value_t = defaults::OFFSETS_RETENTION_MINUTES)]
    pub offsets_retention_minutes: u64,
    /// An HTTP Proxy consumer instance that serves no request for this long
    /// leaves its group and is deleted, in ms (pandaproxy's
    /// consumer_instance_timeout_ms).
    #[arg(long, default_value_t = defaults::HTTP_CONSUMER_TIMEOUT_MS)]
    pub http_consumer_timeout_ms: u64,
    /// Most concurrent connections per listener (HTTP and Kafka each); more are
    /// refused (HTTP gets a 503) with a log line.
    #[arg(long, default_value_t = defaults::MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Time an HTTP client has to send a request's headers (also how long an idle
    /// keep-alive connection stays open), in milliseconds.
    #[arg(long, default_value_t = defaults::HEADER_READ_TIMEOUT_MS)]
    pub header_read_timeout_ms: u64,
    /// Time an HTTP request may take, body upload and handling included, in
    /// milliseconds; slower ones get 408. Long polls are capped at 30 s.
    #[arg(long, default_value_t = defaults::REQUEST_TIMEOUT_MS)]
    pub request_timeout_ms: u64,
    /// At shutdown, how long to keep uploading pending data to the tier, in ms.
    #[arg(long, default_value_t = defaults::TIER_SHUTDOWN_TIMEOUT_MS)]
    pub tier_shutdown_timeout_ms: u64,
    /// How often each partition's key-value view is snapshotted to the tier, in ms.
    #[arg(long, default_value_t = defaults::TIER_SNAPSHOT_INTERVAL_MS)]
    pub tier_snapshot_interval_ms: u64,
    /// How often the uploader looks for closed segments, in ms.
    #[arg(long, default_value_t = defaults::TIER_POLL_MS)]
    pub tier_poll_ms: u64,
    /// Claim the tier prefix even if another broker holds it; that broker is
    /// fenced (it stops uploading and refuses writes).
    #[arg(long)]
    pub tier_takeover: bool,
    /// PEM certificate chain: serve HTTPS instead of HTTP, and TLS on the Kafka
    /// listener (SSL, or SASL_SSL with --basic-auth) (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A user USER:PASSWORD: HTTP basic auth on every endpoint but /status/ready,
    /// and SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) on the Kafka listener.
    /// Repeatable; the environment variable gives one user.
    #[arg(
        long,
        value_name = "USER:PASSWORD",
        env = "DEVBROKER_BASIC_AUTH",
        hide_env_values = true
    )]
    pub basic_auth: Vec<http::auth::BasicAuth>,
}

impl ServeArgs {
    /// How these flags open the store.
    pub fn store_options(&self, metrics: Arc<Metrics>) -> StoreOptions {
        StoreOptions {
            map_size: self.max_db_size,
            checkpoint_interval: Duration::from_millis(self.checkpoint_interval_ms.max(1)),
            checkpoint_writeback: crate::storage::writeback_every(self.checkpoint_writeback_ms),
            checkpoint_sync_duty: self.checkpoint_sync_duty,
            commit_hold: Duration::from_millis(self.commit_hold_ms),
            metrics,
        }
    }

    /// Defaults with the given data dir, loopback ports picked by the OS.
    pub fn ephemeral(data_dir: PathBuf) -> Self {
        ServeArgs {
            data_dir,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            kafka_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            tier: None,
            topics: Vec::new(),
            max_request_bytes: defaults::MAX_REQUEST_BYTES,
            kafka_max_request_bytes: defaults::KAFKA_MAX_REQUEST_BYTES,
            kafka_idle_timeout_ms: defaults::KAFKA_IDLE_TIMEOUT_MS,
            max_db_size: defaults::MAX_DB_SIZE,
            checkpoint_interval_ms: defaults::CHECKPOINT_INTERVAL_MS,
            checkpoint_writeback_ms: defaults::CHECKPOINT_WRITEBACK_MS,
            checkpoint_sync_duty: defaults::CHECKPOINT_SYNC_DUTY,
            commit_hold_ms: defaults::COMMIT_HOLD_MS,
            retention_check_ms: defaults::RETENTION_CHECK_MS,
            offsets_retention_minutes: defaults::OFFSETS_RETENTION_MINUTES,
            http_consumer_timeout_ms: defaults::HTTP_CONSUMER_TIMEOUT_MS,
            max_connections: defaults::MAX_CONNECTIONS,
            header_read_timeout_ms: defaults::HEADER_READ_TIMEOUT_MS,
            request_timeout_ms: defaults::REQUEST_TIMEOUT_MS,
            tier_shutdown_timeout_ms: defaults::TIER_SHUTDOWN_TIMEOUT_MS,
            tier_snapshot_interval_ms: defaults::TIER_SNAPSHOT_INTERVAL_MS,
            tier_poll_ms: defaults::TIER_POLL_MS,
            tier_takeover: false,
            tls_cert: None,
            tls_key: None,
            basic_auth: Vec::new(),
        }
    }
}

/// Errors that stop the broker from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}; pick another address with --http-addr")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tier(#[from] TierError),
    #[error("cannot listen for Kafka on {addr}: {source}; pick another address with --kafka-addr")]
    KafkaBind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Http(std::io::Error),
    #[error("cannot derive the SASL credentials: {0}")]
    Sasl(String),
}

/// Where a started broker listens.
#[derive(Clone, Debug)]
pub struct Listening {
    pub http_addr: SocketAddr,
    /// The Kafka listener, once there is one.
    pub kafka_addr: Option<SocketAddr>,
}

impl Listening {
    /// The lines `devbroker serve` prints on stdout once ready, for scripts and
    /// tests: one `devbroker: NAME listening on ADDR` per listener, then `devbroker: ready`.
    pub fn announcement(&self) -> String {
        let mut s = format!("devbroker: http listening on {}\n", self.http_addr);
        if let Some(k) = self.kafka_addr {
            s.push_str(&format!("devbroker: kafka listening on {k}\n"));
        }
        s.push_str("devbroker: ready\n");
        s
    }
}

/// Runs the broker until `shutdown` completes, then stops accepting, finishes
/// in-flight requests and flushes storage. `on_ready` is called once serving.
pub async fn run(
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Listening),
) -> Result<(), ServeError> {
    let opts = args.store_options(Arc::new(Metrics::new()));
    let dir = args.data_dir.clone();
    let store = tokio::task::spawn_blocking(move || Store::open(&dir, opts))
        .await
        .map_err(|e| StoreError::Internal(e.to_string()))??;
    tracing::info!(data_dir = %args.data_dir.display(), topics = store.topics().len(), "storage open");

    // Claims the tier prefix, and restores from it when the data dir is empty.
    let tier_url = args.tier.clone().unwrap_or_else(|| {
        let dir = std::path::absolute(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
        format!("file://{}/bucket", dir.display())
    });
    let tier = Tier::open(
        TierOptions {
            url: tier_url,
            data_dir: args.data_dir.clone(),
            poll_interval: Duration::from_millis(args.tier_poll_ms.max(10)),
            snapshot_interval: Duration::from_millis(args.tier_snapshot_interval_ms),
            takeover: args.tier_takeover,
        },
        store.clone(),
    )
    .await?;

    for spec in &args.topics {
        match store.topic(&spec.name) {
            Some(existing) => {
                tracing::info!(topic = %spec.name, partitions = existing.partitions, "preset topic exists");
            }
            None => {
                store
                    .create_topic(&spec.name, spec.partitions, spec.config.clone())
                    .await?;
                tracing::info!(topic = %spec, "created preset topic");
            }
        }
    }

    tier.start().await?;

    // One group coordinator for Kafka clients and HTTP consumer instances.
    let groups = Arc::new(crate::kafka::groups::GroupCoordinator::new(
        crate::kafka::groups::GroupConfig {
            offsets_retention: Duration::from_secs(args.offsets_retention_minutes.max(1) * 60),
            ..Default::default()
        },
        Arc::new(crate::kafka::groups::StoreOffsets::new(store.clone())),
        store.metrics().clone(),
    ));
    let kafka_listener = KafkaListener::bind(args.kafka_addr)
        .await
        .map_err(|source| ServeError::KafkaBind {
            addr: args.kafka_addr,
            source,
        })?
        .with_max_connections(args.max_connections)
        .with_idle_timeout(Duration::from_millis(args.kafka_idle_timeout_ms))
        .with_groups(groups.clone());
    let mut kafka_listener = kafka_listener.with_tier(tier.clone());
    if !args.basic_auth.is_empty() {
        // PBKDF2 for every user and mechanism: off the runtime.
        let users = args.basic_auth.clone();
        let derived =
            tokio::task::spawn_blocking(move || crate::kafka::sasl::Users::derive(&users))
                .await
                .map_err(|e| ServeError::Sasl(e.to_string()))?
                .map_err(|e| ServeError::Sasl(e.to_string()))?;
        kafka_listener = kafka_listener.with_sasl(Arc::new(derived));
    }
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        let acceptor = http::tls::load_kafka(cert, key)
            .await
            .map_err(ServeError::Http)?;
        kafka_listener = kafka_listener.with_tls(
            acceptor,
            Duration::from_millis(args.header_read_timeout_ms.max(1)),
        );
    }
    kafka_listener.warn_if_exposed();
    let kafka_addr = kafka_listener.local_addr();

    let listener = TcpListener::bind(args.http_addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: args.http_addr,
            source,
        })?;
    let http_addr = listener.local_addr().map_err(ServeError::Http)?;
    if !http_addr.ip().is_loopback() && args.basic_auth.is_empty() {
        tracing::warn!(%http_addr, "HTTP listener is bound to a non-loopback address without authentication: anyone who can reach it can read and write data");
    }
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let consumers = http::consumer::Consumers::new(
        groups,
        http::consumer::ConsumerConfig {
            idle_timeout: Duration::from_millis(args.http_consumer_timeout_ms.max(1)),
            ..Default::default()
        },
    );
    let state = AppState::new(store.clone())
        .with_stopping(stop_rx.clone())
        .with_tier(tier.clone())
        .with_consumers(consumers)
        .with_https(args.tls_cert.is_some());
    let app = http::auth::protect(
        http::router_with_timeout(
            state.clone(),
            args.max_request_bytes,
            Duration::from_millis(args.request_timeout_ms.max(1)),
        ),
        args.basic_auth.clone(),
    );
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            Some(http::tls::load(cert, key).await.map_err(ServeError::Http)?)
        }
        _ => None,
    };

    let maintenance = tokio::spawn(maintain_loop(
        store.clone(),
        Some(tier.clone()),
        Duration::from_millis(args.retention_check_ms.max(10)),
    ));

    let kafka_task = tokio::spawn(kafka_listener.serve(
        store.clone(),
        args.kafka_max_request_bytes,
        stop_rx.clone(),
    ));

    // The shutdown future is polled once before the ready line goes out: its
    // first poll installs the signal handlers, so a SIGTERM sent right after
    // `devbroker: ready` is handled gracefully instead of killing the process.
    let (armed_tx, armed_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let mut shutdown = std::pin::pin!(shutdown);
        let early = futures::poll!(shutdown.as_mut()).is_ready();
        let _ = armed_tx.send(());
        if !early {
            shutdown.await;
        }
        let _ = stop_tx.send(true);
    });
    let _ = armed_rx.await;

    state.ready.store(true, Ordering::Release);
    tracing::info!(%http_addr, %kafka_addr, "serving HTTP and Kafka");
    on_ready(&Listening {
        http_addr,
        kafka_addr: Some(kafka_addr),
    });
    let graceful = {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
            tracing::info!("shutting down: no new connections, finishing in-flight requests");
        }
    };
    let limits = http::guard::Limits {
        max_connections: args.max_connections,
        header_read_timeout: Duration::from_millis(args.header_read_timeout_ms.max(1)),
    };
    let served = http::guard::serve(listener, app, limits, tls, graceful).await;
    let _ = stop_rx.wait_for(|s| *s).await;
    if let Err(e) = kafka_task.await {
        tracing::warn!(error = %e, "Kafka listener task failed");
    }
    maintenance.abort();
    // Upload what is pending (closing open segments) before the store closes.
    tier.shutdown(Duration::from_millis(args.tier_shutdown_timeout_ms))
        .await;
    store.close().await?;
    served.map_err(ServeError::Http)?;
    tracing::info!("stopped cleanly");
    Ok(())
}

async fn maintain_loop(store: Store, tier: Option<Tier>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if store.fence().reason().is_some() {
            // Fenced: the writer would refuse the pass; the data is another
            // broker's to trim now.
            continue;
        }
        // With a tier, nothing at or above a partition's upload floor is trimmed.
        let pass = match &tier {
            Some(t) => store.maintain_tiered(now_ms(), Arc::new(t.floors())).await,
            None => store.maintain(now_ms()).await,
        };
        match pass {
            Ok(r) if r.trimmed + r.compacted > 0 => {
                store
                    .metrics()
                    .records_trimmed
                    .inc_by(r.trimmed + r.compacted);
                tracing::info!(
                    trimmed = r.trimmed,
                    compacted = r.compacted,
                    expired_keys = r.expired_keys,
                    "retention pass"
                );
            }
            Ok(_) => {}
            Err(StoreError::Closed) => return,
            // Fenced between the check above and the pass.
            Err(StoreError::Fenced(_)) => continue,
            Err(e) => tracing::warn!(error = %e, "retention pass failed"),
        }
    }
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Runs the broker as a background task of the current tokio runtime (for
/// embedding, e.g. `rpkv`'s TUI). The broker's future is not provably `Send`
/// to rustc in a generic context (some object_store stream combinators hide
/// their lifetimes), so it is driven by `block_on` on a blocking thread.
pub fn spawn(
    args: ServeArgs,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_ready: impl FnOnce(&Listening) + Send + 'static,
) -> tokio::task::JoinHandle<Result<(), ServeError>> {
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || runtime.block_on(run(args, shutdown, on_ready)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    /// `--basic-auth` is repeatable; a password may hold `:` and `,`.
    #[test]
    fn basic_auth_is_repeatable() {
        let parsed = Cli::try_parse_from([
            "devbroker",
            "--basic-auth",
            "alice:a:b,c",
            "--basic-auth",
            "bob:pw",
        ])
        .unwrap()
        .args;
        let users: Vec<(&str, &str)> = parsed
            .basic_auth
            .iter()
            .map(|u| (u.user.as_str(), u.password.as_str()))
            .collect();
        assert_eq!(users, [("alice", "a:b,c"), ("bob", "pw")]);
        assert!(Cli::try_parse_from(["devbroker", "--basic-auth", "nouser"]).is_err());
    }

    /// The flags' defaults, `ServeArgs::ephemeral` and `StoreOptions::default`
    /// agree on every value they share (ephemeral differs only in where it
    /// listens and keeps its data).
    #[test]
    fn every_default_agrees() {
        let parsed = Cli::try_parse_from(["devbroker"]).unwrap().args;
        let mut ephemeral = ServeArgs::ephemeral(parsed.data_dir.clone());
        assert_eq!(ephemeral.http_addr.port(), 0);
        assert_eq!(ephemeral.kafka_addr.port(), 0);
        ephemeral.http_addr = parsed.http_addr;
        ephemeral.kafka_addr = parsed.kafka_addr;
        // Set from the environment, if at all, not a default.
        ephemeral.basic_auth = parsed.basic_auth.clone();
        // Every field, present and future, through Debug.
        assert_eq!(format!("{parsed:?}"), format!("{ephemeral:?}"));

        let store = StoreOptions::default();
        let from_flags = parsed.store_options(store.metrics.clone());
        assert_eq!(from_flags.map_size, store.map_size);
        assert_eq!(from_flags.checkpoint_interval, store.checkpoint_interval);
        assert_eq!(from_flags.checkpoint_writeback, store.checkpoint_writeback);
        assert_eq!(from_flags.checkpoint_sync_duty, store.checkpoint_sync_duty);
        assert_eq!(from_flags.commit_hold, store.commit_hold);
        assert_eq!(parsed.http_addr.to_string(), defaults::HTTP_ADDR);
        assert_eq!(parsed.max_db_size, defaults::MAX_DB_SIZE);
    }
}
