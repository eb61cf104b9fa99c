//! FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup, ListGroups,
//! DescribeGroups and DeleteGroups: requests to and answers from the group
//! coordinator ([`crate::kafka::groups`]), fields filled per version.

use std::time::Duration;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::{
    BrokerId, DeleteGroupsRequest, DeleteGroupsResponse, DescribeGroupsRequest,
    DescribeGroupsResponse, FindCoordinatorRequest, FindCoordinatorResponse, GroupId,
    HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse, LeaveGroupRequest,
    LeaveGroupResponse, ListGroupsRequest, ListGroupsResponse, SyncGroupRequest, SyncGroupResponse,
};

use super::meta::BROKER_ID;
use super::sb;
use crate::kafka::KafkaState;
use crate::kafka::groups::{JoinParams, JoinResult, Leaving, SyncParams, SyncResult, wait_for};

/// Who sent a request (DescribeGroups shows it).
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub client_id: String,
    /// As Kafka shows it: `/127.0.0.1`.
    pub host: String,
}

/// An error code, 0 for none.
pub(crate) fn code(e: Option<ResponseError>) -> i16 {
    e.map_or(0, |e| e.code())
}

fn ms(v: i32) -> Duration {
    Duration::from_millis(u64::try_from(v).unwrap_or(0))
}

/// Group operations for `include_authorized_operations` (READ, DELETE, DESCRIBE):
/// there is no authorization, so everything is allowed.
const GROUP_OPERATIONS: i32 = (1 << 3) | (1 << 6) | (1 << 8);

/// FindCoordinator: this broker for every group (v4+: each key of the batch).
pub fn find_coordinator(
    state: &KafkaState,
    req: FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    let host = sb(state.advertised.ip().to_string());
    let port = i32::from(state.advertised.port());
    // Key type 0 is a group; 1 (transactions) and 2 (share groups) are not implemented.
    let refused = (req.key_type != 0).then(|| {
        format!(
            "key type {} is not supported: this broker coordinates consumer groups only (no transactions, no share groups)",
            req.key_type
        )
    });
    let mut resp = FindCoordinatorResponse::default();
    if version >= 4 {
        resp.coordinators = req
            .coordinator_keys
            .into_iter()
            .map(|key| {
                let mut c = Coordinator::default();
                c.key = key;
                match &refused {
                    None => {
                        c.node_id = BrokerId(BROKER_ID);
                        c.host = host.clone();
                        c.port = port;
                    }
                    Some(msg) => {
                        c.node_id = BrokerId(-1);
                        c.port = -1;
                        c.error_code = ResponseError::InvalidRequest.code();
                        c.error_message = Some(sb(msg.clone()));
                    }
                }
                c
            })
            .collect();
        return resp;
    }
    match refused {
        None => {
            resp.node_id = BrokerId(BROKER_ID);
            resp.host = host;
            resp.port = port;
        }
        Some(msg) => {
            resp.node_id = BrokerId(-1);
            resp.port = -1;
            resp.error_code = ResponseError::InvalidRequest.code();
            if version >= 1 {
                resp.error_message = Some(sb(msg));
            }
        }
    }
    resp
}

/// JoinGroup: held until the join phase completes.
pub async fn join_group(
    state: &KafkaState,
    req: JoinGroupRequest,
    version: i16,
    client: &Client,
) -> JoinGroupResponse {
    let session = ms(req.session_timeout_ms);
    let p = JoinParams {
        group_id: req.group_id.0.to_string(),
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        client_id: client.client_id.clone(),
        client_host: client.host.clone(),
        session_timeout: session,
        rebalance_timeout: if version >= 1 {
            ms(req.rebalance_timeout_ms)
        } else {
            session
        },
        protocol_type: req.protocol_type.to_string(),
        protocols: req
            .protocols
            .into_iter()
            .map(|p| (p.name.to_string(), p.metadata))
            .collect(),
        require_known_member_id: version >= 4,
        supports_skip_assignment: version >= 9,
    };
    let member_id = p.member_id.clone();
    let pending = state.groups.join(p);
    let r = wait_for(
        pending,
        &state.shutdown,
        || JoinResult::error(ResponseError::CoordinatorNotAvailable, &member_id),
        || JoinResult::error(ResponseError::UnknownMemberId, &member_id),
    )
    .await;
    let mut resp = JoinGroupResponse::default();
    resp.error_code = code(r.error);
    resp.generation_id = r.generation;
    if version >= 7 {
        resp.protocol_type = r.protocol_type.map(sb);
        resp.protocol_name = r.protocol_name.map(sb);
    } else {
        resp.protocol_name = Some(sb(r.protocol_name.unwrap_or_default()));
    }
    resp.leader = sb(r.leader);
    resp.member_id = sb(r.member_id);
    if version >= 9 {
        resp.skip_assignment = r.skip_assignment;
    }
    resp.members = r
        .members
        .into_iter()
        .map(|m| {
            let mut out = JoinGroupResponseMember::default();
            out.member_id = sb(m.member_id);
            if version >= 5 {
                out.group_instance_id = m.instance_id.map(sb);
            }
            out.metadata = m.metadata;
            out
        })
        .collect();
    resp
}

