//! The HTTP transport: reqwest with TLS, basic auth, timeouts, error mapping,
//! and retry with backoff for idempotent reads.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::config::{ClientConfig, mask, redact_url};
use super::error::{Error, Result};
use rpkv_wire::proxy::ErrorBody;

/// Whether a request may be sent again after a transient failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotent {
    Yes,
    No,
}

/// A reqwest client bound to one base URL; cheap to clone. Errors, logs and
/// `Debug` show the base URL with any password in it masked.
#[derive(Clone)]
pub(crate) struct HttpTransport {
    http: reqwest::Client,
    base: String,
    /// `base` as shown to people ([`redact_url`]).
    shown: String,
    user: Option<String>,
    password: Option<String>,
    attempts: u32,
    backoff: Duration,
}

impl HttpTransport {
    pub(crate) fn new(cfg: &ClientConfig) -> Result<Self> {
        let https = cfg.http_url.starts_with("https://");
        let tls = super::tls::client_config(cfg.tls_ca.as_deref(), https)?;
        let builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.connect_timeout)
            .user_agent(concat!("rpkv/", env!("CARGO_PKG_VERSION")))
            .tls_backend_preconfigured(tls);
        let http = builder
            .build()
            .map_err(|e| Error::Tls(format!("building the HTTP client: {e}")))?;
        let base = cfg.http_url.trim_end_matches('/').to_owned();
        let shown = redact_url(&base);
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::InvalidInput(format!(
                "HTTP URL {shown:?} must start with http:// or https://"
            )));
        }
        Ok(HttpTransport {
            http,
            base,
            shown,
            user: cfg.user.clone(),
            password: cfg.password.clone(),
            attempts: cfg.read_attempts.max(1),
            backoff: cfg.backoff,
        })
    }

    /// The base URL with any password masked.
    pub(crate) fn shown_base(&self) -> &str {
        &self.shown
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        let rb = self.http.request(method, url);
        match &self.user {
            Some(u) => rb.basic_auth(u, self.password.as_deref()),
            None => rb,
        }
    }

    /// Sends a request built by `build` (once, or with retries when idempotent),
    /// returns the body of a 2xx reply or the mapped error.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        idempotent: Idempotent,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<bytes::Bytes> {
        let url = format!("{}{}", self.base, path);
        let shown = format!("{}{}", self.shown, path);
        let attempts = if idempotent == Idempotent::Yes {
            self.attempts
        } else {
            1
        };
        let mut delay = self.backoff;
        let mut attempt = 1;
        loop {
            let result = self.send_once(&method, &url, &shown, &build).await;
            match result {
                Err(e) if attempt < attempts && e.is_retryable() => {
                    tracing::debug!(url = %shown, attempt, error = %e, "retrying idempotent request");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One request to `url`; errors name it as `shown`.
    async fn send_once(
        &self,
        method: &Method,
        url: &str,
        shown: &str,
        build: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<bytes::Bytes> {
        let resp = build(self.request(method.clone(), url))
            .send()
            .await
            .map_err(|e| transport_error(shown, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| transport_error(shown, e))?;
        if status.is_success() {
            return Ok(body);
        }
        Err(status_error(status, &body))
    }

    /// POSTs a JSON body and decodes a JSON reply.
    pub(crate) async fn post_json<B: Serialize, R: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        idempotent: Idempotent,
    ) -> Result<R> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::InvalidInput(format!("encoding request: {e}")))?;
        let reply = self
            .send(Method::POST, path, idempotent, |rb| {
                rb.header(reqwest::header::CONTENT_TYPE, "application/json")
                    .header(reqwest::header::ACCEPT, "application/json")
                    .body(bytes.clone())
            })
            .await?;
        self.decode(path, &reply)
    }

    pub(crate) fn decode<R: DeserializeOwned>(&self, path: &str, body: &[u8]) -> Result<R> {
        serde_json::from_slice(body).map_err(|e| Error::Decode {
            url: format!("{}{}", self.shown, path),
            detail: e.to_string(),
        })
    }
}

impl std::fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("base", &self.shown)
            .field("user", &self.user)
            .field("password", &mask(&self.password))
            .field("attempts", &self.attempts)
            .field("backoff", &self.backoff)
            .finish_non_exhaustive()
    }
}

/// Maps a reqwest error for `url`: a TLS failure to [`Error::TlsHandshake`]
/// (naming the server, not the whole URL), anything else by [`Error::from_reqwest`].
fn transport_error(url: &str, e: reqwest::Error) -> Error {
    match super::tls::classify(url, &e) {
        Some(failure) => Error::TlsHandshake {
            server: origin(url).to_owned(),
            failure,
        },
        None => Error::from_reqwest(url, e),
    }
}

