//! One Kafka connection: dial the first bootstrap broker that answers, speak
//! TLS if configured ([`super::tls`]), negotiate versions with ApiVersions,
//! authenticate with SASL if configured ([`super::sasl`]), then exchange
//! framed requests.
//!
//! Everything that changes how bytes reach the broker belongs here and in
//! those two files; the request builders in the sibling modules only call
//! [`Conn::request`], so every request gets TLS and SASL.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    ListOffsetsRequest, MetadataRequest, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::config::{ClientConfig, SaslMechanism};
use crate::client::error::{Error, Result};

pub(crate) fn kafka_error(code: i16, message: Option<&StrBytes>) -> Option<Error> {
    let err = ResponseError::try_from_code(code)?;
    Some(Error::Kafka {
        code,
        name: err.to_string(),
        message: message.map(|m| m.to_string()),
    })
}

/// The first byte of a TLS alert record: what a TLS listener answers to
/// plaintext.
const TLS_ALERT: u8 = 0x15;
const SPEAKS_TLS: &str = "the broker answered with a TLS alert: its listener speaks TLS (SSL or SASL_SSL); pass --kafka-tls (and --tls-ca FILE if its CA is not a public one)";

/// Whether an I/O error means the broker closed the connection.
fn closed(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    )
}

pub(crate) trait Supported: Request {
    const OURS: (i16, i16);
}
impl Supported for MetadataRequest {
    const OURS: (i16, i16) = (1, 12);
}
impl Supported for CreateTopicsRequest {
    const OURS: (i16, i16) = (2, 7);
}
impl Supported for DeleteTopicsRequest {
    const OURS: (i16, i16) = (1, 6);
}
impl Supported for DescribeConfigsRequest {
    const OURS: (i16, i16) = (1, 4);
}
impl Supported for ListOffsetsRequest {
    const OURS: (i16, i16) = (1, 7);
}

/// How Kafka connections are secured: TLS (a built rustls configuration) and
/// SASL. Built once per [`crate::client::Client`]; its `Debug` masks the password.
pub(crate) struct Security {
    tls: Option<Arc<rustls::ClientConfig>>,
    sasl: Option<SaslMechanism>,
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .field("user", &self.user)
            .field("password", &crate::client::mask(&self.password))
            .finish()
    }
}

impl Security {
    /// From the client's settings; reads the CA and client certificate files
    /// when TLS is on. Missing SASL credentials are reported when a
    /// connection needs them, naming the broker.
    pub(crate) fn new(config: &ClientConfig) -> Result<Security> {
        let tls = if config.kafka_uses_tls() {
            Some(Arc::new(super::tls::client_config(
                config.tls_ca.as_deref(),
                config.tls_cert.as_deref(),
                config.tls_key.as_deref(),
            )?))
        } else {
            None
        };
        Ok(Security {
            tls,
            sasl: config.sasl_mechanism,
            user: config.user.clone(),
            password: config.password.clone(),
        })
    }
}

/// A byte stream to a broker: TCP, or TLS over TCP.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// One open connection to a broker, with the versions it supports.
pub(crate) struct Conn {
    stream: Box<dyn Stream>,
    broker: String,
    versions: Vec<ApiVersion>,
    correlation: i32,
    timeout: Duration,
    tls: bool,
    sasl: bool,
}

