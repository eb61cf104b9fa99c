//! HTTP Proxy calls (pandaproxy / Confluent REST v2): produce and read records.

use reqwest::Method;
use rpkv_wire::b64;
use rpkv_wire::proxy::{
    BINARY_V2, ConsumedRecord, ProduceOffset, ProduceRecord, ProduceRequest, ProduceResponse,
};
use serde_json::Value;

use super::Client;
use super::error::{Error, Result};
use super::http::Idempotent;

/// A record to produce. `partition: None` lets the broker pick (round robin
/// for a null key); callers that want Kafka's partitioner compute it first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OutgoingRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub partition: Option<i32>,
}

/// A record read from a partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedBytes {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the broker tells.
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
}

fn embedded(v: &Value, what: &str) -> Result<Option<Vec<u8>>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => b64::decode(s).map(Some).map_err(|e| Error::Decode {
            url: "records".into(),
            detail: format!("{what} is not base64: {e}"),
        }),
        other => Err(Error::Decode {
            url: "records".into(),
            detail: format!("{what} is not a base64 string: {other}"),
        }),
    }
}

impl Client {
    /// `POST /topics/{topic}` with binary.v2 records; one offset per record, in order.
    /// A per-record failure is returned as [`Error::Http`] naming the first failure.
    pub async fn produce(
        &self,
        topic: &str,
        records: Vec<OutgoingRecord>,
    ) -> Result<Vec<ProduceOffset>> {
        self.check_writable("produce")?;
        let req = ProduceRequest {
            records: records
                .into_iter()
                .map(|r| ProduceRecord {
                    key: r.key.map(|k| Value::String(b64::encode(&k))),
                    value: r.value.map(|v| Value::String(b64::encode(&v))),
                    partition: r.partition,
                })
                .collect(),
        };
        let body = serde_json::to_vec(&req)
            .map_err(|e| Error::InvalidInput(format!("encoding records: {e}")))?;
        let path = format!("/topics/{}", super::url_segment(topic));
        let reply = self
            .http
            .send(Method::POST, &path, Idempotent::No, |rb| {
                rb.header(reqwest::header::CONTENT_TYPE, BINARY_V2)
                    .header(reqwest::header::ACCEPT, "application/vnd.kafka.v2+json")
                    .body(body.clone())
            })
            .await?;
        let resp: ProduceResponse = self.http.decode(&path, &reply)?;
        if let Some(failed) = resp.offsets.iter().find(|o| o.error_code.is_some()) {
            return Err(Error::Http {
                status: failed
                    .error_code
                    .and_then(|c| u16::try_from(c / 100).ok())
                    .unwrap_or(500),
                message: failed
                    .error
                    .clone()
                    .unwrap_or_else(|| "produce failed".to_owned()),
            });
        }
        Ok(resp.offsets)
    }

    /// `GET /topics/{topic}/partitions/{p}/records`: records from `offset` on,
    /// waiting up to `timeout_ms` for some to arrive.
    pub async fn fetch_records(
        &self,
        topic: &str,
        partition: i32,
        offset: i64,
        timeout_ms: u64,
        max_bytes: usize,
    ) -> Result<Vec<ConsumedBytes>> {
        let path = format!(
            "/topics/{}/partitions/{partition}/records?offset={offset}&timeout={timeout_ms}&max_bytes={max_bytes}",
            super::url_segment(topic)
        );
        let reply = self
            .http
            .send(Method::GET, &path, Idempotent::Yes, |rb| {
                rb.header(reqwest::header::ACCEPT, BINARY_V2)
            })
            .await?;
        let records: Vec<ConsumedRecord> = self.http.decode(&path, &reply)?;
        records
            .into_iter()
            .map(|r| {
                Ok(ConsumedBytes {
                    key: embedded(&r.key, "key")?,
                    value: embedded(&r.value, "value")?,
                    topic: r.topic,
                    partition: r.partition,
                    offset: r.offset,
                    timestamp: r.timestamp,
                })
            })
            .collect()
    }

    /// `GET /topics`: topic names as the HTTP Proxy lists them.
    pub async fn http_topics(&self) -> Result<Vec<String>> {
        let reply = self
            .http
            .send(Method::GET, "/topics", Idempotent::Yes, |rb| rb)
            .await?;
        self.http.decode("/topics", &reply)
    }

    /// `GET /status/ready`: Ok when the broker answers ready.
    pub async fn ready(&self) -> Result<()> {
        self.http
            .send(Method::GET, "/status/ready", Idempotent::No, |rb| rb)
            .await
            .map(drop)
    }
}
