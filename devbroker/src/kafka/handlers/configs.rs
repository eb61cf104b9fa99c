//! DescribeConfigs and IncrementalAlterConfigs for topics.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, DescribeConfigsRequest, DescribeConfigsResponse,
    IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
};

use super::sb;
use crate::config::{
    self, CLEANUP_POLICY, DEFAULTS, KVSTORE, MAX_MESSAGE_BYTES, SEGMENT_BYTES, TopicConfig,
};
use crate::kafka::KafkaState;
use crate::kafka::errors::admin_error_reply;
use crate::storage::ConfigChange;

/// Config resource types.
pub const RESOURCE_TOPIC: i8 = 2;
pub const RESOURCE_BROKER: i8 = 4;
/// Config sources.
pub const SOURCE_TOPIC_CONFIG: i8 = 1;
pub const SOURCE_DEFAULT_CONFIG: i8 = 5;
/// Alter operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;

/// Where a topic's effective config value comes from.
pub fn config_source(config: &TopicConfig, name: &str) -> i8 {
    if config.is_set(name) {
        SOURCE_TOPIC_CONFIG
    } else {
        SOURCE_DEFAULT_CONFIG
    }
}

/// Kafka's ConfigType of a config (STRING 2, INT 3, LONG 5, LIST 7).
fn config_type(name: &str) -> i8 {
    match name {
        MAX_MESSAGE_BYTES | SEGMENT_BYTES => 3,
        CLEANUP_POLICY => 7,
        n if n.ends_with(".ms") || n.ends_with(".bytes") => 5,
        _ => 2,
    }
}

/// Effective `(name, value)` of every known config, or of the ones in `keys`.
pub fn describe_topic_configs(
    config: &TopicConfig,
    keys: Option<&[String]>,
) -> Vec<(String, String)> {
    DEFAULTS
        .iter()
        .filter(|(name, _)| keys.is_none_or(|k| k.iter().any(|k| k == name)))
        .map(|(name, default)| {
            (
                name.to_string(),
                config.get(name).unwrap_or(default).to_string(),
            )
        })
        .collect()
}

fn describe_resource(
    state: &KafkaState,
    resource_type: i8,
    name: &str,
    keys: Option<Vec<String>>,
    synonyms: bool,
    version: i16,
) -> Result<Vec<DescribeConfigsResourceResult>, (i16, String)> {
    match resource_type {
        RESOURCE_TOPIC => {}
        // One broker without settable configs: nothing to report.
        RESOURCE_BROKER => return Ok(Vec::new()),
        other => {
            return Err((
                ResponseError::InvalidRequest.code(),
                format!("config resource type {other} is not supported; use topics (2)"),
            ));
        }
    }
    let meta = state.store.topic(name).ok_or_else(|| {
        (
            ResponseError::UnknownTopicOrPartition.code(),
            format!("topic {name:?} does not exist"),
        )
    })?;
    let config = &meta.config;
    Ok(describe_topic_configs(config, keys.as_deref())
        .into_iter()
        .map(|(name, value)| {
            let mut r = DescribeConfigsResourceResult::default();
            r.config_source = config_source(config, &name);
            if version >= 3 {
                r.config_type = config_type(&name);
            }
            if synonyms {
                let mut list = Vec::new();
                if config.is_set(&name) {
                    let mut s = DescribeConfigsSynonym::default();
                    s.name = sb(name.clone());
                    s.value = Some(sb(value.clone()));
                    s.source = SOURCE_TOPIC_CONFIG;
                    list.push(s);
                }
                if let Ok(default) = config::default_of(&name) {
                    let mut s = DescribeConfigsSynonym::default();
                    s.name = sb(name.clone());
                    s.value = Some(sb(default));
                    s.source = SOURCE_DEFAULT_CONFIG;
                    list.push(s);
                }
                r.synonyms = list;
            }
            r.name = sb(name);
            r.value = Some(sb(value));
            r
        })
        .collect())
}

