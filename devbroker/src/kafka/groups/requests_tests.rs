//! Unit tests of the coordinator's answers outside membership: request
//! errors as Kafka gives them, the limits on members and groups, offset
//! commit checks, deleting groups and offsets, listing and describing.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::ResponseError as E;
use kafka_protocol::messages::ConsumerProtocolSubscription;
use kafka_protocol::protocol::{Encodable, StrBytes};
use tokio::time::Instant;

use super::group::subscription_topics;
use super::tests::{answered, cfg, held, join_new, params, ready, registry, stable_pair, sync};
use super::*;

#[test]
fn request_errors_follow_kafka() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let mut p = params("", &["range"]);
    p.group_id = String::new();
    assert_eq!(ready(r.join(t0, p)).error, Some(E::InvalidGroupId));
    let mut p = params("", &["range"]);
    p.session_timeout = Duration::from_millis(100);
    assert_eq!(ready(r.join(t0, p)).error, Some(E::InvalidSessionTimeout));
    assert_eq!(
        ready(r.join(t0, params("ghost", &["range"]))).error,
        Some(E::UnknownMemberId),
        "a member id for a group that does not exist"
    );
    assert_eq!(
        r.heartbeat(t0, "nope", 0, "m", None),
        Err(E::UnknownMemberId)
    );
    assert_eq!(
        ready(sync(&mut r, t0, "m", 0, &[])).error,
        Some(E::UnknownMemberId)
    );
    // v0-v3 joins get a member id at once.
    let mut p = params("", &["range"]);
    p.require_known_member_id = false;
    let mut j = held(r.join(t0, p));
    r.tick(t0 + Duration::from_secs(1));
    let got = answered(&mut j);
    assert_eq!((got.error, got.generation), (None, 1));
    assert_eq!(
        r.heartbeat(t0, "g", 1, &got.member_id, None),
        Ok(()),
        "CompletingRebalance takes heartbeats"
    );
    assert_eq!(
        r.validate_commit(t0, "g", 1, &got.member_id, None),
        Err(E::RebalanceInProgress)
    );
}

#[test]
fn limits_on_group_size_and_group_count() {
    let m = Arc::new(Metrics::new());
    let mut r = Registry::new(
        GroupConfig {
            max_group_size: 2,
            max_groups: 2,
            ..cfg()
        },
        m,
    );
    let t0 = Instant::now();
    let (_, _ja) = join_new(&mut r, t0, &["range"]);
    let (_, _jb) = join_new(&mut r, t0, &["range"]);
    assert_eq!(
        ready(r.join(t0, params("", &["range"]))).error,
        Some(E::GroupMaxSizeReached)
    );
    let mut p = params("", &["range"]);
    p.group_id = "second".into();
    assert_eq!(ready(r.join(t0, p)).error, Some(E::MemberIdRequired));
    let mut p = params("", &["range"]);
    p.group_id = "third".into();
    assert_eq!(ready(r.join(t0, p)).error, Some(E::CoordinatorNotAvailable));
    assert_eq!(
        r.validate_commit(t0, "third", -1, "", None),
        Err(E::CoordinatorNotAvailable)
    );
}

#[test]
fn commit_checks() {
    let (mut r, a, _b, t0) = stable_pair();
    assert_eq!(r.validate_commit(t0, "g", 1, &a, None), Ok(()));
    assert_eq!(
        r.validate_commit(t0, "g", 0, &a, None),
        Err(E::IllegalGeneration)
    );
    assert_eq!(
        r.validate_commit(t0, "g", 1, "x", None),
        Err(E::UnknownMemberId)
    );
    assert_eq!(
        r.validate_commit(t0, "g", -1, "", None),
        Err(E::UnknownMemberId),
        "a standalone commit to a group with members"
    );
    assert_eq!(
        r.validate_commit(t0, "", -1, "", None),
        Err(E::InvalidGroupId)
    );
    // A standalone consumer: the group is created, Empty.
    assert_eq!(r.validate_commit(t0, "solo", -1, "", None), Ok(()));
    assert_eq!(r.get("solo").unwrap().state, GroupState::Empty);
    assert_eq!(r.validate_commit(t0, "solo", -1, "", None), Ok(()));
    assert_eq!(
        r.validate_commit(t0, "absent", 3, "m", None),
        Err(E::IllegalGeneration)
    );
}

fn subscription(topics: &[&str]) -> Bytes {
    let mut s = ConsumerProtocolSubscription::default();
    s.topics = topics
        .iter()
        .map(|t| StrBytes::from_string(t.to_string()))
        .collect();
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    s.encode(&mut buf, 1).unwrap();
    buf.freeze()
}

#[test]
fn delete_group_and_offsets_follow_kafka() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let mut p = params("", &["range"]);
    p.protocols = vec![("range".into(), subscription(&["orders"]))];
    p.require_known_member_id = false;
    let mut j = held(r.join(t0, p));
    r.tick(t0 + Duration::from_secs(1));
    assert_eq!(answered(&mut j).error, None);
    let tps = [
        TopicPartition::new("orders", 0),
        TopicPartition::new("other", 0),
    ];
    assert_eq!(
        r.offset_delete_check("g", &tps),
        Ok(vec![Err(E::GroupSubscribedToTopic), Ok(())])
    );
    assert_eq!(r.offset_delete_check("nope", &tps), Err(E::GroupIdNotFound));
    assert_eq!(r.delete("g"), Err(E::NonEmptyGroup));
    assert_eq!(r.delete("nope"), Err(E::GroupIdNotFound));
    assert_eq!(r.validate_commit(t0, "solo", -1, "", None), Ok(()));
    assert_eq!(
        r.offset_delete_check("solo", &tps),
        Ok(vec![Ok(()), Ok(())])
    );
    assert_eq!(r.delete("solo"), Ok(()));
    assert!(r.get("solo").is_none());
    assert_eq!(
        subscription_topics(&subscription(&["a", "b"])),
        Some(vec!["a".into(), "b".into()])
    );
    assert_eq!(subscription_topics(b"\x00"), None);
}

#[test]
fn list_and_describe() {
    let (mut r, a, _b, t0) = stable_pair();
    r.validate_commit(t0, "solo", -1, "", None).unwrap();
    let all = r.list(&[]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].group_id, "g");
    assert_eq!(all[0].protocol_type, "consumer");
    let stable = r.list(&["stable".into()]);
    assert_eq!(stable.len(), 1);
    assert_eq!(stable[0].group_id, "g");
    assert_eq!(r.list(&["Empty".into()])[0].group_id, "solo");
    let d = r.describe("g").unwrap();
    assert_eq!(d.state, GroupState::Stable);
    assert_eq!(d.protocol, "range");
    let ma = d.members.iter().find(|m| m.member_id == a).unwrap();
    assert_eq!(ma.assignment, "pa");
    assert_eq!(ma.metadata, "meta-range");
    assert_eq!(ma.client_host, "/127.0.0.1");
    assert!(r.describe("nope").is_none());
}
