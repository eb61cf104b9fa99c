//! CreateTopics and DeleteTopics.

use std::collections::HashSet;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreateTopicsRequest, CreateTopicsResponse, DeleteTopicsRequest, DeleteTopicsResponse,
};

use super::configs::{config_source, describe_topic_configs};
use super::{sb, topic_name};
use crate::config::{MAX_PARTITIONS, TopicConfig, validate_topic_name};
use crate::kafka::KafkaState;
use crate::kafka::errors::admin_error_reply;

/// A refusal: Kafka error code and message.
type Refusal = (i16, String);

/// Checks a topic to create and builds its config (defaults are not stored).
fn validate(t: &CreatableTopic) -> Result<(i32, TopicConfig), Refusal> {
    validate_topic_name(&t.name.0)
        .map_err(|e| (ResponseError::InvalidTopicException.code(), e.to_string()))?;
    let partitions = if t.num_partitions == -1 {
        1
    } else {
        t.num_partitions
    };
    if !(1..=MAX_PARTITIONS).contains(&partitions) {
        return Err((
            ResponseError::InvalidPartitions.code(),
            format!("partition count {partitions} must be 1 to {MAX_PARTITIONS}"),
        ));
    }
    if !matches!(t.replication_factor, -1 | 1) {
        return Err((
            ResponseError::InvalidReplicationFactor.code(),
            format!(
                "replication factor {} is not possible on a single broker; use 1 or -1",
                t.replication_factor
            ),
        ));
    }
    if !t.assignments.is_empty() {
        return Err((
            ResponseError::InvalidRequest.code(),
            "manual replica assignments are not supported; give a partition count".into(),
        ));
    }
    let mut config = TopicConfig::default();
    for c in &t.configs {
        let Some(value) = &c.value else {
            continue; // null: keep the default
        };
        config
            .set(&c.name, value)
            .map_err(|e| (ResponseError::InvalidConfig.code(), e.to_string()))?;
    }
    Ok((partitions, config))
}

fn result_configs(config: &TopicConfig) -> Vec<CreatableTopicConfigs> {
    describe_topic_configs(config, None)
        .into_iter()
        .map(|(name, value)| {
            let mut c = CreatableTopicConfigs::default();
            c.config_source = config_source(config, &name);
            c.name = sb(name);
            c.value = Some(sb(value));
            c
        })
        .collect()
}

/// CreateTopics, with validate_only.
pub async fn create_topics(
    state: &KafkaState,
    req: CreateTopicsRequest,
    version: i16,
) -> CreateTopicsResponse {
    let mut resp = CreateTopicsResponse::default();
    let mut seen = HashSet::new();
    let duplicates: HashSet<String> = req
        .topics
        .iter()
        .filter(|t| !seen.insert(t.name.0.to_string()))
        .map(|t| t.name.0.to_string())
        .collect();
    for t in req.topics {
        let mut r = CreatableTopicResult::default();
        r.name = topic_name(t.name.0.to_string());
        let outcome = if duplicates.contains(t.name.0.as_str()) {
            Err((
                ResponseError::InvalidRequest.code(),
                format!(
                    "topic {:?} appears more than once in the request",
                    &*t.name.0
                ),
            ))
        } else {
            match validate(&t) {
                Err(e) => Err(e),
                Ok((partitions, config)) if req.validate_only => {
                    if state.store.topic(&t.name.0).is_some() {
                        Err((
                            ResponseError::TopicAlreadyExists.code(),
                            format!("topic {:?} already exists", &*t.name.0),
                        ))
                    } else {
                        Ok((partitions, config))
                    }
                }
                Ok((partitions, config)) => state
                    .store
                    .create_topic(&t.name.0, partitions, config)
                    .await
                    .map(|meta| {
                        tracing::info!(topic = %meta.name, partitions = meta.partitions, "topic created over Kafka");
                        (meta.partitions, meta.config.clone())
                    })
                    .map_err(|e| admin_error_reply(&e)),
            }
        };
        match outcome {
            Ok((partitions, config)) => {
                if version >= 5 {
                    r.num_partitions = partitions;
                    r.replication_factor = 1;
                    r.configs = Some(result_configs(&config));
                }
            }
            Err((code, message)) => {
                r.error_code = code;
                r.error_message = Some(sb(message));
            }
        }
        resp.topics.push(r);
    }
    resp
}

/// DeleteTopics: by name (v1-v6); topic ids are not supported.
pub async fn delete_topics(
    state: &KafkaState,
    req: DeleteTopicsRequest,
    version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<Option<String>> = if version >= 6 {
        req.topics
            .iter()
            .map(|t| t.name.as_ref().map(|n| n.0.to_string()))
            .collect()
    } else {
        req.topic_names
            .iter()
            .map(|n| Some(n.0.to_string()))
            .collect()
    };
    let mut resp = DeleteTopicsResponse::default();
    for (i, name) in names.into_iter().enumerate() {
        let mut r = DeletableTopicResult::default();
        match name {
            None => {
                r.topic_id = req.topics.get(i).map(|t| t.topic_id).unwrap_or_default();
                r.error_code = ResponseError::UnknownTopicId.code();
                r.error_message = Some(sb("topic ids are not supported; delete by name"));
                tracing::debug!("DeleteTopics by topic id refused");
            }
            Some(name) => {
                r.name = Some(topic_name(name.clone()));
                match state.store.delete_topic(&name).await {
                    Ok(()) => {
                        state.producers.forget_topic(&name);
                        tracing::info!(topic = %name, "topic deleted over Kafka");
                    }
                    Err(e) => {
                        let (code, message) = admin_error_reply(&e);
                        r.error_code = code;
                        if version >= 5 {
                            r.error_message = Some(sb(message));
                        }
                    }
                }
            }
        }
        resp.responses.push(r);
    }
    resp
}
