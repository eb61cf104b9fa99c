//! Unit tests of the coordinator state machine: the registry driven with
//! explicit instants, and the coordinator with its timer on a paused clock.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError as E;
use tokio::sync::oneshot::error::TryRecvError;
use tokio::time::Instant;

use super::registry::Registry;
use super::*;
use crate::metrics::Metrics;

const SESSION: Duration = Duration::from_secs(10);
const REBALANCE: Duration = Duration::from_secs(30);

pub(super) fn cfg() -> GroupConfig {
    GroupConfig {
        initial_rebalance_delay: Duration::from_millis(100),
        ..GroupConfig::default()
    }
}

pub(super) fn registry() -> (Registry, Arc<Metrics>) {
    let m = Arc::new(Metrics::new());
    (Registry::new(cfg(), m.clone()), m)
}

pub(super) fn params(member: &str, protocols: &[&str]) -> JoinParams {
    JoinParams {
        group_id: "g".into(),
        member_id: member.into(),
        instance_id: None,
        client_id: "client".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: SESSION,
        rebalance_timeout: REBALANCE,
        protocol_type: "consumer".into(),
        protocols: protocols
            .iter()
            .map(|p| (p.to_string(), Bytes::from(format!("meta-{p}"))))
            .collect(),
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

pub(super) fn ready<T: std::fmt::Debug>(p: Pending<T>) -> T {
    match p {
        Pending::Ready(t) => t,
        Pending::Wait(_) => panic!("expected an answer now, the request is held"),
    }
}

pub(super) fn held<T>(p: Pending<T>) -> tokio::sync::oneshot::Receiver<T> {
    match p {
        Pending::Wait(rx) => rx,
        Pending::Ready(_) => panic!("expected the request to be held"),
    }
}

pub(super) fn answered<T: std::fmt::Debug>(rx: &mut tokio::sync::oneshot::Receiver<T>) -> T {
    rx.try_recv().expect("answered")
}

pub(super) fn still_held<T: std::fmt::Debug>(rx: &mut tokio::sync::oneshot::Receiver<T>) {
    assert_eq!(rx.try_recv().unwrap_err(), TryRecvError::Empty);
}

/// A first join (MEMBER_ID_REQUIRED) and the join with the id: held.
pub(super) fn join_new(
    r: &mut Registry,
    now: Instant,
    protocols: &[&str],
) -> (String, tokio::sync::oneshot::Receiver<JoinResult>) {
    let first = ready(r.join(now, params("", protocols)));
    assert_eq!(first.error, Some(E::MemberIdRequired));
    assert!(
        first.member_id.starts_with("client-"),
        "{}",
        first.member_id
    );
    let id = first.member_id.clone();
    (id.clone(), held(r.join(now, params(&id, protocols))))
}

pub(super) fn sync(
    r: &mut Registry,
    now: Instant,
    member: &str,
    generation: i32,
    assign: &[(&str, &str)],
) -> Pending<SyncResult> {
    r.sync(
        now,
        SyncParams {
            group_id: "g".into(),
            generation,
            member_id: member.into(),
            instance_id: None,
            protocol_type: None,
            protocol_name: None,
            assignments: assign
                .iter()
                .map(|(m, a)| (m.to_string(), Bytes::from(a.to_string())))
                .collect(),
        },
    )
}

pub(super) fn state(r: &Registry) -> GroupState {
    r.get("g").expect("group").state
}

/// Two members, joined and synced: (registry, leader, follower, time).
pub(super) fn stable_pair() -> (Registry, String, String, Instant) {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let (a, mut ja) = join_new(&mut r, t0, &["range"]);
    let (b, mut jb) = join_new(&mut r, t0, &["range"]);
    r.tick(t0 + Duration::from_millis(300));
    let (ra, rb) = (answered(&mut ja), answered(&mut jb));
    assert_eq!(ra.generation, 1);
    let mut sb = held(sync(&mut r, t0, &b, 1, &[]));
    let mut sa = held(sync(&mut r, t0, &a, 1, &[(&a, "pa"), (&b, "pb")]));
    assert_eq!(answered(&mut sa).assignment, "pa");
    assert_eq!(answered(&mut sb).assignment, "pb");
    assert_eq!(rb.leader, a);
    (r, a, b, t0)
}

#[test]
fn two_members_join_and_sync() {
    let (mut r, m) = registry();
    let t0 = Instant::now();
    let (a, mut ja) = join_new(&mut r, t0, &["range", "roundrobin"]);
    assert_eq!(state(&r), GroupState::PreparingRebalance);
    let (b, mut jb) = join_new(&mut r, t0 + Duration::from_millis(50), &["range"]);
    // The initial delay is running: both wait.
    r.tick(t0 + Duration::from_millis(99));
    still_held(&mut ja);
    // A member joined during the delay: it is extended once more.
    r.tick(t0 + Duration::from_millis(100));
    still_held(&mut ja);
    r.tick(t0 + Duration::from_millis(200));
    let ra = answered(&mut ja);
    let rb = answered(&mut jb);
    assert_eq!((ra.error, rb.error), (None, None));
    assert_eq!((ra.generation, rb.generation), (1, 1));
    assert_eq!(ra.protocol_name.as_deref(), Some("range"));
    assert_eq!(ra.leader, a, "the first member leads");
    assert_eq!(rb.leader, a);
    let mut ids: Vec<_> = ra.members.iter().map(|m| m.member_id.clone()).collect();
    ids.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(ids, want, "the leader gets every member");
    assert_eq!(ra.members[0].metadata, "meta-range");
    assert!(rb.members.is_empty(), "followers get no member list");
    assert_eq!(state(&r), GroupState::CompletingRebalance);

    // The follower's SyncGroup waits for the leader's.
    let mut sb = held(sync(&mut r, t0, &b, 1, &[]));
    still_held(&mut sb);
    let mut sa = held(sync(&mut r, t0, &a, 1, &[(&a, "for-a"), (&b, "for-b")]));
    assert_eq!(answered(&mut sa).assignment, "for-a");
    let got = answered(&mut sb);
    assert_eq!(got.assignment, "for-b");
    assert_eq!(got.protocol_name.as_deref(), Some("range"));
    assert_eq!(state(&r), GroupState::Stable);
    assert_eq!(r.heartbeat(t0, "g", 1, &b, None), Ok(()));

    let g = &m.groups;
    assert_eq!(g.groups.with_label_values(&["Stable"]).get(), 1);
    assert_eq!(g.groups.with_label_values(&["Empty"]).get(), 0);
    assert_eq!(g.members.get(), 2);
    assert_eq!(g.rebalances.get(), 1);
}

#[test]
fn protocol_is_voted_among_those_all_support() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let (_, mut j1) = join_new(&mut r, t0, &["roundrobin", "range"]);
    let (_, _j2) = join_new(&mut r, t0, &["range", "roundrobin"]);
    let (_, _j3) = join_new(&mut r, t0, &["range", "roundrobin", "sticky"]);
    r.tick(t0 + Duration::from_secs(1));
    assert_eq!(answered(&mut j1).protocol_name.as_deref(), Some("range"));

    // A tie goes to the leader's preference.
    let (mut r, _) = registry();
    let (_, mut j1) = join_new(&mut r, t0, &["x", "y"]);
    let (_, _j2) = join_new(&mut r, t0, &["y", "x"]);
    r.tick(t0 + Duration::from_secs(1));
    assert_eq!(answered(&mut j1).protocol_name.as_deref(), Some("x"));

    // Nothing in common, or another protocol type: refused.
    let (mut r, _) = registry();
    let (_, _j1) = join_new(&mut r, t0, &["range"]);
    let no = ready(r.join(t0, params("", &["sticky"])));
    assert_eq!(no.error, Some(E::InconsistentGroupProtocol));
    let mut other = params("", &["range"]);
    other.protocol_type = "connect".into();
    assert_eq!(
        ready(r.join(t0, other)).error,
        Some(E::InconsistentGroupProtocol)
    );
    let mut empty = params("", &[]);
    empty.group_id = "fresh".into();
    assert_eq!(
        ready(r.join(t0, empty)).error,
        Some(E::InconsistentGroupProtocol)
    );
}

#[test]
fn a_new_member_triggers_a_rebalance_that_completes_when_all_rejoin() {
    let (mut r, a, b, t0) = stable_pair();
    let t1 = t0 + Duration::from_secs(1);
    let (c, mut jc) = join_new(&mut r, t1, &["range"]);
    assert_eq!(state(&r), GroupState::PreparingRebalance);
    assert_eq!(
        r.heartbeat(t1, "g", 1, &a, None),
        Err(E::RebalanceInProgress)
    );
    assert_eq!(
        ready(sync(&mut r, t1, &a, 1, &[])).error,
        Some(E::RebalanceInProgress)
    );
    let mut ja = held(r.join(t1, params(&a, &["range"])));
    still_held(&mut ja);
    let mut jb = held(r.join(t1, params(&b, &["range"])));
    // Everyone rejoined: no waiting for the timeout.
    let (ra, rb, rc) = (answered(&mut ja), answered(&mut jb), answered(&mut jc));
    assert_eq!((ra.generation, rb.generation, rc.generation), (2, 2, 2));
    assert_eq!(ra.members.len(), 3);
    assert_eq!(rc.member_id, c);
    // The old generation is over.
    assert_eq!(r.heartbeat(t1, "g", 1, &b, None), Err(E::IllegalGeneration));
    assert_eq!(
        ready(sync(&mut r, t1, &b, 1, &[])).error,
        Some(E::IllegalGeneration)
    );
}

#[test]
fn members_that_do_not_rejoin_within_the_rebalance_timeout_are_removed() {
    let (mut r, a, b, t0) = stable_pair();
    let (_, mut jc) = join_new(&mut r, t0, &["range"]);
    let mut ja = held(r.join(t0, params(&a, &["range"])));
    // b keeps heartbeating but never rejoins.
    for s in 1..30 {
        let t = t0 + Duration::from_secs(s);
        assert_eq!(
            r.heartbeat(t, "g", 1, &b, None),
            Err(E::RebalanceInProgress)
        );
        r.tick(t);
    }
    still_held(&mut ja);
    r.tick(t0 + REBALANCE);
    let ra = answered(&mut ja);
    assert_eq!(ra.generation, 2);
    assert_eq!(ra.members.len(), 2, "b is out");
    assert_eq!(answered(&mut jc).error, None);
    assert_eq!(
        r.heartbeat(t0 + REBALANCE, "g", 1, &b, None),
        Err(E::UnknownMemberId)
    );
}

#[test]
fn a_silent_member_expires_after_its_session_timeout() {
    let (mut r, a, b, t0) = stable_pair();
    for s in [3, 6, 9] {
        let t = t0 + Duration::from_secs(s);
        assert_eq!(r.heartbeat(t, "g", 1, &a, None), Ok(()));
        assert_eq!(r.tick(t).map(|d| d > t), Some(true));
    }
    assert_eq!(state(&r), GroupState::Stable);
    let next = r.tick(t0 + SESSION);
    assert!(next.is_some());
    assert_eq!(state(&r), GroupState::PreparingRebalance);
    let t = t0 + SESSION + Duration::from_millis(1);
    assert_eq!(r.heartbeat(t, "g", 1, &b, None), Err(E::UnknownMemberId));
    assert_eq!(
        r.heartbeat(t, "g", 1, &a, None),
        Err(E::RebalanceInProgress)
    );
    let mut ja = held(r.join(t, params(&a, &["range"])));
    let ra = answered(&mut ja);
    assert_eq!((ra.generation, ra.members.len()), (2, 1));
}

#[test]
fn leaving_rebalances_and_the_last_one_out_empties_the_group() {
    let (mut r, a, b, t0) = stable_pair();
    let out = r.leave(
        t0,
        "g",
        &[
            Leaving {
                member_id: b.clone(),
                instance_id: None,
            },
            Leaving {
                member_id: "nobody".into(),
                instance_id: None,
            },
        ],
    );
    assert_eq!(out, vec![Ok(()), Err(E::UnknownMemberId)]);
    assert_eq!(state(&r), GroupState::PreparingRebalance);
    let mut ja = held(r.join(t0, params(&a, &["range"])));
    assert_eq!(answered(&mut ja).generation, 2);
    let leave_a = [Leaving {
        member_id: a.clone(),
        instance_id: None,
    }];
    assert_eq!(r.leave(t0, "g", &leave_a), vec![Ok(())]);
    assert_eq!(state(&r), GroupState::Empty);
    assert_eq!(r.get("g").unwrap().generation, 3);
    assert_eq!(
        r.leave(t0, "other", &leave_a),
        vec![Err(E::UnknownMemberId)]
    );
}

#[test]
fn a_member_id_handed_out_lapses_if_not_used() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let first = ready(r.join(t0, params("", &["range"])));
    assert_eq!(first.error, Some(E::MemberIdRequired));
    assert_eq!(r.get("g").unwrap().pending.len(), 1);
    r.tick(t0 + SESSION);
    assert!(r.get("g").unwrap().pending.is_empty());
    let late = ready(r.join(t0 + SESSION, params(&first.member_id, &["range"])));
    assert_eq!(late.error, Some(E::UnknownMemberId));
}