/// `scheme://host:port` of a URL.
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    match url[after..].find('/') {
        Some(i) => &url[..after + i],
        None => url,
    }
}

/// Turns a non-2xx reply into an error carrying the broker's message.
fn status_error(status: StatusCode, body: &[u8]) -> Error {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(b) => b.message,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let line = text.lines().next().unwrap_or("").trim();
            if line.is_empty() {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                line.chars().take(300).collect()
            }
        }
    };
    match status {
        StatusCode::CONFLICT => Error::PreconditionFailed { message },
        StatusCode::UNAUTHORIZED => Error::Unauthorized { message },
        _ => Error::Http {
            status: status.as_u16(),
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A tiny HTTP server answering 503 to the first `failures` requests, then
    /// 200 with `body`; counts the requests it saw.
    async fn flaky_server(failures: usize, body: &'static str) -> (String, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                // Read the head and the body (Content-Length) before answering.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while let Ok(k) = sock.read(&mut chunk).await {
                    if k == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..k]);
                    let text = String::from_utf8_lossy(&buf).to_ascii_lowercase();
                    if let Some(head_end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if buf.len() >= head_end + 4 + len {
                            break;
                        }
                    }
                }
                let (status, body) = if n < failures {
                    (
                        "503 Service Unavailable",
                        r#"{"error_code":503,"message":"no leader"}"#,
                    )
                } else {
                    ("200 OK", body)
                };
                let resp = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            }
        });
        (url, seen)
    }

    fn client(url: &str) -> crate::client::Client {
        crate::client::Client::new(ClientConfig {
            http_url: url.to_owned(),
            backoff: Duration::from_millis(5),
            ..ClientConfig::default()
        })
        .unwrap()
    }

    #[tokio::test]
    async fn idempotent_reads_retry_503_with_backoff() {
        let (url, seen) = flaky_server(2, r#"{"results":[{"key":"Zm9v","value":"YmFy"}]}"#).await;
        let got = client(&url).get("t", 0, b"foo").await.unwrap();
        assert_eq!(got.as_deref(), Some(&b"bar"[..]));
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn reads_give_up_after_the_last_attempt() {
        let (url, seen) = flaky_server(100, "{}").await;
        let err = client(&url).get("t", 0, b"foo").await.unwrap_err();
        assert_eq!(err.to_string(), "HTTP 503: no leader");
        assert_eq!(seen.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn writes_are_not_retried() {
        let (url, seen) = flaky_server(1, "{}").await;
        let err = client(&url)
            .put("t", 0, b"k".to_vec(), b"v".to_vec(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Http { status: 503, .. }), "{err}");
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refused_connections_name_the_url() {
        let err = client("http://127.0.0.1:1")
            .get("t", 0, b"k")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "cannot connect to http://127.0.0.1:1/kvstore/t/partition/0/batch_get: connection refused"
        );
    }

    #[tokio::test]
    async fn errors_and_debug_never_show_the_password() {
        // A password in the URL and one given apart, against a closed port.
        let cfg = ClientConfig {
            http_url: "http://alice:url-s3cret@127.0.0.1:1".into(),
            user: Some("alice".into()),
            password: Some("flag-s3cret".into()),
            read_attempts: 2,
            backoff: Duration::from_millis(1),
            ..ClientConfig::default()
        };
        let client = crate::client::Client::new(cfg.clone()).unwrap();
        assert_eq!(client.http_url(), "http://alice:***@127.0.0.1:1");
        let err = client.get("t", 0, b"k").await.unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{err:?}");
        let shown = format!("{err} {err:?} {client:?} {client:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(
            shown.contains("http://alice:***@127.0.0.1:1/kvstore"),
            "{shown}"
        );
        // A URL that is refused up front is masked too.
        let err = crate::client::Client::new(ClientConfig {
            http_url: "ftp://alice:url-s3cret@host".into(),
            ..cfg
        })
        .unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn status_errors_keep_the_broker_message() {
        let e = status_error(
            StatusCode::SERVICE_UNAVAILABLE,
            br#"{"error_code":503,"message":"unknown topic \"x\""}"#,
        );
        assert_eq!(e.to_string(), "HTTP 503: unknown topic \"x\"");
        assert!(e.is_retryable());
        let e = status_error(StatusCode::CONFLICT, br#"{"error_code":409,"message":"m"}"#);
        assert!(e.is_precondition_failed());
        let e = status_error(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(e.to_string(), "HTTP 502: Bad Gateway");
    }
}
