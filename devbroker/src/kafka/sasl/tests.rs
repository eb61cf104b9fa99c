//! The SASL gate and exchanges through [`dispatch::handle_frame_in`], as a
//! connection sees them.

use std::sync::Arc;

use bytes::Bytes;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, StrBytes};

use super::{Session, Users};
use crate::kafka::dispatch::{FrameError, Outcome, handle_frame_in};
use crate::kafka::tests::{Fixture, batch, fixture, frame, produce_req};

fn with_users(f: &mut Fixture) {
    let users = Users::derive(&["alice:pw-1".parse().unwrap()]).unwrap();
    f.state.sasl = Some(Arc::new(users));
}

fn decode<R: Decodable>(out: Bytes, api: ApiKey, version: i16) -> R {
    let mut b = out;
    ResponseHeader::decode(&mut b, api.response_header_version(version)).unwrap();
    R::decode(&mut b, version).unwrap()
}

async fn handshake(f: &Fixture, s: &mut Session, mech: &str) -> (SaslHandshakeResponse, bool) {
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_string(mech.into()));
    match handle_frame_in(&f.state, frame(ApiKey::SaslHandshake, 1, &req), None, s)
        .await
        .unwrap()
    {
        Outcome::Reply(b) => (decode(b, ApiKey::SaslHandshake, 1), false),
        Outcome::ReplyThenClose(b) => (decode(b, ApiKey::SaslHandshake, 1), true),
        Outcome::NoReply => panic!("no reply"),
    }
}

async fn authenticate(
    f: &Fixture,
    s: &mut Session,
    token: &[u8],
) -> (SaslAuthenticateResponse, bool) {
    let req = SaslAuthenticateRequest::default().with_auth_bytes(Bytes::copy_from_slice(token));
    match handle_frame_in(&f.state, frame(ApiKey::SaslAuthenticate, 2, &req), None, s)
        .await
        .unwrap()
    {
        Outcome::Reply(b) => (decode(b, ApiKey::SaslAuthenticate, 2), false),
        Outcome::ReplyThenClose(b) => (decode(b, ApiKey::SaslAuthenticate, 2), true),
        Outcome::NoReply => panic!("no reply"),
    }
}

fn produce_frame() -> Bytes {
    let b = batch(-1, -1, -1, &[("k", Some("v"), 1)]);
    frame(ApiKey::Produce, 9, &produce_req("t", 0, b, -1))
}

async fn end_offset(f: &Fixture) -> u64 {
    f.state.store.partition_state("t", 0).unwrap().next_offset
}

#[tokio::test]
async fn the_gate_refuses_a_produce_before_authentication_and_applies_nothing() {
    let mut f = fixture();
    f.state
        .store
        .create_topic("t", 1, Default::default())
        .await
        .unwrap();
    with_users(&mut f);
    let mut s = Session::new(f.state.sasl.as_deref());
    // ApiVersions passes; it lists both SASL APIs.
    let req = ApiVersionsRequest::default();
    let Outcome::Reply(b) =
        handle_frame_in(&f.state, frame(ApiKey::ApiVersions, 3, &req), None, &mut s)
            .await
            .unwrap()
    else {
        panic!("no reply")
    };
    let versions: ApiVersionsResponse = decode(b, ApiKey::ApiVersions, 3);
    assert!(
        versions
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::SaslAuthenticate as i16 && k.max_version == 2)
    );
    let refused = handle_frame_in(&f.state, produce_frame(), None, &mut s).await;
    assert!(
        matches!(
            refused,
            Err(FrameError::Unauthenticated {
                api: ApiKey::Produce
            })
        ),
        "{refused:?}"
    );
    // Also after the handshake, before SaslAuthenticate.
    let (hs, close) = handshake(&f, &mut s, "PLAIN").await;
    assert_eq!((hs.error_code, close), (0, false));
    let refused = handle_frame_in(&f.state, produce_frame(), None, &mut s).await;
    assert!(matches!(refused, Err(FrameError::Unauthenticated { .. })));
    let meta = MetadataRequest::default();
    let mut fresh = Session::new(f.state.sasl.as_deref());
    assert!(
        handle_frame_in(
            &f.state,
            frame(ApiKey::Metadata, 9, &meta),
            None,
            &mut fresh
        )
        .await
        .is_err()
    );
    // A SaslAuthenticate without a handshake is refused too.
    let auth = SaslAuthenticateRequest::default();
    assert!(
        handle_frame_in(
            &f.state,
            frame(ApiKey::SaslAuthenticate, 2, &auth),
            None,
            &mut fresh
        )
        .await
        .is_err()
    );
    assert_eq!(end_offset(&f).await, 0, "nothing was appended");
}

#[tokio::test]
async fn plain_with_the_right_password_opens_the_connection() {
    let mut f = fixture();
    f.state
        .store
        .create_topic("t", 1, Default::default())
        .await
        .unwrap();
    with_users(&mut f);
    let mut s = Session::new(f.state.sasl.as_deref());
    let (hs, _) = handshake(&f, &mut s, "PLAIN").await;
    let names: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
    assert_eq!(names, ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]);
    let (resp, close) = authenticate(&f, &mut s, b"\0alice\0pw-1").await;
    assert_eq!(
        (resp.error_code, close),
        (0, false),
        "{:?}",
        resp.error_message
    );
    assert!(matches!(s, Session::Authenticated { .. }));
    let Outcome::Reply(_) = handle_frame_in(&f.state, produce_frame(), None, &mut s)
        .await
        .unwrap()
    else {
        panic!("no produce reply")
    };
    assert_eq!(end_offset(&f).await, 1);
    // A second handshake once authenticated: ILLEGAL_SASL_STATE, no close.
    let (hs, close) = handshake(&f, &mut s, "PLAIN").await;
    assert_eq!((hs.error_code, close), (34, false));
}

