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

#[tokio::test]
async fn api_versions_advertise_exactly_the_implemented_versions() {
    let f = fixture();
    let resp: ApiVersionsResponse = call(
        &f.state,
        ApiKey::ApiVersions,
        3,
        &ApiVersionsRequest::default(),
    )
    .await;
    assert_eq!(resp.error_code, 0);
    assert_eq!(resp.api_keys.len(), SUPPORTED.len());
    for (key, min, max) in SUPPORTED {
        let v = resp
            .api_keys
            .iter()
            .find(|v| v.api_key == *key as i16)
            .unwrap();
        assert_eq!((v.min_version, v.max_version), (*min, *max));
    }
    // A newer ApiVersions than we speak: a v0 answer with UNSUPPORTED_VERSION and our list.
    let mut raw = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()).to_vec();
    raw[2..4].copy_from_slice(&9i16.to_be_bytes());
    let Outcome::Reply(mut bytes) = handle_frame(&f.state, Bytes::from(raw)).await.unwrap() else {
        panic!()
    };
    let _ = ResponseHeader::decode(&mut bytes, 0).unwrap();
    let resp = ApiVersionsResponse::decode(&mut bytes, 0).unwrap();
    assert_eq!(resp.error_code, 35);
    assert!(!resp.api_keys.is_empty());
}

#[tokio::test]
async fn unsupported_apis_and_short_frames_are_refused() {
    let f = fixture();
    // JoinGroup is a real API we do not implement; 999 is no API at all.
    let mut raw = frame(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default()).to_vec();
    raw[0..2].copy_from_slice(&(ApiKey::JoinGroup as i16).to_be_bytes());
    assert!(
        handle_frame(&f.state, Bytes::from(raw.clone()))
            .await
            .is_err()
    );
    raw[0..2].copy_from_slice(&999i16.to_be_bytes());
    assert!(handle_frame(&f.state, Bytes::from(raw)).await.is_err());
    assert!(
        handle_frame(&f.state, Bytes::from_static(&[0, 18, 0]))
            .await
            .is_err()
    );
    // Metadata v13 is not advertised.
    let req = MetadataRequest::default();
    assert!(
        handle_frame(&f.state, frame(ApiKey::Metadata, 13, &req))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn metadata_advertises_the_listener_and_every_partition() {
    let f = fixture();
    assert_eq!(create(&f.state, "orders", 3, &[]).await, 0);
    for version in [0i16, 1, 4, 9, 12] {
        let mut req = MetadataRequest::default();
        req.topics = if version == 0 { Some(vec![]) } else { None };
        let resp: MetadataResponse = call(&f.state, ApiKey::Metadata, version, &req).await;
        assert_eq!(resp.brokers.len(), 1);
        assert_eq!(&*resp.brokers[0].host, "127.0.0.1");
        assert_eq!(resp.brokers[0].port, 19092);
        let t = &resp.topics[0];
        assert_eq!(
            t.name.as_ref().map(|n| n.0.to_string()).as_deref(),
            Some("orders")
        );
        assert_eq!(t.partitions.len(), 3);
        assert!(t.partitions.iter().all(|p| p.leader_id.0 == 0));
    }
    let mut one = MetadataRequestTopic::default();
    one.name = Some(TopicName(s("missing")));
    let mut req = MetadataRequest::default();
    req.topics = Some(vec![one]);
    let resp: MetadataResponse = call(&f.state, ApiKey::Metadata, 9, &req).await;
    assert_eq!(resp.topics[0].error_code, 3);
}

#[tokio::test]
async fn create_topics_validates_and_maps_errors() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(
            st,
            "kv",
            2,
            &[("redpanda.kvstore", "cloud"), ("retention.ms", "1000")]
        )
        .await,
        0
    );
    let meta = st.store.topic("kv").unwrap();
    assert!(meta.config.kvstore());
    assert_eq!(meta.partitions, 2);
    assert_eq!(create(st, "kv", 1, &[]).await, 36, "exists");
    assert_eq!(create(st, "bad/name", 1, &[]).await, 17);
    assert_eq!(create(st, "zero", 0, &[]).await, 37);
    assert_eq!(create(st, "cfg", 1, &[("nope", "1")]).await, 40);
    assert_eq!(
        create(st, "cfg", 1, &[("redpanda.kvstore", "maybe")]).await,
        40
    );
    assert!(st.store.topic("cfg").is_none());
    // Replication factor 3 on one broker.
    let mut t = CreatableTopic::default();
    t.name = TopicName(s("rf"));
    t.num_partitions = 1;
    t.replication_factor = 3;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t.clone()];
    let resp: CreateTopicsResponse = call(st, ApiKey::CreateTopics, 4, &req).await;
    assert_eq!(resp.topics[0].error_code, 38);
    // validate_only creates nothing.
    t.replication_factor = 1;
    req.topics = vec![t];
    req.validate_only = true;
    let resp: CreateTopicsResponse = call(st, ApiKey::CreateTopics, 7, &req).await;
    assert_eq!(resp.topics[0].error_code, 0);
    assert_eq!(resp.topics[0].num_partitions, 1);
    assert!(st.store.topic("rf").is_none());
}

