//! The rpkv client library: kvstore and HTTP Proxy over HTTP (reqwest, rustls),
//! Kafka admin over the Kafka protocol. It owns every operation the CLI and
//! the TUI share, which only call it: scans merged across partitions
//! ([`Client::scan_merged`], [`Client::scan_merged_page`]), batch gets over
//! partitions, a key's history, export and import in one JSON-lines format
//! ([`ExportLine`]), and topic overviews ([`Client::topic_summaries`],
//! [`Client::topic_listing`]).
//!
//! A [`Client`] is cheap to clone (it shares one connection pool) and never
//! prints: every failure is a typed [`Error`].
//!
//! ```no_run
//! # async fn demo() -> rpkv::client::Result<()> {
//! use rpkv::client::{Client, ClientConfig};
//! let client = Client::new(ClientConfig::default())?;
//! let p = client.partition_for_key("example-topic", b"foo").await?;
//! let value = client.get("example-topic", p, b"foo").await?;
//! # Ok(()) }
//! ```

mod config;
mod error;
mod fetch;
mod filter;
mod groups;
mod history;
mod http;
mod kafka;
mod kvstore;
mod proxy;
mod resolve;
mod scan;
#[cfg(test)]
pub(crate) mod test_broker;
mod tls;
mod topics;
mod transfer;
mod watch;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use config::{
    ClientConfig, DEFAULT_BROKERS, DEFAULT_HTTP_URL, DEFAULT_TIMEOUT, MASK, SASL_MECHANISM_NAMES,
    SaslMechanism, UnknownSaslMechanism, mask, parse_brokers, redact_url,
};
pub use error::{Error, Result};
pub use filter::{FilterError, ValueFilter};
pub use groups::{
    GroupDescription, GroupError, GroupMember, GroupOutcome, GroupPartition, GroupResult,
    ListedGroup, MemberAssignment, OffsetDeleteOutcome, SeekOutcome, SeekTo,
    parse_topic_partitions,
};
pub use history::{HISTORY_RECORD_CAP, HISTORY_VERSION_CAP, KeyHistory, KeyVersion};
pub use kafka::{
    BrokerInfo, ClusterInfo, ConfigEntry, NewTopic, OffsetSpec, PartitionInfo, PartitionOffsets,
    TopicInfo, TopicOutcome, is_kvstore,
};
pub use kvstore::{
    Lookup, ScanRange, cas_precondition, key_after, prefix_successor, validate_sha256_hex,
    write_request,
};
pub use proxy::{ConsumedBytes, OutgoingRecord};
pub use resolve::{
    KeyCopy, LocateError, Located, PARTITIONER_NAMES, Partitioner, SeveralPartitions,
    UnknownPartitioner, and_list, guarded_deletes, shown_key,
};
pub use rpkv_wire::kvstore::{Entry, Precondition, WriteRequest};
pub use rpkv_wire::partitioner::{crc32_partition, fnv1a_partition, murmur2, partition_for_key};
pub use rpkv_wire::proxy::ProduceOffset;
pub use rpkv_wire::{DEFAULT_SCAN_LIMIT, MAX_KEY_BYTES, MAX_SCAN_LIMIT, sha256_hex};
pub use scan::{MergedPage, PartitionEntry, PartitionError};
pub use tls::TlsFailure;
pub use topics::{TopicListing, TopicSummary};
pub use transfer::{
    ExportLine, ImportSummary, ImportTarget, KeyValue, TransferError, batches, read_export,
};
pub use watch::{Change, Watch, WatchEvent, WatchFrom, WatchOptions};

/// How long [`Client::partition_for_key`] trusts a partition count it looked up.
const PARTITION_COUNT_TTL: Duration = Duration::from_secs(30);

/// Partition counts by topic, with when they were read.
type CountCache = Arc<Mutex<HashMap<String, (i32, Instant)>>>;

