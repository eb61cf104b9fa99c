//! Kafka error codes for storage and config errors.

use kafka_protocol::ResponseError;

use crate::storage::StoreError;

/// The Kafka error a client should see for a storage error.
pub fn store_error(e: &StoreError) -> ResponseError {
    match e {
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

/// Code and message for a storage error.
pub fn store_error_reply(e: &StoreError) -> (i16, String) {
    (store_error(e).code(), e.to_string())
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
    }
}