/// DescribeConfigs: topic configs with their sources (defaults included).
pub fn describe(
    state: &KafkaState,
    req: DescribeConfigsRequest,
    version: i16,
) -> DescribeConfigsResponse {
    let mut resp = DescribeConfigsResponse::default();
    for res in req.resources {
        let keys = res
            .configuration_keys
            .map(|k| k.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let mut out = DescribeConfigsResult::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        match describe_resource(
            state,
            res.resource_type,
            &res.resource_name,
            keys,
            req.include_synonyms,
            version,
        ) {
            Ok(configs) => out.configs = configs,
            Err((code, message)) => {
                out.error_code = code;
                out.error_message = Some(sb(message));
            }
        }
        resp.results.push(out);
    }
    resp
}

/// IncrementalAlterConfigs: SET and DELETE on topic configs, all or none per topic.
pub async fn incremental_alter(
    state: &KafkaState,
    req: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut resp = IncrementalAlterConfigsResponse::default();
    for res in req.resources {
        let mut out = AlterConfigsResourceResponse::default();
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let result = alter_one(state, &res, req.validate_only).await;
        if let Err((code, message)) = result {
            out.error_code = code;
            out.error_message = Some(sb(message));
        }
        resp.responses.push(out);
    }
    resp
}

async fn alter_one(
    state: &KafkaState,
    res: &kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    let invalid = |m: String| (ResponseError::InvalidRequest.code(), m);
    if res.resource_type != RESOURCE_TOPIC {
        return Err(invalid(format!(
            "config resource type {} cannot be altered; only topics (2) can",
            res.resource_type
        )));
    }
    let mut changes = Vec::with_capacity(res.configs.len());
    for c in &res.configs {
        match (c.config_operation, &c.value) {
            (OP_SET, Some(v)) => changes.push(ConfigChange::Set(c.name.to_string(), v.to_string())),
            (OP_SET, None) | (OP_DELETE, _) => {
                changes.push(ConfigChange::Delete(c.name.to_string()))
            }
            (op, _) => {
                return Err(invalid(format!(
                    "config operation {op} on {} is not supported; use SET (0) or DELETE (1)",
                    &*c.name
                )));
            }
        }
    }
    apply_changes(state, &res.resource_name, changes, validate_only).await
}

/// AlterConfigs (the legacy, replace-all form): the given configs are set and
/// every other explicitly set config returns to its default, except
/// `redpanda.kvstore`, which is fixed at creation and kept when not mentioned.
pub async fn alter(state: &KafkaState, req: AlterConfigsRequest) -> AlterConfigsResponse {
    let mut resp = AlterConfigsResponse::default();
    for res in req.resources {
        let mut out =
            kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse::default(
            );
        out.resource_type = res.resource_type;
        out.resource_name = res.resource_name.clone();
        let result = if res.resource_type != RESOURCE_TOPIC {
            Err((
                ResponseError::InvalidRequest.code(),
                format!(
                    "config resource type {} cannot be altered; only topics (2) can",
                    res.resource_type
                ),
            ))
        } else {
            let given: Vec<(String, Option<String>)> = res
                .configs
                .iter()
                .map(|c| (c.name.to_string(), c.value.as_ref().map(|v| v.to_string())))
                .collect();
            let mut changes: Vec<ConfigChange> = given
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => ConfigChange::Set(k.clone(), v.clone()),
                    None => ConfigChange::Delete(k.clone()),
                })
                .collect();
            if let Some(meta) = state.store.topic(&res.resource_name) {
                changes.extend(
                    meta.config
                        .values
                        .keys()
                        .filter(|k| k.as_str() != KVSTORE && !given.iter().any(|(g, _)| g == *k))
                        .map(|k| ConfigChange::Delete(k.clone())),
                );
            }
            apply_changes(state, &res.resource_name, changes, req.validate_only).await
        };
        if let Err((code, message)) = result {
            out.error_code = code;
            out.error_message = Some(sb(message));
        }
        resp.responses.push(out);
    }
    resp
}

/// Applies config changes to a topic (or only checks them), all or none.
async fn apply_changes(
    state: &KafkaState,
    name: &str,
    changes: Vec<ConfigChange>,
    validate_only: bool,
) -> Result<(), (i16, String)> {
    let invalid = |m: String| (ResponseError::InvalidRequest.code(), m);
    let name = name.to_string();
    if validate_only {
        let meta = state.store.topic(&name).ok_or_else(|| {
            (
                ResponseError::UnknownTopicOrPartition.code(),
                format!("topic {name:?} does not exist"),
            )
        })?;
        let mut config = meta.config.clone();
        let bad = |e: config::ConfigError| (ResponseError::InvalidConfig.code(), e.to_string());
        for change in &changes {
            match change {
                ConfigChange::Set(k, v) => config.set(k, v).map_err(bad)?,
                ConfigChange::Delete(k) => config.unset(k).map_err(bad)?,
            }
        }
        if config.kvstore() != meta.config.kvstore() {
            return Err(invalid(format!(
                "{KVSTORE} is fixed when a topic is created; create a new topic to change it"
            )));
        }
        return Ok(());
    }
    state
        .store
        .alter_config(&name, changes)
        .await
        .map(drop)
        .map_err(|e| admin_error_reply(&e))
}
