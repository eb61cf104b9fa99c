//! Request and response bodies of the consumer API (Confluent REST v2 /
//! pandaproxy shapes) and the error codes it answers with.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Confluent REST error codes.
pub const INSTANCE_NOT_FOUND: i32 = 40403;
pub const INSTANCE_EXISTS: i32 = 40902;
pub const TOPIC_NOT_FOUND: i32 = 40401;
pub const FORMAT_MISMATCH: i32 = 40601;
pub const INVALID_CONFIG: i32 = 42204;
pub const REBALANCING: i32 = 40901;

/// `POST /consumers/{group}`. Numbers and booleans may come as JSON strings,
/// as Confluent's clients send them.
#[derive(Debug, Default, Deserialize)]
pub struct CreateRequest {
    pub name: Option<String>,
    pub format: Option<String>,
    #[serde(rename = "auto.offset.reset")]
    pub auto_offset_reset: Option<String>,
    #[serde(rename = "auto.commit.enable")]
    pub auto_commit_enable: Option<Value>,
    #[serde(rename = "fetch.min.bytes")]
    pub fetch_min_bytes: Option<Value>,
    #[serde(rename = "consumer.request.timeout.ms")]
    pub request_timeout_ms: Option<Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct CreateResponse {
    pub instance_id: String,
    pub base_uri: String,
}

/// `POST .../subscription` and the answer of `GET .../subscription`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Subscription {
    #[serde(default)]
    pub topics: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_pattern: Option<String>,
}

/// A topic partition in a body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Partition {
    pub topic: String,
    pub partition: i32,
}

/// `GET .../assignments`.
#[derive(Debug, Serialize, Deserialize)]
pub struct Assignments {
    pub partitions: Vec<Partition>,
}

/// One offset of `POST .../offsets` or of the answer of `GET .../offsets`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Offset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    #[serde(default)]
    pub metadata: String,
}

/// `POST .../offsets` (no body: everything fetched so far).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Offsets {
    pub offsets: Vec<Offset>,
}

/// `GET .../offsets` (a body naming the partitions, as Redpanda takes it).
#[derive(Debug, Default, Deserialize)]
pub struct OffsetsQuery {
    pub partitions: Vec<Partition>,
}

/// Reads a flag that may be a JSON boolean or a `"true"`/`"false"` string.
pub fn flag(v: &Option<Value>, name: &str) -> Result<Option<bool>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(format!("{name} must be true or false, not {other}")),
    }
}

/// Reads a number that may be a JSON number or a string of digits.
pub fn number(v: &Option<Value>, name: &str) -> Result<Option<u64>, String> {
    let bad = |other: &Value| format!("{name} must be a non-negative integer, not {other}");
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(n @ Value::Number(_)) => n.as_u64().map(Some).ok_or_else(|| bad(n)),
        Some(s @ Value::String(text)) => text.parse().map(Some).map_err(|_| bad(s)),
        Some(other) => Err(bad(other)),
    }
}
