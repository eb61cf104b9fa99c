//! Every default of the broker, defined once: the `devbroker serve` flags
//! (`server::ServeArgs`), `ServeArgs::ephemeral`, `StoreOptions::default` and
//! the listeners' builders all read these, so no two of them can disagree
//! (`server`'s tests check it).

use std::time::Duration;

/// `--data-dir`: the LMDB environment and the redo log.
pub const DATA_DIR: &str = "./.devbroker";
/// `--http-addr`: the HTTP Proxy and kvstore API.
pub const HTTP_ADDR: &str = "127.0.0.1:18082";
/// `--kafka-addr`: the Kafka listener.
pub const KAFKA_ADDR: &str = "127.0.0.1:19092";

/// `--max-request-bytes`: largest HTTP request body (a 1 MiB batch grows by a
/// third in base64, plus JSON).
pub const MAX_REQUEST_BYTES: usize = 16 << 20;
/// `--kafka-max-request-bytes`: largest Kafka request frame (100 MiB, Kafka's
/// `socket.request.max.bytes`).
pub const KAFKA_MAX_REQUEST_BYTES: usize = 100 << 20;
/// `--kafka-idle-timeout-ms`: a Kafka connection without a request for this
/// long is closed (Kafka's `connections.max.idle.ms`, 10 minutes).
pub const KAFKA_IDLE_TIMEOUT_MS: u64 = 600_000;
/// The same, as a duration.
pub const KAFKA_IDLE_TIMEOUT: Duration = Duration::from_millis(KAFKA_IDLE_TIMEOUT_MS);

/// `--max-db-size`: ceiling of the LMDB map (virtual; the file grows as needed).
pub const MAX_DB_SIZE: usize = 256 << 30;
/// `--checkpoint-interval-ms`: how often the LMDB file is made durable.
pub const CHECKPOINT_INTERVAL_MS: u64 = 2_000;
/// `--checkpoint-writeback-ms`: how often the data file's dirty pages are
/// handed to the disk between checkpoints (0: never, the checkpoint's sync
/// writes them all); see `storage::wal::writeback`. Off by default: at 20 ms
/// it made checkpoint syncs ~50x shorter but the redo log's syncs twice as
/// slow at 16 connections, and puts/s fell by a third (docs/performance.md).
pub const CHECKPOINT_WRITEBACK_MS: u64 = 0;
/// `--checkpoint-sync-duty`: the percent of a checkpoint's data sync during
/// which it keeps the disk busy; the rest it pauses, so redo log syncs do not
/// queue behind hundreds of megabytes (see `durable`). 100: all at once.
/// Off by default: with `--checkpoint-writeback-ms 100` it cut the
/// 16-connection p99.9 by a third but cost about 13% of the puts/s at 64
/// connections (docs/performance.md, "Write-latency tails").
pub const CHECKPOINT_SYNC_DUTY: u8 = 100;
/// `--commit-hold-ms`: how long the writer may keep an LMDB transaction open
/// across groups it has already answered (durable in the redo log), so that
/// many groups share one LMDB commit; reads that need them make it commit at
/// once (`storage::visibility`), and at most 256 KiB of redo is held, which
/// bounds the commit's cost. 50 ms gave the best tails of 5, 20, 50, 200, 500
/// and 2000 at 1 and 16 connections (docs/performance.md, "Write-latency tails").
pub const COMMIT_HOLD_MS: u64 = 50;
/// `--offsets-retention-minutes`: committed offsets of an Empty consumer
/// group expire this long after it became Empty (Kafka's
/// `offsets.retention.minutes`, 7 days).
pub const OFFSETS_RETENTION_MINUTES: u64 = 10_080;
/// An idle HTTP Proxy consumer instance is deleted after this (pandaproxy's
/// `consumer_instance_timeout_ms` default).
pub const HTTP_CONSUMER_TIMEOUT_MS: u64 = 300_000;
/// `--retention-check-ms`: how often retention and compaction run.
pub const RETENTION_CHECK_MS: u64 = 10_000;

/// `--max-connections`: concurrent connections per listener (HTTP and Kafka each).
pub const MAX_CONNECTIONS: usize = 1024;
/// `--header-read-timeout-ms`: time an HTTP client has to send a request's headers.
pub const HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// `--request-timeout-ms`: time an HTTP request (body read and handler) may
/// take; long polls end at 30 s.
pub const REQUEST_TIMEOUT_MS: u64 = 60_000;

/// `--tier-shutdown-timeout-ms`: how long shutdown keeps uploading to the tier.
pub const TIER_SHUTDOWN_TIMEOUT_MS: u64 = 30_000;
/// `--tier-snapshot-interval-ms`: how often a partition's view is snapshotted.
pub const TIER_SNAPSHOT_INTERVAL_MS: u64 = 60_000;
/// `--tier-poll-ms`: how often the uploader looks for closed segments.
pub const TIER_POLL_MS: u64 = 200;
