//! Kafka error codes for storage and config errors.

use kafka_protocol::ResponseError;

use crate::storage::StoreError;

/// The Kafka error a client should see for a storage error of a partition
/// request (Produce, Fetch, ListOffsets).
pub fn store_error(e: &StoreError) -> ResponseError {
    match e {
        // A fenced broker (another one took over its tier prefix) leads no
        // partition any more: what Kafka and Redpanda answer a client that
        // writes to a former leader. It is retriable: the client refreshes its
        // metadata and retries, and gives up at its delivery timeout.
        StoreError::Fenced(_) => ResponseError::NotLeaderOrFollower,
        StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. } => {
            ResponseError::UnknownTopicOrPartition
        }
        StoreError::TopicExists(_) => ResponseError::TopicAlreadyExists,
        StoreError::InvalidConfig(_) => ResponseError::InvalidConfig,
        StoreError::BatchTooLarge { .. } => ResponseError::MessageTooLarge,
        StoreError::NotKvstore(_)
        | StoreError::InvalidRequest(_)
        | StoreError::PreconditionFailed { .. } => ResponseError::InvalidRequest,
        StoreError::StorageFull | StoreError::Io(_) => ResponseError::KafkaStorageError,
        StoreError::Closed => ResponseError::BrokerNotAvailable,
        StoreError::Corrupt(_) | StoreError::Internal(_) => ResponseError::UnknownServerError,
    }
}

/// Code and message for a storage error of a partition request.
pub fn store_error_reply(e: &StoreError) -> (i16, String) {
    (store_error(e).code(), e.to_string())
}

/// Code and message for a storage error of an admin request (CreateTopics,
/// DeleteTopics, AlterConfigs, IncrementalAlterConfigs). A fenced broker is no
/// longer the one that may change metadata: NOT_CONTROLLER, what a broker that
/// is not the active controller answers; admin clients retry it after a
/// metadata refresh, like NOT_LEADER_OR_FOLLOWER for produce.
pub fn admin_error_reply(e: &StoreError) -> (i16, String) {
    let code = match e {
        StoreError::Fenced(_) => ResponseError::NotController,
        other => store_error(other),
    };
    (code.code(), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

    #[test]
    fn codes_follow_kafka() {
        assert_eq!(store_error(&StoreError::UnknownTopic("t".into())).code(), 3);
        assert_eq!(store_error(&StoreError::TopicExists("t".into())).code(), 36);
        assert_eq!(
            store_error(&StoreError::InvalidConfig(ConfigError("x".into()))).code(),
            40
        );
        assert_eq!(
            store_error(&StoreError::BatchTooLarge {
                topic: "t".into(),
                size: 2,
                max: 1
            })
            .code(),
            10
        );
        assert_eq!(store_error(&StoreError::StorageFull).code(), 56);
        let fenced = StoreError::Fenced("taken over".into());
        assert_eq!(store_error(&fenced).code(), 6, "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(admin_error_reply(&fenced).0, 41, "NOT_CONTROLLER");
        assert_eq!(
            admin_error_reply(&StoreError::TopicExists("t".into())).0,
            36,
            "other admin errors keep their code"
        );
    }
}