impl Conn {
    pub(crate) async fn open(
        brokers: &[String],
        timeout: Duration,
        security: &Security,
    ) -> Result<Conn> {
        let mut last = Error::KafkaTransport {
            broker: "(none)".into(),
            detail: "no Kafka broker configured (--brokers)".into(),
        };
        for broker in brokers {
            match tokio::time::timeout(timeout, TcpStream::connect(broker.as_str())).await {
                Ok(Ok(tcp)) => {
                    let _ = tcp.set_nodelay(true);
                    let stream: Box<dyn Stream> = match &security.tls {
                        Some(tls) => {
                            Box::new(super::tls::connect(tls, broker, tcp, timeout).await?)
                        }
                        None => Box::new(tcp),
                    };
                    let mut conn = Conn {
                        stream,
                        broker: broker.clone(),
                        versions: Vec::new(),
                        correlation: 0,
                        timeout,
                        tls: security.tls.is_some(),
                        sasl: security.sasl.is_some(),
                    };
                    let reply = conn.call(&ApiVersionsRequest::default(), 0).await?;
                    if let Some(e) = kafka_error(reply.error_code, None) {
                        return Err(e);
                    }
                    conn.versions = reply.api_keys;
                    if let Some(mechanism) = security.sasl {
                        super::sasl::authenticate(
                            &mut conn,
                            mechanism,
                            security.user.as_deref(),
                            security.password.as_deref(),
                        )
                        .await?;
                    }
                    return Ok(conn);
                }
                Ok(Err(e)) => {
                    let detail = if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        "connection refused".to_owned()
                    } else {
                        e.to_string()
                    };
                    last = Error::KafkaTransport {
                        broker: broker.clone(),
                        detail,
                    };
                }
                Err(_) => {
                    last = Error::KafkaTransport {
                        broker: broker.clone(),
                        detail: format!("no connection within {timeout:?}"),
                    };
                }
            }
        }
        Err(last)
    }

    /// The highest version of `R` both sides speak.
    pub(crate) fn version<R: Supported>(&self) -> Result<i16> {
        let (our_min, our_max) = R::OURS;
        let theirs = self
            .versions
            .iter()
            .find(|v| v.api_key == R::KEY)
            .ok_or_else(|| Error::KafkaTransport {
                broker: self.broker.clone(),
                detail: format!("broker does not support API key {}", R::KEY),
            })?;
        let v = our_max.min(theirs.max_version);
        if v < our_min.max(theirs.min_version) {
            return Err(Error::KafkaTransport {
                broker: self.broker.clone(),
                detail: format!(
                    "no common version for API key {} (ours {our_min}..={our_max}, broker {}..={})",
                    R::KEY,
                    theirs.min_version,
                    theirs.max_version
                ),
            });
        }
        Ok(v)
    }

    /// The broker this connection is to (`host:port`).
    pub(crate) fn broker(&self) -> &str {
        &self.broker
    }

    pub(crate) fn transport(&self, detail: impl std::fmt::Display) -> Error {
        Error::KafkaTransport {
            broker: self.broker.clone(),
            detail: detail.to_string(),
        }
    }

    pub(crate) async fn call<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response> {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(R::KEY)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("rpkv")));
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        header
            .encode(&mut buf, R::header_version(version))
            .map_err(|e| self.transport(format!("encoding request header: {e}")))?;
        req.encode(&mut buf, version)
            .map_err(|e| self.transport(format!("encoding request: {e}")))?;
        let len = i32::try_from(buf.len() - 4).map_err(|_| self.transport("request too large"))?;
        buf[..4].copy_from_slice(&len.to_be_bytes());

        let timeout = self.timeout;
        let tls = self.tls;
        let exchange = async {
            self.stream.write_all(&buf).await?;
            self.stream.flush().await?;
            let mut head = [0u8; 4];
            self.stream.read_exact(&mut head).await?;
            if !tls && head[0] == TLS_ALERT && head[1] == 3 {
                return Err(std::io::Error::other(SPEAKS_TLS));
            }
            if &head == b"HTTP" {
                return Err(std::io::Error::other(
                    "the server answered in HTTP: this is an HTTP port, not a Kafka listener; check --brokers",
                ));
            }
            let len = i32::from_be_bytes(head);
            let len = usize::try_from(len).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "negative frame length")
            })?;
            if len > 256 << 20 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("frame of {len} bytes is too large"),
                ));
            }
            let mut body = vec![0u8; len];
            self.stream.read_exact(&mut body).await?;
            Ok::<_, std::io::Error>(body)
        };
        let body = match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) if closed(&e) && !self.sasl && R::KEY != ApiVersionsRequest::KEY => {
                // What a broker that requires SASL does to any other request
                // before authentication.
                tracing::debug!(broker = %self.broker, error = %e, "connection closed");
                return Err(self.transport(
                    "the broker closed the connection; if it requires SASL (SASL_PLAINTEXT or SASL_SSL), pass --sasl-mechanism with --user and --password",
                ));
            }
            Ok(Err(e)) if closed(&e) && !self.tls && R::KEY == ApiVersionsRequest::KEY => {
                tracing::debug!(broker = %self.broker, error = %e, "connection closed");
                return Err(self.transport(
                    "the broker closed the connection at the first request; if its listener speaks TLS (SSL or SASL_SSL), pass --kafka-tls",
                ));
            }
            Ok(Err(e)) => return Err(self.transport(e)),
            Err(_) => return Err(self.transport(format!("no reply within {timeout:?}"))),
        };
        let mut body = bytes::Bytes::from(body);
        let rh = ResponseHeader::decode(
            &mut body,
            <R::Response as HeaderVersion>::header_version(version),
        )
        .map_err(|e| self.transport(format!("decoding response header: {e}")))?;
        if rh.correlation_id != self.correlation {
            return Err(self.transport(format!(
                "correlation id {} does not match request {}",
                rh.correlation_id, self.correlation
            )));
        }
        let resp = R::Response::decode(&mut body, version)
            .map_err(|e| self.transport(format!("decoding response (API key {}): {e}", R::KEY)))?;
        if body.has_remaining() {
            tracing::debug!(
                broker = %self.broker,
                left = body.remaining(),
                "response has trailing bytes"
            );
        }
        Ok(resp)
    }

    pub(crate) async fn request<R: Supported>(&mut self, req: R) -> Result<R::Response> {
        let v = self.version::<R>()?;
        self.call(&req, v).await
    }
}
