//! Consumer instances as group members through the real router: two
//! instances splitting a topic, idle expiry, the instance limit, and the lag
//! gauges.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::consumer::{V2, assert_code, consumers, default_group, wait_until};
use crate::http::consumer::ConsumerConfig;

#[tokio::test]
async fn two_instances_split_the_partitions_and_one_leaving_hands_them_over() {
    let g = default_group().await;
    for name in ["a", "b"] {
        g.create("split", json!({ "name": name })).await;
        g.subscribe("split", name, &["orders"]).await;
    }
    wait_until(|| async {
        let (a, b) = (
            g.assignment("split", "a").await,
            g.assignment("split", "b").await,
        );
        !a.is_empty() && !b.is_empty() && a.len() + b.len() == 3
    })
    .await;
    let (a, b) = (
        g.assignment("split", "a").await,
        g.assignment("split", "b").await,
    );
    assert!(a.is_disjoint(&b), "{a:?} {b:?}");
    let all: BTreeSet<_> = a.union(&b).cloned().collect();
    assert_eq!(all, (0..3).map(|p| ("orders".to_string(), p)).collect());
    // Unsubscribing leaves the group: the other instance gets everything.
    let r = g
        .call(
            Method::DELETE,
            "/consumers/split/instances/a/subscription",
            None,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    wait_until(|| async { g.assignment("split", "b").await.len() == 3 }).await;
    assert!(g.assignment("split", "a").await.is_empty());
    let sub =
        g.h.get_path("/consumers/split/instances/a/subscription", None)
            .await;
    assert_eq!(sub.json(), json!({"topics": []}));
    let d = g.coordinator.describe("split").unwrap();
    assert_eq!(d.members.len(), 1);
}

#[tokio::test]
async fn an_idle_instance_leaves_its_group_and_is_deleted() {
    let g = consumers(ConsumerConfig {
        idle_timeout: Duration::from_millis(700),
        ..Default::default()
    })
    .await;
    g.create("idle", json!({"name": "c"})).await;
    g.subscribe("idle", "c", &["orders"]).await;
    wait_until(|| async {
        g.coordinator
            .describe("idle")
            .is_some_and(|d| d.members.len() == 1)
    })
    .await;
    // Requests keep it alive past the timeout.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(g.assignment("idle", "c").await.len(), 3);
    }
    wait_until(|| async {
        g.coordinator
            .describe("idle")
            .is_some_and(|d| d.members.is_empty())
    })
    .await;
    let r =
        g.h.get_path("/consumers/idle/instances/c/assignments", None)
            .await;
    assert_code(&r, StatusCode::NOT_FOUND, 40403);
    // Its name is free again.
    assert_eq!(
        g.create("idle", json!({"name": "c"})).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_number_of_instances_is_bounded() {
    let g = consumers(ConsumerConfig {
        max_instances: 2,
        ..Default::default()
    })
    .await;
    for n in ["a", "b"] {
        assert_eq!(
            g.create("g", json!({ "name": n })).await.status,
            StatusCode::OK
        );
    }
    assert_code(
        &g.create("g", json!({"name": "c"})).await,
        StatusCode::TOO_MANY_REQUESTS,
        429,
    );
    g.call(Method::DELETE, "/consumers/g/instances/a", None, "")
        .await;
    assert_eq!(
        g.create("g", json!({"name": "c"})).await.status,
        StatusCode::OK
    );
}

fn gauge(metrics: &str, series: &str) -> Option<i64> {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn lag_gauges_follow_produced_records_and_commits() {
    let g = default_group().await;
    let lag = r#"devbroker_group_lag{group="lagged",partition="0",topic="events"}"#;
    let total = r#"devbroker_group_lag_total{group="lagged"}"#;
    assert_eq!(gauge(&g.metrics().await, lag), None);
    g.produce("events", 0, &["1", "2", "3", "4", "5"]).await;
    g.create("lagged", json!({"name": "c"})).await;
    let commit = |offset: i64| {
        let body = json!({"offsets": [{"topic": "events", "partition": 0, "offset": offset}]});
        let g = &g;
        async move {
            let r = g
                .call(
                    Method::POST,
                    "/consumers/lagged/instances/c/offsets",
                    Some(V2),
                    &body.to_string(),
                )
                .await;
            assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json());
        }
    };
    // Not subscribed: a standalone commit, as the group has no members.
    commit(2).await;
    let m = g.metrics().await;
    assert_eq!(gauge(&m, lag), Some(3), "{m}");
    assert_eq!(gauge(&m, total), Some(3));
    g.produce("events", 0, &["6", "7"]).await;
    assert_eq!(gauge(&g.metrics().await, lag), Some(5));
    commit(7).await;
    let m = g.metrics().await;
    assert_eq!(gauge(&m, lag), Some(0));
    assert_eq!(gauge(&m, total), Some(0));
}

/// A group the instance cannot join (its members speak another protocol):
/// the instance consumes nothing, retries with a backoff, and still expires
/// when idle.
#[tokio::test]
async fn an_instance_refused_by_its_group_consumes_nothing_and_still_expires() {
    let g = consumers(ConsumerConfig {
        idle_timeout: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let _other = g.coordinator.join(crate::kafka::groups::JoinParams {
        group_id: "busy".into(),
        member_id: String::new(),
        instance_id: None,
        client_id: "connect-worker".into(),
        client_host: "test".into(),
        session_timeout: Duration::from_secs(60),
        rebalance_timeout: Duration::from_secs(60),
        protocol_type: "connect".into(),
        protocols: vec![("default".into(), Default::default())],
        require_known_member_id: false,
        supports_skip_assignment: false,
    });
    g.create("busy", json!({"name": "c"})).await;
    g.subscribe("busy", "c", &["orders"]).await;
    let r = g
        .call(
            Method::GET,
            "/consumers/busy/instances/c/records?timeout=700",
            None,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json(), json!([]));
    assert!(g.assignment("busy", "c").await.is_empty());
    let d = g.coordinator.describe("busy").unwrap();
    assert_eq!(d.members.len(), 1, "only the connect worker");
    // Left alone (a request would keep it alive), it expires.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let r = g
        .call(
            Method::GET,
            "/consumers/busy/instances/c/assignments",
            None,
            "",
        )
        .await;
    assert_code(&r, StatusCode::NOT_FOUND, 40403);
}
