//! The client's errors: one variant per thing a caller may want to react to.

/// Anything a client call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Nothing accepted the connection (refused, unreachable, DNS failure).
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    /// The request did not complete within the timeout.
    #[error("timed out waiting for {url}")]
    Timeout { url: String },
    /// The TLS handshake or certificate setup failed.
    #[error("TLS: {0}")]
    Tls(String),
    /// A TLS handshake with `server` failed; `failure` says why and what to do.
    #[error("{server}: {failure}")]
    TlsHandshake {
        server: String,
        failure: super::tls::TlsFailure,
    },
    /// A `409`: a precondition (ifExists / ifMatches) did not hold; nothing was applied.
    #[error("precondition failed (HTTP 409): {message}")]
    PreconditionFailed { message: String },
    /// A `401`: missing or wrong credentials.
    #[error("unauthorized (HTTP 401): {message}")]
    Unauthorized { message: String },
    /// Any other non-2xx HTTP status, with the broker's message.
    #[error("HTTP {status}: {message}")]
    Http { status: u16, message: String },
    /// The topic does not exist (per Kafka metadata).
    #[error("unknown topic {0:?}")]
    UnknownTopic(String),
    /// A Kafka request failed with a protocol error code.
    #[error("{name} (Kafka error {code}){}", message.as_deref().filter(|m| !m.is_empty()).map(|m| format!(": {m}")).unwrap_or_default())]
    Kafka {
        code: i16,
        name: String,
        message: Option<String>,
    },
    /// The Kafka broker could not be reached or spoke nonsense.
    #[error("Kafka broker {broker}: {detail}")]
    KafkaTransport { broker: String, detail: String },
    /// A Kafka broker refused the SASL credentials (or SASL is misconfigured);
    /// `detail` says what to do.
    #[error("Kafka broker {broker}: authentication failed: {detail}")]
    KafkaAuth { broker: String, detail: String },
    /// The broker's reply could not be decoded.
    #[error("cannot decode the reply from {url}: {detail}")]
    Decode { url: String, detail: String },
    /// The caller asked for something invalid (bad hash, bad limit, ...).
    #[error("{0}")]
    InvalidInput(String),
    /// The profile is read-only and the call would write.
    #[error("profile {profile:?} is read-only: refusing to {action}")]
    ReadOnly { profile: String, action: String },
    /// Local I/O (reading a CA file, ...).
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

impl Error {
    /// True for a failed precondition (exit code 3 in the CLI).
    pub fn is_precondition_failed(&self) -> bool {
        matches!(self, Error::PreconditionFailed { .. })
    }

    /// True when retrying the same idempotent request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Error::Connect { .. } | Error::Timeout { .. } | Error::Http { status: 503, .. }
        )
    }

    /// Maps a reqwest transport error for `url`.
    pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Self {
        if e.is_timeout() {
            return Error::Timeout {
                url: url.to_owned(),
            };
        }
        let mut detail = e.to_string();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(s) = src {
            detail = s.to_string();
            src = s.source();
        }
        let lower = detail.to_ascii_lowercase();
        if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake") {
            return Error::Tls(format!("{url}: {detail}"));
        }
        if e.is_connect() {
            let detail = if lower.contains("refused") {
                "connection refused".to_owned()
            } else {
                detail
            };
            return Error::Connect {
                url: url.to_owned(),
                detail,
            };
        }
        if e.is_decode() {
            return Error::Decode {
                url: url.to_owned(),
                detail,
            };
        }
        Error::Connect {
            url: url.to_owned(),
            detail,
        }
    }
}

/// Result with the client's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
