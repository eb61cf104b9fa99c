//! Kafka admin over the wire protocol (`kafka-protocol` codecs): Metadata,
//! CreateTopics, DeleteTopics, DescribeConfigs, ListOffsets.
//!
//! Each call opens a connection to the first bootstrap broker that answers,
//! negotiates versions with ApiVersions, sends one request and closes. That is
//! plenty for a CLI and keeps the client free of connection state.

mod conn;
mod sasl;
mod tls;

#[allow(unused_imports)] // `Supported` is implemented by request types in sibling modules.
pub(crate) use conn::{Conn, Security, Supported, kafka_error};

use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    BrokerId, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest, ListOffsetsRequest,
    MetadataRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::client::Client;
use crate::client::error::{Error, Result};

/// A broker of the cluster, as Metadata reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    pub id: i32,
    pub host: String,
    pub port: i32,
}

/// One partition of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub id: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
}

/// A topic with its partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub internal: bool,
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// Replication factor (replicas of the first partition).
    pub fn replication(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

/// Brokers and topics, from one Metadata call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterInfo {
    pub brokers: Vec<BrokerInfo>,
    pub controller: i32,
    pub topics: Vec<TopicInfo>,
}

/// Whether configs say the topic is a kvstore topic.
pub fn is_kvstore(configs: &[ConfigEntry]) -> bool {
    configs.iter().any(|c| {
        c.name == "redpanda.kvstore"
            && c.value
                .as_deref()
                .is_some_and(|v| !v.is_empty() && v != "none" && v != "false")
    })
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// Partition count; -1 = the broker's default.
    pub partitions: i32,
    /// Replication factor; -1 = the broker's default.
    pub replication: i16,
    pub configs: Vec<(String, String)>,
}

/// The outcome of creating or deleting one topic.
#[derive(Debug)]
pub struct TopicOutcome {
    pub name: String,
    pub result: Result<()>,
}

/// One configuration entry of a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    pub value: Option<String>,
    /// Where the value comes from: DEFAULT_CONFIG, DYNAMIC_TOPIC_CONFIG, ...
    pub source: String,
    pub read_only: bool,
    pub sensitive: bool,
}

/// Which end of a partition's log to ask ListOffsets for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The high watermark (next offset to be written).
    Latest,
}

/// Start and end offsets of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionOffsets {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

fn config_source(code: i8) -> &'static str {
    // DescribeConfigs v1+ ConfigSource codes.
    match code {
        1 => "DYNAMIC_TOPIC_CONFIG",
        2 => "DYNAMIC_BROKER_CONFIG",
        3 => "DYNAMIC_DEFAULT_BROKER_CONFIG",
        4 => "STATIC_BROKER_CONFIG",
        5 => "DEFAULT_CONFIG",
        6 => "DYNAMIC_BROKER_LOGGER_CONFIG",
        7 => "CLIENT_METRICS_CONFIG",
        8 => "GROUP_CONFIG",
        _ => "UNKNOWN",
    }
}

pub(crate) fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

impl Client {
    /// A fresh connection to the first bootstrap broker that answers.
    pub(crate) async fn kafka(&self) -> Result<Conn> {
        Conn::open(&self.brokers, self.kafka_timeout, &self.kafka_security).await
    }

    /// A fresh connection to one broker (`host:port`, e.g. a partition
    /// leader from Metadata), with the same settings as [`Client::kafka`].
    pub(crate) async fn kafka_at(&self, broker: &str) -> Result<Conn> {
        Conn::open(
            &[broker.to_owned()],
            self.kafka_timeout,
            &self.kafka_security,
        )
        .await
    }

