//! rpkv commands that use the Kafka listener: topic admin, produce/consume,
//! `-p -1` (Kafka's partitioner, with parity against kafka-python), `kv scan -p -1`
//! merged across partitions, export/import of a whole topic.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use rpkv_e2e::cli::{Rpkv, run_command};
use rpkv_e2e::{Broker, Kv};
use serde_json::{Value, json};

fn kafka_broker(args: &[&str]) -> (Broker, Rpkv) {
    let b = Broker::start(args).unwrap();
    assert!(
        b.kafka_addr.is_some(),
        "the dev broker announced no Kafka listener (needs the Kafka listener, issue #3)"
    );
    let r = Rpkv::new(&b);
    (b, r)
}

fn python(args: &[&str]) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("python/rpkv_partitioner.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).args(args);
    let run = run_command(cmd, None, std::time::Duration::from_secs(60));
    assert_eq!(
        run.code, 0,
        "python3 failed (is kafka-python installed? run tests/install-deps.sh): {run:?}"
    );
    serde_json::from_str(&run.stdout).unwrap()
}

#[test]
fn topic_create_list_describe_delete_in_text_and_json() {
    let (_b, r) = kafka_broker(&[]);
    let out = r
        .run(&[
            "topic",
            "create",
            "orders",
            "-p",
            "3",
            "-c",
            "redpanda.kvstore=cloud",
            "-c",
            "retention.ms=3600000",
        ])
        .ok();
    assert_eq!(out.stdout, "TOPIC   STATUS\norders  OK\n");
    let out = r
        .run(&["topic", "create", "plain", "--format", "json"])
        .ok();
    assert_eq!(out.json(), json!([{"topic": "plain", "status": "OK"}]));
    let line = r.run(&["topic", "create", "orders"]).fails(1);
    assert!(
        line.contains("orders") && line.contains("already exists"),
        "{line}"
    );

    let out = r.run(&["topic", "list"]).ok();
    assert_eq!(
        out.stdout,
        "NAME    PARTITIONS  REPLICAS  KVSTORE\norders  3           1         true\nplain   1           1         false\n"
    );
    let out = r.run(&["topic", "list", "--format", "json"]).ok();
    assert_eq!(
        out.json(),
        json!([
            {"name": "orders", "partitions": 3, "replicas": 1, "kvstore": true},
            {"name": "plain", "partitions": 1, "replicas": 1, "kvstore": false}
        ])
    );

    r.run(&["kv", "put", "orders", "o1", "x", "-p", "2"]).ok();
    let out = r
        .run(&["topic", "describe", "orders", "--format", "json"])
        .ok();
    let d = out.json();
    assert_eq!(d["name"], "orders");
    assert_eq!(d["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(d["partitions"][2]["high_watermark"], 1);
    assert_eq!(d["partitions"][0]["high_watermark"], 0);
    let configs: BTreeMap<String, Value> = d["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["key"].as_str().unwrap().to_owned(), c.clone()))
        .collect();
    assert_eq!(configs["redpanda.kvstore"]["value"], "cloud");
    assert_eq!(
        configs["redpanda.kvstore"]["source"],
        "DYNAMIC_TOPIC_CONFIG"
    );
    assert_eq!(configs["retention.ms"]["value"], "3600000");
    let out = r.run(&["topic", "describe", "orders"]).ok();
    assert!(
        out.stdout
            .starts_with("SUMMARY\n=======\nNAME    PARTITIONS  REPLICAS\norders  3           1\n"),
        "{out:?}"
    );
    assert!(out.stdout.contains("redpanda.kvstore"), "{out:?}");
    assert!(
        out.stdout
            .contains("PARTITION  LEADER  REPLICAS  LOG-START-OFFSET  HIGH-WATERMARK\n"),
        "{out:?}"
    );

    let out = r
        .run(&["topic", "delete", "orders", "--format", "json"])
        .ok();
    assert_eq!(out.json(), json!([{"topic": "orders", "status": "OK"}]));
    let line = r.run(&["topic", "delete", "orders"]).fails(1);
    assert!(line.contains("unknown topic \"orders\""), "{line}");
    let line = r.run(&["topic", "describe", "orders"]).fails(1);
    assert!(line.contains("unknown topic \"orders\""), "{line}");
    let out = r.run(&["topic", "list", "--format", "json"]).ok();
    assert_eq!(
        out.json(),
        json!([{"name": "plain", "partitions": 1, "replicas": 1, "kvstore": false}])
    );
}

#[test]
fn default_partitioner_matches_kafka_python() {
    let (b, r) = kafka_broker(&["--topic", "parity:7"]);
    let keys: Vec<String> = (0..60)
        .map(|i| format!("user:{i}"))
        .chain(["foo".into(), "".into(), "héllo".into()])
        .collect();
    let keys: Vec<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.is_empty())
        .collect();
    let kafka = b.kafka_addr.unwrap().to_string();

    // kafka-python's producer puts records; the kvstore view then has them where
    // rpkv's -p -1 looks.
    let mut args = vec!["produce", kafka.as_str(), "parity"];
    args.extend(&keys);
    let placed = python(&args);
    let mut get = vec!["kv", "get", "parity", "--format", "json"];
    get.extend(&keys);
    let out = r.run(&get).ok();
    let results = out.json();
    let mut partitions_used = std::collections::BTreeSet::new();
    for (i, k) in keys.iter().enumerate() {
        let res = &results[i];
        assert_eq!(res["key"], *k);
        assert_eq!(res["found"], true, "{k}: {res}");
        assert_eq!(res["value"], format!("value-of-{k}"));
        assert_eq!(res["partition"], placed[k], "{k}");
        partitions_used.insert(res["partition"].as_i64().unwrap());
    }
    assert!(
        partitions_used.len() >= 5,
        "keys spread over partitions: {partitions_used:?}"
    );

    // And rpkv's own puts land where kafka-python's DefaultPartitioner says.
    let mut compute = vec!["compute", "7"];
    let new_keys = ["alpha", "beta", "gamma", "delta", "21", "foobar"];
    compute.extend(new_keys);
    let expected = python(&compute);
    for k in new_keys {
        let out = r
            .run(&["kv", "put", "parity", k, "v", "--format", "json"])
            .ok();
        assert_eq!(out.json()["partition"], expected[k], "{k}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_all_partitions_merges_by_key_and_pages() {
    let (b, r) = kafka_broker(&["--topic", "wide:4"]);
    let mut lines = String::new();
    for i in 0..2600 {
        lines.push_str(&format!(
            "{{\"key\":\"k{i:05}\",\"value\":\"v{i}\",\"partition\":0}}\n"
        ));
    }
    let out = r
        .run_stdin(
            &["kv", "import", "wide", "--format", "json"],
            Some(lines.as_bytes()),
        )
        .ok();
    assert_eq!(out.json()["key_count"], 2600);
    // Each partition got some keys (the partitioner, not the recorded partition 0).
    let kv = Kv::new(b.url());
    let mut total = 0;
    for p in 0..4 {
        let n = kv.scan_all("wide", p).await.unwrap().len();
        assert!(n > 300, "partition {p} has {n} keys");
        total += n;
    }
    assert_eq!(total, 2600);

    let out = r
        .run(&["kv", "scan", "wide", "--limit", "2200", "--format", "json"])
        .ok();
    let entries = out.json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2200);
    let mut compute = vec!["compute".to_owned(), "4".to_owned()];
    compute.extend(
        entries
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_owned()),
    );
    let compute: Vec<&str> = compute.iter().map(String::as_str).collect();
    let expected = python(&compute);
    for (i, e) in entries.iter().enumerate() {
        let key = format!("k{i:05}");
        assert_eq!(e["key"], key.as_str());
        assert_eq!(e["value"], format!("v{i}"));
        assert_eq!(e["partition"], expected[&key], "{key}");
    }
    let out = r
        .run(&[
            "kv",
            "scan",
            "wide",
            "--start-key",
            "k01000",
            "--end-key",
            "k01003",
        ])
        .ok();
    assert_eq!(out.stdout.lines().count(), 4, "{out:?}");
    assert!(
        out.stdout
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("k01000  v1000  "),
        "{out:?}"
    );
    let out = r.run(&["kv", "scan", "wide", "--format", "json"]).ok();
    assert_eq!(out.json().as_array().unwrap().len(), 500);
}

#[test]
fn produce_and_consume_with_formats() {
    let (_b, r) = kafka_broker(&[]);
    r.run(&[
        "topic",
        "create",
        "example-topic",
        "-c",
        "redpanda.kvstore=cloud",
    ])
    .ok();
    let out = r
        .run_stdin(
            &["topic", "produce", "example-topic", "-f", "%k %v\\n"],
            Some(b"foo bar\nhello world\nfoo qux\n"),
        )
        .ok();
    assert_eq!(
        out.stdout,
        "Produced to partition 0 at offset 0.\nProduced to partition 0 at offset 1.\nProduced to partition 0 at offset 2.\n"
    );
    let out = r
        .run(&[
            "topic",
            "consume",
            "example-topic",
            "-n",
            "3",
            "-f",
            "%k %v\\n",
        ])
        .ok();
    assert_eq!(out.stdout, "foo bar\nhello world\nfoo qux\n");
    let out = r
        .run(&["topic", "consume", "example-topic", "-o", "1", "-n", "1"])
        .ok();
    let rec = out.json();
    assert_eq!(rec["key"], "hello");
    assert_eq!(rec["value"], "world");
    assert_eq!(rec["offset"], 1);
    assert_eq!(rec["partition"], 0);
    assert_eq!(rec["topic"], "example-topic");
    // The kvstore view follows the log: last write wins.
    let out = r
        .run(&["kv", "get", "example-topic", "foo", "--format", "json"])
        .ok();
    assert_eq!(
        out.json(),
        json!([{"key": "foo", "value": "qux", "found": true, "partition": 0}])
    );

    // A fixed key, JSON acks, and consuming from the end sees only new records.
    let out = r
        .run_stdin(
            &[
                "topic",
                "produce",
                "example-topic",
                "-k",
                "k",
                "--output",
                "json",
            ],
            Some(b"one\ntwo\n"),
        )
        .ok();
    assert_eq!(
        out.json(),
        json!([{"partition": 0, "offset": 3}, {"partition": 0, "offset": 4}])
    );
    let out = r
        .run(&[
            "topic",
            "consume",
            "example-topic",
            "-o",
            "start",
            "-n",
            "5",
            "-f",
            "%o:%k=%v (%K/%V)\\n",
        ])
        .ok();
    assert_eq!(
        out.stdout,
        "0:foo=bar (3/3)\n1:hello=world (5/5)\n2:foo=qux (3/3)\n3:k=one (1/3)\n4:k=two (1/3)\n"
    );
    let mut follower = r.command(&[
        "topic",
        "consume",
        "example-topic",
        "-o",
        "end",
        "-n",
        "1",
        "-f",
        "%v\\n",
    ]);
    follower.stdout(std::process::Stdio::piped());
    let child = follower.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    r.run_stdin(&["topic", "produce", "example-topic"], Some(b"late\n"))
        .ok();
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(String::from_utf8_lossy(&done.stdout), "late\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_a_whole_topic() {
    let (b, r) = kafka_broker(&["--topic", "src:3", "--topic", "dst:3"]);
    for i in 0..31 {
        let v = if i % 7 == 0 {
            "ff00".to_owned()
        } else {
            hex::encode(format!("v{i}"))
        };
        r.run(&[
            "kv",
            "put",
            "src",
            &format!("key{i}"),
            &v,
            "--value-format",
            "hex",
        ])
        .ok();
    }
    let exported = r.run(&["kv", "export", "src"]).ok().stdout;
    assert_eq!(exported.lines().count(), 31);
    r.run_stdin(&["kv", "import", "dst"], Some(exported.as_bytes()))
        .ok();
    let a = r
        .run(&[
            "kv",
            "scan",
            "src",
            "--format",
            "json",
            "--value-format",
            "base64",
        ])
        .ok();
    let c = r
        .run(&[
            "kv",
            "scan",
            "dst",
            "--format",
            "json",
            "--value-format",
            "base64",
        ])
        .ok();
    assert_eq!(a.json(), c.json());
    let kv = Kv::new(b.url());
    for p in 0..3 {
        assert_eq!(
            kv.scan_all("src", p).await.unwrap(),
            kv.scan_all("dst", p).await.unwrap()
        );
    }
}

#[test]
fn partitioner_errors_name_the_topic() {
    let (_b, r) = kafka_broker(&[]);
    let line = r.run(&["kv", "get", "nosuch", "foo"]).fails(1);
    assert!(line.contains("unknown topic \"nosuch\""), "{line}");
    let line = r.run(&["kv", "scan", "nosuch"]).fails(1);
    assert!(line.contains("nosuch"), "{line}");
}

#[test]
fn produce_streams_records_as_stdin_delivers_them() {
    use std::io::Write;
    let (_b, r) = kafka_broker(&["--topic", "stream:2"]);
    let mut cmd = r.command(&["topic", "produce", "stream", "-f", "%k %v\\n"]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"first 1\n").unwrap();
    stdin.flush().unwrap();
    // The record is there while stdin is still open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = r
            .run(&["kv", "get", "stream", "first", "--format", "json"])
            .ok();
        if out.json()[0]["found"] == true {
            assert_eq!(out.json()[0]["value"], "1");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "record not produced before EOF"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    stdin.write_all(b"second 2").unwrap();
    drop(stdin);
    let done = child.wait_with_output().unwrap();
    assert!(done.status.success(), "{done:?}");
    assert_eq!(String::from_utf8_lossy(&done.stdout).lines().count(), 2);
    let out = r
        .run(&["kv", "get", "stream", "second", "--format", "json"])
        .ok();
    assert_eq!(out.json()[0]["value"], "2");
}
