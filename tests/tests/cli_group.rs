//! `rpkv group` against the dev broker with real consumers: kafka-python
//! group members and committers, kcat producing. Lag is checked against
//! offsets the test computes itself; seeks against what kafka-python's
//! OffsetFetch returns and where a consumer resumes.

mod kafka_common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use kafka_common::{GroupMember, kcat, python};
use rpkv_e2e::Broker;
use rpkv_e2e::cli::Rpkv;
use serde_json::Value;

fn start() -> (Broker, Rpkv, String) {
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let addr = b.kafka_addr.expect("kafka listener announced").to_string();
    let r = Rpkv::new(&b);
    (b, r, addr)
}

/// Produces `n` records to one partition with kcat.
fn produce(addr: &str, partition: i32, n: usize, tag: &str) {
    let input: String = (0..n).map(|i| format!("{tag}{i}\n")).collect();
    kcat(
        addr,
        &["-P", "-t", "orders", "-p", &partition.to_string()],
        Some(&input),
    );
}

/// kafka-python joins `group`, reads `count` records from the committed
/// offsets (else the start), commits and leaves; returns `(partition, offset)`.
fn consume(addr: &str, group: &str, count: usize) -> Vec<(i64, i64)> {
    let doc = python(
        "kafka_group.py",
        &["consume", addr, "orders", group, &count.to_string()],
    );
    doc["records"]
        .as_array()
        .unwrap_or_else(|| panic!("no records in {doc}"))
        .iter()
        .map(|r| (r[0].as_i64().unwrap(), r[1].as_i64().unwrap()))
        .collect()
}

/// What kafka-python's OffsetFetch says the group committed, by partition.
fn committed(addr: &str, group: &str) -> BTreeMap<i64, Option<i64>> {
    let doc = python("kafka_group.py", &["committed", addr, "orders", group]);
    doc["committed"]
        .as_object()
        .unwrap_or_else(|| panic!("no committed in {doc}"))
        .iter()
        .map(|(p, o)| (p.parse().unwrap(), o.as_i64()))
        .collect()
}

fn describe(r: &Rpkv, group: &str) -> Value {
    let doc = r
        .run(&["group", "describe", group, "--format", "json"])
        .ok()
        .json();
    assert_eq!(doc.as_array().map(Vec::len), Some(1), "{doc}");
    doc[0].clone()
}

