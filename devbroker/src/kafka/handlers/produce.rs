//! Produce (record batches v2, idempotent producers) and InitProducerId.

use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_request::PartitionProduceData;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    InitProducerIdRequest, InitProducerIdResponse, ProduceRequest, ProduceResponse, ProducerId,
};

use super::{sb, topic_name};
use crate::config::MESSAGE_TIMESTAMP_TYPE;
use crate::kafka::KafkaState;
use crate::kafka::errors::store_error_reply;
use crate::kafka::producers::SeqCheck;
use crate::kafka::records::{IncomingBatch, decode_batches};
use crate::storage::{TopicMeta, now_ms};

/// InitProducerId: a new producer id, or the same id with a bumped epoch when
/// the client asks for one (KIP-360). Transactions are not supported.
pub fn init_producer_id(state: &KafkaState, req: InitProducerIdRequest) -> InitProducerIdResponse {
    let mut resp = InitProducerIdResponse::default();
    if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        resp.error_code = ResponseError::InvalidRequest.code();
        resp.producer_id = ProducerId(-1);
        resp.producer_epoch = -1;
        return resp;
    }
    if req.producer_id.0 >= 0 && req.producer_epoch >= 0 && req.producer_epoch < i16::MAX - 1 {
        resp.producer_id = req.producer_id;
        resp.producer_epoch = req.producer_epoch + 1;
    } else {
        resp.producer_id = ProducerId(state.producers.allocate_id());
        resp.producer_epoch = 0;
    }
    resp
}

struct Appended {
    base_offset: i64,
    log_append_time: i64,
}

type Refusal = (i16, String);

/// Appends one batch, with the sequence check of an idempotent producer.
async fn append_batch(
    state: &KafkaState,
    meta: &TopicMeta,
    partition: i32,
    batch: IncomingBatch,
    log_append_time: Option<i64>,
) -> Result<Appended, Refusal> {
    if batch.transactional || batch.control {
        return Err((
            ResponseError::InvalidRecord.code(),
            "transactional and control batches are not supported".into(),
        ));
    }
    let count = batch.records.len();
    let append = |records| async {
        state
            .store
            .append(&meta.name, partition, records)
            .await
            .map(|r| Appended {
                base_offset: r.base_offset as i64,
                log_append_time: log_append_time.unwrap_or(-1),
            })
            .map_err(|e| store_error_reply(&e))
    };
    if batch.producer_id < 0 {
        return append(batch.records).await;
    }
    let (pid, epoch, seq) = (batch.producer_id, batch.producer_epoch, batch.base_sequence);
    let lock = state.producers.partition(&meta.name, partition);
    let mut producers = lock.lock().await;
    match producers.check(pid, epoch, seq, count) {
        SeqCheck::Append => {
            let done = append(batch.records).await?;
            producers.record(pid, epoch, seq, count, done.base_offset);
            Ok(done)
        }
        SeqCheck::Duplicate { base_offset } => {
            tracing::debug!(topic = %meta.name, partition, pid, seq, "duplicate batch acknowledged, not appended");
            Ok(Appended {
                base_offset,
                log_append_time: -1,
            })
        }
        SeqCheck::OutOfOrder { expected, got } => Err((
            ResponseError::OutOfOrderSequenceNumber.code(),
            format!("producer {pid}: expected sequence {expected}, got {got}"),
        )),
        SeqCheck::StaleEpoch { current, got } => Err((
            ResponseError::InvalidProducerEpoch.code(),
            format!("producer {pid}: epoch {got} is older than {current}"),
        )),
    }
}

async fn produce_partition(
    state: &KafkaState,
    meta: Option<&TopicMeta>,
    topic: &str,
    data: PartitionProduceData,
    version: i16,
) -> PartitionProduceResponse {
    let mut r = PartitionProduceResponse::default();
    r.index = data.index;
    r.base_offset = -1;
    r.log_append_time_ms = -1;
    r.log_start_offset = -1;
    let result = produce_records(state, meta, topic, data).await;
    match result {
        Ok(done) => {
            r.base_offset = done.base_offset;
            r.log_append_time_ms = done.log_append_time;
            if let Some(meta) = meta.filter(|_| version >= 5) {
                let (name, p) = (meta.name.clone(), r.index);
                if let Ok(Ok(s)) = state
                    .store
                    .read(move |s| Ok(s.partition_state(&name, p)))
                    .await
                {
                    r.log_start_offset = s.log_start as i64;
                }
            }
        }
        Err((code, message)) => {
            tracing::debug!(topic, partition = r.index, code, %message, "produce refused");
            r.error_code = code;
            if version >= 8 {
                r.error_message = Some(sb(message));
            }
        }
    }
    r
}

async fn produce_records(
    state: &KafkaState,
    meta: Option<&TopicMeta>,
    topic: &str,
    data: PartitionProduceData,
) -> Result<Appended, Refusal> {
    let unknown = || {
        (
            ResponseError::UnknownTopicOrPartition.code(),
            format!("topic {topic:?} partition {} does not exist", data.index),
        )
    };
    let meta = meta.ok_or_else(unknown)?;
    if data.index < 0 || data.index >= meta.partitions {
        return Err(unknown());
    }
    let bytes = data.records.clone().ok_or_else(|| {
        (
            ResponseError::CorruptMessage.code(),
            "produce request without records".to_string(),
        )
    })?;
    let now = now_ms();
    let log_append = meta.config.get(MESSAGE_TIMESTAMP_TYPE) == Some("LogAppendTime");
    let batches = decode_batches(bytes, now, log_append)
        .map_err(|e| (ResponseError::CorruptMessage.code(), e.to_string()))?;
    let mut first = None;
    for batch in batches {
        let done = append_batch(state, meta, data.index, batch, log_append.then_some(now)).await?;
        first.get_or_insert(done);
    }
    first.ok_or_else(|| {
        (
            ResponseError::CorruptMessage.code(),
            "produce request with an empty record set".to_string(),
        )
    })
}

/// Produce: every partition's batches appended through [`crate::storage::Store::append`].
pub async fn produce(state: &KafkaState, req: ProduceRequest, version: i16) -> ProduceResponse {
    let mut resp = ProduceResponse::default();
    let refuse_all = if req
        .transactional_id
        .as_ref()
        .is_some_and(|t| !t.0.is_empty())
    {
        Some((
            ResponseError::InvalidRequest.code(),
            "transactions are not supported".to_string(),
        ))
    } else if !matches!(req.acks, -1..=1) {
        Some((
            ResponseError::InvalidRequiredAcks.code(),
            format!("acks must be -1, 0 or 1, not {}", req.acks),
        ))
    } else {
        None
    };
    for t in req.topic_data {
        let topic = t.name.0.to_string();
        let meta = state.store.topic(&topic);
        let mut tr = TopicProduceResponse::default();
        tr.name = topic_name(topic.clone());
        for p in t.partition_data {
            let pr = match &refuse_all {
                Some((code, message)) => {
                    let mut r = PartitionProduceResponse::default();
                    r.index = p.index;
                    r.base_offset = -1;
                    r.error_code = *code;
                    if version >= 8 {
                        r.error_message = Some(sb(message.clone()));
                    }
                    r
                }
                None => produce_partition(state, meta.as_deref(), &topic, p, version).await,
            };
            tr.partition_responses.push(pr);
        }
        resp.responses.push(tr);
    }
    resp
}
