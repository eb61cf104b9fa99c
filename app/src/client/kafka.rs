//! Kafka admin over the wire protocol (`kafka-protocol` codecs): Metadata,
//! CreateTopics, DeleteTopics, DescribeConfigs, ListOffsets.
//!
//! Each call opens a connection to the first bootstrap broker that answers,
//! negotiates versions with ApiVersions, sends one request and closes. That is
//! plenty for a CLI and keeps the client free of connection state.

use std::time::Duration;

use bytes::{Buf, BufMut, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{
    ApiVersionsRequest, BrokerId, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    ListOffsetsRequest, MetadataRequest, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Client;
use super::error::{Error, Result};

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

fn kafka_error(code: i16, message: Option<&StrBytes>) -> Option<Error> {
    let err = ResponseError::try_from_code(code)?;
    Some(Error::Kafka {
        code,
        name: err.to_string(),
        message: message.map(|m| m.to_string()),
    })
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

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_owned()))
}

/// The versions this client speaks, per request type (min, max).
trait Supported: Request {
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
struct Conn {
    stream: TcpStream,
    broker: String,
    versions: Vec<ApiVersion>,
    correlation: i32,
    timeout: Duration,
}

impl Conn {
    async fn open(brokers: &[String], timeout: Duration) -> Result<Conn> {
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
    fn version<R: Supported>(&self) -> Result<i16> {
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

    fn transport(&self, detail: impl std::fmt::Display) -> Error {
        Error::KafkaTransport {
            broker: self.broker.clone(),
            detail: detail.to_string(),
        }
    }

    async fn call<R: Request>(&mut self, req: &R, version: i16) -> Result<R::Response> {
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

    async fn request<R: Supported>(&mut self, req: R) -> Result<R::Response> {
        let v = self.version::<R>()?;
        self.call(&req, v).await
    }
}

impl Client {
    async fn kafka(&self) -> Result<Conn> {
        Conn::open(&self.brokers, self.kafka_timeout).await
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
