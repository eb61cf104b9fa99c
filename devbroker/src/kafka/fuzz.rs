//! Bounded fuzzing of the frame decoder and the handlers: random frames and
//! truncated or corrupted valid ones must never panic, and a connection fed
//! garbage must not affect the others. SASL exchanges with random tokens never
//! authenticate and never let a request through the gate.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::KafkaListener;
use super::dispatch::{Outcome, SUPPORTED, handle_frame, handle_frame_in};
use super::sasl::{Session, Users};
use super::tests::{Fixture, batch, fixture, frame, produce_req};

/// Cases per property (two properties: random frames and mutated valid frames;
/// the group APIs are among the valid frames).
const CASES: u32 = 2_000;

struct World {
    rt: tokio::runtime::Runtime,
    fixture: Fixture,
    /// The same with a SASL user (alice).
    sasl: Fixture,
    valid: Vec<Bytes>,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let fixture = rt.block_on(async {
            let f = fixture();
            f.state
                .store
                .create_topic("fz", 2, crate::config::TopicConfig::default())
                .await
                .unwrap();
            // Shut down from the start so fetches never long-poll.
            f.stop.send_replace(true);
            f
        });
        let sasl = rt.block_on(async {
            let mut f = super::tests::fixture();
            f.state
                .store
                .create_topic("fz", 1, crate::config::TopicConfig::default())
                .await
                .unwrap();
            f.state
                .store
                .create_topic("fz-ok", 1, crate::config::TopicConfig::default())
                .await
                .unwrap();
            let users = Users::derive(&["alice:pw".parse().unwrap()]).unwrap();
            f.state.sasl = Some(std::sync::Arc::new(users));
            f.stop.send_replace(true);
            f
        });
        World {
            rt,
            fixture,
            sasl,
            valid: valid_frames(),
        }
    })
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

/// One valid frame of each supported API.
fn valid_frames() -> Vec<Bytes> {
    let mut out = vec![
        frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default()),
        frame(ApiKey::Metadata, 9, &MetadataRequest::default()),
        frame(ApiKey::InitProducerId, 4, &InitProducerIdRequest::default()),
        frame(
            ApiKey::Produce,
            9,
            &produce_req(
                "fz",
                1,
                batch(5, 0, 0, &[("k", Some("v"), 1), ("k2", None, 2)]),
                -1,
            ),
        ),
        frame(
            ApiKey::Produce,
            3,
            &produce_req("fz", 0, batch(-1, -1, -1, &[("k", Some("v"), 1)]), 1),
        ),
    ];
    let mut t = CreatableTopic::default();
    t.name = TopicName(s("fz-new"));
    t.num_partitions = 2;
    t.replication_factor = -1;
    let mut c = CreatableTopicConfig::default();
    c.name = s("retention.ms");
    c.value = Some(s("1000"));
    t.configs = vec![c];
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![t];
    req.validate_only = true;
    out.push(frame(ApiKey::CreateTopics, 5, &req));
    let mut r = DescribeConfigsResource::default();
    r.resource_type = 2;
    r.resource_name = s("fz");
    let mut req = DescribeConfigsRequest::default();
    req.resources = vec![r];
    out.push(frame(ApiKey::DescribeConfigs, 4, &req));
    let mut p = fetch_request::FetchPartition::default();
    p.fetch_offset = 0;
    p.partition_max_bytes = 1 << 16;
    let mut ft = fetch_request::FetchTopic::default();
    ft.topic = TopicName(s("fz"));
    ft.partitions = vec![p];
    let mut req = FetchRequest::default();
    req.replica_id = BrokerId(-1);
    req.max_wait_ms = 100;
    req.max_bytes = 1 << 20;
    req.topics = vec![ft];
    out.push(frame(ApiKey::Fetch, 11, &req));
    let mut lp = list_offsets_request::ListOffsetsPartition::default();
    lp.timestamp = -1;
    let mut lt = list_offsets_request::ListOffsetsTopic::default();
    lt.name = TopicName(s("fz"));
    lt.partitions = vec![lp];
    let mut req = ListOffsetsRequest::default();
    req.replica_id = BrokerId(-1);
    req.topics = vec![lt];
    out.push(frame(ApiKey::ListOffsets, 5, &req));
    out.extend(group_frames());
    out.push(frame(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(s("SCRAM-SHA-256")),
    ));
    out.push(frame(
        ApiKey::SaslAuthenticate,
        2,
        &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from_static(b"\0alice\0pw")),
    ));
    out
}

