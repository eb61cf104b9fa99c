//! The JSON error body every endpoint answers with: `{"error_code":N,"message":"..."}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::storage::StoreError;
use crate::wire::proxy::ErrorBody;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// The `error_code` of the body; the HTTP status unless a finer code applies.
    pub code: i32,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: i32::from(status.as_u16()),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = %self.status, message = %self.message, "request failed");
        }
        let body = ErrorBody {
            error_code: self.code,
            message: self.message,
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let status = match &e {
            // Redpanda answers "no leader" for a partition it does not have.
            StoreError::UnknownTopic(_) | StoreError::UnknownPartition { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            StoreError::NotKvstore(_)
            | StoreError::InvalidRequest(_)
            | StoreError::InvalidConfig(_) => StatusCode::BAD_REQUEST,
            StoreError::BatchTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            StoreError::PreconditionFailed { .. } | StoreError::TopicExists(_) => {
                StatusCode::CONFLICT
            }
            StoreError::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
            // Closing, or fenced (another broker took over the tier prefix):
            // this broker serves no writes, another may.
            StoreError::Closed | StoreError::Fenced(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Corrupt(_) | StoreError::Io(_) | StoreError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        ApiError::new(status, e.to_string())
    }
}