/// `(partition, row)` of a described group's rows of `orders`.
fn rows(d: &Value) -> BTreeMap<i64, Value> {
    d["partitions"]
        .as_array()
        .unwrap_or_else(|| panic!("no partitions in {d}"))
        .iter()
        .filter(|p| p["topic"] == "orders")
        .map(|p| (p["partition"].as_i64().unwrap(), p.clone()))
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Describes the group until `ok` holds (30 s at most).
fn wait_for(r: &Rpkv, group: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let d = describe(r, group);
        if ok(&d) {
            return d;
        }
        assert!(Instant::now() < deadline, "never {what}: {d}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn describe_shows_offsets_lag_and_members_and_changes_are_refused_while_members_are_in() {
    let (_b, r, addr) = start();
    let produced = [5i64, 3, 0];
    for (p, n) in produced.iter().enumerate() {
        produce(&addr, p as i32, *n as usize, "v");
    }
    // kafka-python reads 4 records and commits its positions.
    assert_eq!(consume(&addr, "g", 4).len(), 4);
    let commits = committed(&addr, "g");

    let list = r.run(&["group", "list", "--format", "json"]).ok().json();
    assert_eq!(list[0]["name"], "g", "{list}");
    assert_eq!(list[0]["state"], "Empty", "{list}");
    assert_eq!(list[0]["protocol_type"], "consumer", "{list}");
    let text = r.run(&["group", "list"]).ok().stdout;
    assert!(
        text.starts_with("BROKER  GROUP  STATE  PROTOCOL-TYPE\n0       g      Empty  consumer"),
        "{text}"
    );

    let d = describe(&r, "g");
    assert_eq!(d["state"], "Empty");
    assert_eq!(d["members"].as_array().map(Vec::len), Some(0));
    let by_p = rows(&d);
    let mut total = 0;
    for (p, log_end) in produced.iter().enumerate() {
        let row = &by_p[&(p as i64)];
        let current = commits[&(p as i64)].expect("kafka-python committed every partition");
        assert_eq!(row["current_offset"], current, "{row}");
        assert_eq!(row["log_start_offset"], 0, "{row}");
        assert_eq!(row["log_end_offset"], *log_end, "{row}");
        assert_eq!(row["lag"], log_end - current, "{row}");
        assert!(row["member_id"].is_null(), "{row}");
        total += log_end - current;
    }
    assert_eq!(total, 8 - 4);
    assert_eq!(d["total_lag"], total);

    // A member joins: every partition is owned by it.
    let _m = GroupMember::start(&addr, "orders", "g", 6000);
    let d = wait_for(&r, "g", "Stable with one member owning 3 partitions", |d| {
        d["state"] == "Stable"
            && d["members"].as_array().map(Vec::len) == Some(1)
            && rows(d)
                .values()
                .filter(|p| p["member_id"].is_string())
                .count()
                == 3
    });
    let member = &d["members"][0];
    assert_eq!(member["client_id"], "kafka-group-test");
    assert_eq!(member["host"], "/127.0.0.1");
    assert_eq!(member["assignment"][0]["topic"], "orders");
    assert_eq!(
        member["assignment"][0]["partitions"],
        serde_json::json!([0, 1, 2])
    );
    for row in rows(&d).values() {
        assert_eq!(row["member_id"], member["member_id"], "{row}");
        assert_eq!(row["client_id"], "kafka-group-test", "{row}");
        assert_eq!(row["host"], "/127.0.0.1", "{row}");
    }
    let text = r.run(&["group", "describe", "g"]).ok().stdout;
    for line in [
        "GROUP        g\n",
        "STATE        Stable\n",
        "BALANCER     range\n",
        "MEMBERS      1\n",
        "TOTAL-LAG    4\n",
        "TOPIC   PARTITION  CURRENT-OFFSET  LOG-START-OFFSET  LOG-END-OFFSET  LAG  MEMBER-ID",
    ] {
        assert!(text.contains(line), "{line:?} not in\n{text}");
    }

    // Kafka takes no offsets from outside while members are in: exit 3.
    let line = r.run(&["group", "seek", "g", "--to", "start"]).fails(3);
    assert!(
        line.contains("1 active member: stop its consumers first"),
        "{line}"
    );
    assert_eq!(
        committed(&addr, "g"),
        commits,
        "a refused seek changed offsets"
    );
    let line = r.run(&["group", "delete", "g"]).fails(1);
    assert!(line.contains("active members"), "{line}");
    let line = r
        .run(&["group", "offset-delete", "g", "--topic", "orders"])
        .fails(1);
    assert!(
        line.contains("members of group \"g\" are subscribed to topic \"orders\""),
        "{line}"
    );
    assert_eq!(committed(&addr, "g"), commits);
}

#[test]
fn seek_to_timestamp_start_end_and_file_moves_where_consumers_resume() {
    let (_b, r, addr) = start();
    produce(&addr, 0, 3, "old");
    std::thread::sleep(Duration::from_millis(1100));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(50));
    produce(&addr, 0, 2, "new");
    produce(&addr, 1, 4, "new");
    // Records of partition 1 are all newer than `between` too.
    assert_eq!(consume(&addr, "g", 9).len(), 9);
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(5)), (1, Some(4)), (2, Some(0))])
    );

    // To a timestamp: the first record at or after it.
    let out = r
        .run(&[
            "group",
            "seek",
            "g",
            "--to",
            &between.to_string(),
            "--format",
            "json",
        ])
        .ok()
        .json();
    let moved: Vec<(i64, i64, i64)> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert!(o["error"].is_null(), "{o}");
            (
                o["partition"].as_i64().unwrap(),
                o["prior_offset"].as_i64().unwrap(),
                o["current_offset"].as_i64().unwrap(),
            )
        })
        .collect();
    // Partition 2 has no record after `between`: it goes to its end (0).
    assert_eq!(moved, vec![(0, 5, 3), (1, 4, 0), (2, 0, 0)]);
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(3)), (1, Some(0)), (2, Some(0))])
    );
    let mut resumed = consume(&addr, "g", 6);
    resumed.sort_unstable();
    assert_eq!(
        resumed,
        vec![(0, 3), (0, 4), (1, 0), (1, 1), (1, 2), (1, 3)]
    );

    // To the start, only partition 0's topic named.
    let text = r
        .run(&["group", "seek", "g", "--to", "start", "--topics", "orders"])
        .ok()
        .stdout;
    assert!(
        text.starts_with("TOPIC   PARTITION  PRIOR-OFFSET  CURRENT-OFFSET  ERROR\norders  0          5             0\n"),
        "{text}"
    );
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(0)), (1, Some(0)), (2, Some(0))])
    );
    let first = consume(&addr, "g", 1);
    assert!(first == vec![(0, 0)] || first == vec![(1, 0)], "{first:?}");

    // To the end: nothing left to read, lag 0.
    r.run(&["group", "seek", "g", "--to", "end"]).ok();
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(5)), (1, Some(4)), (2, Some(0))])
    );
    assert_eq!(describe(&r, "g")["total_lag"], 0);

    // From a file of `topic partition offset` lines, as rpk reads them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("offsets.txt");
    std::fs::write(&file, "orders 0 1\n\norders 1 3\n").unwrap();
    r.run(&["group", "seek", "g", "--to-file", file.to_str().unwrap()])
        .ok();
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(1)), (1, Some(3)), (2, Some(0))])
    );
    let d = describe(&r, "g");
    assert_eq!(d["total_lag"], (5 - 1) + (4 - 3));
    let mut resumed = consume(&addr, "g", 5);
    resumed.sort_unstable();
    assert_eq!(resumed, vec![(0, 1), (0, 2), (0, 3), (0, 4), (1, 3)]);
    // `--to FILE` reads the same format.
    std::fs::write(&file, "orders 1 2\n").unwrap();
    r.run(&["group", "seek", "g", "--to", file.to_str().unwrap()])
        .ok();
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, Some(5)), (1, Some(2)), (2, Some(0))])
    );

    std::fs::write(&file, "orders zero 1\n").unwrap();
    let line = r
        .run(&["group", "seek", "g", "--to-file", file.to_str().unwrap()])
        .fails(1);
    assert!(
        line.contains("line 1") && line.contains("topic partition offset"),
        "{line}"
    );
    let line = r.run(&["group", "seek", "g", "--to", "yesterday"]).fails(1);
    assert!(
        line.contains("expected start, end, or a Unix timestamp"),
        "{line}"
    );
}

