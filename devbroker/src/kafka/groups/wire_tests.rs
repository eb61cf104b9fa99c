//! The group APIs through the frame dispatcher at every advertised version:
//! requests encoded and responses decoded with `kafka-protocol`, so a field
//! filled where a version does not have it fails here.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use crate::kafka::KafkaState;
use crate::kafka::dispatch::{Outcome, handle_frame, supported_versions};
use crate::kafka::tests::{fixture, frame};

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_string())
}

async fn call<Req: Encodable, Resp: Decodable>(
    state: &KafkaState,
    api: ApiKey,
    version: i16,
    req: &Req,
) -> Resp {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        handle_frame(state, frame(api, version, req)),
    )
    .await
    .expect("answered in time")
    .unwrap_or_else(|e| panic!("{api:?} v{version}: {e}"));
    let Outcome::Reply(mut bytes) = out else {
        panic!("no reply")
    };
    let _ = ResponseHeader::decode(&mut bytes, api.response_header_version(version)).unwrap();
    let resp = Resp::decode(&mut bytes, version)
        .unwrap_or_else(|e| panic!("{api:?} v{version} response: {e}"));
    assert!(bytes.is_empty(), "trailing bytes in {api:?} v{version}");
    resp
}

/// A consumer-protocol subscription to `topic`.
fn subscription(topic: &str) -> Bytes {
    let mut sub = ConsumerProtocolSubscription::default();
    sub.topics = vec![s(topic)];
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    sub.encode(&mut buf, 0).unwrap();
    buf.freeze()
}