fn static_params(member: &str, instance: &str) -> JoinParams {
    JoinParams {
        instance_id: Some(instance.into()),
        ..params(member, &["range"])
    }
}

#[test]
fn a_static_member_rejoining_takes_its_place_without_a_rebalance() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    // Static members are not asked for a member id first.
    let mut j1 = held(r.join(t0, static_params("", "i1")));
    let mut j2 = held(r.join(t0, static_params("", "i2")));
    r.tick(t0 + Duration::from_secs(1));
    let (r1, r2) = (answered(&mut j1), answered(&mut j2));
    assert!(r1.member_id.starts_with("i1-"));
    let (leader, follower) = if r1.leader == r1.member_id {
        (r1.member_id.clone(), r2.member_id.clone())
    } else {
        (r2.member_id.clone(), r1.member_id.clone())
    };
    let follower_instance = if follower.starts_with("i1-") {
        "i1"
    } else {
        "i2"
    };
    let mut sf = held(sync(&mut r, t0, &follower, 1, &[]));
    let _ = ready_or_held(sync(
        &mut r,
        t0,
        &leader,
        1,
        &[(&leader, "L"), (&follower, "F")],
    ));
    assert_eq!(answered(&mut sf).assignment, "F");

    // The follower restarts: same instance id, no member id.
    let again = ready(r.join(t0, static_params("", follower_instance)));
    assert_eq!(again.error, None);
    assert_eq!(again.generation, 1, "no rebalance");
    assert_ne!(again.member_id, follower);
    assert_eq!(again.leader, leader);
    assert_eq!(state(&r), GroupState::Stable);
    let new_id = again.member_id;
    let s = ready(r.sync(
        t0,
        SyncParams {
            group_id: "g".into(),
            generation: 1,
            member_id: new_id.clone(),
            instance_id: Some(follower_instance.into()),
            protocol_type: Some("consumer".into()),
            protocol_name: Some("range".into()),
            assignments: vec![],
        },
    ));
    assert_eq!(s.assignment, "F", "it keeps its assignment");
    // The old process is fenced.
    assert_eq!(
        r.heartbeat(t0, "g", 1, &follower, Some(follower_instance)),
        Err(E::FencedInstanceId)
    );
    assert_eq!(
        r.heartbeat(t0, "g", 1, &new_id, Some(follower_instance)),
        Ok(())
    );
    let fenced = ready(r.join(t0, static_params(&follower, follower_instance)));
    assert_eq!(fenced.error, Some(E::FencedInstanceId));
    // A static member leaves by instance id.
    let out = r.leave(
        t0,
        "g",
        &[Leaving {
            member_id: String::new(),
            instance_id: Some(follower_instance.into()),
        }],
    );
    assert_eq!(out, vec![Ok(())]);
    assert_eq!(state(&r), GroupState::PreparingRebalance);
}

