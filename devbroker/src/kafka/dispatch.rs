//! One request frame in, one response frame out: header, API and version check,
//! decoding with `kafka-protocol`, routing to a handler, response header.

use bytes::{Bytes, BytesMut};
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    AlterConfigsRequest, ApiKey, ApiVersionsRequest, CreateTopicsRequest, DeleteGroupsRequest,
    DeleteTopicsRequest, DescribeConfigsRequest, DescribeGroupsRequest, FetchRequest,
    FindCoordinatorRequest, HeartbeatRequest, IncrementalAlterConfigsRequest,
    InitProducerIdRequest, JoinGroupRequest, LeaveGroupRequest, ListGroupsRequest,
    ListOffsetsRequest, MetadataRequest, OffsetCommitRequest, OffsetDeleteRequest,
    OffsetFetchRequest, ProduceRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest, SyncGroupRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable};

use super::KafkaState;
use super::handlers::groups::Client;
use super::handlers::{admin, configs, fetch, group_offsets, groups, meta, offsets, produce};
use super::sasl::Session;

/// What to send back.
#[derive(Debug)]
pub enum Outcome {
    /// A complete response (header and body), without the length prefix.
    Reply(Bytes),
    /// Nothing (Produce with acks=0).
    NoReply,
    /// A complete response, after which the connection is closed (failed
    /// SASL authentication, unsupported mechanism).
    ReplyThenClose(Bytes),
}

/// A request the broker cannot answer; the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {0} bytes is too short for a request header")]
    TooShort(usize),
    #[error("API key {key} version {version} is not supported")]
    Unsupported { key: i16, version: i16 },
    #[error("cannot decode {api:?} v{version}: {message}")]
    Decode {
        api: ApiKey,
        version: i16,
        message: String,
    },
    #[error(
        "{api:?} request before SASL authentication; the client must authenticate first (SaslHandshake, SaslAuthenticate)"
    )]
    Unauthenticated { api: ApiKey },
    #[error("cannot encode the {api:?} v{version} response: {message}")]
    Encode {
        api: ApiKey,
        version: i16,
        message: String,
    },
}

/// The APIs and versions this broker implements (what ApiVersions advertises).
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 11),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    // The group coordinator (see `groups`): every version the codecs have,
    // but OffsetCommit and OffsetFetch v10 (topic ids instead of names).
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 6),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    // SASL (see `sasl`): always advertised, as Kafka does; without users
    // configured both answer ILLEGAL_SASL_STATE.
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// The supported version range of an API key, if any.
pub fn supported_versions(key: ApiKey) -> Option<(i16, i16)> {
    SUPPORTED
        .iter()
        .find(|(k, _, _)| *k == key)
        .map(|(_, min, max)| (*min, *max))
}

fn decode<R: Decodable>(buf: &mut Bytes, api: ApiKey, version: i16) -> Result<R, FrameError> {
    let decoded =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| R::decode(buf, version)));
    let err = |message: String| FrameError::Decode {
        api,
        version,
        message,
    };
    match decoded {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(err(format!("{e:#}"))),
        Err(_) => Err(err("the decoder panicked".into())),
    }
}

/// Encodes a response header and body.
pub fn encode_response<R: Encodable>(
    api: ApiKey,
    version: i16,
    header_version: i16,
    correlation_id: i32,
    body: &R,
) -> Result<Bytes, FrameError> {
    let mut out = BytesMut::new();
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    header
        .encode(&mut out, header_version)
        .and_then(|_| body.encode(&mut out, version))
        .map_err(|e| FrameError::Encode {
            api,
            version,
            message: format!("{e:#}"),
        })?;
    Ok(out.freeze())
}

/// Handles one request frame from an unknown peer.
pub async fn handle_frame(state: &KafkaState, frame: Bytes) -> Result<Outcome, FrameError> {
    handle_frame_from(state, frame, None).await
}

/// Handles one request frame from `peer` (DescribeGroups shows members' hosts)
/// on a new connection (with users configured, only ApiVersions and SASL pass).
pub async fn handle_frame_from(
    state: &KafkaState,
    frame: Bytes,
    peer: Option<std::net::SocketAddr>,
) -> Result<Outcome, FrameError> {
    let mut session = Session::new(state.sasl.as_deref());
    handle_frame_in(state, frame, peer, &mut session).await
}

