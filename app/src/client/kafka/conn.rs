//! One Kafka connection: dial the first bootstrap broker that answers,
//! negotiate versions with ApiVersions, then exchange framed requests.
//!
//! Everything that changes how bytes reach the broker (TLS, SASL) belongs
//! here; the request builders in the sibling modules only call
//! [`Conn::request`].

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{
    ApiVersionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    ListOffsetsRequest, MetadataRequest, RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::error::{Error, Result};

pub(crate) fn kafka_error(code: i16, message: Option<&StrBytes>) -> Option<Error> {
    let err = ResponseError::try_from_code(code)?;
    Some(Error::Kafka {
        code,
        name: err.to_string(),
        message: message.map(|m| m.to_string()),
    })
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

/// One open connection to a broker, with the versions it supports.
pub(crate) struct Conn {
    stream: TcpStream,
    broker: String,
    versions: Vec<ApiVersion>,
    correlation: i32,
    timeout: Duration,
}

impl Conn {
    pub(crate) async fn open(brokers: &[String], timeout: Duration) -> Result<Conn> {
        let mut last = Error::KafkaTransport {
            broker: "(none)".into(),
            detail: "no Kafka broker configured (--brokers)".into(),
        };
        for broker in brokers {
            match tokio::time::timeout(timeout, TcpStream::connect(broker.as_str())).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    let mut conn = Conn {
                        stream,
                        broker: broker.clone(),
                        versions: Vec::new(),
                        correlation: 0,
                        timeout,
                    };
                    let reply = conn.call(&ApiVersionsRequest::default(), 0).await?;
                    if let Some(e) = kafka_error(reply.error_code, None) {
                        return Err(e);
                    }
                    conn.versions = reply.api_keys;
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
        let exchange = async {
            self.stream.write_all(&buf).await?;
            let len = self.stream.read_i32().await?;
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