    /// Brokers and topics (`None` = all topics), topics sorted by name.
    /// A named topic that does not exist is [`Error::UnknownTopic`].
    pub async fn cluster_metadata(&self, topics: Option<&[String]>) -> Result<ClusterInfo> {
        let mut conn = self.kafka().await?;
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| MetadataRequestTopic::default().with_name(Some(topic_name(t))))
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        let resp = conn.request(req).await?;
        let mut out = ClusterInfo {
            brokers: resp
                .brokers
                .iter()
                .map(|b| BrokerInfo {
                    id: b.node_id.0,
                    host: b.host.to_string(),
                    port: b.port,
                })
                .collect(),
            controller: resp.controller_id.0,
            topics: Vec::new(),
        };
        for t in resp.topics {
            let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
            if t.error_code == 3 {
                return Err(Error::UnknownTopic(name));
            }
            if let Some(e) = kafka_error(t.error_code, None) {
                return Err(e);
            }
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    id: p.partition_index,
                    leader: p.leader_id.0,
                    replicas: p.replica_nodes.iter().map(|r: &BrokerId| r.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.id);
            out.topics.push(TopicInfo {
                name,
                internal: t.is_internal,
                partitions,
            });
        }
        out.topics.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// All topics, sorted by name.
    pub async fn list_topics(&self) -> Result<Vec<TopicInfo>> {
        Ok(self.cluster_metadata(None).await?.topics)
    }

