//! Consumer groups on the Kafka listener with real clients: kafka-python
//! group members (split, rebalance on join, expiry of a killed member,
//! committed offsets, the admin client's group calls) and kcat's balanced
//! consumer (librdkafka: eager and cooperative assignment, a static member
//! restarting).

mod kafka_common;

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant};

use kafka_common::{GroupMember, kcat, python};
use rpkv_e2e::Broker;
use serde_json::Value;

/// The shortest session kafka-python and the broker agree on.
const SESSION_MS: u64 = 6000;

fn addr(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

/// Waits until the members' assignments split `partitions` with no overlap
/// and every member has `each` partitions (if given).
fn wait_split(
    members: &mut [&mut GroupMember],
    partitions: i64,
    each: Option<usize>,
    limit: Duration,
) {
    let deadline = Instant::now() + limit;
    loop {
        for m in members.iter_mut() {
            m.update();
        }
        let all: Vec<i64> = members
            .iter()
            .flat_map(|m| m.assignment.iter().copied())
            .collect();
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        let sizes_ok = members
            .iter()
            .all(|m| each.map_or(!m.assignment.is_empty(), |n| m.assignment.len() == n));
        if all.len() == distinct.len()
            && distinct == (0..partitions).collect::<BTreeSet<_>>()
            && sizes_ok
        {
            return;
        }
        let now: Vec<&BTreeSet<i64>> = members.iter().map(|m| &m.assignment).collect();
        assert!(
            Instant::now() < deadline,
            "the members never split {partitions} partitions (each {each:?}): last {now:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One metric's value from `/metrics`.
async fn metric(b: &Broker, name: &str) -> f64 {
    let text = rpkv_e2e::get(format!("{}/metrics", b.url()))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn members_split_partitions_rebalance_on_join_and_a_killed_member_expires() {
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let a = addr(&b);
    let mut m1 = GroupMember::start(&a, "orders", "g", SESSION_MS);
    let mut m2 = GroupMember::start(&a, "orders", "g", SESSION_MS);
    wait_split(&mut [&mut m1, &mut m2], 3, None, Duration::from_secs(30));
    assert_eq!(
        m1.assignment.len() + m2.assignment.len(),
        3,
        "{:?} {:?}",
        m1.assignment,
        m2.assignment
    );
    assert_eq!(
        metric(&b, "devbroker_kafka_groups{state=\"Stable\"}").await,
        1.0
    );
    assert_eq!(metric(&b, "devbroker_kafka_group_members").await, 2.0);

    // A third member: a rebalance gives each one partition.
    let mut m3 = GroupMember::start(&a, "orders", "g", SESSION_MS);
    wait_split(
        &mut [&mut m1, &mut m2, &mut m3],
        3,
        Some(1),
        Duration::from_secs(30),
    );
    let rebalances = metric(&b, "devbroker_kafka_group_rebalances_total").await;
    assert!(rebalances >= 2.0, "{rebalances}");

    // SIGKILL: no LeaveGroup; its session runs out and its partition moves.
    let killed = Instant::now();
    m3.kill9();
    wait_split(&mut [&mut m1, &mut m2], 3, None, Duration::from_secs(30));
    let took = killed.elapsed();
    assert!(
        took >= Duration::from_millis(SESSION_MS - 1500),
        "moved after {took:?}, before the session timeout: was the member expired?"
    );
    assert_eq!(metric(&b, "devbroker_kafka_group_members").await, 2.0);
}

fn produce(a: &str, topic: &str, n: usize) {
    let input: String = (0..n).map(|i| format!("key{i}:value{i}\n")).collect();
    kcat(a, &["-P", "-t", topic, "-K:"], Some(&input));
}

fn records(doc: &Value) -> Vec<(i64, i64, String)> {
    doc["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {doc}"))
        .iter()
        .map(|r| {
            (
                r[0].as_i64().unwrap(),
                r[1].as_i64().unwrap(),
                r[2].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn committed_offsets_resume_exactly_in_a_group_and_standalone() {
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let a = addr(&b);
    produce(&a, "orders", 20);

    // A group member reads 7, commits, leaves; the next one reads the rest.
    let first = records(&python(
        "kafka_group.py",
        &["consume", &a, "orders", "g", "7"],
    ));
    assert_eq!(first.len(), 7);
    let rest = records(&python(
        "kafka_group.py",
        &["consume", &a, "orders", "g", "13"],
    ));
    assert_eq!(rest.len(), 13);
    let mut seen = HashSet::new();
    for r in first.iter().chain(&rest) {
        assert!(seen.insert(r.2.clone()), "{} read twice", r.2);
    }
    assert_eq!(seen.len(), 20, "every record exactly once");
    let committed = python("kafka_group.py", &["committed", &a, "orders", "g"]);
    let sum: i64 = committed["committed"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_i64().expect("an offset for every partition"))
        .sum();
    assert_eq!(sum, 20, "{committed}");

    // kafka-python's admin client: ListGroups, DescribeGroups, OffsetFetch, DeleteGroups.
    let admin = python("kafka_group.py", &["admin", &a, "g"]);
    assert_eq!(
        admin["listed"],
        serde_json::json!([["g", "consumer"]]),
        "{admin}"
    );
    assert_eq!(admin["state"], "Empty", "{admin}");
    assert_eq!(admin["members"], 0);
    let total: i64 = admin["offsets"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(Value::as_i64)
        .sum();
    assert_eq!(total, 20, "{admin}");
    assert_eq!(admin["deleted"], Value::Null, "{admin}");
    let gone = python("kafka_group.py", &["committed", &a, "orders", "g"]);
    assert!(
        gone["committed"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_null),
        "a deleted group has no offsets: {gone}"
    );

    // A consumer that does not join (generation -1) commits too.
    let solo = records(&python(
        "kafka_group.py",
        &["standalone", &a, "orders", "solo", "5"],
    ));
    assert_eq!(solo.len(), 5);
    let more = records(&python(
        "kafka_group.py",
        &["standalone", &a, "orders", "solo", "15"],
    ));
    let all: HashSet<String> = solo.iter().chain(&more).map(|r| r.2.clone()).collect();
    assert_eq!(all.len(), 20, "standalone commits resume too");
    let c = python("kafka_group.py", &["committed", &a, "orders", "nobody"]);
    assert!(
        c["committed"]
            .as_object()
            .unwrap()
            .values()
            .all(Value::is_null),
        "no offsets for an unknown group: {c}"
    );
}

/// kcat's balanced consumer (`-G`) from the earliest offset to the end.
fn kcat_group(a: &str, group: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["-G", group, "-X", "auto.offset.reset=earliest"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["orders", "-e", "-q", "-f", "%p|%o|%s\n"]);
    kcat(a, &args, None).lines().map(str::to_string).collect()
}

#[test]
fn kcat_balanced_consumers_read_everything_once() {
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let a = addr(&b);
    produce(&a, "orders", 30);
    for (group, extra) in [
        ("eager", &[][..]),
        (
            "cooperative",
            &["-X", "partition.assignment.strategy=cooperative-sticky"][..],
        ),
    ] {
        let lines = kcat_group(&a, group, extra);
        let distinct: HashSet<&String> = lines.iter().collect();
        assert_eq!(lines.len(), 30, "{group}: {lines:?}");
        assert_eq!(distinct.len(), 30, "{group}: nothing twice");
        let partitions: HashSet<&str> = lines.iter().filter_map(|l| l.split('|').next()).collect();
        assert_eq!(partitions.len(), 3, "{group}: every partition");
        // kcat committed on the way out: the group has nothing left to read.
        assert!(
            kcat_group(&a, group, extra).is_empty(),
            "{group} reads nothing again"
        );
    }
    produce(&a, "orders", 3);
    assert_eq!(
        kcat_group(&a, "eager", &[]).len(),
        3,
        "only the new records"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_static_member_restarting_takes_its_place_without_a_rebalance() {
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let a = addr(&b);
    produce(&a, "orders", 12);
    let static_member = ["-X", "group.instance.id=instance-1"];
    assert_eq!(kcat_group(&a, "static", &static_member).len(), 12);
    assert_eq!(
        metric(&b, "devbroker_kafka_group_rebalances_total").await,
        1.0
    );
    // A static member leaves no LeaveGroup behind: it is still a member.
    assert_eq!(metric(&b, "devbroker_kafka_group_members").await, 1.0);
    produce(&a, "orders", 3);
    assert_eq!(kcat_group(&a, "static", &static_member).len(), 3);
    assert_eq!(
        metric(&b, "devbroker_kafka_group_rebalances_total").await,
        1.0,
        "the restarted member took the old one's place without a rebalance"
    );
}
