//! Prometheus metrics of the broker, served at `GET /metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Every metric the broker exports, registered in one registry.
pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_latency: HistogramVec,
    pub commits: IntCounter,
    pub fsyncs: IntCounter,
    pub commit_batch_size: Histogram,
    pub commit_seconds: Histogram,
    pub records_appended: IntCounter,
    pub records_trimmed: IntCounter,
    /// Write stages and checkpoints (see `storage::latency`).
    pub storage_latency: crate::storage::Latency,
    /// Tiered storage (see `tier`).
    pub tier: TierMetrics,
    /// The Kafka group coordinator (see `kafka::groups`).
    pub groups: GroupMetrics,
}

/// Metrics of the Kafka group coordinator.
pub struct GroupMetrics {
    /// Groups by state (`Empty`, `PreparingRebalance`, `CompletingRebalance`, `Stable`).
    pub groups: IntGaugeVec,
    pub members: IntGauge,
    pub rebalances: IntCounter,
    pub offset_commits: IntCounter,
    /// Log end offset minus committed offset, by group, topic and partition
    /// (set when `/metrics` is scraped, see `kafka::groups::lag`).
    pub lag: IntGaugeVec,
    /// The sum of `lag` by group.
    pub lag_total: IntGaugeVec,
}

impl GroupMetrics {
    fn new() -> Self {
        let m = GroupMetrics {
            groups: IntGaugeVec::new(
                Opts::new("kafka_groups", "Kafka consumer groups by state"),
                &["state"],
            )
            .expect("valid metric"),
            members: IntGauge::new("kafka_group_members", "Members of Kafka consumer groups")
                .expect("valid metric"),
            rebalances: IntCounter::new(
                "kafka_group_rebalances_total",
                "Rebalances started (a group entering PreparingRebalance)",
            )
            .expect("valid metric"),
            offset_commits: IntCounter::new(
                "kafka_offset_commits_total",
                "Partition offsets committed by OffsetCommit",
            )
            .expect("valid metric"),
            lag: IntGaugeVec::new(
                Opts::new(
                    "group_lag",
                    "Consumer lag: log end offset minus committed offset",
                ),
                &["group", "topic", "partition"],
            )
            .expect("valid metric"),
            lag_total: IntGaugeVec::new(
                Opts::new(
                    "group_lag_total",
                    "Consumer lag summed over a group's partitions",
                ),
                &["group"],
            )
            .expect("valid metric"),
        };
        // Every state is exported from the start, at 0.
        for state in [
            "Empty",
            "PreparingRebalance",
            "CompletingRebalance",
            "Stable",
        ] {
            m.groups.with_label_values(&[state]).set(0);
        }
        m
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.groups.clone()),
            Box::new(self.members.clone()),
            Box::new(self.rebalances.clone()),
            Box::new(self.offset_commits.clone()),
            Box::new(self.lag.clone()),
            Box::new(self.lag_total.clone()),
        ]
    }
}

/// Metrics of the tier uploader.
pub struct TierMetrics {
    pub uploaded_bytes: IntCounter,
    pub uploaded_segments: IntCounter,
    pub upload_failures: IntCounter,
    pub lag_offsets: IntGaugeVec,
    pub lag_bytes: IntGaugeVec,
    pub last_uploaded_offset: IntGaugeVec,
    pub last_snapshot_offset: IntGaugeVec,
    pub fenced: IntGauge,
}