pub(super) fn ready_or_held<T: std::fmt::Debug>(p: Pending<T>) -> T {
    match p {
        Pending::Ready(t) => t,
        Pending::Wait(mut rx) => answered(&mut rx),
    }
}

#[test]
fn idle_empty_groups_without_offsets_are_swept() {
    let (mut r, m) = registry();
    let t0 = Instant::now();
    r.validate_commit(t0, "with-offsets", -1, "", None).unwrap();
    r.validate_commit(t0, "idle", -1, "", None).unwrap();
    assert_eq!(m.groups.groups.with_label_values(&["Empty"]).get(), 2);
    assert_eq!(r.sweep(t0, |g| g == "with-offsets"), 1);
    assert!(r.get("idle").is_none());
    assert!(r.get("with-offsets").is_some());
    assert_eq!(m.groups.groups.with_label_values(&["Empty"]).get(), 1);
}

#[test]
fn a_member_that_never_syncs_is_removed_after_the_rebalance_timeout() {
    let (mut r, _) = registry();
    let t0 = Instant::now();
    let long_session = |member: &str| JoinParams {
        session_timeout: Duration::from_secs(60),
        rebalance_timeout: Duration::from_secs(5),
        require_known_member_id: false,
        ..params(member, &["range"])
    };
    let mut ja = held(r.join(t0, long_session("")));
    let mut jb = held(r.join(t0, long_session("")));
    r.tick(t0 + Duration::from_secs(1));
    let (ra, rb) = (answered(&mut ja), answered(&mut jb));
    let (leader, follower) = if ra.leader == ra.member_id {
        (ra.member_id, rb.member_id)
    } else {
        (rb.member_id, ra.member_id)
    };
    // The answer got lost: the same join again gets the same generation at once.
    let again = ready(r.join(t0, long_session(&follower)));
    assert_eq!((again.error, again.generation), (None, 1));
    let _ = ready_or_held(sync(&mut r, t0, &leader, 1, &[]));
    assert_eq!(state(&r), GroupState::Stable);
    r.tick(t0 + Duration::from_secs(5));
    assert_eq!(state(&r), GroupState::Stable, "not yet");
    r.tick(t0 + Duration::from_secs(6));
    assert_eq!(state(&r), GroupState::PreparingRebalance);
    assert_eq!(
        r.heartbeat(t0 + Duration::from_secs(6), "g", 1, &follower, None),
        Err(E::UnknownMemberId),
        "the member that never synced is out"
    );
}
