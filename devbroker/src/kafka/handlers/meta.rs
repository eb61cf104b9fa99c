//! ApiVersions and Metadata.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{ApiVersionsResponse, BrokerId, MetadataRequest, MetadataResponse};

use super::{sb, topic_name};
use crate::config::validate_topic_name;
use crate::kafka::KafkaState;
use crate::kafka::dispatch::SUPPORTED;
use crate::storage::TopicMeta;

/// The one broker's id.
pub const BROKER_ID: i32 = 0;
/// The cluster id reported by Metadata.
pub const CLUSTER_ID: &str = "devbroker";

/// ApiVersions: exactly the versions implemented.
pub fn api_versions_response(error_code: i16) -> ApiVersionsResponse {
    let mut resp = ApiVersionsResponse::default();
    resp.error_code = error_code;
    resp.api_keys = SUPPORTED
        .iter()
        .map(|(key, min, max)| {
            let mut v = ApiVersion::default();
            v.api_key = *key as i16;
            v.min_version = *min;
            v.max_version = *max;
            v
        })
        .collect();
    resp
}

fn topic_entry(meta: &TopicMeta) -> MetadataResponseTopic {
    let mut t = MetadataResponseTopic::default();
    t.name = Some(topic_name(meta.name.clone()));
    t.partitions = (0..meta.partitions)
        .map(|p| {
            let mut part = MetadataResponsePartition::default();
            part.partition_index = p;
            part.leader_id = BrokerId(BROKER_ID);
            part.replica_nodes = vec![BrokerId(BROKER_ID)];
            part.isr_nodes = vec![BrokerId(BROKER_ID)];
            part
        })
        .collect();
    t
}

/// Metadata: this broker, leader of every partition; all topics or the ones asked for.
pub fn metadata(state: &KafkaState, req: MetadataRequest, version: i16) -> MetadataResponse {
    let mut resp = MetadataResponse::default();
    let mut broker = MetadataResponseBroker::default();
    broker.node_id = BrokerId(BROKER_ID);
    broker.host = sb(state.advertised.ip().to_string());
    broker.port = i32::from(state.advertised.port());
    resp.brokers = vec![broker];
    if version >= 2 {
        resp.cluster_id = Some(sb(CLUSTER_ID));
    }
    if version >= 1 {
        resp.controller_id = BrokerId(BROKER_ID);
    }
    let all = match &req.topics {
        None => true,
        // v0 has no null list: an empty one means all topics.
        Some(t) => t.is_empty() && version == 0,
    };
    resp.topics = if all {
        state
            .store
            .topics()
            .iter()
            .map(|m| topic_entry(m))
            .collect()
    } else {
        req.topics
            .unwrap_or_default()
            .into_iter()
            .map(|t| {
                let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
                match state.store.topic(&name) {
                    Some(meta) => topic_entry(&meta),
                    None => {
                        let mut e = MetadataResponseTopic::default();
                        e.error_code = if validate_topic_name(&name).is_err() {
                            ResponseError::InvalidTopicException.code()
                        } else {
                            ResponseError::UnknownTopicOrPartition.code()
                        };
                        e.name = Some(topic_name(name));
                        e
                    }
                }
            })
            .collect()
    };
    resp
}
