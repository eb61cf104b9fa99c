//! Committed offsets are durable: kafka-python consumers commit (the commit
//! is acknowledged), the broker stops (SIGTERM or `kill -9`) or is rebuilt
//! from its bucket on an empty data dir, and a new consumer of the group
//! resumes exactly at the committed offsets; DeleteGroups stays done.

mod kafka_common;

use std::collections::HashSet;
use std::path::Path;

use kafka_common::{kcat, python};
use rpkv_e2e::Broker;
use serde_json::Value;

const TOPIC: &str = "orders";
const RECORDS: usize = 20;

fn addr(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

fn produce(a: &str, n: usize) {
    let input: String = (0..n).map(|i| format!("key{i}:value{i}\n")).collect();
    kcat(a, &["-P", "-t", TOPIC, "-K:"], Some(&input));
}

/// `kafka_group.py consume`: joins `group`, reads `n` records from the
/// committed offsets, commits (acknowledged), leaves. Returns the values.
fn consume(b: &Broker, group: &str, n: usize) -> Vec<String> {
    let doc = python(
        "kafka_group.py",
        &["consume", &addr(b), TOPIC, group, &n.to_string()],
    );
    doc["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {doc}"))
        .iter()
        .map(|r| r[2].as_str().expect("a value").to_string())
        .collect()
}

/// The group's committed offsets, summed over the partitions (None if a
/// partition has none).
fn committed_sum(b: &Broker, group: &str) -> Option<i64> {
    let doc = python("kafka_group.py", &["committed", &addr(b), TOPIC, group]);
    doc["committed"]
        .as_object()
        .unwrap_or_else(|| panic!("no committed offsets in {doc}"))
        .values()
        .map(Value::as_i64)
        .sum()
}

fn no_committed(b: &Broker, group: &str) -> bool {
    let doc = python("kafka_group.py", &["committed", &addr(b), TOPIC, group]);
    doc["committed"]
        .as_object()
        .unwrap_or_else(|| panic!("no committed offsets in {doc}"))
        .values()
        .all(Value::is_null)
}

fn start(dir: &Path, tier: &str) -> Broker {
    Broker::start_in(dir, &["--topic", "orders:3", "--tier", tier]).unwrap()
}

/// Every record read exactly once across `parts`.
fn exactly_once(parts: &[&[String]]) {
    let mut seen = HashSet::new();
    for v in parts.iter().flat_map(|p| p.iter()) {
        assert!(seen.insert(v.clone()), "{v} read twice");
    }
    assert_eq!(seen.len(), RECORDS, "every record read");
}

#[test]
fn offsets_committed_before_a_sigterm_and_a_kill9_are_there_after_the_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, tier) = (
        tmp.path().join("data"),
        format!("file://{}/bucket", tmp.path().display()),
    );
    let mut b = start(&dir, &tier);
    produce(&addr(&b), RECORDS);
    let first = consume(&b, "g", 7);
    assert_eq!(first.len(), 7);
    b.terminate().unwrap();

    let mut b = start(&dir, &tier);
    assert_eq!(committed_sum(&b, "g"), Some(7), "after SIGTERM");
    let second = consume(&b, "g", 6);
    assert_eq!(second.len(), 6);
    // Acknowledged, then a crash: no checkpoint since, only the redo log has it.
    b.kill9().unwrap();

    let b = start(&dir, &tier);
    assert_eq!(committed_sum(&b, "g"), Some(13), "after kill -9");
    let rest = consume(&b, "g", 7);
    assert_eq!(rest.len(), 7);
    exactly_once(&[&first, &second, &rest]);
}

#[test]
fn delete_groups_removes_offsets_durably() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, tier) = (
        tmp.path().join("data"),
        format!("file://{}/bucket", tmp.path().display()),
    );
    let mut b = start(&dir, &tier);
    produce(&addr(&b), RECORDS);
    assert_eq!(consume(&b, "g", 5).len(), 5);
    assert_eq!(consume(&b, "keep", 4).len(), 4);
    // ListGroups, DescribeGroups, OffsetFetch, then DeleteGroups of "g".
    let admin = python("kafka_group.py", &["admin", &addr(&b), "g"]);
    assert_eq!(admin["deleted"], Value::Null, "{admin}");
    assert!(no_committed(&b, "g"), "deleted at once");
    b.kill9().unwrap();

    let b = start(&dir, &tier);
    assert!(no_committed(&b, "g"), "still deleted after a restart");
    assert_eq!(committed_sum(&b, "keep"), Some(4), "the other group stays");
    // A new consumer of the deleted group starts from the beginning.
    assert_eq!(consume(&b, "g", RECORDS).len(), RECORDS);
}

#[test]
fn a_broker_rebuilt_from_the_bucket_gets_the_groups_offsets_back() {
    let tmp = tempfile::tempdir().unwrap();
    let tier = format!("file://{}/bucket", tmp.path().display());
    let mut a = start(&tmp.path().join("a"), &tier);
    produce(&addr(&a), RECORDS);
    let first = consume(&a, "g", 8);
    assert_eq!(first.len(), 8);
    // A clean stop uploads what is pending, the offsets included.
    a.terminate().unwrap();

    let b = start(&tmp.path().join("b"), &tier);
    assert_eq!(committed_sum(&b, "g"), Some(8), "restored from the bucket");
    let rest = consume(&b, "g", RECORDS - 8);
    assert_eq!(rest.len(), RECORDS - 8);
    exactly_once(&[&first, &rest]);
}
