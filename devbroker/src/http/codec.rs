//! Content negotiation for the kvstore endpoints: Proto-JSON (`application/json`)
//! or binary protobuf (`application/proto`). The reply uses the Accept type, else
//! the request's type.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The two encodings of the kvstore API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Proto,
}

const PROTO_TYPES: &[&str] = &[
    "application/proto",
    "application/x-protobuf",
    "application/protobuf",
];

fn is_proto(media: &str) -> bool {
    let media = media.split(';').next().unwrap_or("").trim();
    PROTO_TYPES.iter().any(|p| media.eq_ignore_ascii_case(p))
}

fn is_json(media: &str) -> bool {
    let media = media.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
}

impl Encoding {
    /// The request's encoding: protobuf when its Content-Type says so, else JSON
    /// (so that `curl -d` without a Content-Type works).
    pub fn of_request(headers: &HeaderMap) -> Encoding {
        match headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        {
            Some(ct) if is_proto(ct) => Encoding::Proto,
            _ => Encoding::Json,
        }
    }

    /// The reply's encoding: the first of the Accept types we speak, else the request's.
    pub fn of_reply(headers: &HeaderMap, request: Encoding) -> Encoding {
        let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
            return request;
        };
        for media in accept.split(',') {
            if is_proto(media) {
                return Encoding::Proto;
            }
            if is_json(media) {
                return Encoding::Json;
            }
        }
        request
    }
}

/// Decodes a request body in the given encoding.
pub fn decode<T>(encoding: Encoding, body: Result<Bytes, BytesRejection>) -> Result<T, ApiError>
where
    T: DeserializeOwned + prost::Message + Default,
{
    let body = body.map_err(|e| {
        let status = e.status();
        let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "request body is larger than the broker's request size limit".to_string()
        } else {
            format!("cannot read request body: {e}")
        };
        ApiError::new(status, message)
    })?;
    match encoding {
        Encoding::Json => {
            match body.iter().find(|b| !b.is_ascii_whitespace()) {
                None => {
                    return Err(ApiError::bad_request(
                        "request body is empty; send a JSON object such as {}",
                    ));
                }
                // serde would read a struct from an array too; Proto-JSON messages are objects.
                Some(b'{') => {}
                Some(_) => {
                    return Err(ApiError::bad_request(
                        "invalid JSON request body: expected a JSON object",
                    ));
                }
            }
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("invalid JSON request body: {e}")))
        }
        Encoding::Proto => T::decode(body)
            .map_err(|e| ApiError::bad_request(format!("invalid protobuf request body: {e}"))),
    }
}

/// Encodes a reply in the given encoding.
pub fn encode<T: Serialize + prost::Message>(encoding: Encoding, reply: &T) -> Response {
    match encoding {
        Encoding::Json => match serde_json::to_vec(reply) {
            Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
            Err(e) => {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
            }
        },
        Encoding::Proto => (
            [(header::CONTENT_TYPE, "application/proto")],
            reply.encode_to_vec(),
        )
            .into_response(),
    }
}

/// A JSON reply whose body is already encoded.
pub fn json_response(body: Vec<u8>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