/// SyncGroup: a follower's is held until the leader's arrives.
pub async fn sync_group(
    state: &KafkaState,
    req: SyncGroupRequest,
    version: i16,
) -> SyncGroupResponse {
    let p = SyncParams {
        group_id: req.group_id.0.to_string(),
        generation: req.generation_id,
        member_id: req.member_id.to_string(),
        instance_id: req.group_instance_id.map(|s| s.to_string()),
        protocol_type: req.protocol_type.map(|s| s.to_string()),
        protocol_name: req.protocol_name.map(|s| s.to_string()),
        assignments: req
            .assignments
            .into_iter()
            .map(|a| (a.member_id.to_string(), a.assignment))
            .collect(),
    };
    let pending = state.groups.sync(p);
    let r = wait_for(
        pending,
        &state.shutdown,
        || SyncResult::error(ResponseError::CoordinatorNotAvailable),
        || SyncResult::error(ResponseError::UnknownMemberId),
    )
    .await;
    let mut resp = SyncGroupResponse::default();
    resp.error_code = code(r.error);
    resp.assignment = r.assignment;
    if version >= 5 {
        resp.protocol_type = r.protocol_type.map(sb);
        resp.protocol_name = r.protocol_name.map(sb);
    }
    resp
}

/// Heartbeat.
pub fn heartbeat(state: &KafkaState, req: HeartbeatRequest) -> HeartbeatResponse {
    let r = state.groups.heartbeat(
        &req.group_id.0,
        req.generation_id,
        &req.member_id,
        req.group_instance_id.as_deref(),
    );
    let mut resp = HeartbeatResponse::default();
    resp.error_code = code(r.err());
    resp
}

/// LeaveGroup: one member (v0-2) or a batch (v3+).
pub fn leave_group(state: &KafkaState, req: LeaveGroupRequest, version: i16) -> LeaveGroupResponse {
    let leaving: Vec<Leaving> = if version >= 3 {
        req.members
            .iter()
            .map(|m| Leaving {
                member_id: m.member_id.to_string(),
                instance_id: m.group_instance_id.as_ref().map(|s| s.to_string()),
            })
            .collect()
    } else {
        vec![Leaving {
            member_id: req.member_id.to_string(),
            instance_id: None,
        }]
    };
    let mut resp = LeaveGroupResponse::default();
    if req.group_id.0.is_empty() {
        resp.error_code = ResponseError::InvalidGroupId.code();
        return resp;
    }
    let results = state.groups.leave(&req.group_id.0, &leaving);
    if version >= 3 {
        resp.members = leaving
            .into_iter()
            .zip(results)
            .map(|(l, r)| {
                let mut m = MemberResponse::default();
                m.member_id = sb(l.member_id);
                m.group_instance_id = l.instance_id.map(sb);
                m.error_code = code(r.err());
                m
            })
            .collect();
    } else {
        resp.error_code = code(results.into_iter().next().and_then(Result::err));
    }
    resp
}

/// ListGroups, with the state filter (v4+) and type filter (v5; every group
/// here is "classic").
pub fn list_groups(state: &KafkaState, req: ListGroupsRequest, version: i16) -> ListGroupsResponse {
    let states: Vec<String> = if version >= 4 {
        req.states_filter.iter().map(|s| s.to_string()).collect()
    } else {
        Vec::new()
    };
    let classic = version < 5
        || req.types_filter.is_empty()
        || req
            .types_filter
            .iter()
            .any(|t| t.eq_ignore_ascii_case("classic"));
    let mut resp = ListGroupsResponse::default();
    if !classic {
        return resp;
    }
    resp.groups = state
        .groups
        .list(&states)
        .into_iter()
        .map(|g| {
            let mut l = ListedGroup::default();
            l.group_id = GroupId(sb(g.group_id));
            l.protocol_type = sb(g.protocol_type);
            if version >= 4 {
                l.group_state = sb(g.state.name());
            }
            if version >= 5 {
                l.group_type = sb("classic");
            }
            l
        })
        .collect();
    resp
}

/// DescribeGroups: members with client id, host, metadata and assignment.
pub fn describe_groups(
    state: &KafkaState,
    req: DescribeGroupsRequest,
    version: i16,
) -> DescribeGroupsResponse {
    let mut resp = DescribeGroupsResponse::default();
    resp.groups = req
        .groups
        .into_iter()
        .map(|id| {
            let mut d = DescribedGroup::default();
            d.group_id = id.clone();
            if version >= 3 {
                d.authorized_operations = if req.include_authorized_operations {
                    GROUP_OPERATIONS
                } else {
                    i32::MIN
                };
            }
            if id.0.is_empty() {
                d.error_code = ResponseError::InvalidGroupId.code();
                return d;
            }
            let Some(g) = state.groups.describe(&id.0) else {
                d.group_state = sb("Dead");
                // v6 (KIP-1043) reports an unknown group; older versions say Dead.
                if version >= 6 {
                    d.error_code = ResponseError::GroupIdNotFound.code();
                    d.error_message = Some(sb(format!("Group {} not found.", &*id.0)));
                }
                return d;
            };
            d.group_state = sb(g.state.name());
            d.protocol_type = sb(g.protocol_type);
            d.protocol_data = sb(g.protocol);
            d.members = g
                .members
                .into_iter()
                .map(|m| {
                    let mut out = DescribedGroupMember::default();
                    out.member_id = sb(m.member_id);
                    if version >= 4 {
                        out.group_instance_id = m.instance_id.map(sb);
                    }
                    out.client_id = sb(m.client_id);
                    out.client_host = sb(m.client_host);
                    out.member_metadata = m.metadata;
                    out.member_assignment = m.assignment;
                    out
                })
                .collect();
            d
        })
        .collect();
    resp
}

/// DeleteGroups: Empty groups only (NON_EMPTY_GROUP otherwise), with their offsets.
pub async fn delete_groups(state: &KafkaState, req: DeleteGroupsRequest) -> DeleteGroupsResponse {
    let mut resp = DeleteGroupsResponse::default();
    for id in req.groups_names {
        let mut r = DeletableGroupResult::default();
        r.error_code = code(state.groups.delete_group(&id.0).await.err());
        r.group_id = id;
        resp.results.push(r);
    }
    resp
}
