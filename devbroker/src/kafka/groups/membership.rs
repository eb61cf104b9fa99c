//! JoinGroup, SyncGroup, Heartbeat and LeaveGroup on the registry, following
//! Kafka's classic group coordinator.

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::GroupConfig;
use super::group::{Group, GroupState, JoinResult, Member, Pending, SyncResult};
use super::registry::Registry;

/// A JoinGroup request, version differences resolved.
#[derive(Debug, Clone)]
pub struct JoinParams {
    pub group_id: String,
    /// Empty on a first join.
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// JoinGroup v4+: a first join gets MEMBER_ID_REQUIRED and its id.
    pub require_known_member_id: bool,
    /// JoinGroup v9+: a static leader rejoining a stable group may skip the assignment.
    pub supports_skip_assignment: bool,
}

/// A SyncGroup request.
#[derive(Debug, Clone)]
pub struct SyncParams {
    pub group_id: String,
    pub generation: i32,
    pub member_id: String,
    pub instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    /// From the leader: member id -> assignment.
    pub assignments: Vec<(String, Bytes)>,
}

/// A member leaving (LeaveGroup v3+ names several, by member or instance id).
#[derive(Debug, Clone)]
pub struct Leaving {
    pub member_id: String,
    pub instance_id: Option<String>,
}

fn join_error(e: ResponseError, member_id: &str) -> Pending<JoinResult> {
    Pending::Ready(JoinResult::error(e, member_id))
}

impl Registry {
    /// JoinGroup.
    pub fn join(&mut self, now: Instant, p: JoinParams) -> Pending<JoinResult> {
        use ResponseError as E;
        if p.group_id.is_empty() {
            return join_error(E::InvalidGroupId, &p.member_id);
        }
        if p.session_timeout < self.cfg.min_session_timeout
            || p.session_timeout > self.cfg.max_session_timeout
        {
            return join_error(E::InvalidSessionTimeout, &p.member_id);
        }
        if self.get(&p.group_id).is_none() {
            if !p.member_id.is_empty() {
                return join_error(E::UnknownMemberId, &p.member_id);
            }
            if let Err(e) = self.create(&p.group_id, now) {
                return join_error(e, &p.member_id);
            }
        }
        let new_id = if p.member_id.is_empty() {
            let prefix = p.instance_id.as_deref().unwrap_or(&p.client_id);
            self.new_member_id(prefix)
        } else {
            String::new()
        };
        let group_id = p.group_id.clone();
        let member_id = p.member_id.clone();
        self.update(&group_id, move |g, cfg| {
            // The member this join replaces, if any, does not count against it.
            let except = if p.member_id.is_empty() {
                p.instance_id
                    .as_ref()
                    .and_then(|i| g.static_members.get(i))
                    .cloned()
                    .unwrap_or_default()
            } else {
                p.member_id.clone()
            };
            if !g.accepts(&p.protocol_type, &p.protocols, &except) {
                return join_error(E::InconsistentGroupProtocol, &p.member_id);
            }
            let out = if p.member_id.is_empty() {
                join_new(g, cfg, now, p, new_id)
            } else {
                join_known(g, cfg, now, p)
            };
            g.try_complete_join(now);
            out
        })
        .unwrap_or_else(|| join_error(E::CoordinatorNotAvailable, &member_id))
    }