/// Handles one request frame of a connection whose authentication state is
/// `session`: a request the state does not allow is refused unread
/// ([`FrameError::Unauthenticated`], the connection closes).
pub async fn handle_frame_in(
    state: &KafkaState,
    mut frame: Bytes,
    peer: Option<std::net::SocketAddr>,
    session: &mut Session,
) -> Result<Outcome, FrameError> {
    if frame.len() < 8 {
        return Err(FrameError::TooShort(frame.len()));
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let unsupported = FrameError::Unsupported { key, version };
    let api = ApiKey::try_from(key).map_err(|_| FrameError::Unsupported { key, version })?;
    if !session.allows(api) {
        return Err(FrameError::Unauthenticated { api });
    }
    let Some((min, max)) = supported_versions(api) else {
        return Err(unsupported);
    };
    if !(min..=max).contains(&version) {
        if api == ApiKey::ApiVersions {
            // KIP-511: answer with v0 and the versions we do speak, so the
            // client can retry with one of them.
            let body = meta::api_versions_response(ResponseError::UnsupportedVersion.code());
            return encode_response(api, 0, 0, correlation_id, &body).map(Outcome::Reply);
        }
        return Err(unsupported);
    }
    let header: RequestHeader = decode(&mut frame, api, api.request_header_version(version))?;
    tracing::trace!(?api, version, client = ?header.client_id, "Kafka request");
    let rh = api.response_header_version(version);
    let cid = correlation_id;
    let reply = match api {
        ApiKey::ApiVersions => {
            let _req: ApiVersionsRequest = decode(&mut frame, api, version)?;
            encode_response(api, version, rh, cid, &meta::api_versions_response(0))
        }
        ApiKey::SaslHandshake => {
            let req: SaslHandshakeRequest = decode(&mut frame, api, version)?;
            let answer = session.handshake(&req);
            let body = encode_response(api, version, rh, cid, &answer.response)?;
            return Ok(close_or_reply(body, answer.close));
        }
        ApiKey::SaslAuthenticate => {
            let req: SaslAuthenticateRequest = decode(&mut frame, api, version)?;
            let answer = session
                .authenticate(state.sasl.as_ref(), &req, super::sasl::server_nonce)
                .await;
            let body = encode_response(api, version, rh, cid, &answer.response)?;
            return Ok(close_or_reply(body, answer.close));
        }
        ApiKey::Metadata => {
            let req: MetadataRequest = decode(&mut frame, api, version)?;
            encode_response(api, version, rh, cid, &meta::metadata(state, req, version))
        }
        ApiKey::CreateTopics => {
            let req: CreateTopicsRequest = decode(&mut frame, api, version)?;
            let resp = admin::create_topics(state, req, version).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::DeleteTopics => {
            let req: DeleteTopicsRequest = decode(&mut frame, api, version)?;
            let resp = admin::delete_topics(state, req, version).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::DescribeConfigs => {
            let req: DescribeConfigsRequest = decode(&mut frame, api, version)?;
            encode_response(
                api,
                version,
                rh,
                cid,
                &configs::describe(state, req, version),
            )
        }
        ApiKey::IncrementalAlterConfigs => {
            let req: IncrementalAlterConfigsRequest = decode(&mut frame, api, version)?;
            let resp = configs::incremental_alter(state, req).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::AlterConfigs => {
            let req: AlterConfigsRequest = decode(&mut frame, api, version)?;
            let resp = configs::alter(state, req).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::InitProducerId => {
            let req: InitProducerIdRequest = decode(&mut frame, api, version)?;
            encode_response(
                api,
                version,
                rh,
                cid,
                &produce::init_producer_id(state, req),
            )
        }
        ApiKey::Produce => {
            let req: ProduceRequest = decode(&mut frame, api, version)?;
            let acks = req.acks;
            let resp = produce::produce(state, req, version).await;
            if acks == 0 {
                return Ok(Outcome::NoReply);
            }
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::Fetch => {
            let req: FetchRequest = decode(&mut frame, api, version)?;
            let resp = fetch::fetch(state, req, version).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::ListOffsets => {
            let req: ListOffsetsRequest = decode(&mut frame, api, version)?;
            let resp = offsets::list_offsets(state, req).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::FindCoordinator => {
            let req: FindCoordinatorRequest = decode(&mut frame, api, version)?;
            let resp = groups::find_coordinator(state, req, version);
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::JoinGroup => {
            let req: JoinGroupRequest = decode(&mut frame, api, version)?;
            let client = Client {
                client_id: header.client_id.as_deref().unwrap_or_default().to_string(),
                host: peer.map(|p| format!("/{}", p.ip())).unwrap_or_default(),
            };
            let resp = groups::join_group(state, req, version, &client).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::SyncGroup => {
            let req: SyncGroupRequest = decode(&mut frame, api, version)?;
            let resp = groups::sync_group(state, req, version).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::Heartbeat => {
            let req: HeartbeatRequest = decode(&mut frame, api, version)?;
            encode_response(api, version, rh, cid, &groups::heartbeat(state, req))
        }
        ApiKey::LeaveGroup => {
            let req: LeaveGroupRequest = decode(&mut frame, api, version)?;
            let resp = groups::leave_group(state, req, version);
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::ListGroups => {
            let req: ListGroupsRequest = decode(&mut frame, api, version)?;
            let resp = groups::list_groups(state, req, version);
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::DescribeGroups => {
            let req: DescribeGroupsRequest = decode(&mut frame, api, version)?;
            let resp = groups::describe_groups(state, req, version);
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::DeleteGroups => {
            let req: DeleteGroupsRequest = decode(&mut frame, api, version)?;
            let resp = groups::delete_groups(state, req).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::OffsetCommit => {
            let req: OffsetCommitRequest = decode(&mut frame, api, version)?;
            let resp = group_offsets::offset_commit(state, req, version).await;
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::OffsetFetch => {
            let req: OffsetFetchRequest = decode(&mut frame, api, version)?;
            let resp = group_offsets::offset_fetch(state, req, version);
            encode_response(api, version, rh, cid, &resp)
        }
        ApiKey::OffsetDelete => {
            let req: OffsetDeleteRequest = decode(&mut frame, api, version)?;
            let resp = group_offsets::offset_delete(state, req).await;
            encode_response(api, version, rh, cid, &resp)
        }
        _ => return Err(unsupported),
    };
    reply.map(Outcome::Reply)
}

fn close_or_reply(body: Bytes, close: bool) -> Outcome {
    if close {
        Outcome::ReplyThenClose(body)
    } else {
        Outcome::Reply(body)
    }
}
