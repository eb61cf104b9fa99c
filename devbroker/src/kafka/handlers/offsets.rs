//! ListOffsets: earliest (-2), latest (-1), max timestamp (-3), or the first
//! offset whose timestamp is at least the one given.

use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};

use super::topic_name;
use crate::kafka::KafkaState;
use crate::kafka::errors::store_error;
use crate::storage::{Result, Store};

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;
const MAX_TIMESTAMP: i64 = -3;

/// `(offset, timestamp)` answering a ListOffsets query.
pub fn lookup(store: &Store, topic: &str, partition: i32, ts: i64) -> Result<(i64, i64)> {
    let state = store.partition_state(topic, partition)?;
    let (start, hw) = (state.log_start as i64, state.next_offset as i64);
    Ok(match ts {
        EARLIEST => (start, -1),
        LATEST => (hw, -1),
        MAX_TIMESTAMP => store
            .max_timestamp(topic, partition)?
            .map_or((-1, -1), |(o, t)| (o as i64, t)),
        ts if ts >= 0 => store
            .offset_for_timestamp(topic, partition, ts)?
            .map_or((-1, -1), |(o, t)| (o as i64, t)),
        // Other negative specs (earliest-local and the like): the log start.
        _ => (start, -1),
    })
}

/// ListOffsets for every asked partition.
pub async fn list_offsets(state: &KafkaState, req: ListOffsetsRequest) -> ListOffsetsResponse {
    let queries: Vec<(String, Vec<(i32, i64)>)> = req
        .topics
        .iter()
        .map(|t| {
            (
                t.name.0.to_string(),
                t.partitions
                    .iter()
                    .map(|p| (p.partition_index, p.timestamp))
                    .collect(),
            )
        })
        .collect();
    let answered = state
        .store
        .read(move |s| {
            Ok(queries
                .into_iter()
                .map(|(topic, parts)| {
                    let answers: Vec<_> = parts
                        .iter()
                        .map(|(p, ts)| (*p, *ts, lookup(s, &topic, *p, *ts)))
                        .collect();
                    (topic, answers)
                })
                .collect::<Vec<_>>())
        })
        .await;
    let mut resp = ListOffsetsResponse::default();
    match answered {
        Ok(topics) => {
            for (topic, answers) in topics {
                let mut tr = ListOffsetsTopicResponse::default();
                tr.name = topic_name(topic.clone());
                for (p, query, answer) in answers {
                    let mut pr = ListOffsetsPartitionResponse::default();
                    pr.partition_index = p;
                    match answer {
                        Ok((offset, ts)) => {
                            // The log starts in the bucket when retention has
                            // trimmed local data that was tiered first (Fetch
                            // serves it); earliest-local (-4) stays local.
                            let tiered = (query == EARLIEST)
                                .then(|| state.tier.as_ref()?.log_start(&topic, p))
                                .flatten()
                                .map(|o| o as i64);
                            pr.offset = tiered.map_or(offset, |t| t.min(offset));
                            pr.timestamp = ts;
                        }
                        Err(e) => {
                            pr.error_code = store_error(&e).code();
                            pr.offset = -1;
                            pr.timestamp = -1;
                        }
                    }
                    tr.partitions.push(pr);
                }
                resp.topics.push(tr);
            }
        }
        Err(e) => {
            let code = store_error(&e).code();
            for t in req.topics {
                let mut tr = ListOffsetsTopicResponse::default();
                tr.name = t.name.clone();
                for p in t.partitions {
                    let mut pr = ListOffsetsPartitionResponse::default();
                    pr.partition_index = p.partition_index;
                    pr.error_code = code;
                    pr.offset = -1;
                    pr.timestamp = -1;
                    tr.partitions.push(pr);
                }
                resp.topics.push(tr);
            }
        }
    }
    resp
}
