//! ApiVersions, Metadata, CreateTopics and the config APIs.

use super::*;

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