    /// One topic's partitions; [`Error::UnknownTopic`] when it does not exist.
    pub async fn topic_info(&self, topic: &str) -> Result<TopicInfo> {
        let names = [topic.to_owned()];
        let meta = self.cluster_metadata(Some(&names)).await?;
        meta.topics
            .into_iter()
            .find(|t| t.name == topic)
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))
    }

    /// The partition count of a topic.
    pub async fn partition_count(&self, topic: &str) -> Result<i32> {
        let info = self.topic_info(topic).await?;
        i32::try_from(info.partitions.len())
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::UnknownTopic(topic.to_owned()))
    }

    /// CreateTopics; one outcome per topic.
    pub async fn create_topics(&self, topics: &[NewTopic]) -> Result<Vec<TopicOutcome>> {
        self.check_writable("create topics")?;
        let mut conn = self.kafka().await?;
        let req = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(
                topics
                    .iter()
                    .map(|t| {
                        CreatableTopic::default()
                            .with_name(topic_name(&t.name))
                            .with_num_partitions(t.partitions)
                            .with_replication_factor(t.replication)
                            .with_configs(
                                t.configs
                                    .iter()
                                    .map(|(k, v)| {
                                        CreatableTopicConfig::default()
                                            .with_name(StrBytes::from_string(k.clone()))
                                            .with_value(Some(StrBytes::from_string(v.clone())))
                                    })
                                    .collect(),
                            )
                    })
                    .collect(),
            );
        let resp = conn.request(req).await?;
        Ok(resp
            .topics
            .into_iter()
            .map(|t| TopicOutcome {
                name: t.name.0.to_string(),
                result: match kafka_error(t.error_code, t.error_message.as_ref()) {
                    Some(e) => Err(e),
                    None => Ok(()),
                },
            })
            .collect())
    }

    /// DeleteTopics; one outcome per topic.
    pub async fn delete_topics(&self, names: &[String]) -> Result<Vec<TopicOutcome>> {
        self.check_writable("delete topics")?;
        let mut conn = self.kafka().await?;
        let v = conn.version::<DeleteTopicsRequest>()?;
        let mut req = DeleteTopicsRequest::default().with_timeout_ms(30_000);
        if v >= 6 {
            req.topics = names
                .iter()
                .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                .collect();
        } else {
            req.topic_names = names.iter().map(|n| topic_name(n)).collect();
        }
        let resp = conn.call(&req, v).await?;
        Ok(resp
            .responses
            .into_iter()
            .map(|t| {
                let name = t.name.map(|n| n.0.to_string()).unwrap_or_default();
                let result = match t.error_code {
                    0 => Ok(()),
                    3 => Err(Error::UnknownTopic(name.clone())),
                    code => Err(kafka_error(code, t.error_message.as_ref())
                        .unwrap_or_else(|| conn.transport("unknown error"))),
                };
                TopicOutcome { name, result }
            })
            .collect())
    }

    /// DescribeConfigs of one topic, sorted by name.
    pub async fn topic_configs(&self, topic: &str) -> Result<Vec<ConfigEntry>> {
        let mut all = self.topics_configs(&[topic.to_owned()]).await?;
        match all.pop() {
            Some((_, result)) => result,
            None => Err(Error::UnknownTopic(topic.to_owned())),
        }
    }

    /// DescribeConfigs of several topics in one request; one result per topic
    /// the broker answered for, each sorted by config name.
    pub async fn topics_configs(
        &self,
        topics: &[String],
    ) -> Result<Vec<(String, Result<Vec<ConfigEntry>>)>> {
        if topics.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.kafka().await?;
        let req = DescribeConfigsRequest::default().with_resources(
            topics
                .iter()
                .map(|t| {
                    DescribeConfigsResource::default()
                        .with_resource_type(2)
                        .with_resource_name(StrBytes::from_string(t.clone()))
                        .with_configuration_keys(None)
                })
                .collect(),
        );
        let resp = conn.request(req).await?;
        Ok(resp
            .results
            .into_iter()
            .map(|result| {
                let name = result.resource_name.to_string();
                let entries = match result.error_code {
                    0 => {
                        let mut entries: Vec<ConfigEntry> = result
                            .configs
                            .into_iter()
                            .map(|c| ConfigEntry {
                                name: c.name.to_string(),
                                value: c.value.map(|v| v.to_string()),
                                source: config_source(c.config_source).to_owned(),
                                read_only: c.read_only,
                                sensitive: c.is_sensitive,
                            })
                            .collect();
                        entries.sort_by(|a, b| a.name.cmp(&b.name));
                        Ok(entries)
                    }
                    3 => Err(Error::UnknownTopic(name.clone())),
                    code => Err(kafka_error(code, result.error_message.as_ref())
                        .unwrap_or_else(|| conn.transport("unknown error"))),
                };
                (name, entries)
            })
            .collect())
    }

    /// ListOffsets for the given partitions of a topic.
    pub async fn list_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: OffsetSpec,
    ) -> Result<Vec<(i32, i64)>> {
        let mut conn = self.kafka().await?;
        let ts = match spec {
            OffsetSpec::Earliest => -2,
            OffsetSpec::Latest => -1,
        };
        list_offsets_on(&mut conn, topic, partitions, ts).await
    }

    /// Start and end (high watermark) offsets of partitions.
    pub async fn partition_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
    ) -> Result<Vec<PartitionOffsets>> {
        let start = self
            .list_offsets(topic, partitions, OffsetSpec::Earliest)
            .await?;
        let end = self
            .list_offsets(topic, partitions, OffsetSpec::Latest)
            .await?;
        Ok(start
            .into_iter()
            .map(|(partition, s)| PartitionOffsets {
                partition,
                start: s,
                end: end
                    .iter()
                    .find(|(p, _)| *p == partition)
                    .map_or(s, |(_, e)| *e),
            })
            .collect())
    }

    /// Whether a topic has `redpanda.kvstore` set to something other than none/false.
    pub async fn is_kvstore_topic(&self, topic: &str) -> Result<bool> {
        Ok(is_kvstore(&self.topic_configs(topic).await?))
    }
}

/// ListOffsets on `conn` for partitions of a topic at `ts` (-2 earliest, -1
/// latest, else a timestamp in ms: the first offset whose record is at least
/// that new, -1 when none is), sorted by partition.
pub(crate) async fn list_offsets_on(
    conn: &mut Conn,
    topic: &str,
    partitions: &[i32],
    ts: i64,
) -> Result<Vec<(i32, i64)>> {
    let req = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(topic_name(topic))
                .with_partitions(
                    partitions
                        .iter()
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(*p)
                                .with_current_leader_epoch(-1)
                                .with_timestamp(ts)
                        })
                        .collect(),
                ),
        ]);
    let resp = conn.request(req).await?;
    let mut out = Vec::new();
    for t in resp.topics {
        for p in t.partitions {
            if p.error_code == 3 {
                return Err(Error::UnknownTopic(topic.to_owned()));
            }
            if let Some(e) = kafka_error(p.error_code, None) {
                return Err(e);
            }
            out.push((p.partition_index, p.offset));
        }
    }
    out.sort_unstable();
    Ok(out)
}