/// A handshake, SaslAuthenticate frames with `tokens`, then a Produce, on one
/// connection of the SASL fixture; returns whether the Produce got through.
fn sasl_exchange(topic: &str, mechanism: &str, version: i16, tokens: &[Vec<u8>]) -> bool {
    let w = world();
    let f = &w.sasl;
    let mut frames = vec![frame(
        ApiKey::SaslHandshake,
        version.clamp(0, 1),
        &SaslHandshakeRequest::default().with_mechanism(s(mechanism)),
    )];
    for t in tokens {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(t));
        frames.push(frame(ApiKey::SaslAuthenticate, version.clamp(0, 2), &req));
    }
    frames.push(frame(
        ApiKey::Produce,
        9,
        &produce_req(topic, 0, batch(-1, -1, -1, &[("k", Some("v"), 1)]), 1),
    ));
    let last = frames.len() - 1;
    w.rt.block_on(async {
        let mut session = Session::new(f.state.sasl.as_deref());
        for (i, fr) in frames.into_iter().enumerate() {
            let out = tokio::time::timeout(
                Duration::from_secs(10),
                handle_frame_in(&f.state, fr, None, &mut session),
            )
            .await
            .expect("a SASL frame hung");
            match out {
                Ok(Outcome::Reply(_)) if i == last => return true,
                Ok(Outcome::Reply(_)) | Ok(Outcome::NoReply) => {}
                Ok(Outcome::ReplyThenClose(_)) | Err(_) => return false,
            }
        }
        false
    })
}

