//! A fenced store (another broker took over the tier prefix): Produce answers
//! NOT_LEADER_OR_FOLLOWER, the admin writes NOT_CONTROLLER, and nothing
//! changes; Metadata, Fetch and DescribeConfigs go on.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::alter_configs_request::{
    AlterConfigsResource as LegacyResource, AlterableConfig as LegacyConfig,
};

use super::*;

#[tokio::test]
async fn a_fenced_broker_refuses_kafka_writes_and_serves_reads() {
    let f = fixture();
    let st = &f.state;
    assert_eq!(
        create(st, "kv", 2, &[("redpanda.kvstore", "cloud")]).await,
        0
    );
    let resp: ProduceResponse = call(
        st,
        ApiKey::Produce,
        9,
        &produce_req("kv", 0, batch(-1, -1, -1, &[("k", Some("v"), 1000)]), -1),
    )
    .await;
    assert_eq!(resp.responses[0].partition_responses[0].error_code, 0);
    assert!(st.store.fence().set("broker b took over".into()));
    let not_leader = ResponseError::NotLeaderOrFollower.code();
    let not_controller = ResponseError::NotController.code();

    // Produce, plain and idempotent, on both partitions.
    for (partition, pid) in [(0, -1), (1, -1), (0, 7)] {
        let resp: ProduceResponse = call(
            st,
            ApiKey::Produce,
            9,
            &produce_req(
                "kv",
                partition,
                batch(pid, 0, 0, &[("k", Some("new"), 2000)]),
                -1,
            ),
        )
        .await;
        let p = &resp.responses[0].partition_responses[0];
        assert_eq!((p.error_code, p.base_offset), (not_leader, -1));
        let message = p.error_message.as_ref().unwrap();
        assert!(message.contains("fenced"), "{message}");
    }

    // CreateTopics and DeleteTopics.
    assert_eq!(create(st, "new", 1, &[]).await, not_controller);
    let mut req = DeleteTopicsRequest::default();
    req.topic_names = vec![TopicName(s("kv"))];
    let resp: DeleteTopicsResponse = call(st, ApiKey::DeleteTopics, 5, &req).await;
    assert_eq!(resp.responses[0].error_code, not_controller);

    // IncrementalAlterConfigs and AlterConfigs.
    let mut c = AlterableConfig::default();
    c.name = s("retention.ms");
    c.config_operation = 0;
    c.value = Some(s("5000"));
    let mut r = AlterConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = s("kv");
    r.configs = vec![c];
    let mut req = IncrementalAlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: IncrementalAlterConfigsResponse =
        call(st, ApiKey::IncrementalAlterConfigs, 1, &req).await;
    assert_eq!(resp.responses[0].error_code, not_controller);
    let mut c = LegacyConfig::default();
    c.name = s("retention.ms");
    c.value = Some(s("5000"));
    let mut r = LegacyResource::default();
    r.resource_type = 2;
    r.resource_name = s("kv");
    r.configs = vec![c];
    let mut req = AlterConfigsRequest::default();
    req.resources = vec![r];
    let resp: AlterConfigsResponse = call(st, ApiKey::AlterConfigs, 2, &req).await;
    assert_eq!(resp.responses[0].error_code, not_controller);

    // Nothing changed, and reads work.
    assert!(st.store.topic("new").is_none());
    let meta = st.store.topic("kv").unwrap();
    assert_eq!(meta.config.retention_ms(), Some(604_800_000));
    assert_eq!(st.store.partition_state("kv", 0).unwrap().next_offset, 1);
    assert_eq!(st.store.partition_state("kv", 1).unwrap().next_offset, 0);
    assert_eq!(
        st.store.kv_get("kv", 0, &[b"k".to_vec()]).unwrap(),
        vec![Some(b"v".to_vec())]
    );
    let resp: FetchResponse = call(st, ApiKey::Fetch, 11, &fetch_req("kv", 0, 0, 0)).await;
    let pd = &resp.responses[0].partitions[0];
    assert_eq!((pd.error_code, pd.high_watermark), (0, 1));
    let mut req = MetadataRequest::default();
    req.topics = None;
    let resp: MetadataResponse = call(st, ApiKey::Metadata, 9, &req).await;
    assert_eq!(resp.topics.len(), 1);
}