/// A connection to one cluster: HTTP (kvstore, HTTP Proxy) and Kafka admin.
/// Clones share the connection pool and the partition-count cache.
#[derive(Clone, Debug)]
pub struct Client {
    http: http::HttpTransport,
    brokers: Vec<String>,
    kafka_timeout: Duration,
    /// TLS and SASL of the Kafka connections.
    kafka_security: Arc<kafka::Security>,
    read_only: bool,
    profile: Option<String>,
    partitioner: Partitioner,
    counts: CountCache,
}

impl Client {
    /// Builds a client; fails only on a bad URL or an unreadable CA file
    /// (or, with Kafka TLS, client certificate or key).
    pub fn new(config: ClientConfig) -> Result<Self> {
        Ok(Client {
            http: http::HttpTransport::new(&config)?,
            kafka_security: Arc::new(kafka::Security::new(&config)?),
            brokers: config.brokers,
            kafka_timeout: config.timeout,
            read_only: config.read_only,
            profile: config.profile,
            partitioner: config.partitioner,
            counts: CountCache::default(),
        })
    }

    /// Base URL of the HTTP API, as shown to people: a password in it is
    /// masked ([`redact_url`]).
    pub fn http_url(&self) -> &str {
        self.http.shown_base()
    }

    /// The Kafka bootstrap brokers.
    pub fn brokers(&self) -> &[String] {
        &self.brokers
    }

    /// True when writes are refused.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The partition the client's [`Partitioner`] (murmur2 unless configured)
    /// picks for `key` in `topic`. The partition count comes from Kafka
    /// Metadata and is reused for 30 s. It does not look where the key lives:
    /// [`Client::locate`] does.
    pub async fn partition_for_key(&self, topic: &str, key: &[u8]) -> Result<i32> {
        let n = self.cached_partition_count(topic).await?;
        Ok(self.partitioner.partition_for(key, n))
    }

    /// The partition count of `topic`, reused for 30 s.
    pub(crate) async fn cached_partition_count(&self, topic: &str) -> Result<i32> {
        let cached = self
            .counts
            .lock()
            .ok()
            .and_then(|c| c.get(topic).copied())
            .filter(|(_, at)| at.elapsed() < PARTITION_COUNT_TTL)
            .map(|(n, _)| n);
        let n = match cached {
            Some(n) => n,
            None => {
                let n = self.partition_count(topic).await?;
                if let Ok(mut c) = self.counts.lock() {
                    c.insert(topic.to_owned(), (n, Instant::now()));
                }
                n
            }
        };
        Ok(n)
    }

    pub(crate) fn check_writable(&self, action: &str) -> Result<()> {
        if self.read_only {
            return Err(Error::ReadOnly {
                profile: self.profile.clone().unwrap_or_default(),
                action: action.to_owned(),
            });
        }
        Ok(())
    }
}

/// Percent-encodes a topic name for use as one URL path segment.
pub(crate) fn url_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_segments_are_escaped() {
        assert_eq!(url_segment("example-topic.v1_x"), "example-topic.v1_x");
        assert_eq!(url_segment("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn read_only_clients_refuse_writes() {
        let client = Client::new(ClientConfig {
            read_only: true,
            profile: Some("prod".into()),
            ..ClientConfig::default()
        })
        .unwrap();
        let err = client.check_writable("write").unwrap_err();
        assert_eq!(
            err.to_string(),
            "profile \"prod\" is read-only: refusing to write"
        );
    }

    #[test]
    fn partitioner_matches_kafka_known_values() {
        // murmur2 reference values from Kafka's UtilsTest, then the partition
        // (positive murmur2 modulo the partition count).
        assert_eq!(murmur2(b"21"), -973932308);
        assert_eq!(
            partition_for_key(b"21", 3),
            ((-973932308i32 & 0x7fffffff) % 3)
        );
        assert_eq!(
            partition_for_key(b"foobar", 10),
            ((-790332482i32 & 0x7fffffff) % 10)
        );
    }
}
