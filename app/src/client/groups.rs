//! Consumer groups over the Kafka protocol, shaped like `rpk group`: list,
//! describe with lag, seek (commit new offsets), delete, delete offsets.
//!
//! Every call but the listing asks FindCoordinator where the group lives
//! and talks to that broker. Lag is the log end offset (high watermark)
//! minus the committed offset.

mod parse;
mod wire;

pub use parse::parse_topic_partitions;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use crate::client::kafka::Conn;
use crate::client::{Client, Error, OffsetSpec};

/// A group call's failure.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    /// The coordinator does not know the group.
    #[error("group {0:?} not found (rpkv group list shows the groups)")]
    UnknownGroup(String),
    /// Kafka refuses the change while the group has members.
    #[error(
        "group {group:?} has {}: stop its consumers first (Kafka changes offsets and deletes only groups without members)",
        match members { Some(1) => "1 active member".to_owned(), Some(n) => format!("{n} active members"), None => "active members".to_owned() }
    )]
    NotEmpty {
        group: String,
        members: Option<usize>,
    },
    /// OffsetDelete of a topic the group's members subscribe to.
    #[error(
        "members of group {group:?} are subscribed to topic {topic:?}: Kafka keeps those offsets until they unsubscribe or stop"
    )]
    SubscribedTopic { group: String, topic: String },
    /// Any other client failure (connection, Kafka error, bad input).
    #[error(transparent)]
    Client(#[from] Error),
}

/// Result with a [`GroupError`].
pub type GroupResult<T> = std::result::Result<T, GroupError>;

/// A group as ListGroups shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedGroup {
    pub name: String,
    /// Empty when the broker is older than ListGroups v4.
    pub state: String,
    pub protocol_type: String,
    /// The node id of the broker that coordinates it.
    pub coordinator: i32,
}

/// A member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub host: String,
    /// The partitions it owns (consumer protocol, Stable groups), by topic.
    pub assignment: Vec<MemberAssignment>,
}

/// The partitions of one topic a member owns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberAssignment {
    pub topic: String,
    pub partitions: Vec<i32>,
}

/// One partition of a group: where the group is and where the log is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupPartition {
    pub topic: String,
    pub partition: i32,
    /// The committed offset; `None` when the group has not committed one.
    pub current_offset: Option<i64>,
    pub log_start_offset: Option<i64>,
    /// The high watermark.
    pub log_end_offset: Option<i64>,
    /// `log_end_offset - current_offset` (`log_end_offset - log_start_offset`
    /// without a commit, what a consumer reading from the start has left).
    pub lag: Option<i64>,
    pub member_id: Option<String>,
    pub client_id: Option<String>,
    pub host: Option<String>,
}

/// A group described: state, members, and every partition it committed or
/// is assigned, sorted by topic and partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupDescription {
    pub name: String,
    pub coordinator: i32,
    pub state: String,
    pub protocol_type: String,
    /// The assignor the members agreed on (Stable groups).
    pub protocol: String,
    pub members: Vec<GroupMember>,
    pub partitions: Vec<GroupPartition>,
    pub total_lag: i64,
}

impl GroupDescription {
    /// The topics the group has offsets in or is assigned.
    pub fn topics(&self) -> BTreeSet<&str> {
        self.partitions.iter().map(|p| p.topic.as_str()).collect()
    }
}

/// Where `rpkv group seek` moves a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SeekTo {
    /// The log start offset of each partition.
    Start,
    /// The high watermark of each partition.
    End,
    /// The first offset at or after a time (milliseconds since the epoch);
    /// the end where every record is older.
    Timestamp(i64),
    /// Exact offsets: `(topic, partition, offset)`.
    Offsets(Vec<(String, i32, i64)>),
}

/// One partition moved by a seek.
#[derive(Debug)]
pub struct SeekOutcome {
    pub topic: String,
    pub partition: i32,
    /// The committed offset before the seek.
    pub prior_offset: Option<i64>,
    pub new_offset: i64,
    pub result: GroupResult<()>,
}

/// The outcome of deleting one group.
#[derive(Debug)]
pub struct GroupOutcome {
    pub group: String,
    pub result: GroupResult<()>,
}

/// The outcome of deleting one partition's committed offset.
#[derive(Debug)]
pub struct OffsetDeleteOutcome {
    pub topic: String,
    pub partition: i32,
    pub result: GroupResult<()>,
}

