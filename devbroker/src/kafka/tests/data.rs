//! Produce (plain, acks 0, idempotent), Fetch long polls, ListOffsets and
//! DeleteTopics.

use super::*;

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