#[tokio::test]
async fn describe_and_alter_configs_report_sources() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "kv", 1, &[("redpanda.kvstore", "cloud")]).await,
        0
    );
    let describe = || async {
        let mut r = DescribeConfigsResource::default();
        r.resource_type = 2;
        r.resource_name = s("kv");
        r.configuration_keys = None;
        let mut req = DescribeConfigsRequest::default();
        req.resources = vec![r];
        let resp: DescribeConfigsResponse = call(st, ApiKey::DescribeConfigs, 4, &req).await;
        resp.results[0]
            .configs
            .iter()
            .map(|c| {
                (
                    c.name.to_string(),
                    (c.value.as_ref().map(|v| v.to_string()), c.config_source),
                )
            })
            .collect::<std::collections::HashMap<_, _>>()
    };
    let configs = describe().await;
    assert_eq!(configs["redpanda.kvstore"], (Some("cloud".into()), 1));
    assert_eq!(configs["retention.ms"], (Some("604800000".into()), 5));
    assert_eq!(configs.len(), crate::config::DEFAULTS.len());

    let alter = |name: &str, op: i8, value: Option<&str>| {
        let mut c = AlterableConfig::default();
        c.name = s(name);
        c.config_operation = op;
        c.value = value.map(s);
        let mut r = AlterConfigsResource::default();
        r.resource_type = 2;
        r.resource_name = s("kv");
        r.configs = vec![c];
        let mut req = IncrementalAlterConfigsRequest::default();
        req.resources = vec![r];
        req
    };
    let resp: IncrementalAlterConfigsResponse = call(
        st,
        ApiKey::IncrementalAlterConfigs,
        1,
        &alter("retention.ms", 0, Some("5000")),
    )
    .await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(describe().await["retention.ms"], (Some("5000".into()), 1));
    let resp: IncrementalAlterConfigsResponse = call(
        st,
        ApiKey::IncrementalAlterConfigs,
        1,
        &alter("retention.ms", 1, None),
    )
    .await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(
        describe().await["retention.ms"],
        (Some("604800000".into()), 5)
    );
    let resp: IncrementalAlterConfigsResponse = call(
        st,
        ApiKey::IncrementalAlterConfigs,
        1,
        &alter("redpanda.kvstore", 0, Some("none")),
    )
    .await;
    assert_eq!(resp.responses[0].error_code, 42);
    let resp: IncrementalAlterConfigsResponse = call(
        st,
        ApiKey::IncrementalAlterConfigs,
        1,
        &alter("retention.ms", 0, Some("x")),
    )
    .await;
    assert_eq!(resp.responses[0].error_code, 40);
    assert!(st.store.topic("kv").unwrap().config.kvstore());
}