/// One valid frame of each group API (several versions of the batched ones).
fn group_frames() -> Vec<Bytes> {
    let group = || GroupId(s("fz-group"));
    let mut out = Vec::new();
    let mut fc = FindCoordinatorRequest::default();
    fc.key = s("fz-group");
    out.push(frame(ApiKey::FindCoordinator, 2, &fc));
    fc.key = s("");
    fc.coordinator_keys = vec![s("fz-group"), s("other")];
    out.push(frame(ApiKey::FindCoordinator, 4, &fc));
    let mut p = join_group_request::JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = Bytes::from_static(&[0, 0, 0, 0, 0, 1, 0, 2, b'f', b'z', 0xff, 0xff, 0xff, 0xff]);
    let mut join = JoinGroupRequest::default();
    join.group_id = group();
    join.session_timeout_ms = 10_000;
    join.rebalance_timeout_ms = 10_000;
    join.protocol_type = s("consumer");
    join.protocols = vec![p];
    out.push(frame(ApiKey::JoinGroup, 3, &join));
    join.group_instance_id = Some(s("fz-instance"));
    out.push(frame(ApiKey::JoinGroup, 5, &join));
    out.push(frame(ApiKey::JoinGroup, 9, &join));
    let mut a = sync_group_request::SyncGroupRequestAssignment::default();
    a.member_id = s("m");
    a.assignment = Bytes::from_static(b"assignment");
    let mut sync = SyncGroupRequest::default();
    sync.group_id = group();
    sync.generation_id = 1;
    sync.member_id = s("m");
    sync.assignments = vec![a];
    out.push(frame(ApiKey::SyncGroup, 3, &sync));
    let mut hb = HeartbeatRequest::default();
    hb.group_id = group();
    hb.member_id = s("m");
    out.push(frame(ApiKey::Heartbeat, 4, &hb));
    let mut leave = LeaveGroupRequest::default();
    leave.group_id = group();
    leave.member_id = s("m");
    out.push(frame(ApiKey::LeaveGroup, 1, &leave));
    let mut who = leave_group_request::MemberIdentity::default();
    who.group_instance_id = Some(s("fz-instance"));
    leave.member_id = s("");
    leave.members = vec![who];
    out.push(frame(ApiKey::LeaveGroup, 5, &leave));
    let mut cp = offset_commit_request::OffsetCommitRequestPartition::default();
    cp.committed_offset = 3;
    let mut ct = offset_commit_request::OffsetCommitRequestTopic::default();
    ct.name = TopicName(s("fz"));
    ct.partitions = vec![cp];
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = group();
    commit.generation_id_or_member_epoch = -1;
    commit.topics = vec![ct];
    out.push(frame(ApiKey::OffsetCommit, 2, &commit));
    out.push(frame(ApiKey::OffsetCommit, 8, &commit));
    let mut ft = offset_fetch_request::OffsetFetchRequestTopic::default();
    ft.name = TopicName(s("fz"));
    ft.partition_indexes = vec![0, 1];
    let mut fetch = OffsetFetchRequest::default();
    fetch.group_id = group();
    fetch.topics = Some(vec![ft]);
    out.push(frame(ApiKey::OffsetFetch, 5, &fetch));
    let mut fg = offset_fetch_request::OffsetFetchRequestGroup::default();
    fg.group_id = group();
    let mut fetch = OffsetFetchRequest::default();
    fetch.groups = vec![fg];
    out.push(frame(ApiKey::OffsetFetch, 8, &fetch));
    let mut list = ListGroupsRequest::default();
    list.states_filter = vec![s("Empty")];
    out.push(frame(ApiKey::ListGroups, 4, &list));
    let mut describe = DescribeGroupsRequest::default();
    describe.groups = vec![group()];
    out.push(frame(ApiKey::DescribeGroups, 5, &describe));
    let mut delete = DeleteGroupsRequest::default();
    delete.groups_names = vec![group()];
    out.push(frame(ApiKey::DeleteGroups, 2, &delete));
    let mut dp = offset_delete_request::OffsetDeleteRequestPartition::default();
    dp.partition_index = 0;
    let mut dt = offset_delete_request::OffsetDeleteRequestTopic::default();
    dt.name = TopicName(s("fz"));
    dt.partitions = vec![dp];
    let mut od = OffsetDeleteRequest::default();
    od.group_id = group();
    od.topics = vec![dt];
    out.push(frame(ApiKey::OffsetDelete, 0, &od));
    out
}

fn run(frame: Bytes) {
    let w = world();
    let result = w.rt.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(10),
            handle_frame(&w.fixture.state, frame),
        )
        .await
    });
    assert!(result.is_ok(), "a handler hung");
}

