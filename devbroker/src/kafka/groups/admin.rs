//! The registry side of offsets and group administration: commit checks,
//! ListGroups, DescribeGroups, DeleteGroups, OffsetDelete.

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::group::GroupState;
use super::offsets::TopicPartition;
use super::registry::Registry;

/// A group as ListGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: GroupState,
}

/// A member as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub metadata: Bytes,
    pub assignment: Bytes,
}

/// A group as DescribeGroups shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The selected protocol (Stable only, as in Kafka).
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

impl Registry {
    /// Whether an OffsetCommit may write (Kafka's rules): members commit in
    /// their current generation; a commit with generation -1 and no member
    /// (a consumer that does not use group management) is taken while the
    /// group has no members, creating the group if needed.
    pub fn validate_commit(
        &mut self,
        now: Instant,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        use ResponseError as E;
        if group_id.is_empty() {
            return Err(E::InvalidGroupId);
        }
        if self.get(group_id).is_none() {
            if generation >= 0 {
                return Err(E::IllegalGeneration);
            }
            return self.create(group_id, now);
        }
        self.update(group_id, |g, _| {
            if generation < 0 && g.state == GroupState::Empty {
                return Ok(());
            }
            if generation >= 0 || !member_id.is_empty() || instance_id.is_some() {
                g.validate_member(member_id, instance_id)?;
                if generation != g.generation {
                    return Err(E::IllegalGeneration);
                }
            } else {
                return Err(E::UnknownMemberId);
            }
            match g.state {
                GroupState::CompletingRebalance => Err(E::RebalanceInProgress),
                GroupState::Dead => Err(E::CoordinatorNotAvailable),
                _ => {
                    if let Some(m) = g.members.get_mut(member_id) {
                        m.touch(now);
                    }
                    Ok(())
                }
            }
        })
        .unwrap_or(Err(E::CoordinatorNotAvailable))
    }

    /// ListGroups, with Kafka's state filter (case-insensitive names; empty
    /// lists every group).
    pub fn list(&self, states: &[String]) -> Vec<ListedGroup> {
        let mut out: Vec<ListedGroup> = self
            .groups
            .values()
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state,
            })
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// DescribeGroups of one group; members carry metadata and assignment
    /// only when the group is Stable (as in Kafka).
    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        let g = self.get(group_id)?;
        let stable = g.state == GroupState::Stable;
        let protocol = if stable {
            g.protocol_name.clone().unwrap_or_default()
        } else {
            String::new()
        };
        Some(GroupDescription {
            group_id: g.id.clone(),
            state: g.state,
            protocol_type: g.protocol_type.clone().unwrap_or_default(),
            members: g
                .members
                .values()
                .map(|m| MemberDescription {
                    member_id: m.id.clone(),
                    instance_id: m.instance_id.clone(),
                    client_id: m.client_id.clone(),
                    client_host: m.client_host.clone(),
                    metadata: if stable {
                        m.metadata(&protocol)
                    } else {
                        Bytes::new()
                    },
                    assignment: if stable {
                        m.assignment.clone()
                    } else {
                        Bytes::new()
                    },
                })
                .collect(),
            protocol,
        })
    }

    /// DeleteGroups of one group: only an Empty group goes (its offsets are
    /// the caller's to drop).
    pub fn delete(&mut self, group_id: &str) -> Result<(), ResponseError> {
        use ResponseError as E;
        if group_id.is_empty() {
            return Err(E::InvalidGroupId);
        }
        match self.get(group_id).map(|g| g.state) {
            None | Some(GroupState::Dead) => Err(E::GroupIdNotFound),
            Some(GroupState::Empty) => {
                self.remove(group_id);
                tracing::info!(group = group_id, "group deleted");
                Ok(())
            }
            Some(_) => Err(E::NonEmptyGroup),
        }
    }

    /// OffsetDelete: which partitions may have their offsets deleted. An Empty
    /// group: all; a consumer group with members: those of topics it does not
    /// subscribe to (GROUP_SUBSCRIBED_TO_TOPIC for the others); another
    /// protocol with members: none (NON_EMPTY_GROUP).
    pub fn offset_delete_check(
        &self,
        group_id: &str,
        tps: &[TopicPartition],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        use ResponseError as E;
        let Some(g) = self.get(group_id) else {
            return Err(E::GroupIdNotFound);
        };
        match g.state {
            GroupState::Dead => Err(E::GroupIdNotFound),
            GroupState::Empty => Ok(tps.iter().map(|_| Ok(())).collect()),
            _ if g.protocol_type.as_deref() == Some("consumer") => Ok(tps
                .iter()
                .map(|tp| {
                    if g.subscribed_to(&tp.topic) {
                        Err(E::GroupSubscribedToTopic)
                    } else {
                        Ok(())
                    }
                })
                .collect()),
            _ => Err(E::NonEmptyGroup),
        }
    }
}
