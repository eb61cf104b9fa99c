//! OffsetCommit, OffsetFetch (v1-7 one group, v8+ a batch) and OffsetDelete.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_delete_response::{
    OffsetDeleteResponsePartition, OffsetDeleteResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponseGroup, OffsetFetchResponsePartition, OffsetFetchResponsePartitions,
    OffsetFetchResponseTopic, OffsetFetchResponseTopics,
};
use kafka_protocol::messages::{
    OffsetCommitRequest, OffsetCommitResponse, OffsetDeleteRequest, OffsetDeleteResponse,
    OffsetFetchRequest, OffsetFetchResponse,
};

use super::groups::code;
use super::{sb, topic_name};
use crate::kafka::KafkaState;
use crate::kafka::groups::{CommittedOffset, TopicPartition};

/// The storage id of a partition's topic, if the partition exists.
fn topic_id(state: &KafkaState, topic: &str, partition: i32) -> Option<u32> {
    state
        .store
        .topic(topic)
        .filter(|m| (0..m.partitions).contains(&partition))
        .map(|m| m.id)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// OffsetCommit: members in their generation; generation -1 without a member
/// (a consumer not using group management) while the group has no members.
pub async fn offset_commit(
    state: &KafkaState,
    req: OffsetCommitRequest,
    version: i16,
) -> OffsetCommitResponse {
    let max_metadata = state.groups.config().max_offset_metadata_bytes;
    let commit_ms = now_ms();
    // Per partition: an error found before the coordinator looks at it.
    let mut checked: Vec<Vec<Option<ResponseError>>> = Vec::new();
    let mut offsets = Vec::new();
    for t in &req.topics {
        let mut row = Vec::new();
        for p in &t.partitions {
            let metadata = p.committed_metadata.as_deref().unwrap_or_default();
            let err = match topic_id(state, &t.name.0, p.partition_index) {
                None => Some(ResponseError::UnknownTopicOrPartition),
                Some(_) if metadata.len() > max_metadata => {
                    Some(ResponseError::OffsetMetadataTooLarge)
                }
                Some(id) => {
                    offsets.push((
                        TopicPartition::new(t.name.0.to_string(), p.partition_index),
                        CommittedOffset {
                            offset: p.committed_offset,
                            leader_epoch: if version >= 6 {
                                p.committed_leader_epoch
                            } else {
                                -1
                            },
                            metadata: metadata.to_string(),
                            commit_ms,
                            topic_id: id,
                        },
                    ));
                    None
                }
            };
            row.push(err);
        }
        checked.push(row);
    }
    let instance = req.group_instance_id.as_deref();
    let group_err = state
        .groups
        .commit(
            &req.group_id.0,
            req.generation_id_or_member_epoch,
            &req.member_id,
            instance,
            offsets,
        )
        .await
        .err();
    let mut resp = OffsetCommitResponse::default();
    resp.topics = req
        .topics
        .into_iter()
        .zip(checked)
        .map(|(t, row)| {
            let mut rt = OffsetCommitResponseTopic::default();
            rt.name = t.name;
            rt.partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, err)| {
                    let mut rp = OffsetCommitResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = code(err.or(group_err));
                    rp
                })
                .collect();
            rt
        })
        .collect();
    resp
}

/// One partition's committed offset, if its topic still is the one it was
/// committed for.
fn committed(state: &KafkaState, group: &str, tp: &TopicPartition) -> Option<CommittedOffset> {
    state
        .groups
        .committed(group, tp)
        .filter(|c| topic_id(state, &tp.topic, tp.partition) == Some(c.topic_id))
}

/// A topic's partitions and their committed offsets.
type TopicOffsets = (String, Vec<(i32, Option<CommittedOffset>)>);

/// Committed offsets of a group: the partitions asked for (-1 where none),
/// or, for `None`, every committed one. Grouped by topic, in request order.
fn fetch_group(
    state: &KafkaState,
    group: &str,
    topics: Option<Vec<(String, Vec<i32>)>>,
) -> Vec<TopicOffsets> {
    match topics {
        Some(topics) => topics
            .into_iter()
            .map(|(topic, parts)| {
                let rows = parts
                    .into_iter()
                    .map(|p| (p, committed(state, group, &TopicPartition::new(&topic, p))))
                    .collect();
                (topic, rows)
            })
            .collect(),
        None => {
            let mut out: Vec<TopicOffsets> = Vec::new();
            for (tp, c) in state.groups.committed_all(group) {
                if topic_id(state, &tp.topic, tp.partition) != Some(c.topic_id) {
                    continue;
                }
                match out.last_mut() {
                    Some((t, rows)) if *t == tp.topic => rows.push((tp.partition, Some(c))),
                    _ => out.push((tp.topic, vec![(tp.partition, Some(c))])),
                }
            }
            out
        }
    }
}

