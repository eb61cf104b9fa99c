//! How to reach a broker: URLs, TLS, credentials, timeouts, retries.

use std::path::PathBuf;
use std::time::Duration;

/// Default HTTP Proxy / kvstore URL (the seed's docker-compose port).
pub const DEFAULT_HTTP_URL: &str = "http://127.0.0.1:18082";
/// Default Kafka bootstrap address.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:19092";

/// Everything a [`crate::client::Client`] needs to connect. Its `Debug`
/// masks the password (and one in the URL).
#[derive(Clone)]
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
    /// How keys no partition holds yet are placed (see [`crate::client::Client::locate`]).
    pub partitioner: crate::client::Partitioner,
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
            partitioner: crate::client::Partitioner::default(),
        }
    }
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured so that a new field cannot be forgotten here.
        let ClientConfig {
            http_url,
            brokers,
            tls_ca,
            user,
            password,
            timeout,
            connect_timeout,
            read_attempts,
            backoff,
            read_only,
            profile,
            partitioner,
        } = self;
        f.debug_struct("ClientConfig")
            .field("http_url", &redact_url(http_url))
            .field("brokers", brokers)
            .field("tls_ca", tls_ca)
            .field("user", user)
            .field("password", &mask(password))
            .field("timeout", timeout)
            .field("connect_timeout", connect_timeout)
            .field("read_attempts", read_attempts)
            .field("backoff", backoff)
            .field("read_only", read_only)
            .field("profile", profile)
            .field("partitioner", partitioner)
            .finish()
    }
}

/// What is shown in place of a password.
pub const MASK: &str = "***";

/// A secret as `Debug` shows it: whether there is one, never what it is.
pub fn mask(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| MASK)
}

/// `url` with the password of its user info (`http://user:pass@host`)
/// replaced by `***`, for messages, logs and listings; anything else is left
/// as it is. Everything between `://` and the last `@` before any `?` or `#`
/// counts as user info, so a password with an unescaped `/` is masked too.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let start = scheme_end + 3;
    let rest = &url[start..];
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:{MASK}{}", &url[..start], &rest[at..]),
        None => url.to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_their_password() {
        for (url, shown) in [
            ("http://127.0.0.1:18082", "http://127.0.0.1:18082"),
            ("https://alice@host:8082/x", "https://alice@host:8082/x"),
            (
                "http://alice:s3cret@host:8082",
                "http://alice:***@host:8082",
            ),
            (
                "http://alice:s3cret@host/p?q=a@b",
                "http://alice:***@host/p?q=a@b",
            ),
            ("http://alice:pa/ss@w@host", "http://alice:***@host"),
            ("http://:s3cret@host", "http://:***@host"),
            ("not a url: s3cret@", "not a url: s3cret@"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn debug_masks_the_password() {
        let cfg = ClientConfig {
            http_url: "http://alice:url-s3cret@127.0.0.1:1".into(),
            user: Some("alice".into()),
            password: Some("flag-s3cret".into()),
            ..ClientConfig::default()
        };
        let shown = format!("{cfg:?} {cfg:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains(r#"password: Some("***")"#), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }
}