    /// SyncGroup: the leader's assignments go to every member.
    pub fn sync(&mut self, now: Instant, p: SyncParams) -> Pending<SyncResult> {
        use ResponseError as E;
        let ready = |e| Pending::Ready(SyncResult::error(e));
        self.update(&p.group_id, |g, _| {
            if let Err(e) = g.validate_member(&p.member_id, p.instance_id.as_deref()) {
                return ready(e);
            }
            if p.generation != g.generation {
                return ready(E::IllegalGeneration);
            }
            if p.protocol_type.is_some() && p.protocol_type != g.protocol_type
                || p.protocol_name.is_some() && p.protocol_name != g.protocol_name
            {
                return ready(E::InconsistentGroupProtocol);
            }
            match g.state {
                GroupState::Empty | GroupState::Dead => ready(E::UnknownMemberId),
                GroupState::PreparingRebalance => ready(E::RebalanceInProgress),
                GroupState::Stable => {
                    synced(g, &p.member_id);
                    let Some(m) = g.members.get_mut(&p.member_id) else {
                        return ready(E::UnknownMemberId);
                    };
                    m.touch(now);
                    let assignment = m.assignment.clone();
                    Pending::Ready(sync_ok(g, assignment))
                }
                GroupState::CompletingRebalance => {
                    synced(g, &p.member_id);
                    let (tx, rx) = oneshot::channel();
                    let Some(m) = g.members.get_mut(&p.member_id) else {
                        return ready(E::UnknownMemberId);
                    };
                    m.touch(now);
                    m.answer_sync(SyncResult::error(E::RebalanceInProgress));
                    m.sync_waiter = Some(tx);
                    if g.is_leader(&p.member_id) {
                        let mut assigned: HashMap<String, Bytes> =
                            p.assignments.into_iter().collect();
                        for m in g.members.values_mut() {
                            m.assignment = assigned.remove(&m.id).unwrap_or_default();
                        }
                        g.set_state(GroupState::Stable, now);
                        tracing::debug!(group = %g.id, generation = g.generation, "group stable");
                        let ok = sync_ok(g, Bytes::new());
                        for m in g.members.values_mut() {
                            m.answer_sync(SyncResult {
                                assignment: m.assignment.clone(),
                                ..ok.clone()
                            });
                        }
                    }
                    Pending::Wait(rx)
                }
            }
        })
        .unwrap_or_else(|| ready(E::UnknownMemberId))
    }

    /// Heartbeat: keeps the session; REBALANCE_IN_PROGRESS tells the member to rejoin.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        use ResponseError as E;
        self.update(group_id, |g, _| {
            g.validate_member(member_id, instance_id)?;
            if generation != g.generation {
                return Err(E::IllegalGeneration);
            }
            if g.state == GroupState::Empty {
                return Err(E::UnknownMemberId);
            }
            if let Some(m) = g.members.get_mut(member_id) {
                m.touch(now);
            }
            if g.state == GroupState::PreparingRebalance {
                Err(E::RebalanceInProgress)
            } else {
                Ok(())
            }
        })
        .unwrap_or(Err(E::UnknownMemberId))
    }

    /// LeaveGroup: one result per leaving member.
    pub fn leave(
        &mut self,
        now: Instant,
        group_id: &str,
        leaving: &[Leaving],
    ) -> Vec<Result<(), ResponseError>> {
        use ResponseError as E;
        self.update(group_id, |g, cfg| {
            leaving
                .iter()
                .map(|l| {
                    let id = match (&l.instance_id, l.member_id.is_empty()) {
                        (Some(inst), true) => match g.static_members.get(inst) {
                            Some(id) => id.clone(),
                            None => return Err(E::UnknownMemberId),
                        },
                        (Some(inst), false) => match g.static_members.get(inst) {
                            Some(id) if *id == l.member_id => id.clone(),
                            Some(_) => return Err(E::FencedInstanceId),
                            None => return Err(E::UnknownMemberId),
                        },
                        (None, _) => l.member_id.clone(),
                    };
                    if g.pending.remove(&id).is_some() {
                        g.try_complete_join(now);
                        return Ok(());
                    }
                    if !g.members.contains_key(&id) {
                        return Err(E::UnknownMemberId);
                    }
                    tracing::debug!(group = %g.id, member = %id, "member left the group");
                    g.remove_member_and_update(now, cfg, &id, "member left the group");
                    Ok(())
                })
                .collect()
        })
        .unwrap_or_else(|| leaving.iter().map(|_| Err(E::UnknownMemberId)).collect())
    }
}

