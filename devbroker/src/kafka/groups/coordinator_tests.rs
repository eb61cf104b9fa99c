//! The coordinator with its timer task, on the real clock with short
//! sessions (tokio's paused clock needs a feature this crate does not enable).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError as E;
use tokio::time::Instant;

use super::tests::{cfg, params, ready};
use super::*;

/// Sessions and rebalance timeouts of these tests.
const SHORT_SESSION: Duration = Duration::from_millis(600);

fn coordinator() -> (
    Arc<GroupCoordinator>,
    tokio::sync::watch::Sender<bool>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = crate::storage::Store::open(dir.path(), Default::default()).unwrap();
    let c = Arc::new(GroupCoordinator::new(
        GroupConfig {
            min_session_timeout: Duration::from_millis(100),
            ..cfg()
        },
        Arc::new(MemoryOffsetStore::default()),
        store.metrics().clone(),
    ));
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(c.clone().run_timer(store, rx));
    (c, tx, dir)
}

/// A client's join loop: MEMBER_ID_REQUIRED, then the held join.
async fn client_join(
    c: &GroupCoordinator,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> JoinResult {
    let first = ready(c.join(short(params("", &["range"]))));
    let p = short(params(&first.member_id, &["range"]));
    wait_for(
        c.join(p),
        stop,
        || JoinResult::error(E::CoordinatorNotAvailable, ""),
        || JoinResult::error(E::UnknownMemberId, ""),
    )
    .await
}

fn short(p: JoinParams) -> JoinParams {
    JoinParams {
        session_timeout: SHORT_SESSION,
        rebalance_timeout: SHORT_SESSION,
        ..p
    }
}

#[tokio::test]
async fn held_joins_are_answered_by_the_timer_and_sessions_expire() {
    let (c, stop, _dir) = coordinator();
    let rx = stop.subscribe();
    let started = Instant::now();
    let (a, b) = tokio::join!(client_join(&c, &rx), client_join(&c, &rx));
    assert_eq!((a.generation, b.generation), (1, 1));
    assert!(started.elapsed() >= cfg().initial_rebalance_delay);
    assert!(started.elapsed() < Duration::from_secs(1));
    let leader = if a.leader == a.member_id { &a } else { &b };
    let follower = if a.leader == a.member_id { &b } else { &a };
    let sp = |m: &JoinResult, assign: Vec<(String, Bytes)>| SyncParams {
        group_id: "g".into(),
        generation: 1,
        member_id: m.member_id.clone(),
        instance_id: None,
        protocol_type: None,
        protocol_name: None,
        assignments: assign,
    };
    let fs = c.sync(sp(follower, vec![]));
    let ls = c.sync(sp(
        leader,
        vec![(follower.member_id.clone(), Bytes::from_static(b"f"))],
    ));
    let drop_err = || SyncResult::error(E::UnknownMemberId);
    let stop_err = || SyncResult::error(E::CoordinatorNotAvailable);
    let (f, l) = tokio::join!(
        wait_for(fs, &rx, stop_err, drop_err),
        wait_for(ls, &rx, stop_err, drop_err)
    );
    assert_eq!(f.assignment, "f");
    assert_eq!(l.assignment, "", "no assignment given for the leader");

    // The leader heartbeats, the follower goes silent.
    for _ in 0..10 {
        tokio::time::sleep(SHORT_SESSION / 3).await;
        let hb = c.heartbeat("g", 1, &leader.member_id, None);
        if hb == Err(E::RebalanceInProgress) {
            break;
        }
        assert_eq!(hb, Ok(()));
    }
    assert_eq!(
        c.heartbeat("g", 1, &leader.member_id, None),
        Err(E::RebalanceInProgress),
        "the follower's session ended"
    );
    assert_eq!(
        c.heartbeat("g", 1, &follower.member_id, None),
        Err(E::UnknownMemberId)
    );

    // Shutdown answers a held join at once.
    let p = short(params(&leader.member_id, &["range"]));
    let other = short(params("", &["range"]));
    let _ = c.join(other); // a pending member keeps the join phase open
    let held = c.join(p);
    stop.send_replace(true);
    let r = wait_for(
        held,
        &rx,
        || JoinResult::error(E::CoordinatorNotAvailable, ""),
        || JoinResult::error(E::UnknownMemberId, ""),
    )
    .await;
    assert_eq!(r.error, Some(E::CoordinatorNotAvailable));
}

#[tokio::test]
async fn offsets_round_trip_through_the_coordinator() {
    let (c, _stop, _dir) = coordinator();
    let tp = TopicPartition::new("t", 0);
    let off = CommittedOffset {
        offset: 42,
        leader_epoch: -1,
        metadata: "meta".into(),
        commit_ms: 1,
        topic_id: 7,
    };
    c.commit("solo", -1, "", None, vec![(tp.clone(), off.clone())])
        .await
        .unwrap();
    assert_eq!(c.committed("solo", &tp), Some(off));
    assert_eq!(c.committed_all("solo").len(), 1);
    assert_eq!(c.list(&[]).len(), 1);
    assert_eq!(
        c.delete_offsets("solo", std::slice::from_ref(&tp)).await,
        Ok(vec![Ok(())])
    );
    assert_eq!(c.committed("solo", &tp), None);
    c.commit(
        "solo",
        -1,
        "",
        None,
        vec![(
            tp.clone(),
            CommittedOffset {
                offset: 1,
                leader_epoch: -1,
                metadata: String::new(),
                commit_ms: 0,
                topic_id: 7,
            },
        )],
    )
    .await
    .unwrap();
    c.forget_topic("t").await;
    assert_eq!(
        c.committed("solo", &tp),
        None,
        "a deleted topic's offsets go"
    );
    assert_eq!(c.delete_group("solo").await, Ok(()));
    assert_eq!(c.group_count(), 0);
}