fn join_req(group: &str, member: &str, version: i16) -> JoinGroupRequest {
    let mut p = JoinGroupRequestProtocol::default();
    p.name = s("range");
    p.metadata = subscription("t");
    let mut r = JoinGroupRequest::default();
    r.group_id = GroupId(s(group));
    r.session_timeout_ms = 10_000;
    if version >= 1 {
        r.rebalance_timeout_ms = 10_000;
    }
    r.member_id = s(member);
    r.protocol_type = s("consumer");
    r.protocols = vec![p];
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_group_api_at_every_version() {
    let f = fixture();
    let state = &f.state;
    state
        .store
        .create_topic("t", 2, crate::config::TopicConfig::default())
        .await
        .unwrap();
    tokio::spawn(
        state
            .groups
            .clone()
            .run_timer(state.store.clone(), f.stop.subscribe()),
    );
    let max = |k: ApiKey| supported_versions(k).unwrap().1;
    let min = |k: ApiKey| supported_versions(k).unwrap().0;
    let at = |k: ApiKey, v: i16| v.clamp(min(k), max(k));

    for v in 0..=max(ApiKey::FindCoordinator) {
        let mut req = FindCoordinatorRequest::default();
        if v >= 4 {
            req.coordinator_keys = vec![s("a"), s("b")];
        } else {
            req.key = s("a");
        }
        let resp: FindCoordinatorResponse = call(state, ApiKey::FindCoordinator, v, &req).await;
        if v >= 4 {
            assert_eq!(resp.coordinators.len(), 2);
            assert_eq!(resp.coordinators[1].key, s("b"));
            assert_eq!(resp.coordinators[0].port, 19092);
        } else {
            assert_eq!((resp.error_code, resp.node_id.0, resp.port), (0, 0, 19092));
            assert_eq!(resp.host, s("127.0.0.1"));
        }
        if v >= 1 {
            req.key_type = 1;
            let resp: FindCoordinatorResponse = call(state, ApiKey::FindCoordinator, v, &req).await;
            let code = if v >= 4 {
                resp.coordinators[0].error_code
            } else {
                resp.error_code
            };
            assert_eq!(code, 42, "transactions: INVALID_REQUEST");
        }
    }

    for v in 0..=max(ApiKey::JoinGroup) {
        let group = format!("g{v}");
        let mut req = join_req(&group, "", v);
        if v >= 4 {
            let first: JoinGroupResponse = call(state, ApiKey::JoinGroup, v, &req).await;
            assert_eq!(first.error_code, 79, "v{v}: MEMBER_ID_REQUIRED");
            req.member_id = first.member_id;
        }
        let joined: JoinGroupResponse = call(state, ApiKey::JoinGroup, v, &req).await;
        assert_eq!(joined.error_code, 0, "v{v}");
        assert_eq!(joined.generation_id, 1);
        assert_eq!(joined.leader, joined.member_id);
        assert_eq!(joined.members.len(), 1);
        assert_eq!(joined.protocol_name.as_deref(), Some("range"));
        if v >= 7 {
            assert_eq!(joined.protocol_type.as_deref(), Some("consumer"));
        }
        let member = joined.member_id.clone();

        let sv = at(ApiKey::SyncGroup, v);
        let mut sync = SyncGroupRequest::default();
        sync.group_id = GroupId(s(&group));
        sync.generation_id = 1;
        sync.member_id = member.clone();
        if sv >= 5 {
            sync.protocol_type = Some(s("consumer"));
            sync.protocol_name = Some(s("range"));
        }
        let mut a = SyncGroupRequestAssignment::default();
        a.member_id = member.clone();
        a.assignment = Bytes::from_static(b"assigned");
        sync.assignments = vec![a];
        let synced: SyncGroupResponse = call(state, ApiKey::SyncGroup, sv, &sync).await;
        assert_eq!(
            (synced.error_code, &synced.assignment[..]),
            (0, &b"assigned"[..])
        );

        let hv = at(ApiKey::Heartbeat, v);
        let mut hb = HeartbeatRequest::default();
        hb.group_id = GroupId(s(&group));
        hb.generation_id = 1;
        hb.member_id = member.clone();
        let r: HeartbeatResponse = call(state, ApiKey::Heartbeat, hv, &hb).await;
        assert_eq!(r.error_code, 0);
        hb.generation_id = 7;
        let r: HeartbeatResponse = call(state, ApiKey::Heartbeat, hv, &hb).await;
        assert_eq!(r.error_code, 22, "ILLEGAL_GENERATION");

        let cv = at(ApiKey::OffsetCommit, v);
        let mut part = OffsetCommitRequestPartition::default();
        part.partition_index = 1;
        part.committed_offset = 40 + i64::from(v);
        part.committed_metadata = Some(s("meta"));
        let mut bad = OffsetCommitRequestPartition::default();
        bad.partition_index = 9;
        let mut ct = OffsetCommitRequestTopic::default();
        ct.name = TopicName(s("t"));
        ct.partitions = vec![part, bad];
        let mut commit = OffsetCommitRequest::default();
        commit.group_id = GroupId(s(&group));
        commit.generation_id_or_member_epoch = 1;
        commit.member_id = member.clone();
        commit.topics = vec![ct];
        let r: OffsetCommitResponse = call(state, ApiKey::OffsetCommit, cv, &commit).await;
        let codes: Vec<i16> = r.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect();
        assert_eq!(codes, [0, 3], "v{cv}: ok, UNKNOWN_TOPIC_OR_PARTITION");

        let fv = at(ApiKey::OffsetFetch, v);
        let mut fetch = OffsetFetchRequest::default();
        let got: Vec<(i32, i64, Option<StrBytes>)> = if fv >= 8 {
            let mut t = OffsetFetchRequestTopics::default();
            t.name = TopicName(s("t"));
            t.partition_indexes = vec![0, 1];
            let mut g = OffsetFetchRequestGroup::default();
            g.group_id = GroupId(s(&group));
            g.topics = Some(vec![t]);
            fetch.groups = vec![g];
            let r: OffsetFetchResponse = call(state, ApiKey::OffsetFetch, fv, &fetch).await;
            r.groups[0].topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.committed_offset, p.metadata.clone()))
                .collect()
        } else {
            let mut t = OffsetFetchRequestTopic::default();
            t.name = TopicName(s("t"));
            t.partition_indexes = vec![0, 1];
            fetch.group_id = GroupId(s(&group));
            fetch.topics = Some(vec![t]);
            let r: OffsetFetchResponse = call(state, ApiKey::OffsetFetch, fv, &fetch).await;
            r.topics[0]
                .partitions
                .iter()
                .map(|p| (p.partition_index, p.committed_offset, p.metadata.clone()))
                .collect()
        };
        assert_eq!(
            got,
            [
                (0, -1, Some(s(""))),
                (1, 40 + i64::from(v), Some(s("meta")))
            ],
            "v{fv}"
        );

        let lv = at(ApiKey::ListGroups, v);
        let mut list = ListGroupsRequest::default();
        if lv >= 4 {
            list.states_filter = vec![s("stable")];
        }
        let r: ListGroupsResponse = call(state, ApiKey::ListGroups, lv, &list).await;
        let mine = r.groups.iter().find(|g| *g.group_id.0 == *group).unwrap();
        assert_eq!(mine.protocol_type, s("consumer"));
        if lv >= 4 {
            assert_eq!(mine.group_state, s("Stable"));
        }

        let dv = at(ApiKey::DescribeGroups, v);
        let mut describe = DescribeGroupsRequest::default();
        describe.groups = vec![GroupId(s(&group)), GroupId(s("nope"))];
        let r: DescribeGroupsResponse = call(state, ApiKey::DescribeGroups, dv, &describe).await;
        let d = &r.groups[0];
        assert_eq!((d.error_code, d.group_state.as_str()), (0, "Stable"));
        assert_eq!(d.protocol_data, s("range"));
        assert_eq!(d.members[0].member_id, member);
        assert_eq!(d.members[0].client_id, s("test"));
        assert_eq!(&d.members[0].member_assignment[..], b"assigned");
        assert_eq!(r.groups[1].group_state, s("Dead"));
        assert_eq!(r.groups[1].error_code, if dv >= 6 { 69 } else { 0 });

        // OffsetDelete of a subscribed topic is refused while the group has members.
        let mut od = OffsetDeleteRequest::default();
        od.group_id = GroupId(s(&group));
        let mut odt = OffsetDeleteRequestTopic::default();
        odt.name = TopicName(s("t"));
        let mut odp = OffsetDeleteRequestPartition::default();
        odp.partition_index = 1;
        odt.partitions = vec![odp];
        od.topics = vec![odt];
        let r: OffsetDeleteResponse = call(state, ApiKey::OffsetDelete, 0, &od).await;
        assert_eq!(
            r.topics[0].partitions[0].error_code, 86,
            "GROUP_SUBSCRIBED_TO_TOPIC"
        );

        let gv = at(ApiKey::DeleteGroups, v);
        let mut del = DeleteGroupsRequest::default();
        del.groups_names = vec![GroupId(s(&group)), GroupId(s("nope"))];
        let r: DeleteGroupsResponse = call(state, ApiKey::DeleteGroups, gv, &del).await;
        let codes: Vec<i16> = r.results.iter().map(|r| r.error_code).collect();
        assert_eq!(codes, [68, 69], "NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND");

        let lvv = at(ApiKey::LeaveGroup, v);
        let mut leave = LeaveGroupRequest::default();
        leave.group_id = GroupId(s(&group));
        if lvv >= 3 {
            let mut m = MemberIdentity::default();
            m.member_id = member.clone();
            leave.members = vec![m];
        } else {
            leave.member_id = member.clone();
        }
        let r: LeaveGroupResponse = call(state, ApiKey::LeaveGroup, lvv, &leave).await;
        assert_eq!(r.error_code, 0);
        if lvv >= 3 {
            assert_eq!(r.members[0].error_code, 0);
        }
        let r: LeaveGroupResponse = call(state, ApiKey::LeaveGroup, lvv, &leave).await;
        let code = if lvv >= 3 {
            r.members[0].error_code
        } else {
            r.error_code
        };
        assert_eq!(code, 25, "UNKNOWN_MEMBER_ID the second time");

        // Empty now: its offsets can go, then the group.
        let r: OffsetDeleteResponse = call(state, ApiKey::OffsetDelete, 0, &od).await;
        assert_eq!((r.error_code, r.topics[0].partitions[0].error_code), (0, 0));
        let r: DeleteGroupsResponse = call(state, ApiKey::DeleteGroups, gv, &del).await;
        assert_eq!(r.results[0].error_code, 0);
    }
    f.stop.send_replace(true);
}

