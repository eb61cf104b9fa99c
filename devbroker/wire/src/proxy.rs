//! HTTP Proxy (pandaproxy, Confluent REST v2) bodies.
//!
//! Keys and values are `serde_json::Value`s because their meaning depends on the
//! embedded format: base64 strings for `binary.v2`, any JSON for `json.v2`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `application/vnd.kafka.binary.v2+json`.
pub const BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";
/// `application/vnd.kafka.json.v2+json`.
pub const JSON_V2: &str = "application/vnd.kafka.json.v2+json";
/// The media type of the proxy's own replies.
pub const PROXY_V2: &str = "application/vnd.kafka.v2+json";

/// The embedded format of keys and values in a proxy body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmbeddedFormat {
    Binary,
    Json,
}

impl EmbeddedFormat {
    /// Reads the format from a Content-Type or Accept value.
    pub fn from_media_type(media: &str) -> Option<Self> {
        let media = media.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case(BINARY_V2) {
            Some(EmbeddedFormat::Binary)
        } else if media.eq_ignore_ascii_case(JSON_V2) {
            Some(EmbeddedFormat::Json)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            EmbeddedFormat::Binary => BINARY_V2,
            EmbeddedFormat::Json => JSON_V2,
        }
    }
}

/// `POST /topics/{topic}` body.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    pub records: Vec<ProduceRecord>,
}

/// One record to produce; no partition means the partitioner picks one.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProduceRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
}

/// `POST /topics/{topic}` reply.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProduceResponse {
    pub offsets: Vec<ProduceOffset>,
}

/// Where one produced record went, or why it did not.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ProduceOffset {
    pub partition: i32,
    pub offset: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One record of `GET /topics/{t}/partitions/{p}/records`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsumedRecord {
    pub topic: String,
    pub key: Value,
    pub value: Value,
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch (an extension; Redpanda omits it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// `GET /brokers` reply.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BrokersResponse {
    pub brokers: Vec<i32>,
}

/// Error body of every endpoint: `{"error_code":N,"message":"..."}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: i32,
    pub message: String,
}