fn api_key() -> impl Strategy<Value = i16> {
    let known: Vec<i16> = SUPPORTED.iter().map(|(k, _, _)| *k as i16).collect();
    prop_oneof![4 => proptest::sample::select(known), 1 => any::<i16>()]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A header naming a real API and version (mostly) followed by random bytes.
    #[test]
    fn random_frames_never_panic(
        key in api_key(),
        version in -1i16..16,
        correlation in any::<i32>(),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut raw = Vec::with_capacity(8 + body.len());
        raw.extend_from_slice(&key.to_be_bytes());
        raw.extend_from_slice(&version.to_be_bytes());
        raw.extend_from_slice(&correlation.to_be_bytes());
        raw.extend_from_slice(&body);
        run(Bytes::from(raw));
    }

    /// Valid frames cut short and with bytes overwritten.
    #[test]
    fn mutated_valid_frames_never_panic(
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
    ) {
        let valid = &world().valid;
        let mut raw = valid[which.index(valid.len())].to_vec();
        let keep = 1 + cut.index(raw.len());
        raw.truncate(keep);
        for (at, byte) in flips {
            let i = at.index(raw.len());
            raw[i] = byte;
        }
        run(Bytes::from(raw));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: CASES / 4,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Random SASL tokens (some shaped like SCRAM or PLAIN messages) never
    /// authenticate: the Produce after them is refused and nothing is appended.
    #[test]
    fn random_sasl_exchanges_never_authenticate(
        mechanism in proptest::sample::select(vec!["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "GSSAPI", ""]),
        version in 0i16..3,
        shaped in any::<bool>(),
        tokens in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..4),
    ) {
        let mut tokens = tokens;
        if shaped {
            tokens.insert(0, b"n,,n=alice,r=fuzz".to_vec());
            tokens.push(b"\0alice\0not-pw".to_vec());
        }
        prop_assert!(!sasl_exchange("fz", mechanism, version, &tokens));
        let hw = world().sasl.state.store.partition_state("fz", 0).unwrap().next_offset;
        prop_assert_eq!(hw, 0);
    }
}

#[test]
fn the_fuzz_exchange_does_authenticate_with_the_right_password() {
    // The property above is only meaningful if a right exchange does pass.
    assert!(sasl_exchange(
        "fz-ok",
        "PLAIN",
        2,
        &[b"\0alice\0pw".to_vec()]
    ));
    let hw = world()
        .sasl
        .state
        .store
        .partition_state("fz-ok", 0)
        .unwrap()
        .next_offset;
    assert!(hw >= 1);
}

async fn api_versions_over(stream: &mut TcpStream) -> ApiVersionsResponse {
    let req = frame(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default());
    stream
        .write_all(&(req.len() as i32).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&req).await.unwrap();
    let len = stream.read_i32().await.unwrap();
    let mut buf = vec![0u8; len as usize];
    stream.read_exact(&mut buf).await.unwrap();
    let mut b = Bytes::from(buf);
    let _ = ResponseHeader::decode(&mut b, 0).unwrap();
    ApiVersionsResponse::decode(&mut b, 3).unwrap()
}

/// Reads until the broker closes the connection (or 5 s pass).
async fn closed_by_broker(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_one_connection_does_not_affect_others() {
    let f = fixture();
    let listener = KafkaListener::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = listener.local_addr();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(listener.serve(f.state.store.clone(), 1 << 20, stop_rx));

    let mut good = TcpStream::connect(addr).await.unwrap();
    assert_eq!(api_versions_over(&mut good).await.error_code, 0);

    // Over the size limit: closed.
    let mut big = TcpStream::connect(addr).await.unwrap();
    big.write_all(&(2i32 << 20).to_be_bytes()).await.unwrap();
    assert!(closed_by_broker(&mut big).await);
    // Negative size: closed.
    let mut neg = TcpStream::connect(addr).await.unwrap();
    neg.write_all(&(-5i32).to_be_bytes()).await.unwrap();
    assert!(closed_by_broker(&mut neg).await);
    // A frame of junk: closed.
    let mut junk = TcpStream::connect(addr).await.unwrap();
    junk.write_all(&[0, 0, 0, 12, 0, 3, 0, 9, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0x7f])
        .await
        .unwrap();
    assert!(closed_by_broker(&mut junk).await);

    // Many connections at once, and the first one still works.
    let mut clients = Vec::new();
    for _ in 0..100 {
        clients.push(tokio::spawn(async move {
            let mut c = TcpStream::connect(addr).await.unwrap();
            api_versions_over(&mut c).await.error_code
        }));
    }
    for c in clients {
        assert_eq!(c.await.unwrap(), 0);
    }
    assert_eq!(api_versions_over(&mut good).await.error_code, 0);

    stop_tx.send_replace(true);
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap();
    assert!(
        closed_by_broker(&mut good).await,
        "connections close on shutdown"
    );
}