fn synced(g: &mut Group, member_id: &str) {
    g.pending_sync.remove(member_id);
    if g.pending_sync.is_empty() {
        g.sync_deadline = None;
    }
}

fn sync_ok(g: &Group, assignment: Bytes) -> SyncResult {
    SyncResult {
        error: None,
        protocol_type: g.protocol_type.clone(),
        protocol_name: g.protocol_name.clone(),
        assignment,
    }
}

fn new_member(p: &JoinParams, id: String, now: Instant) -> Member {
    Member {
        id,
        instance_id: p.instance_id.clone(),
        client_id: p.client_id.clone(),
        client_host: p.client_host.clone(),
        session_timeout: p.session_timeout,
        rebalance_timeout: p.rebalance_timeout,
        protocols: p.protocols.clone(),
        assignment: Bytes::new(),
        join_waiter: None,
        sync_waiter: None,
        deadline: now + p.session_timeout,
    }
}

/// A join with an empty member id.
fn join_new(
    g: &mut Group,
    cfg: &GroupConfig,
    now: Instant,
    p: JoinParams,
    new_id: String,
) -> Pending<JoinResult> {
    if let Some(inst) = &p.instance_id
        && let Some(old_id) = g.static_members.get(inst).cloned()
    {
        return replace_static(g, cfg, now, p, old_id, new_id);
    }
    if g.size() >= cfg.max_group_size {
        tracing::warn!(group = %g.id, max = cfg.max_group_size, "JoinGroup refused: the group is full");
        return join_error(ResponseError::GroupMaxSizeReached, "");
    }
    if p.require_known_member_id && p.instance_id.is_none() {
        // KIP-394: the member must come back with this id; until then it is pending.
        g.pending.insert(new_id.clone(), now + p.session_timeout);
        return join_error(ResponseError::MemberIdRequired, &new_id);
    }
    add_member_and_rebalance(g, cfg, now, &p, new_id)
}

/// A join with a member id.
fn join_known(
    g: &mut Group,
    cfg: &GroupConfig,
    now: Instant,
    p: JoinParams,
) -> Pending<JoinResult> {
    let id = p.member_id.clone();
    if g.pending.remove(&id).is_some() {
        return add_member_and_rebalance(g, cfg, now, &p, id);
    }
    if let Err(e) = g.validate_member(&id, p.instance_id.as_deref()) {
        return join_error(e, &id);
    }
    let unchanged = g
        .members
        .get(&id)
        .is_some_and(|m| m.protocols == p.protocols);
    match g.state {
        GroupState::Empty | GroupState::Dead => join_error(ResponseError::UnknownMemberId, &id),
        GroupState::PreparingRebalance => update_member_and_rebalance(g, cfg, now, &p),
        GroupState::CompletingRebalance if unchanged => {
            // It missed the answer of this generation: send it again.
            let leader = g.is_leader(&id);
            Pending::Ready(g.current_join_result(&id, leader))
        }
        GroupState::Stable if unchanged && !g.is_leader(&id) => {
            if let Some(m) = g.members.get_mut(&id) {
                m.touch(now);
            }
            Pending::Ready(g.current_join_result(&id, false))
        }
        GroupState::CompletingRebalance | GroupState::Stable => {
            update_member_and_rebalance(g, cfg, now, &p)
        }
    }
}

fn add_member_and_rebalance(
    g: &mut Group,
    cfg: &GroupConfig,
    now: Instant,
    p: &JoinParams,
    id: String,
) -> Pending<JoinResult> {
    let (tx, rx) = oneshot::channel();
    let mut m = new_member(p, id.clone(), now);
    m.join_waiter = Some(tx);
    if g.leader.is_none() {
        g.leader = Some(id.clone());
    }
    if let Some(inst) = &p.instance_id {
        g.static_members.insert(inst.clone(), id.clone());
    }
    g.members.insert(id.clone(), m);
    g.protocol_type = Some(p.protocol_type.clone());
    if g.state == GroupState::PreparingRebalance
        && let Some(init) = &mut g.initial
    {
        init.new_member_added = true;
    }
    tracing::debug!(group = %g.id, member = %id, "member joined");
    g.maybe_prepare_rebalance(now, cfg, "member joined");
    Pending::Wait(rx)
}

