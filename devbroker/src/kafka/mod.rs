//! The Kafka wire protocol listener: enough of the protocol for kcat,
//! kafka-python, the Java client and rpk-style clients to create topics,
//! produce, and consume alone or in consumer groups.
//!
//! - this file: the TCP listener and the per-connection loop (length-prefixed
//!   frames, a size limit, in-order responses, graceful shutdown);
//! - [`dispatch`]: request header, API/version check, routing, response framing;
//! - [`handlers`]: one module per API group;
//! - [`records`]: record batches to and from storage records;
//! - [`producers`]: idempotent producer state;
//! - [`groups`]: the group coordinator (classic consumer groups, committed offsets);
//! - [`sasl`]: SASL authentication (PLAIN, SCRAM) and the per-connection gate.
//!
//! With `--tls-cert`/`--tls-key` the listener speaks TLS (SSL, or SASL_SSL with
//! users); the handshake must complete within `--header-read-timeout-ms`, as on
//! HTTP, so a stalled one does not hold a connection slot.
//!
//! Produce goes through [`Store::append`], the one append path shared with HTTP.

pub mod dispatch;
pub mod errors;
#[cfg(test)]
mod fuzz;
pub mod groups;
pub mod handlers;
pub mod producers;
pub mod records;
pub mod sasl;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::storage::Store;
use dispatch::Outcome;
use producers::ProducerTable;

/// What every connection shares.
pub struct KafkaState {
    pub store: Store,
    /// The address Metadata advertises (the listener's own).
    pub advertised: SocketAddr,
    pub producers: ProducerTable,
    pub max_request_bytes: usize,
    /// Becomes true on shutdown; long polls end early.
    pub shutdown: watch::Receiver<bool>,
    /// Tiered storage: Fetch below the local log start reads from the bucket.
    pub tier: Option<crate::tier::Tier>,
    /// A connection with no request for this long is closed.
    pub idle_timeout: std::time::Duration,
    /// The group coordinator; its timer task runs while the listener serves.
    pub groups: Arc<groups::GroupCoordinator>,
    /// The SASL users; `None`: no authentication.
    pub sasl: Option<Arc<sasl::Users>>,
}

impl KafkaState {
    pub fn new(
        store: Store,
        advertised: SocketAddr,
        max_request_bytes: usize,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        KafkaState {
            advertised,
            producers: ProducerTable::new(),
            max_request_bytes,
            shutdown,
            tier: None,
            idle_timeout: crate::defaults::KAFKA_IDLE_TIMEOUT,
            groups: Arc::new(groups::GroupCoordinator::in_memory(store.metrics().clone())),
            sasl: None,
            store,
        }
    }
}

/// Time a client has to send the rest of a frame once its size has arrived.
const FRAME_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A bound Kafka listener, not yet serving.
pub struct KafkaListener {
    listener: TcpListener,
    addr: SocketAddr,
    max_connections: usize,
    idle_timeout: std::time::Duration,
    tier: Option<crate::tier::Tier>,
    group_config: groups::GroupConfig,
    /// A coordinator shared with the HTTP consumer API; else one of its own.
    groups: Option<Arc<groups::GroupCoordinator>>,
    sasl: Option<Arc<sasl::Users>>,
    tls: Option<TlsAcceptor>,
    tls_handshake_timeout: std::time::Duration,
}

impl KafkaListener {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> std::io::Result<KafkaListener> {
        let listener = TcpListener::bind(addr).await?;
        let mut addr = listener.local_addr()?;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        Ok(KafkaListener {
            listener,
            addr,
            max_connections: crate::defaults::MAX_CONNECTIONS,
            idle_timeout: crate::defaults::KAFKA_IDLE_TIMEOUT,
            tier: None,
            group_config: groups::GroupConfig::default(),
            groups: None,
            sasl: None,
            tls: None,
            tls_handshake_timeout: FRAME_READ_TIMEOUT,
        })
    }

    /// Requires SASL authentication as one of `users` (if there are any).
    pub fn with_sasl(mut self, users: Arc<sasl::Users>) -> Self {
        self.sasl = (!users.is_empty()).then_some(users);
        self
    }

