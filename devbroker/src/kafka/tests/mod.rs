//! Handler tests: requests encoded with `kafka-protocol`, run through
//! [`dispatch::handle_frame`] against a real store, responses decoded.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::records::{
    Compression, Record as KRecord, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions,
    TimestampType,
};
use tokio::sync::watch;

use super::KafkaState;
use super::dispatch::{Outcome, SUPPORTED, handle_frame};
use crate::config::TopicConfig;
use crate::storage::{Store, StoreOptions};

pub(crate) struct Fixture {
    pub state: KafkaState,
    pub stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

pub(crate) fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let (stop, rx) = watch::channel(false);
    let state = KafkaState::new(store, "127.0.0.1:19092".parse().unwrap(), 1 << 20, rx);
    Fixture {
        state,
        stop,
        _dir: dir,
    }
}

pub(crate) fn frame<R: Encodable>(api: ApiKey, version: i16, req: &R) -> Bytes {
    let mut buf = BytesMut::new();
    let mut h = RequestHeader::default();
    h.request_api_key = api as i16;
    h.request_api_version = version;
    h.correlation_id = 77;
    h.client_id = Some(StrBytes::from_static_str("test"));
    h.encode(&mut buf, api.request_header_version(version))
        .unwrap();
    req.encode(&mut buf, version).unwrap();
    buf.freeze()
}

async fn call<Req: Encodable, Resp: Decodable>(
    state: &KafkaState,
    api: ApiKey,
    version: i16,
    req: &Req,
) -> Resp {
    let out = handle_frame(state, frame(api, version, req)).await.unwrap();
    let Outcome::Reply(mut bytes) = out else {
        panic!("no reply")
    };
    let h = ResponseHeader::decode(&mut bytes, api.response_header_version(version)).unwrap();
    assert_eq!(h.correlation_id, 77);
    let resp = Resp::decode(&mut bytes, version).unwrap();
    assert!(bytes.is_empty(), "trailing bytes in {api:?} v{version}");
    resp
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

pub(crate) fn batch(pid: i64, epoch: i16, seq: i32, recs: &[(&str, Option<&str>, i64)]) -> Bytes {
    let records: Vec<KRecord> = recs
        .iter()
        .enumerate()
        .map(|(i, (k, v, ts))| {
            let mut headers = IndexMap::new();
            headers.insert(s("h"), Some(Bytes::from(format!("hv{i}"))));
            KRecord {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: pid,
                producer_epoch: epoch,
                timestamp_type: TimestampType::Creation,
                offset: i as i64,
                sequence: if pid < 0 { -1 } else { seq + i as i32 },
                timestamp: *ts,
                key: Some(Bytes::from(k.to_string())),
                value: v.map(|v| Bytes::from(v.to_string())),
                headers,
            }
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .unwrap();
    buf.freeze()
}

pub(crate) fn produce_req(
    topic: &str,
    partition: i32,
    records: Bytes,
    acks: i16,
) -> ProduceRequest {
    let mut p = PartitionProduceData::default();
    p.index = partition;
    p.records = Some(records);
    let mut t = TopicProduceData::default();
    t.name = TopicName(s(topic));
    t.partition_data = vec![p];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 1000;
    req.topic_data = vec![t];
    req
}

fn fetch_req(topic: &str, partition: i32, offset: i64, wait_ms: i32) -> FetchRequest {
    let mut p = FetchPartition::default();
    p.partition = partition;
    p.fetch_offset = offset;
    p.partition_max_bytes = 1 << 20;
    let mut t = FetchTopic::default();
    t.topic = TopicName(s(topic));
    t.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = wait_ms;
    req.min_bytes = 1;
    req.max_bytes = 50 << 20;
    req.topics = vec![t];
    req
}

async fn create(state: &KafkaState, name: &str, partitions: i32, configs: &[(&str, &str)]) -> i16 {
    let mut t = CreatableTopic::default();
    t.name = TopicName(s(name));
    t.num_partitions = partitions;
    t.replication_factor = -1;
    t.configs = configs
        .iter()
        .map(|(k, v)| {
            let mut c = CreatableTopicConfig::default();
            c.name = s(k);
            c.value = Some(s(v));
            c
        })
        .collect();
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.timeout_ms = 1000;
    let resp: CreateTopicsResponse = call(state, ApiKey::CreateTopics, 7, &req).await;
    resp.topics[0].error_code
}

mod admin;
mod data;
mod fencing;
