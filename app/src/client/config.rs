//! How to reach a broker: URLs, TLS, credentials, timeouts, retries.

use std::path::PathBuf;
use std::time::Duration;

/// Default HTTP Proxy / kvstore URL (the seed's docker-compose port).
pub const DEFAULT_HTTP_URL: &str = "http://127.0.0.1:18082";
/// Default Kafka bootstrap address.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:19092";

/// Everything a [`crate::client::Client`] needs to connect.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Base URL of the HTTP Proxy and kvstore API, e.g. `http://127.0.0.1:18082`.
    pub http_url: String,
    /// Kafka bootstrap addresses, `host:port`.
    pub brokers: Vec<String>,
    /// PEM file of extra CA certificates to trust for HTTPS.
    pub tls_ca: Option<PathBuf>,
    /// HTTP basic auth user.
    pub user: Option<String>,
    /// HTTP basic auth password.
    pub password: Option<String>,
    /// Timeout of one request (connect included).
    pub timeout: Duration,
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Attempts for idempotent reads that fail with 503 or a connection error.
    pub read_attempts: u32,
    /// First backoff between read attempts; doubles each time.
    pub backoff: Duration,
    /// When set, every write is refused with [`crate::client::Error::ReadOnly`].
    pub read_only: bool,
    /// Name of the profile this came from, for messages.
    pub profile: Option<String>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            http_url: DEFAULT_HTTP_URL.to_owned(),
            brokers: vec![DEFAULT_BROKERS.to_owned()],
            tls_ca: None,
            user: None,
            password: None,
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            read_attempts: 4,
            backoff: Duration::from_millis(100),
            read_only: false,
            profile: None,
        }
    }
}

/// Splits a comma-separated broker list.
pub fn parse_brokers(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect()
}