impl TierMetrics {
    fn new() -> Self {
        let per_partition = |name: &str, help: &str| {
            IntGaugeVec::new(Opts::new(name, help), &["topic", "partition"]).expect("valid metric")
        };
        TierMetrics {
            uploaded_bytes: IntCounter::new(
                "tier_uploaded_bytes_total",
                "Bytes of segments, snapshots and manifests uploaded to the tier",
            )
            .expect("valid metric"),
            uploaded_segments: IntCounter::new(
                "tier_uploaded_segments_total",
                "Log segments uploaded to the tier",
            )
            .expect("valid metric"),
            upload_failures: IntCounter::new(
                "tier_upload_failures_total",
                "Failed tier uploads (each is retried with backoff)",
            )
            .expect("valid metric"),
            lag_offsets: per_partition(
                "tier_upload_lag_offsets",
                "Offsets in the local log not yet in the tier",
            ),
            lag_bytes: per_partition(
                "tier_upload_lag_bytes",
                "Bytes in the local log not yet in the tier (at least)",
            ),
            last_uploaded_offset: per_partition(
                "tier_last_uploaded_offset",
                "Last offset in the tier, -1 if none",
            ),
            last_snapshot_offset: per_partition(
                "tier_last_snapshot_offset",
                "Offset of the latest view snapshot in the tier, -1 if none",
            ),
            fenced: IntGauge::new(
                "tier_fenced",
                "1 once another broker took over the tier prefix",
            )
            .expect("valid metric"),
        }
    }

    fn collectors(&self) -> Vec<Box<dyn prometheus::core::Collector>> {
        vec![
            Box::new(self.uploaded_bytes.clone()),
            Box::new(self.uploaded_segments.clone()),
            Box::new(self.upload_failures.clone()),
            Box::new(self.lag_offsets.clone()),
            Box::new(self.lag_bytes.clone()),
            Box::new(self.last_uploaded_offset.clone()),
            Box::new(self.last_snapshot_offset.clone()),
            Box::new(self.fenced.clone()),
        ]
    }
}

impl Metrics {
    pub fn new() -> Self {
        let registry =
            Registry::new_custom(Some("devbroker".into()), None).expect("a constant, valid prefix");
        let m = Metrics {
            http_requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests by route and status"),
                &["route", "status"],
            )
            .expect("valid metric"),
            http_latency: HistogramVec::new(
                HistogramOpts::new("http_request_seconds", "HTTP request latency by route")
                    .buckets(prometheus::exponential_buckets(0.0001, 2.0, 16).expect("valid")),
                &["route"],
            )
            .expect("valid metric"),
            commits: IntCounter::new("storage_commits_total", "LMDB write transactions committed")
                .expect("valid metric"),
            fsyncs: IntCounter::new(
                "storage_fsyncs_total",
                "Redo log syncs that made a commit durable (one per commit that changed something)",
            )
            .expect("valid metric"),
            commit_batch_size: Histogram::with_opts(
                HistogramOpts::new(
                    "storage_commit_batch_size",
                    "Write requests sharing one commit (group commit)",
                )
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]),
            )
            .expect("valid metric"),
            commit_seconds: Histogram::with_opts(
                HistogramOpts::new("storage_commit_seconds", "Time to apply and commit a group")
                    .buckets(prometheus::exponential_buckets(0.0001, 2.0, 16).expect("valid")),
            )
            .expect("valid metric"),
            records_appended: IntCounter::new(
                "storage_records_appended_total",
                "Records appended to partition logs",
            )
            .expect("valid metric"),
            records_trimmed: IntCounter::new(
                "storage_records_trimmed_total",
                "Records removed by retention or compaction",
            )
            .expect("valid metric"),
            storage_latency: crate::storage::Latency::new(),
            tier: TierMetrics::new(),
            groups: GroupMetrics::new(),
            registry,
        };
        for c in [
            Box::new(m.http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(m.http_latency.clone()),
            Box::new(m.commits.clone()),
            Box::new(m.fsyncs.clone()),
            Box::new(m.commit_batch_size.clone()),
            Box::new(m.commit_seconds.clone()),
            Box::new(m.records_appended.clone()),
            Box::new(m.records_trimmed.clone()),
        ]
        .into_iter()
        .chain(m.storage_latency.collectors())
        .chain(m.tier.collectors())
        .chain(m.groups.collectors())
        {
            m.registry.register(c).expect("metric names are unique");
        }
        m
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
