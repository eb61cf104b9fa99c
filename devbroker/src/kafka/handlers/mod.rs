//! Request handlers, one module per API group. Each takes the decoded request
//! and returns the response body; errors become per-topic or per-partition
//! error codes, as the protocol has them.

pub mod admin;
pub mod configs;
pub mod fetch;
pub mod group_offsets;
pub mod groups;
pub mod meta;
pub mod offsets;
pub mod produce;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;

/// A protocol string from a Rust one.
pub(crate) fn sb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

/// A topic name from a Rust string.
pub(crate) fn topic_name(s: impl Into<String>) -> TopicName {
    TopicName(sb(s))
}
