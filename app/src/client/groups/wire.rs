//! The group coordinator requests rpkv sends (FindCoordinator, ListGroups,
//! DescribeGroups, OffsetFetch, OffsetCommit, DeleteGroups, OffsetDelete,
//! ListOffsets by timestamp), each across the versions a broker may speak,
//! and the consumer protocol's assignment decoding.

use std::collections::BTreeMap;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::consumer_protocol_assignment::ConsumerProtocolAssignment;
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestGroup;
use kafka_protocol::messages::{
    DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId, ListGroupsRequest,
    OffsetCommitRequest, OffsetDeleteRequest, OffsetFetchRequest,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use super::{GroupError, GroupResult};
use crate::client::error::Error;
use crate::client::kafka::{Conn, Supported, kafka_error, list_offsets_on, topic_name};

impl Supported for FindCoordinatorRequest {
    const OURS: (i16, i16) = (0, 6);
}
impl Supported for ListGroupsRequest {
    const OURS: (i16, i16) = (0, 5);
}
impl Supported for DescribeGroupsRequest {
    const OURS: (i16, i16) = (0, 6);
}
impl Supported for OffsetFetchRequest {
    const OURS: (i16, i16) = (1, 9);
}
impl Supported for OffsetCommitRequest {
    const OURS: (i16, i16) = (2, 9);
}
impl Supported for DeleteGroupsRequest {
    const OURS: (i16, i16) = (0, 2);
}
impl Supported for OffsetDeleteRequest {
    const OURS: (i16, i16) = (0, 0);
}

/// Kafka error codes the group calls react to.
pub(super) const UNKNOWN_TOPIC: i16 = 3;
pub(super) const COORDINATOR_LOADING: i16 = 14;
pub(super) const COORDINATOR_NOT_AVAILABLE: i16 = 15;
pub(super) const NOT_COORDINATOR: i16 = 16;
pub(super) const UNKNOWN_MEMBER_ID: i16 = 25;
pub(super) const REBALANCE_IN_PROGRESS: i16 = 27;
pub(super) const NON_EMPTY_GROUP: i16 = 68;
pub(super) const GROUP_ID_NOT_FOUND: i16 = 69;
pub(super) const GROUP_SUBSCRIBED_TO_TOPIC: i16 = 86;

/// Maps a group-level error code; `None` for success.
pub(super) fn group_error(
    group: &str,
    code: i16,
    message: Option<&StrBytes>,
) -> Option<GroupError> {
    match code {
        0 => None,
        GROUP_ID_NOT_FOUND => Some(GroupError::UnknownGroup(group.to_owned())),
        NON_EMPTY_GROUP | UNKNOWN_MEMBER_ID | REBALANCE_IN_PROGRESS => Some(GroupError::NotEmpty {
            group: group.to_owned(),
            members: None,
        }),
        code => kafka_error(code, message).map(GroupError::Client),
    }
}

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

/// The coordinator of `group` as `(node id, "host:port")`.
pub(super) async fn find_coordinator(conn: &mut Conn, group: &str) -> GroupResult<(i32, String)> {
    let v = conn.version::<FindCoordinatorRequest>()?;
    let mut req = FindCoordinatorRequest::default().with_key_type(0);
    if v >= 4 {
        req.coordinator_keys = vec![sb(group)];
    } else {
        req.key = sb(group);
    }
    let resp = conn.call(&req, v).await?;
    let (code, message, node, host, port) = if v >= 4 {
        let c = resp
            .coordinators
            .into_iter()
            .next()
            .ok_or_else(|| conn.transport("FindCoordinator answered no coordinator"))?;
        (c.error_code, c.error_message, c.node_id, c.host, c.port)
    } else {
        (
            resp.error_code,
            resp.error_message,
            resp.node_id,
            resp.host,
            resp.port,
        )
    };
    if let Some(e) = kafka_error(code, message.as_ref()) {
        return Err(e.into());
    }
    Ok((node.0, format!("{host}:{port}")))
}

/// One group as ListGroups shows it: `(name, protocol type, state)`; the
/// state is empty before ListGroups v4.
pub(super) async fn list_groups(conn: &mut Conn) -> GroupResult<Vec<(String, String, String)>> {
    let resp = conn.request(ListGroupsRequest::default()).await?;
    if let Some(e) = kafka_error(resp.error_code, None) {
        return Err(e.into());
    }
    Ok(resp
        .groups
        .into_iter()
        .map(|g| {
            (
                g.group_id.0.to_string(),
                g.protocol_type.to_string(),
                g.group_state.to_string(),
            )
        })
        .collect())
}

/// A DescribeGroups answer for one group.
pub(super) struct Described {
    pub state: String,
    pub protocol_type: String,
    pub protocol: String,
    /// `(member id, instance id, client id, host, assignment bytes)`.
    pub members: Vec<(String, Option<String>, String, String, Bytes)>,
}

/// DescribeGroups of one group; an unknown group (Dead, or
/// GROUP_ID_NOT_FOUND from v6) is [`GroupError::UnknownGroup`].
pub(super) async fn describe(conn: &mut Conn, group: &str) -> GroupResult<Described> {
    let req = DescribeGroupsRequest::default().with_groups(vec![GroupId(sb(group))]);
    let resp = conn.request(req).await?;
    let g = resp
        .groups
        .into_iter()
        .find(|g| g.group_id.0.as_str() == group)
        .ok_or_else(|| conn.transport(format!("DescribeGroups did not answer for {group:?}")))?;
    if let Some(e) = group_error(group, g.error_code, g.error_message.as_ref()) {
        return Err(e);
    }
    if g.group_state.as_str() == "Dead" {
        return Err(GroupError::UnknownGroup(group.to_owned()));
    }
    Ok(Described {
        state: g.group_state.to_string(),
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        members: g
            .members
            .into_iter()
            .map(|m| {
                (
                    m.member_id.to_string(),
                    m.group_instance_id.map(|i| i.to_string()),
                    m.client_id.to_string(),
                    m.client_host.to_string(),
                    m.member_assignment,
                )
            })
            .collect(),
    })
}

/// Committed offsets by topic and partition (`None` = every partition the
/// group committed); partitions without a commit are left out.
pub(super) async fn offset_fetch(
    conn: &mut Conn,
    group: &str,
) -> GroupResult<BTreeMap<(String, i32), i64>> {
    let v = conn.version::<OffsetFetchRequest>()?;
    let mut req = OffsetFetchRequest::default();
    if v >= 8 {
        req.groups = vec![
            OffsetFetchRequestGroup::default()
                .with_group_id(GroupId(sb(group)))
                .with_topics(None),
        ];
    } else {
        req.group_id = GroupId(sb(group));
        req.topics = None;
    }
    let resp = conn.call(&req, v).await?;
    let mut out = BTreeMap::new();
    let mut keep = |topic: &str, partition: i32, offset: i64, code: i16| -> GroupResult<()> {
        if let Some(e) = kafka_error(code, None) {
            return Err(e.into());
        }
        if offset >= 0 {
            out.insert((topic.to_owned(), partition), offset);
        }
        Ok(())
    };
    if v >= 8 {
        for g in resp.groups {
            if let Some(e) = group_error(group, g.error_code, None) {
                return Err(e);
            }
            for t in g.topics {
                for p in t.partitions {
                    keep(
                        &t.name.0,
                        p.partition_index,
                        p.committed_offset,
                        p.error_code,
                    )?;
                }
            }
        }
    } else {
        if let Some(e) = group_error(group, resp.error_code, None) {
            return Err(e);
        }
        for t in resp.topics {
            for p in t.partitions {
                keep(
                    &t.name.0,
                    p.partition_index,
                    p.committed_offset,
                    p.error_code,
                )?;
            }
        }
    }
    Ok(out)
}

/// OffsetCommit outside group management (generation -1, no member), as
/// Kafka takes it only while the group has no members. One result per
/// `(topic, partition)` in the order given.
pub(super) async fn offset_commit(
    conn: &mut Conn,
    group: &str,
    offsets: &[(String, i32, i64)],
) -> GroupResult<Vec<Option<GroupError>>> {
    let mut by_topic: BTreeMap<&str, Vec<(i32, i64)>> = BTreeMap::new();
    for (t, p, o) in offsets {
        by_topic.entry(t.as_str()).or_default().push((*p, *o));
    }
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(
            by_topic
                .iter()
                .map(|(t, parts)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            parts
                                .iter()
                                .map(|(p, o)| {
                                    OffsetCommitRequestPartition::default()
                                        .with_partition_index(*p)
                                        .with_committed_offset(*o)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let resp = conn.request(req).await?;
    let mut codes: BTreeMap<(String, i32), i16> = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            codes.insert((t.name.0.to_string(), p.partition_index), p.error_code);
        }
    }
    Ok(offsets
        .iter()
        .map(|(t, p, _)| match codes.get(&(t.clone(), *p)) {
            None => Some(GroupError::Client(
                conn.transport(format!("OffsetCommit did not answer for {t}/{p}")),
            )),
            Some(&UNKNOWN_TOPIC) => Some(GroupError::Client(Error::UnknownTopic(t.clone()))),
            Some(&code) => group_error(group, code, None),
        })
        .collect())
}

/// DeleteGroups of one group.
pub(super) async fn delete_group(conn: &mut Conn, group: &str) -> GroupResult<()> {
    let req = DeleteGroupsRequest::default().with_groups_names(vec![GroupId(sb(group))]);
    let resp = conn.request(req).await?;
    let r = resp
        .results
        .into_iter()
        .find(|r| r.group_id.0.as_str() == group)
        .ok_or_else(|| conn.transport(format!("DeleteGroups did not answer for {group:?}")))?;
    match group_error(group, r.error_code, None) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// OffsetDelete; one result per `(topic, partition)` in the order given.
pub(super) async fn offset_delete(
    conn: &mut Conn,
    group: &str,
    partitions: &[(String, i32)],
) -> GroupResult<Vec<Option<GroupError>>> {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (t, p) in partitions {
        by_topic.entry(t.as_str()).or_default().push(*p);
    }
    let req = OffsetDeleteRequest::default()
        .with_group_id(GroupId(sb(group)))
        .with_topics(
            by_topic
                .iter()
                .map(|(t, parts)| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(topic_name(t))
                        .with_partitions(
                            parts
                                .iter()
                                .map(|p| {
                                    OffsetDeleteRequestPartition::default().with_partition_index(*p)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let resp = conn.request(req).await?;
    if let Some(e) = group_error(group, resp.error_code, None) {
        return Err(e);
    }
    let mut codes: BTreeMap<(String, i32), i16> = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            codes.insert((t.name.0.to_string(), p.partition_index), p.error_code);
        }
    }
    Ok(partitions
        .iter()
        .map(|(t, p)| match codes.get(&(t.clone(), *p)) {
            None => Some(GroupError::Client(
                conn.transport(format!("OffsetDelete did not answer for {t}/{p}")),
            )),
            Some(&UNKNOWN_TOPIC) => Some(GroupError::Client(Error::UnknownTopic(t.clone()))),
            Some(&GROUP_SUBSCRIBED_TO_TOPIC) => Some(GroupError::SubscribedTopic {
                group: group.to_owned(),
                topic: t.clone(),
            }),
            Some(&code) => kafka_error(code, None).map(GroupError::Client),
        })
        .collect())
}

/// ListOffsets by timestamp: per partition the first offset whose record
/// timestamp is at least `ts_ms`, or `None` when every record is older.
pub(super) async fn offsets_for_timestamp(
    conn: &mut Conn,
    topic: &str,
    partitions: &[i32],
    ts_ms: i64,
) -> GroupResult<Vec<(i32, Option<i64>)>> {
    let offsets = list_offsets_on(conn, topic, partitions, ts_ms).await?;
    Ok(offsets
        .into_iter()
        .map(|(p, o)| (p, (o >= 0).then_some(o)))
        .collect())
}

/// The partitions a consumer-protocol assignment gives a member, by topic.
/// Empty or undecodable bytes (another protocol, a group rebalancing) give
/// nothing.
pub(super) fn decode_assignment(bytes: &Bytes) -> Vec<(String, Vec<i32>)> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    // The consumer protocol prefixes its struct with its own version.
    let version = buf.get_i16().clamp(0, 3);
    match ConsumerProtocolAssignment::decode(&mut buf, version) {
        Ok(a) => a
            .assigned_partitions
            .into_iter()
            .map(|tp| (tp.topic.0.to_string(), tp.partitions))
            .collect(),
        Err(e) => {
            tracing::debug!(error = %e, "member assignment is not a consumer-protocol assignment");
            Vec::new()
        }
    }
}

/// Whether a coordinator error means "ask again shortly".
pub(super) fn is_coordinator_moving(e: &GroupError) -> bool {
    matches!(
        e,
        GroupError::Client(Error::Kafka { code, .. })
            if matches!(*code, COORDINATOR_LOADING | COORDINATOR_NOT_AVAILABLE | NOT_COORDINATOR)
    )
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::Encodable;

    use super::*;

    #[test]
    fn consumer_assignments_decode() {
        let a = ConsumerProtocolAssignment::default().with_assigned_partitions(vec![
            TopicPartition::default()
                .with_topic(topic_name("orders"))
                .with_partitions(vec![0, 2]),
        ]);
        let mut buf = bytes::BytesMut::new();
        buf.put_i16(1);
        a.encode(&mut buf, 1).unwrap();
        assert_eq!(
            decode_assignment(&buf.freeze()),
            vec![("orders".to_owned(), vec![0, 2])]
        );
        assert!(decode_assignment(&Bytes::new()).is_empty());
        assert!(decode_assignment(&Bytes::from_static(&[0, 1, 0xff])).is_empty());
    }
}