#[tokio::test]
async fn produce_then_fetch_round_trips_and_updates_the_view() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "kv", 1, &[("redpanda.kvstore", "cloud")]).await,
        0
    );
    let recs = [
        ("foo", Some("bar"), 1000),
        ("hello", Some("world"), 1001),
        ("foo", Some("qux"), 1002),
    ];
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("kv", 0, batch(-1, -1, -1, &recs), -1),
    )
    .await;
    let p = &resp.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    assert_eq!(
        st.store
            .kv_get("kv", 0, &[b"foo".to_vec(), b"hello".to_vec()])
            .unwrap(),
        vec![Some(b"qux".to_vec()), Some(b"world".to_vec())]
    );
    // A tombstone deletes.
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        7,
        &produce_req("kv", 0, batch(-1, -1, -1, &[("hello", None, 1003)]), 1),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].base_offset, 3);
    assert_eq!(
        st.store.kv_get("kv", 0, &[b"hello".to_vec()]).unwrap(),
        vec![None]
    );

    for version in [4i16, 11, 12] {
        let resp: FetchResponse = call(st, ApiKey::Fetch, version, &fetch_req("kv", 0, 1, 0)).await;
        let pd = &resp.responses[0].partitions[0];
        assert_eq!((pd.error_code, pd.high_watermark), (0, 4));
        let mut bytes = pd.records.clone().unwrap();
        let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
        let got: Vec<(i64, Option<Bytes>, Option<Bytes>, i64)> = sets
            .iter()
            .flat_map(|s| s.records.iter())
            .map(|r| (r.offset, r.key.clone(), r.value.clone(), r.timestamp))
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    1,
                    Some(Bytes::from("hello")),
                    Some(Bytes::from("world")),
                    1001
                ),
                (2, Some(Bytes::from("foo")), Some(Bytes::from("qux")), 1002),
                (3, Some(Bytes::from("hello")), None, 1003),
            ]
        );
        let h = &sets[0].records[0].headers;
        assert_eq!(h.get(&s("h")), Some(&Some(Bytes::from("hv1"))));
    }
    // Out of range: above the high watermark.
    let resp: FetchResponse = call(st, ApiKey::Fetch, 11, &fetch_req("kv", 0, 9, 0)).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 1);
    let resp: FetchResponse = call(st, ApiKey::Fetch, 11, &fetch_req("nope", 0, 0, 0)).await;
    assert_eq!(resp.responses[0].partitions[0].error_code, 3);
}

#[tokio::test]
async fn acks_zero_appends_without_a_reply() {
    let f = fixture();
    assert_eq!(create(&f.state, "t", 1, &[]).await, 0);
    let req = produce_req("t", 0, batch(-1, -1, -1, &[("k", Some("v"), 5)]), 0);
    let out = handle_frame(&f.state, frame(ApiKey::Produce, 9, &req))
        .await
        .unwrap();
    assert!(matches!(out, Outcome::NoReply));
    assert_eq!(
        f.state.store.partition_state("t", 0).unwrap().next_offset,
        1
    );
}

#[tokio::test]
async fn idempotent_producer_drops_duplicates_and_refuses_gaps() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "kv", 1, &[("redpanda.kvstore", "cloud")]).await,
        0
    );
    let init: InitProducerIdResponse = call(
        st,
        ApiKey::InitProducerId,
        4,
        &InitProducerIdRequest::default(),
    )
    .await;
    assert_eq!(init.error_code, 0);
    let pid = init.producer_id.0;
    assert!(pid > 0);
    let next: InitProducerIdResponse = call(
        st,
        ApiKey::InitProducerId,
        1,
        &InitProducerIdRequest::default(),
    )
    .await;
    assert!(next.producer_id.0 > pid);

    let produce = |seq: i32, epoch: i16, key: &'static str| {
        produce_req(
            "kv",
            0,
            batch(pid, epoch, seq, &[(key, Some("v"), 1), (key, Some("w"), 2)]),
            -1,
        )
    };
    let first: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(0, 0, "a")).await;
    assert_eq!(first.responses[0].partition_responses[0].base_offset, 0);
    // A retry of the same batch: same offset, not appended again.
    let again: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(0, 0, "a")).await;
    let p = &again.responses[0].partition_responses[0];
    assert_eq!((p.error_code, p.base_offset), (0, 0));
    assert_eq!(st.store.partition_state("kv", 0).unwrap().next_offset, 2);
    // Next in sequence.
    let ok: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(2, 0, "b")).await;
    assert_eq!(ok.responses[0].partition_responses[0].base_offset, 2);
    // A gap.
    let gap: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(7, 0, "c")).await;
    assert_eq!(gap.responses[0].partition_responses[0].error_code, 45);
    assert_eq!(st.store.partition_state("kv", 0).unwrap().next_offset, 4);
    // Bumped epoch restarts at 0; the old epoch is fenced.
    let bumped: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(0, 1, "d")).await;
    assert_eq!(bumped.responses[0].partition_responses[0].error_code, 0);
    let stale: ProduceResponse = call(st, ApiKey::Produce, 9, &produce(4, 0, "e")).await;
    assert_eq!(stale.responses[0].partition_responses[0].error_code, 47);
    assert_eq!(st.store.partition_state("kv", 0).unwrap().next_offset, 6);
}

