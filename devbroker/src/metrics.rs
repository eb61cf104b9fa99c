//! Prometheus metrics of the broker, served at `GET /metrics`.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
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
                "Durable syncs of the data file (one per commit)",
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
        ] {
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
