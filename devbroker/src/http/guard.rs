//! Guards of the plain-HTTP listener against hostile or broken clients: a
//! connection limit, a deadline for request headers (slowloris; it also ends
//! idle keep-alive connections), a header size limit, and JSON error bodies for
//! the answers axum's extractors and layers produce as plain text.
//!
//! [`serve`] replaces `axum::serve(..).with_graceful_shutdown(..)`: the same
//! router, served by hyper with a timer, so `header_read_timeout` applies; with
//! a TLS acceptor the same loop serves HTTPS, the handshake held to the header
//! deadline.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::to_bytes;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use super::error::ApiError;
use crate::config::validate_topic_name;

/// Largest request head (request line and headers) accepted, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 << 10;

/// The limits of one listener.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
}

/// What a client over the connection limit reads before the connection closes.
fn busy_response() -> Vec<u8> {
    let body = r#"{"error_code":503,"message":"too many connections; retry later or raise --max-connections"}"#;
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Serves `app` on `listener` (over TLS when `tls` is given) until `shutdown`
/// completes, then stops accepting and waits for in-flight requests.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    // Connections that have not sent a byte yet are not hyper's to drain:
    // they are dropped at shutdown instead of holding it until the header
    // deadline (an HTTP client's pool may hold such a spare connection).
    let (closing_tx, closing_rx) = tokio::sync::watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut refused: u64 = 0;
    loop {
        let (mut stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refused += 1;
            tracing::warn!(
                %peer,
                max_connections = limits.max_connections,
                refused_total = refused,
                "HTTP connection refused: too many connections (--max-connections)"
            );
            // Over TLS a plain-text answer would be garbage to the client:
            // the connection is just closed.
            if tls.is_none() {
                tokio::spawn(async move {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        stream.write_all(&busy_response()),
                    )
                    .await;
                });
            }
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let first_byte = limits.header_read_timeout;
        let tls = tls.clone();
        let mut closing = closing_rx.clone();
        tokio::spawn(async move {
            // hyper's header timer starts once it reads a request; a client that
            // connects and sends nothing is held to the same deadline here.
            let mut probe = [0u8; 1];
            let peeked = tokio::select! {
                r = tokio::time::timeout(first_byte, stream.peek(&mut probe)) => r,
                _ = closing.wait_for(|c| *c) => return,
            };
            match peeked {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => return,
                Err(_) => {
                    tracing::debug!(%peer, "HTTP client sent nothing before the header deadline; closing");
                    return;
                }
            }
            match tls {
                None => serve_connection(&builder, stream, service, watcher, peer).await,
                Some(acceptor) => {
                    // The handshake is part of the request head: a client that
                    // stalls in it is held to the same deadline.
                    match tokio::time::timeout(first_byte, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            serve_connection(&builder, tls, service, watcher, peer).await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake not done before the header deadline; closing");
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    graceful.shutdown().await;
    Ok(())
}

/// Serves one accepted connection (plain or TLS) until it ends or the
/// graceful shutdown finishes it.
async fn serve_connection<I>(
    builder: &Builder<TokioExecutor>,
    io: I,
    service: TowerToHyperService<Router>,
    watcher: hyper_util::server::graceful::Watcher,
    peer: std::net::SocketAddr,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let conn = builder
        .serve_connection_with_upgrades(TokioIo::new(io), service)
        .into_owned();
    if let Err(e) = watcher.watch(conn).await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// Rewrites error answers that are not JSON (axum's extractor rejections,
/// timeouts) into the API's `{"error_code":N,"message":"..."}` body.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if is_json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let text = to_bytes(body, 64 << 10).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let message = match (text.is_empty(), status) {
        (true, StatusCode::REQUEST_TIMEOUT) => {
            "request took too long (--request-timeout-ms)".to_string()
        }
        (true, _) => status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_string(),
        (false, _) => text,
    };
    let mut out = ApiError::new(status, message).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out
}

/// A topic name from a request path: a name Kafka would refuse cannot exist,
/// so it is answered at once (400) and never reaches storage, a file or an
/// object key.
pub fn check_topic(topic: &str) -> Result<(), ApiError> {
    validate_topic_name(topic)
        .map_err(|e| ApiError::bad_request(format!("invalid topic name: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shutdown_does_not_wait_for_connections_that_sent_nothing() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let limits = Limits {
            max_connections: 16,
            header_read_timeout: Duration::from_secs(30),
        };
        let server = tokio::spawn(serve(listener, Router::new(), limits, None, async move {
            let _ = stop_rx.await;
        }));
        // A spare connection, as an HTTP client's pool opens one: no bytes sent.
        let _idle = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = stop_tx.send(());
        let done = tokio::time::timeout(Duration::from_secs(5), server).await;
        assert!(
            done.is_ok(),
            "shutdown waited for a connection that never sent a request"
        );
    }
}