    /// Serves TLS with `acceptor`; a client that has not completed the
    /// handshake within `handshake_timeout` is disconnected.
    pub fn with_tls(
        mut self,
        acceptor: TlsAcceptor,
        handshake_timeout: std::time::Duration,
    ) -> Self {
        self.tls = Some(acceptor);
        self.tls_handshake_timeout = handshake_timeout;
        self
    }

    /// Limits and timings of the group coordinator.
    pub fn with_group_config(mut self, cfg: groups::GroupConfig) -> Self {
        self.group_config = cfg;
        self
    }

    /// Coordinates groups with `coordinator` (shared with the HTTP consumer
    /// API) instead of one built from the group config.
    pub fn with_groups(mut self, coordinator: Arc<groups::GroupCoordinator>) -> Self {
        self.groups = Some(coordinator);
        self
    }

    /// Refuses connections beyond `n` open ones (closed at once, with a log line).
    pub fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Closes connections that send no request for `t` (at least 1 ms).
    pub fn with_idle_timeout(mut self, t: std::time::Duration) -> Self {
        self.idle_timeout = t.max(std::time::Duration::from_millis(1));
        self
    }

    /// Serves Fetch below the local log start from the tier's bucket.
    pub fn with_tier(mut self, tier: crate::tier::Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Logs a warning if the listener is reachable beyond loopback without
    /// SASL (call once configured, before announcing readiness).
    pub fn warn_if_exposed(&self) {
        let Ok(bound) = self.listener.local_addr() else {
            return;
        };
        if self.sasl.is_some() {
            if !bound.ip().is_loopback() && self.tls.is_none() {
                tracing::warn!(addr = %bound, "Kafka listener is bound to a non-loopback address with SASL but without TLS: PLAIN passwords cross the network in clear (add --tls-cert/--tls-key)");
            }
        } else if bound.ip().is_unspecified() {
            tracing::warn!(addr = %bound, "Kafka listener is bound to all interfaces without authentication: anyone who can reach it can read and write data (add --basic-auth USER:PASSWORD for SASL); Metadata advertises 127.0.0.1");
        } else if !bound.ip().is_loopback() {
            tracing::warn!(addr = %bound, "Kafka listener is bound to a non-loopback address without authentication: anyone who can reach it can read and write data (add --basic-auth USER:PASSWORD for SASL)");
        }
    }

    /// The bound address (what Metadata advertises).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts connections until `shutdown` turns true, then waits for every
    /// connection to finish the request it is handling.
    pub async fn serve(
        mut self,
        store: Store,
        max_request_bytes: usize,
        shutdown: watch::Receiver<bool>,
    ) {
        let mut state = KafkaState::new(store, self.addr, max_request_bytes, shutdown.clone());
        state.tier = self.tier.take();
        state.idle_timeout = self.idle_timeout;
        state.sasl = self.sasl.take();
        let bound = self.listener.local_addr().ok();
        if state.sasl.is_none() && bound.is_some_and(|a| !a.ip().is_loopback()) {
            tracing::warn!(addr = ?bound, "Kafka listener is bound to a non-loopback address without authentication: anyone who can reach it can read and write data (add --basic-auth USER:PASSWORD for SASL)");
        }
        let tls = self.tls.take();
        let tls_timeout = self.tls_handshake_timeout;
        state.groups = match self.groups.take() {
            Some(shared) => shared,
            None => Arc::new(groups::GroupCoordinator::new(
                self.group_config.clone(),
                Arc::new(groups::StoreOffsets::new(state.store.clone())),
                state.store.metrics().clone(),
            )),
        };
        let timer = tokio::spawn(
            state
                .groups
                .clone()
                .run_timer(state.store.clone(), shutdown.clone()),
        );
        let state = Arc::new(state);
        let mut stop = shutdown;
        let mut conns = JoinSet::new();
        let mut refused: u64 = 0;
        loop {
            tokio::select! {
                _ = stopped(&mut stop) => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, peer)) if conns.len() >= self.max_connections => {
                        refused += 1;
                        tracing::warn!(
                            %peer,
                            max_connections = self.max_connections,
                            refused_total = refused,
                            "Kafka connection refused: too many connections (--max-connections)"
                        );
                        drop(stream);
                    }
                    Ok((stream, peer)) => {
                        let state = state.clone();
                        let tls = tls.clone();
                        conns.spawn(async move {
                            let _ = stream.set_nodelay(true);
                            let served = match tls {
                                None => connection(state, stream, Some(peer)).await,
                                Some(acceptor) => {
                                    let mut stop = state.shutdown.clone();
                                    let accepted = tokio::select! {
                                        _ = stopped(&mut stop) => return,
                                        a = tokio::time::timeout(tls_timeout, acceptor.accept(stream)) => a,
                                    };
                                    match accepted {
                                        Ok(Ok(tls)) => connection(state, tls, Some(peer)).await,
                                        Ok(Err(e)) => {
                                            tracing::info!(%peer, error = %e, "Kafka TLS handshake failed (is the client using security.protocol=SSL or SASL_SSL?)");
                                            return;
                                        }
                                        Err(_) => {
                                            tracing::info!(%peer, timeout = ?tls_timeout, "Kafka TLS handshake did not complete in time; closing the connection");
                                            return;
                                        }
                                    }
                                }
                            };
                            if let Err(e) = served {
                                tracing::debug!(%peer, error = %e, "Kafka connection ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "Kafka accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(self.listener);
        while conns.join_next().await.is_some() {}
        let _ = timer.await;
        tracing::debug!("Kafka listener stopped");
    }
}

/// Completes once `rx` says the broker is stopping (or its sender is gone).
pub async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Why a connection was closed by the broker.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("request of {size} bytes is over the limit of {max} bytes")]
    TooLarge { size: i64, max: usize },
    #[error(transparent)]
    Frame(#[from] dispatch::FrameError),
}

/// Serves one connection (plain TCP or TLS): one request at a time, responses
/// in order, every request through the connection's SASL gate.
async fn connection<S>(
    state: Arc<KafkaState>,
    stream: S,
    peer: Option<SocketAddr>,
) -> Result<(), ConnError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut read = BufReader::new(read);
    let mut session = sasl::Session::new(state.sasl.as_deref());
    let mut stop = state.shutdown.clone();
    loop {
        let len = tokio::select! {
            _ = stopped(&mut stop) => return Ok(()),
            len = tokio::time::timeout(state.idle_timeout, read.read_i32()) => match len {
                Ok(Ok(len)) => len,
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => {
                    tracing::debug!(?peer, idle = ?state.idle_timeout, "Kafka connection idle; closing it (--kafka-idle-timeout-ms)");
                    return Ok(());
                }
            },
        };
        let size = usize::try_from(len)
            .ok()
            .filter(|s| *s <= state.max_request_bytes);
        let Some(size) = size else {
            tracing::error!(
                ?peer,
                size = len,
                max = state.max_request_bytes,
                "Kafka request too large or negative size; closing the connection"
            );
            return Err(ConnError::TooLarge {
                size: i64::from(len),
                max: state.max_request_bytes,
            });
        };
        let mut frame = vec![0u8; size];
        match tokio::time::timeout(FRAME_READ_TIMEOUT, read.read_exact(&mut frame)).await {
            Ok(read) => read?,
            Err(_) => {
                tracing::warn!(
                    ?peer,
                    size,
                    "Kafka client sent a partial frame and stalled; closing the connection"
                );
                return Err(ConnError::Io(std::io::ErrorKind::TimedOut.into()));
            }
        };
        match dispatch::handle_frame_in(&state, Bytes::from(frame), peer, &mut session).await {
            Ok(Outcome::Reply(body)) => send(&mut write, &body).await?,
            Ok(Outcome::ReplyThenClose(body)) => {
                send(&mut write, &body).await?;
                write.shutdown().await?;
                return Ok(());
            }
            Ok(Outcome::NoReply) => {}
            Err(e @ dispatch::FrameError::Unauthenticated { .. }) => {
                tracing::warn!(?peer, error = %e, "unauthenticated Kafka request refused; closing the connection");
                return Err(e.into());
            }
            Err(e) => {
                tracing::warn!(?peer, error = %e, "bad Kafka request; closing the connection");
                return Err(e.into());
            }
        }
    }
}

/// Writes one length-prefixed response and flushes it (TLS buffers writes).
async fn send<W: AsyncWrite + Unpin>(write: &mut W, body: &[u8]) -> Result<(), ConnError> {
    let len = i32::try_from(body.len())
        .map_err(|_| std::io::Error::other("response larger than 2 GiB"))?;
    write.write_all(&len.to_be_bytes()).await?;
    write.write_all(body).await?;
    write.flush().await?;
    Ok(())
}