#[tokio::test]
async fn offsets_of_a_deleted_topic_are_gone_even_if_it_comes_back() {
    let f = fixture();
    let state = &f.state;
    let config = crate::config::TopicConfig::default;
    state.store.create_topic("t", 1, config()).await.unwrap();
    let mut part = OffsetCommitRequestPartition::default();
    part.committed_offset = 5;
    let mut ct = OffsetCommitRequestTopic::default();
    ct.name = TopicName(s("t"));
    ct.partitions = vec![part];
    let mut commit = OffsetCommitRequest::default();
    commit.group_id = GroupId(s("solo"));
    commit.generation_id_or_member_epoch = -1;
    commit.topics = vec![ct];
    let r: OffsetCommitResponse = call(state, ApiKey::OffsetCommit, 8, &commit).await;
    assert_eq!(r.topics[0].partitions[0].error_code, 0);
    let fetch_all = || {
        let mut g = OffsetFetchRequestGroup::default();
        g.group_id = GroupId(s("solo"));
        g.topics = None;
        let mut req = OffsetFetchRequest::default();
        req.groups = vec![g];
        req
    };
    let r: OffsetFetchResponse = call(state, ApiKey::OffsetFetch, 8, &fetch_all()).await;
    assert_eq!(r.groups[0].topics[0].partitions[0].committed_offset, 5);

    // Deleted and created again (a new topic id), with no hook called.
    state.store.delete_topic("t").await.unwrap();
    state.store.create_topic("t", 1, config()).await.unwrap();
    let r: OffsetFetchResponse = call(state, ApiKey::OffsetFetch, 8, &fetch_all()).await;
    assert!(r.groups[0].topics.is_empty(), "{r:?}");
    let mut t = OffsetFetchRequestTopic::default();
    t.name = TopicName(s("t"));
    t.partition_indexes = vec![0];
    let mut req = OffsetFetchRequest::default();
    req.group_id = GroupId(s("solo"));
    req.topics = Some(vec![t]);
    let r: OffsetFetchResponse = call(state, ApiKey::OffsetFetch, 5, &req).await;
    assert_eq!(r.topics[0].partitions[0].committed_offset, -1);
    // The sweep drops them from the store.
    state.groups.sweep(&state.store).await;
    assert!(state.groups.committed_all("solo").is_empty());
}
