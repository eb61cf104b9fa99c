//! One classic-protocol group: its members, state, generation and the
//! transitions that concern only the group itself (preparing a rebalance,
//! completing the join phase, removing a member).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::Decodable;
use tokio::time::Instant;

use super::GroupConfig;
pub use super::member::{JoinResult, JoinedMember, Member, Pending, SyncResult};

/// Kafka's group states. A deleted group is `Dead` for as long as it takes to
/// drop it from the registry, so no listing ever shows `Dead`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
    Dead,
}

impl GroupState {
    /// The name Kafka uses (ListGroups, DescribeGroups).
    pub fn name(self) -> &'static str {
        match self {
            GroupState::Empty => "Empty",
            GroupState::PreparingRebalance => "PreparingRebalance",
            GroupState::CompletingRebalance => "CompletingRebalance",
            GroupState::Stable => "Stable",
            GroupState::Dead => "Dead",
        }
    }

    pub const ALL: [GroupState; 5] = [
        GroupState::Empty,
        GroupState::PreparingRebalance,
        GroupState::CompletingRebalance,
        GroupState::Stable,
        GroupState::Dead,
    ];
}

/// The delay before the first join phase of an empty group completes
/// (Kafka's `group.initial.rebalance.delay.ms`).
#[derive(Debug, Clone, Copy)]
pub struct InitialDelay {
    /// The delay never runs past this (the rebalance timeout).
    pub until: Instant,
    pub new_member_added: bool,
}

/// One group.
#[derive(Debug)]
pub struct Group {
    pub id: String,
    pub state: GroupState,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: Option<String>,
    pub members: BTreeMap<String, Member>,
    /// group.instance.id -> member id.
    pub static_members: HashMap<String, String>,
    /// Member ids handed out with MEMBER_ID_REQUIRED, not yet joined, and
    /// when they lapse.
    pub pending: HashMap<String, Instant>,
    /// When the join phase ends (PreparingRebalance).
    pub join_deadline: Option<Instant>,
    pub initial: Option<InitialDelay>,
    /// Members that got their JoinGroup answer but have not sent SyncGroup,
    /// and when they are removed for it.
    pub pending_sync: HashSet<String>,
    pub sync_deadline: Option<Instant>,
    /// Topics the members subscribe to (consumer protocol), `None` if unknown.
    pub subscribed_topics: Option<HashSet<String>>,
    /// When the group last became Empty (for clean-up).
    pub empty_since: Option<Instant>,
    /// Rebalances started, for the metric.
    pub rebalances: u64,
}

impl Group {
    pub fn new(id: impl Into<String>, now: Instant) -> Self {
        Group {
            id: id.into(),
            state: GroupState::Empty,
            generation: 0,
            protocol_type: None,
            protocol_name: None,
            leader: None,
            members: BTreeMap::new(),
            static_members: HashMap::new(),
            pending: HashMap::new(),
            join_deadline: None,
            initial: None,
            pending_sync: HashSet::new(),
            sync_deadline: None,
            subscribed_topics: None,
            empty_since: Some(now),
            rebalances: 0,
        }
    }

    /// Members and pending members (what `group.max.size` counts).
    pub fn size(&self) -> usize {
        self.members.len() + self.pending.len()
    }

    pub fn set_state(&mut self, s: GroupState, now: Instant) {
        if s == GroupState::Empty && self.state != GroupState::Empty {
            self.empty_since = Some(now);
        } else if s != GroupState::Empty {
            self.empty_since = None;
        }
        self.state = s;
    }

    pub fn is_leader(&self, member_id: &str) -> bool {
        self.leader.as_deref() == Some(member_id)
    }

    /// Kafka's member validation: a static member must be the one its
    /// instance id maps to, and the member must be known.
    pub fn validate_member(
        &self,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        if let Some(inst) = instance_id {
            match self.static_members.get(inst) {
                None => return Err(ResponseError::UnknownMemberId),
                Some(id) if id != member_id => return Err(ResponseError::FencedInstanceId),
                Some(_) => {}
            }
        }
        if self.members.contains_key(member_id) {
            Ok(())
        } else {
            Err(ResponseError::UnknownMemberId)
        }
    }