#[tokio::test]
async fn wrong_credentials_fail_with_58_and_close() {
    let mut f = fixture();
    with_users(&mut f);
    let mut messages = Vec::new();
    for token in [
        &b"\0alice\0wrong"[..],
        b"\0bob\0pw-1",
        b"\0alice\0",
        b"garbage",
    ] {
        let mut s = Session::new(f.state.sasl.as_deref());
        handshake(&f, &mut s, "PLAIN").await;
        let (resp, close) = authenticate(&f, &mut s, token).await;
        assert_eq!(resp.error_code, 58, "{token:?}");
        assert!(close);
        let msg = resp.error_message.unwrap();
        assert!(
            msg.as_str()
                .starts_with("Authentication failed: invalid credentials"),
            "{msg:?}"
        );
        assert!(!matches!(s, Session::Authenticated { .. }));
        messages.push(msg.as_str().to_owned());
    }
    // A wrong password and an unknown user read the same to the client.
    assert_eq!(messages[0], messages[1]);
    assert!(messages[2].contains("empty password"), "{}", messages[2]);
    // SCRAM with an unknown user fails at client-first.
    let mut s = Session::new(f.state.sasl.as_deref());
    handshake(&f, &mut s, "SCRAM-SHA-512").await;
    let (resp, close) = authenticate(&f, &mut s, b"n,,n=mallory,r=abc").await;
    assert_eq!((resp.error_code, close), (58, true));
    // SCRAM for a known user answers with server-first.
    let mut s = Session::new(f.state.sasl.as_deref());
    handshake(&f, &mut s, "SCRAM-SHA-256").await;
    let (resp, close) = authenticate(&f, &mut s, b"n,,n=alice,r=abc").await;
    assert_eq!((resp.error_code, close), (0, false));
    let first = String::from_utf8(resp.auth_bytes.to_vec()).unwrap();
    assert!(
        first.starts_with("r=abc") && first.ends_with(",i=4096"),
        "{first}"
    );
    let (resp, close) = authenticate(&f, &mut s, b"c=biws,r=abc,p=AAAA").await;
    assert_eq!((resp.error_code, close), (58, true));
}

#[tokio::test]
async fn an_unsupported_mechanism_gets_33_and_the_list() {
    let mut f = fixture();
    with_users(&mut f);
    let mut s = Session::new(f.state.sasl.as_deref());
    let (hs, close) = handshake(&f, &mut s, "GSSAPI").await;
    assert_eq!((hs.error_code, close), (33, true));
    assert_eq!(hs.mechanisms.len(), 3);
}

#[tokio::test]
async fn without_users_sasl_is_not_enabled_and_everything_is_open() {
    let f = fixture();
    f.state
        .store
        .create_topic("t", 1, Default::default())
        .await
        .unwrap();
    let mut s = Session::new(f.state.sasl.as_deref());
    let (hs, close) = handshake(&f, &mut s, "PLAIN").await;
    assert_eq!((hs.error_code, close), (34, false));
    assert!(hs.mechanisms.is_empty());
    let (resp, _) = authenticate(&f, &mut s, b"\0alice\0pw-1").await;
    assert_eq!(resp.error_code, 34);
    handle_frame_in(&f.state, produce_frame(), None, &mut s)
        .await
        .unwrap();
    assert_eq!(end_offset(&f).await, 1);
}

/// The SCRAM client rpkv uses (rpkv-wire) through the broker's gate: both
/// hashes authenticate and the server signature checks out; a wrong password
/// gets 58 at client-final.
#[tokio::test]
async fn the_shared_scram_client_authenticates_through_the_gate() {
    use crate::wire::scram::{Hash, ScramClient};
    let mut f = fixture();
    with_users(&mut f);
    for (mech, hash) in [
        ("SCRAM-SHA-256", Hash::Sha256),
        ("SCRAM-SHA-512", Hash::Sha512),
    ] {
        for (password, ok) in [("pw-1", true), ("pw-2", false)] {
            let mut s = Session::new(f.state.sasl.as_deref());
            handshake(&f, &mut s, mech).await;
            let client = ScramClient::new(hash, "alice", password, "rpkvNonce").unwrap();
            let (resp, close) = authenticate(&f, &mut s, &client.client_first()).await;
            assert_eq!((resp.error_code, close), (0, false), "{mech}");
            let fin = client.server_first(&resp.auth_bytes).unwrap();
            let (resp, close) = authenticate(&f, &mut s, fin.message()).await;
            if ok {
                assert_eq!((resp.error_code, close), (0, false), "{mech}");
                fin.verify(&resp.auth_bytes).unwrap();
                assert!(matches!(s, Session::Authenticated { .. }));
            } else {
                assert_eq!((resp.error_code, close), (58, true), "{mech}");
                assert!(!matches!(s, Session::Authenticated { .. }));
            }
        }
    }
}
