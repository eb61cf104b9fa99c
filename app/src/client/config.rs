//! How to reach a broker: URLs, TLS (HTTPS and Kafka), credentials (HTTP
//! basic auth and Kafka SASL), timeouts, retries.

use std::path::PathBuf;
use std::time::Duration;

/// Default HTTP Proxy / kvstore URL (the seed's docker-compose port).
pub const DEFAULT_HTTP_URL: &str = "http://127.0.0.1:18082";
/// The timeout of one request unless one is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
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
    /// PEM file of extra CA certificates to trust for HTTPS and Kafka TLS.
    pub tls_ca: Option<PathBuf>,
    /// Speak TLS to the Kafka brokers (SSL, or SASL_SSL with a SASL mechanism).
    /// A client certificate ([`ClientConfig::tls_cert`]) turns it on too.
    pub kafka_tls: bool,
    /// PEM client certificate (chain) for Kafka mTLS; needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// User of HTTP basic auth and of Kafka SASL.
    pub user: Option<String>,
    /// Password of HTTP basic auth and of Kafka SASL.
    pub password: Option<String>,
    /// Authenticate Kafka connections with SASL, using `user` and `password`.
    pub sasl_mechanism: Option<SaslMechanism>,
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
            kafka_tls: false,
            tls_cert: None,
            tls_key: None,
            user: None,
            password: None,
            sasl_mechanism: None,
            timeout: DEFAULT_TIMEOUT,
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
            kafka_tls,
            tls_cert,
            tls_key,
            user,
            password,
            sasl_mechanism,
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
            .field("kafka_tls", kafka_tls)
            .field("tls_cert", tls_cert)
            .field("tls_key", tls_key)
            .field("user", user)
            .field("password", &mask(password))
            .field("sasl_mechanism", sasl_mechanism)
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

impl ClientConfig {
    /// Whether Kafka connections use TLS: asked for, or implied by a client
    /// certificate (as in rpk, where `tls.cert` opts into TLS).
    pub fn kafka_uses_tls(&self) -> bool {
        self.kafka_tls || self.tls_cert.is_some() || self.tls_key.is_some()
    }

    /// The Kafka security protocol these settings make, in Kafka's words:
    /// `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn kafka_security_protocol(&self) -> &'static str {
        match (self.kafka_uses_tls(), self.sasl_mechanism.is_some()) {
            (false, false) => "PLAINTEXT",
            (true, false) => "SSL",
            (false, true) => "SASL_PLAINTEXT",
            (true, true) => "SASL_SSL",
        }
    }
}

/// A SASL mechanism for Kafka connections. Parsed case-insensitively (rpk
/// accepts `scram-sha-256` too); sent to the broker in Kafka's spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SaslMechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

/// The mechanisms, for messages.
pub const SASL_MECHANISM_NAMES: &str = "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512";

impl SaslMechanism {
    /// Every mechanism.
    pub const ALL: [SaslMechanism; 3] = [
        SaslMechanism::Plain,
        SaslMechanism::ScramSha256,
        SaslMechanism::ScramSha512,
    ];

    /// The name Kafka uses (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`).
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

impl std::fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A SASL mechanism name rpkv does not speak.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SASL mechanism {0:?}: expected {SASL_MECHANISM_NAMES}")]
pub struct UnknownSaslMechanism(pub String);

impl std::str::FromStr for SaslMechanism {
    type Err = UnknownSaslMechanism;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SaslMechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSaslMechanism(s.to_owned()))
    }
}

impl serde::Serialize for SaslMechanism {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for SaslMechanism {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
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
    fn sasl_mechanisms_parse_in_any_case() {
        for m in SaslMechanism::ALL {
            assert_eq!(m.name().parse::<SaslMechanism>().unwrap(), m);
            assert_eq!(m.name().to_lowercase().parse::<SaslMechanism>().unwrap(), m);
        }
        let err = "GSSAPI".parse::<SaslMechanism>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown SASL mechanism \"GSSAPI\": expected PLAIN, SCRAM-SHA-256, SCRAM-SHA-512"
        );
    }

    #[test]
    fn security_protocols() {
        let mut cfg = ClientConfig::default();
        assert_eq!(cfg.kafka_security_protocol(), "PLAINTEXT");
        cfg.sasl_mechanism = Some(SaslMechanism::ScramSha256);
        assert_eq!(cfg.kafka_security_protocol(), "SASL_PLAINTEXT");
        cfg.tls_cert = Some("c.pem".into());
        assert_eq!(cfg.kafka_security_protocol(), "SASL_SSL");
        cfg.sasl_mechanism = None;
        assert_eq!(cfg.kafka_security_protocol(), "SSL");
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