    /// Whether a member (`except` aside, when it rejoins) can join with these
    /// protocols: same protocol type, and one protocol every member supports.
    pub fn accepts(
        &self,
        protocol_type: &str,
        protocols: &[(String, Bytes)],
        except: &str,
    ) -> bool {
        if protocol_type.is_empty() || protocols.is_empty() {
            return false;
        }
        let others: Vec<&Member> = self.members.values().filter(|m| m.id != except).collect();
        if others.is_empty() {
            return true;
        }
        if self.protocol_type.as_deref() != Some(protocol_type) {
            return false;
        }
        protocols.iter().any(|(name, _)| {
            others
                .iter()
                .all(|m| m.protocols.iter().any(|(n, _)| n == name))
        })
    }

    /// The protocol for the next generation: among those every member
    /// supports, each member votes for its most preferred one; the most votes
    /// win, ties going to the leader's order of preference (Kafka votes the
    /// same way).
    pub fn select_protocol(&self) -> Option<String> {
        let first = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .or_else(|| self.members.values().next())?;
        let candidates: Vec<&str> = first
            .protocols
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(p, _)| p == n))
            })
            .collect();
        let mut votes = vec![0usize; candidates.len()];
        for m in self.members.values() {
            if let Some(i) = m
                .protocols
                .iter()
                .find_map(|(p, _)| candidates.iter().position(|c| c == p))
            {
                votes[i] += 1;
            }
        }
        let mut best: Option<usize> = None;
        for (i, v) in votes.iter().enumerate() {
            if best.is_none_or(|b| *v > votes[b]) {
                best = Some(i);
            }
        }
        best.map(|i| candidates[i].to_string())
            .or_else(|| first.protocols.first().map(|(n, _)| n.clone()))
    }

    /// The largest rebalance timeout of the members (the join phase's bound).
    pub fn rebalance_timeout(&self) -> Duration {
        self.members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// Starts a rebalance if the state allows one.
    pub fn maybe_prepare_rebalance(&mut self, now: Instant, cfg: &GroupConfig, reason: &str) {
        if matches!(
            self.state,
            GroupState::Stable | GroupState::CompletingRebalance | GroupState::Empty
        ) {
            self.prepare_rebalance(now, cfg, reason);
        }
    }

    /// Enters PreparingRebalance: held SyncGroups get REBALANCE_IN_PROGRESS;
    /// from Empty the join phase waits the initial delay, else until every
    /// member rejoined or the rebalance timeout passed.
    pub fn prepare_rebalance(&mut self, now: Instant, cfg: &GroupConfig, reason: &str) {
        if self.state == GroupState::CompletingRebalance {
            for m in self.members.values_mut() {
                m.assignment = Bytes::new();
                m.answer_sync(SyncResult::error(ResponseError::RebalanceInProgress));
            }
        }
        self.pending_sync.clear();
        self.sync_deadline = None;
        let timeout = self.rebalance_timeout();
        if self.state == GroupState::Empty {
            let delay = cfg.initial_rebalance_delay.min(timeout);
            self.initial = Some(InitialDelay {
                until: now + timeout,
                new_member_added: false,
            });
            self.join_deadline = Some(now + delay);
        } else {
            self.initial = None;
            self.join_deadline = Some(now + timeout);
        }
        tracing::debug!(group = %self.id, generation = self.generation, reason, "group rebalancing");
        self.set_state(GroupState::PreparingRebalance, now);
        self.rebalances += 1;
        self.try_complete_join(now);
    }

    /// Completes the join phase now if every member rejoined (never during
    /// the initial delay).
    pub fn try_complete_join(&mut self, now: Instant) {
        if self.state == GroupState::PreparingRebalance
            && self.initial.is_none()
            && self.pending.is_empty()
            && self.members.values().all(Member::awaiting_join)
        {
            self.complete_join(now);
        }
    }

    /// The join phase's deadline passed: extend the initial delay if members
    /// keep arriving, else complete the join.
    pub fn join_deadline_passed(&mut self, now: Instant, cfg: &GroupConfig) {
        if let Some(init) = &mut self.initial
            && init.new_member_added
            && now < init.until
        {
            init.new_member_added = false;
            // From the deadline, not from `now`: a late timer does not stretch it.
            let from = self.join_deadline.unwrap_or(now);
            let next = (from + cfg.initial_rebalance_delay).min(init.until);
            if next > now {
                self.join_deadline = Some(next);
                return;
            }
        }
        self.complete_join(now);
    }

    /// Ends the join phase: members that did not rejoin are removed (dynamic
    /// ones; a static member keeps its place until its session ends), the
    /// generation moves on and every waiting member gets its answer.
    pub fn complete_join(&mut self, now: Instant) {
        let gone: Vec<String> = self
            .members
            .values()
            .filter(|m| !m.awaiting_join() && m.instance_id.is_none())
            .map(|m| m.id.clone())
            .collect();
        for id in gone {
            tracing::debug!(group = %self.id, member = %id, "member did not rejoin in time; removed");
            self.remove_member(&id);
        }
        self.join_deadline = None;
        self.initial = None;
        self.generation += 1;
        if self.members.is_empty() {
            self.protocol_name = None;
            self.subscribed_topics = None;
            self.leader = None;
            self.set_state(GroupState::Empty, now);
            tracing::debug!(group = %self.id, generation = self.generation, "group is empty");
            return;
        }
        let leader_joined = self
            .leader
            .as_ref()
            .and_then(|l| self.members.get(l))
            .is_some_and(Member::awaiting_join);
        if !leader_joined {
            self.leader = self
                .members
                .values()
                .find(|m| m.awaiting_join())
                .or_else(|| self.members.values().next())
                .map(|m| m.id.clone());
        }
        self.protocol_name = self.select_protocol();
        self.subscribed_topics = self.compute_subscribed_topics();
        self.set_state(GroupState::CompletingRebalance, now);
        self.pending_sync = self.members.keys().cloned().collect();
        self.sync_deadline = Some(now + self.rebalance_timeout());
        let leader = self.leader.clone().unwrap_or_default();
        let protocol = self.protocol_name.clone().unwrap_or_default();
        let all = self.joined_members(&protocol);
        tracing::info!(
            group = %self.id,
            generation = self.generation,
            members = self.members.len(),
            protocol = %protocol,
            leader = %leader,
            "group rebalanced"
        );
        for m in self.members.values_mut() {
            m.touch(now);
            let members = if m.id == leader {
                all.clone()
            } else {
                Vec::new()
            };
            m.answer_join(JoinResult {
                error: None,
                generation: self.generation,
                protocol_type: self.protocol_type.clone(),
                protocol_name: self.protocol_name.clone(),
                leader: leader.clone(),
                member_id: m.id.clone(),
                members,
                skip_assignment: false,
            });
        }
    }

    /// Every member with its metadata for `protocol` (the leader's list).
    pub fn joined_members(&self, protocol: &str) -> Vec<JoinedMember> {
        self.members
            .values()
            .map(|m| JoinedMember {
                member_id: m.id.clone(),
                instance_id: m.instance_id.clone(),
                metadata: m.metadata(protocol),
            })
            .collect()
    }

    /// The current generation's JoinGroup answer for a member that joins
    /// again without changes.
    pub fn current_join_result(&self, member_id: &str, with_members: bool) -> JoinResult {
        let protocol = self.protocol_name.clone().unwrap_or_default();
        JoinResult {
            error: None,
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol_name: self.protocol_name.clone(),
            leader: self.leader.clone().unwrap_or_default(),
            member_id: member_id.to_string(),
            members: if with_members {
                self.joined_members(&protocol)
            } else {
                Vec::new()
            },
            skip_assignment: false,
        }
    }

    /// Takes a member out (no rebalance; see `remove_member_and_update`).
    pub fn remove_member(&mut self, id: &str) -> Option<Member> {
        let mut m = self.members.remove(id)?;
        if let Some(inst) = &m.instance_id
            && self.static_members.get(inst).is_some_and(|v| v == id)
        {
            self.static_members.remove(inst);
        }
        self.pending_sync.remove(id);
        if self.is_leader(id) {
            self.leader = self.members.keys().next().cloned();
        }
        m.answer_join(JoinResult::error(ResponseError::UnknownMemberId, ""));
        m.answer_sync(SyncResult::error(ResponseError::UnknownMemberId));
        Some(m)
    }

    /// Takes a member out and rebalances the rest (leave, session expiry).
    pub fn remove_member_and_update(
        &mut self,
        now: Instant,
        cfg: &GroupConfig,
        id: &str,
        reason: &str,
    ) {
        if self.remove_member(id).is_none() {
            return;
        }
        match self.state {
            GroupState::Stable | GroupState::CompletingRebalance => {
                self.maybe_prepare_rebalance(now, cfg, reason)
            }
            GroupState::PreparingRebalance => self.try_complete_join(now),
            GroupState::Empty | GroupState::Dead => {}
        }
    }

    /// Does what is due at `now`: lapsed member ids, ended sessions, the end
    /// of the join phase, members that never sent SyncGroup.
    pub fn expire(&mut self, now: Instant, cfg: &GroupConfig) {
        let lapsed: Vec<String> = self
            .pending
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &lapsed {
            self.pending.remove(id);
        }
        if !lapsed.is_empty() {
            self.try_complete_join(now);
        }
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in expired {
            tracing::info!(group = %self.id, member = %id, "member session expired; removing it");
            self.remove_member_and_update(now, cfg, &id, "member session expired");
        }
        if self.state == GroupState::PreparingRebalance
            && self.join_deadline.is_some_and(|d| d <= now)
        {
            self.join_deadline_passed(now, cfg);
        }
        if self.sync_deadline.is_some_and(|d| d <= now) {
            self.sync_deadline = None;
            let late: Vec<String> = self.pending_sync.drain().collect();
            if !late.is_empty()
                && matches!(
                    self.state,
                    GroupState::CompletingRebalance | GroupState::Stable
                )
            {
                for id in &late {
                    tracing::info!(group = %self.id, member = %id, "member sent no SyncGroup within the rebalance timeout; removing it");
                    self.remove_member(id);
                }
                self.prepare_rebalance(now, cfg, "members did not sync in time");
            }
        }
    }

    /// The union of the members' subscribed topics, if every member speaks
    /// the consumer protocol in a form we can read.
    fn compute_subscribed_topics(&self) -> Option<HashSet<String>> {
        if self.protocol_type.as_deref() != Some("consumer") {
            return None;
        }
        let protocol = self.protocol_name.as_deref()?;
        let mut topics = HashSet::new();
        for m in self.members.values() {
            topics.extend(subscription_topics(&m.metadata(protocol))?);
        }
        Some(topics)
    }

    /// Whether the group may be consuming `topic` (unknown counts as yes).
    pub fn subscribed_to(&self, topic: &str) -> bool {
        self.subscribed_topics
            .as_ref()
            .is_none_or(|t| t.contains(topic))
    }

    /// The earliest time something is due in this group.
    pub fn next_deadline(&self) -> Option<Instant> {
        let members = self
            .members
            .values()
            .filter(|m| m.join_waiter.is_none() && m.sync_waiter.is_none())
            .map(|m| m.deadline);
        let sync = self.sync_deadline.filter(|_| !self.pending_sync.is_empty());
        members
            .chain(self.pending.values().copied())
            .chain(self.join_deadline)
            .chain(sync)
            .min()
    }
}

/// The topics of a consumer-protocol subscription (`ConsumerProtocolSubscription`,
/// a version then the fields), `None` if it does not parse.
pub fn subscription_topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut buf = Bytes::copy_from_slice(metadata);
    if buf.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    // Later versions only append fields, so read them as the newest we know.
    let version = version.clamp(0, 3);
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ConsumerProtocolSubscription::decode(&mut buf, version)
    }));
    match decoded {
        Ok(Ok(s)) => Some(s.topics.iter().map(|t| t.to_string()).collect()),
        _ => None,
    }
}