#[test]
fn offset_delete_delete_and_unknown_groups() {
    let (_b, r, addr) = start();
    produce(&addr, 0, 2, "v");
    produce(&addr, 1, 2, "v");
    assert_eq!(consume(&addr, "g", 4).len(), 4);
    assert_eq!(consume(&addr, "other", 4).len(), 4);

    let out = r
        .run(&[
            "group",
            "offset-delete",
            "g",
            "--topic",
            "orders:0,2",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(
        out,
        serde_json::json!([
            {"topic": "orders", "partition": 0, "status": "OK"},
            {"topic": "orders", "partition": 2, "status": "OK"}
        ])
    );
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, None), (1, Some(2)), (2, None)])
    );
    let by_p = rows(&describe(&r, "g"));
    assert_eq!(by_p.keys().copied().collect::<Vec<_>>(), vec![1]);

    let out = r
        .run(&["group", "delete", "g", "--format", "json"])
        .ok()
        .json();
    assert_eq!(out, serde_json::json!([{"group": "g", "status": "OK"}]));
    let list = r.run(&["group", "list", "--format", "json"]).ok().json();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert_eq!(names, vec!["other"]);
    assert_eq!(
        committed(&addr, "g"),
        BTreeMap::from([(0, None), (1, None), (2, None)])
    );
    // Another group's offsets are untouched.
    assert_eq!(
        committed(&addr, "other"),
        BTreeMap::from([(0, Some(2)), (1, Some(2)), (2, Some(0))])
    );

    // Unknown groups: one-line errors, exit 1.
    let line = r.run(&["group", "describe", "g"]).fails(1);
    assert!(line.contains("group \"g\" not found"), "{line}");
    let run = r.run(&["group", "describe", "other", "nope", "--format", "json"]);
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.json()[0]["name"], "other");
    assert!(run.stderr.contains("group \"nope\" not found"), "{run:?}");
    let line = r.run(&["group", "delete", "nope"]).fails(1);
    assert!(line.contains("group \"nope\" not found"), "{line}");
    let line = r.run(&["group", "seek", "nope", "--to", "start"]).fails(1);
    assert!(line.contains("group \"nope\" not found"), "{line}");
}