/// OffsetFetch.
pub fn offset_fetch(
    state: &KafkaState,
    req: OffsetFetchRequest,
    version: i16,
) -> OffsetFetchResponse {
    let mut resp = OffsetFetchResponse::default();
    if version >= 8 {
        resp.groups = req
            .groups
            .into_iter()
            .map(|g| {
                let topics = g.topics.map(|ts| {
                    ts.into_iter()
                        .map(|t| (t.name.0.to_string(), t.partition_indexes))
                        .collect()
                });
                let mut rg = OffsetFetchResponseGroup::default();
                rg.topics = fetch_group(state, &g.group_id.0, topics)
                    .into_iter()
                    .map(|(topic, rows)| {
                        let mut rt = OffsetFetchResponseTopics::default();
                        rt.name = topic_name(topic);
                        rt.partitions = rows
                            .into_iter()
                            .map(|(p, c)| {
                                let mut rp = OffsetFetchResponsePartitions::default();
                                rp.partition_index = p;
                                let c = c.unwrap_or_else(none);
                                rp.committed_offset = c.offset;
                                rp.committed_leader_epoch = c.leader_epoch;
                                rp.metadata = Some(sb(c.metadata));
                                rp
                            })
                            .collect();
                        rt
                    })
                    .collect();
                rg.group_id = g.group_id;
                rg
            })
            .collect();
        return resp;
    }
    let topics = req.topics.map(|ts| {
        ts.into_iter()
            .map(|t| (t.name.0.to_string(), t.partition_indexes))
            .collect()
    });
    resp.topics = fetch_group(state, &req.group_id.0, topics)
        .into_iter()
        .map(|(topic, rows)| {
            let mut rt = OffsetFetchResponseTopic::default();
            rt.name = topic_name(topic);
            rt.partitions = rows
                .into_iter()
                .map(|(p, c)| {
                    let mut rp = OffsetFetchResponsePartition::default();
                    rp.partition_index = p;
                    let c = c.unwrap_or_else(none);
                    rp.committed_offset = c.offset;
                    if version >= 5 {
                        rp.committed_leader_epoch = c.leader_epoch;
                    }
                    rp.metadata = Some(sb(c.metadata));
                    rp
                })
                .collect();
            rt
        })
        .collect();
    resp
}

/// What OffsetFetch shows for a partition without a committed offset.
fn none() -> CommittedOffset {
    CommittedOffset {
        offset: -1,
        leader_epoch: -1,
        metadata: String::new(),
        commit_ms: 0,
        topic_id: 0,
    }
}

/// OffsetDelete: refused for topics a consumer group with members subscribes to.
pub async fn offset_delete(state: &KafkaState, req: OffsetDeleteRequest) -> OffsetDeleteResponse {
    let mut resp = OffsetDeleteResponse::default();
    let exists: Vec<Vec<bool>> = req
        .topics
        .iter()
        .map(|t| {
            t.partitions
                .iter()
                .map(|p| topic_id(state, &t.name.0, p.partition_index).is_some())
                .collect()
        })
        .collect();
    let mut known = Vec::new();
    for (t, row) in req.topics.iter().zip(&exists) {
        for (p, ok) in t.partitions.iter().zip(row) {
            if *ok {
                known.push(TopicPartition::new(t.name.0.to_string(), p.partition_index));
            }
        }
    }
    let mut results = match state.groups.delete_offsets(&req.group_id.0, &known).await {
        Ok(r) => r.into_iter(),
        Err(e) => {
            resp.error_code = e.code();
            return resp;
        }
    };
    resp.topics = req
        .topics
        .into_iter()
        .zip(exists)
        .map(|(t, row)| {
            let mut rt = OffsetDeleteResponseTopic::default();
            rt.partitions = t
                .partitions
                .iter()
                .zip(row)
                .map(|(p, ok)| {
                    let mut rp = OffsetDeleteResponsePartition::default();
                    rp.partition_index = p.partition_index;
                    rp.error_code = if ok {
                        code(results.next().and_then(Result::err))
                    } else {
                        ResponseError::UnknownTopicOrPartition.code()
                    };
                    rp
                })
                .collect();
            rt.name = t.name;
            rt
        })
        .collect();
    resp
}