fn update_member_and_rebalance(
    g: &mut Group,
    cfg: &GroupConfig,
    now: Instant,
    p: &JoinParams,
) -> Pending<JoinResult> {
    let (tx, rx) = oneshot::channel();
    if let Some(m) = g.members.get_mut(&p.member_id) {
        m.protocols = p.protocols.clone();
        m.session_timeout = p.session_timeout;
        m.rebalance_timeout = p.rebalance_timeout;
        m.client_id = p.client_id.clone();
        m.client_host = p.client_host.clone();
        // An earlier join of the same member still held: this one replaces it.
        m.answer_join(JoinResult::error(
            ResponseError::RebalanceInProgress,
            &p.member_id,
        ));
        m.join_waiter = Some(tx);
    }
    g.maybe_prepare_rebalance(now, cfg, "member rejoined");
    Pending::Wait(rx)
}

/// A static member joins again with a new process (empty member id, known
/// instance id): it takes over the old member's place and assignment, and the
/// old id is fenced. In a stable group whose protocol does not change there
/// is no rebalance (KIP-345).
fn replace_static(
    g: &mut Group,
    cfg: &GroupConfig,
    now: Instant,
    p: JoinParams,
    old_id: String,
    new_id: String,
) -> Pending<JoinResult> {
    let Some(mut m) = g.members.remove(&old_id) else {
        return add_member_and_rebalance(g, cfg, now, &p, new_id);
    };
    m.answer_join(JoinResult::error(ResponseError::FencedInstanceId, &old_id));
    m.answer_sync(SyncResult::error(ResponseError::FencedInstanceId));
    let old_leader = g.leader.clone().unwrap_or_default();
    let was_leader = old_leader == old_id;
    if was_leader {
        g.leader = Some(new_id.clone());
    }
    if g.pending_sync.remove(&old_id) {
        g.pending_sync.insert(new_id.clone());
    }
    m.id = new_id.clone();
    m.protocols = p.protocols.clone();
    m.session_timeout = p.session_timeout;
    m.rebalance_timeout = p.rebalance_timeout;
    m.client_id = p.client_id.clone();
    m.client_host = p.client_host.clone();
    m.touch(now);
    if let Some(inst) = &p.instance_id {
        g.static_members.insert(inst.clone(), new_id.clone());
    }
    tracing::info!(group = %g.id, instance = ?p.instance_id, old = %old_id, new = %new_id, "static member replaced");
    let (tx, rx) = oneshot::channel();
    match g.state {
        GroupState::Stable => {
            g.members.insert(new_id.clone(), m);
            if g.select_protocol() == g.protocol_name {
                let skip = was_leader && p.supports_skip_assignment;
                let mut r = g.current_join_result(&new_id, skip);
                if skip {
                    r.skip_assignment = true;
                } else {
                    // The old leader id: a new leader would assign again, and
                    // a stable group would not pass that assignment on.
                    r.leader = old_leader;
                }
                return Pending::Ready(r);
            }
            if let Some(m) = g.members.get_mut(&new_id) {
                m.join_waiter = Some(tx);
            }
            g.prepare_rebalance(now, cfg, "static member rejoined with other protocols");
        }
        GroupState::CompletingRebalance => {
            // The leader may be assigning to the old id: start over.
            m.join_waiter = Some(tx);
            g.members.insert(new_id.clone(), m);
            g.prepare_rebalance(now, cfg, "static member rejoined during the sync phase");
        }
        GroupState::PreparingRebalance | GroupState::Empty | GroupState::Dead => {
            m.join_waiter = Some(tx);
            g.members.insert(new_id.clone(), m);
            g.maybe_prepare_rebalance(now, cfg, "static member rejoined");
        }
    }
    Pending::Wait(rx)
}