impl Client {
    /// A connection to the coordinator of `group` and its node id. A
    /// coordinator that is still loading is asked again for up to 5 s.
    async fn coordinator(&self, group: &str) -> GroupResult<(Conn, i32)> {
        let mut tries = 0;
        loop {
            let mut conn = self.kafka().await?;
            match wire::find_coordinator(&mut conn, group).await {
                Ok((node, addr)) => return Ok((self.kafka_at(&addr).await?, node)),
                Err(e) if wire::is_coordinator_moving(&e) && tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Every group of the cluster (ListGroups on each broker), sorted by name.
    pub async fn list_groups(&self) -> GroupResult<Vec<ListedGroup>> {
        let meta = self.cluster_metadata(Some(&[][..])).await?;
        let mut out = Vec::new();
        for b in &meta.brokers {
            let mut conn = self.kafka_at(&format!("{}:{}", b.host, b.port)).await?;
            for (name, protocol_type, state) in wire::list_groups(&mut conn).await? {
                out.push(ListedGroup {
                    name,
                    state,
                    protocol_type,
                    coordinator: b.id,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out.dedup_by(|a, b| a.name == b.name);
        Ok(out)
    }

    /// A group's state, members, committed offsets, log offsets and lag.
    pub async fn describe_group(&self, group: &str) -> GroupResult<GroupDescription> {
        let (mut conn, coordinator) = self.coordinator(group).await?;
        let d = wire::describe(&mut conn, group).await?;
        let committed = wire::offset_fetch(&mut conn, group).await?;
        let members: Vec<GroupMember> = d
            .members
            .into_iter()
            .map(
                |(member_id, instance_id, client_id, host, bytes)| GroupMember {
                    member_id,
                    instance_id,
                    client_id,
                    host,
                    assignment: if d.protocol_type == "consumer" {
                        wire::decode_assignment(&bytes)
                            .into_iter()
                            .map(|(topic, partitions)| MemberAssignment { topic, partitions })
                            .collect()
                    } else {
                        Vec::new()
                    },
                },
            )
            .collect();
        let mut owner: BTreeMap<(String, i32), &GroupMember> = BTreeMap::new();
        for m in &members {
            for a in &m.assignment {
                for p in &a.partitions {
                    owner.insert((a.topic.clone(), *p), m);
                }
            }
        }
        let mut by_topic: BTreeMap<String, BTreeSet<i32>> = BTreeMap::new();
        for (t, p) in committed.keys().chain(owner.keys()) {
            by_topic.entry(t.clone()).or_default().insert(*p);
        }
        let mut partitions = Vec::new();
        for (topic, parts) in by_topic {
            let ids: Vec<i32> = parts.iter().copied().collect();
            let offsets = match self.partition_offsets(&topic, &ids).await {
                Ok(o) => o,
                Err(e) => {
                    tracing::warn!(topic, error = %e, "cannot read the topic's offsets");
                    Vec::new()
                }
            };
            for p in ids {
                let log = offsets.iter().find(|o| o.partition == p);
                let current = committed.get(&(topic.clone(), p)).copied();
                let lag = log.map(|o| (o.end - current.unwrap_or(o.start)).max(0));
                let m = owner.get(&(topic.clone(), p));
                partitions.push(GroupPartition {
                    topic: topic.clone(),
                    partition: p,
                    current_offset: current,
                    log_start_offset: log.map(|o| o.start),
                    log_end_offset: log.map(|o| o.end),
                    lag,
                    member_id: m.map(|m| m.member_id.clone()),
                    client_id: m.map(|m| m.client_id.clone()),
                    host: m.map(|m| m.host.clone()),
                });
            }
        }
        let total_lag = partitions.iter().filter_map(|p| p.lag).sum();
        Ok(GroupDescription {
            name: group.to_owned(),
            coordinator,
            state: d.state,
            protocol_type: d.protocol_type,
            protocol: d.protocol,
            members,
            partitions,
            total_lag,
        })
    }

    /// Every group described (one [`Client::describe_group`] each); a group
    /// deleted between the listing and its description is left out.
    pub async fn describe_groups(&self) -> GroupResult<Vec<GroupDescription>> {
        let mut out = Vec::new();
        for g in self.list_groups().await? {
            match self.describe_group(&g.name).await {
                Ok(d) => out.push(d),
                Err(GroupError::UnknownGroup(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Commits new offsets for a group without members. `topics` limits a
    /// start/end/timestamp seek to those topics (all their partitions, also
    /// ones the group has no offset in yet); without it every partition the
    /// group committed moves. Refused ([`GroupError::NotEmpty`]) while the
    /// group has members, as Kafka refuses the commit.
    pub async fn seek_group(
        &self,
        group: &str,
        to: &SeekTo,
        topics: &[String],
    ) -> GroupResult<Vec<SeekOutcome>> {
        self.check_writable("seek group offsets")?;
        let (mut conn, _) = self.coordinator(group).await?;
        let known = match wire::describe(&mut conn, group).await {
            Ok(d) => {
                if !d.members.is_empty() {
                    return Err(GroupError::NotEmpty {
                        group: group.to_owned(),
                        members: Some(d.members.len()),
                    });
                }
                true
            }
            Err(GroupError::UnknownGroup(_)) => false,
            Err(e) => return Err(e),
        };
        let prior = wire::offset_fetch(&mut conn, group).await?;
        let targets: Vec<(String, i32, i64)> = match to {
            SeekTo::Offsets(offsets) => offsets
                .iter()
                .filter(|(t, _, _)| topics.is_empty() || topics.contains(t))
                .cloned()
                .collect(),
            spec => {
                let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                if topics.is_empty() {
                    if !known {
                        return Err(GroupError::UnknownGroup(group.to_owned()));
                    }
                    for (t, p) in prior.keys() {
                        by_topic.entry(t.clone()).or_default().push(*p);
                    }
                } else {
                    for t in topics {
                        let info = self.topic_info(t).await?;
                        by_topic.insert(t.clone(), info.partitions.iter().map(|p| p.id).collect());
                    }
                }
                let mut out = Vec::new();
                for (topic, parts) in by_topic {
                    for (p, o) in self.seek_offsets(&topic, &parts, spec).await? {
                        out.push((topic.clone(), p, o));
                    }
                }
                out
            }
        };
        if targets.is_empty() {
            return Err(Error::InvalidInput(format!(
                "nothing to seek: group {group:?} has no committed offsets{}",
                if topics.is_empty() {
                    " (name the topics with --topics)"
                } else {
                    " in those topics"
                }
            ))
            .into());
        }
        let results = wire::offset_commit(&mut conn, group, &targets).await?;
        Ok(targets
            .into_iter()
            .zip(results)
            .map(|((topic, partition, new_offset), err)| SeekOutcome {
                prior_offset: prior.get(&(topic.clone(), partition)).copied(),
                topic,
                partition,
                new_offset,
                result: match err {
                    Some(GroupError::NotEmpty { group, .. }) => Err(GroupError::NotEmpty {
                        group,
                        members: None,
                    }),
                    Some(e) => Err(e),
                    None => Ok(()),
                },
            })
            .collect())
    }

    /// The offsets a start/end/timestamp seek commits for `partitions`.
    async fn seek_offsets(
        &self,
        topic: &str,
        partitions: &[i32],
        spec: &SeekTo,
    ) -> GroupResult<Vec<(i32, i64)>> {
        Ok(match spec {
            SeekTo::Start => {
                self.list_offsets(topic, partitions, OffsetSpec::Earliest)
                    .await?
            }
            SeekTo::End => {
                self.list_offsets(topic, partitions, OffsetSpec::Latest)
                    .await?
            }
            SeekTo::Timestamp(ts) => {
                let mut conn = self.kafka().await?;
                let found = wire::offsets_for_timestamp(&mut conn, topic, partitions, *ts).await?;
                let ends = self
                    .list_offsets(topic, partitions, OffsetSpec::Latest)
                    .await?;
                found
                    .into_iter()
                    .map(|(p, o)| {
                        let end = ends.iter().find(|(q, _)| *q == p).map_or(0, |(_, e)| *e);
                        (p, o.unwrap_or(end))
                    })
                    .collect()
            }
            SeekTo::Offsets(_) => Vec::new(),
        })
    }

    /// DeleteGroups; one outcome per group. Kafka deletes only groups
    /// without members ([`GroupError::NotEmpty`] otherwise).
    pub async fn delete_groups(&self, groups: &[String]) -> GroupResult<Vec<GroupOutcome>> {
        self.check_writable("delete groups")?;
        let mut out = Vec::new();
        for g in groups {
            let result = match self.coordinator(g).await {
                Ok((mut conn, _)) => wire::delete_group(&mut conn, g).await,
                Err(e) => Err(e),
            };
            out.push(GroupOutcome {
                group: g.clone(),
                result,
            });
        }
        Ok(out)
    }

    /// OffsetDelete: drops the group's committed offsets of the given
    /// partitions (`None` = every partition of the topic). Kafka refuses
    /// topics the group's members are subscribed to.
    pub async fn delete_group_offsets(
        &self,
        group: &str,
        topics: &[(String, Option<Vec<i32>>)],
    ) -> GroupResult<Vec<OffsetDeleteOutcome>> {
        self.check_writable("delete group offsets")?;
        let mut partitions = Vec::new();
        for (t, parts) in topics {
            let parts = match parts {
                Some(p) => p.clone(),
                None => self
                    .topic_info(t)
                    .await?
                    .partitions
                    .iter()
                    .map(|p| p.id)
                    .collect(),
            };
            partitions.extend(parts.into_iter().map(|p| (t.clone(), p)));
        }
        let (mut conn, _) = self.coordinator(group).await?;
        let results = wire::offset_delete(&mut conn, group, &partitions).await?;
        Ok(partitions
            .into_iter()
            .zip(results)
            .map(|((topic, partition), err)| OffsetDeleteOutcome {
                topic,
                partition,
                result: err.map_or(Ok(()), Err),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_empty_says_what_to_do() {
        let e = GroupError::NotEmpty {
            group: "g".into(),
            members: Some(2),
        };
        assert!(
            e.to_string()
                .contains("2 active members: stop its consumers")
        );
    }
}