#[tokio::test]
async fn produce_errors_per_partition() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "small", 1, &[("max.message.bytes", "100")]).await,
        0
    );
    let big = "x".repeat(500);
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req(
            "small",
            0,
            batch(-1, -1, -1, &[("k", Some(big.as_str()), 1)]),
            -1,
        ),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 10);
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("small", 4, batch(-1, -1, -1, &[("k", None, 1)]), -1),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 3);
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("small", 0, Bytes::from_static(b"garbage"), -1),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 2);
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("small", 0, batch(-1, -1, -1, &[("k", None, 1)]), 5),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 21);
    assert_eq!(st.store.partition_state("small", 0).unwrap().next_offset, 0);
}

#[tokio::test]
async fn fetch_long_polls_until_data_arrives_or_max_wait() {
    let f = fixture();
    assert_eq!(create(&f.state, "t", 1, &[]).await, 0);
    // Nothing arrives: the fetch waits max_wait_ms, then answers empty.
    let started = Instant::now();
    let resp: FetchResponse = call(&f.state, ApiKey::Fetch, 11, &fetch_req("t", 0, 0, 300)).await;
    assert!(started.elapsed() >= Duration::from_millis(280));
    assert!(
        resp.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .is_empty()
    );
    // A record appended while waiting ends the wait early.
    let store = f.state.store.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        store
            .append(
                "t",
                0,
                vec![crate::storage::Record::new(1, None, Some(b"v".to_vec()))],
            )
            .await
            .unwrap();
    });
    let started = Instant::now();
    let resp: FetchResponse =
        call(&f.state, ApiKey::Fetch, 11, &fetch_req("t", 0, 0, 10_000)).await;
    let waited = started.elapsed();
    writer.await.unwrap();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert_eq!(resp.responses[0].partitions[0].high_watermark, 1);
    assert!(
        !resp.responses[0].partitions[0]
            .records
            .as_ref()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn list_offsets_earliest_latest_and_by_timestamp() {
    let f = fixture();
    let st = &f.state;
    st.store
        .create_topic("t", 1, TopicConfig::default())
        .await
        .unwrap();
    let recs = [
        ("a", Some("1"), 100),
        ("b", Some("2"), 200),
        ("c", Some("3"), 300),
    ];
    let _: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("t", 0, batch(-1, -1, -1, &recs), -1),
    )
    .await;
    let query = |ts: i64| {
        let mut p = ListOffsetsPartition::default();
        p.partition_index = 0;
        p.timestamp = ts;
        let mut t = ListOffsetsTopic::default();
        t.name = TopicName(s("t"));
        t.partitions = vec![p];
        let mut req = ListOffsetsRequest::default();
        req.replica_id = BrokerId(-1);
        req.topics = vec![t];
        req
    };
    let offset = |resp: ListOffsetsResponse| {
        let p = &resp.topics[0].partitions[0];
        (p.error_code, p.offset, p.timestamp)
    };
    assert_eq!(
        offset(call(st, ApiKey::ListOffsets, 1, &query(-2)).await),
        (0, 0, -1)
    );
    assert_eq!(
        offset(call(st, ApiKey::ListOffsets, 4, &query(-1)).await),
        (0, 3, -1)
    );
    assert_eq!(
        offset(call(st, ApiKey::ListOffsets, 7, &query(150)).await),
        (0, 1, 200)
    );
    assert_eq!(
        offset(call(st, ApiKey::ListOffsets, 7, &query(999)).await),
        (0, -1, -1)
    );
    assert_eq!(
        offset(call(st, ApiKey::ListOffsets, 7, &query(-3)).await),
        (0, 2, 300)
    );
}

#[tokio::test]
async fn delete_topics_removes_data_and_producer_state() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "gone", 1, &[("redpanda.kvstore", "cloud")]).await,
        0
    );
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![TopicName(s("gone")), TopicName(s("never"))];
    let resp: DeleteTopicsResponse = call(st, ApiKey::DeleteTopics, 5, &req).await;
    assert_eq!(resp.responses[0].error_code, 0);
    assert_eq!(resp.responses[1].error_code, 3);
    assert!(st.store.topic("gone").is_none());
}

mod fencing;
