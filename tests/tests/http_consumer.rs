//! The HTTP Proxy's consumer API against a real broker with real Kafka
//! clients: records produced with kcat read through an HTTP instance in a
//! group, committed, read back after a restart (over HTTP and by
//! kafka-python); an HTTP instance and a kafka-python consumer sharing a
//! 3-partition topic without overlap; an idle instance expiring; and the
//! README's curl flow, run verbatim.

mod kafka_common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use kafka_common::{GroupMember, kcat, python};
use rpkv_e2e::Broker;
use serde_json::{Value, json};

const V2: &str = "application/vnd.kafka.v2+json";
const BINARY: &str = "application/vnd.kafka.binary.v2+json";

fn kafka(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

/// A consumer instance over HTTP.
struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    fn new(b: &Broker) -> Self {
        Http {
            client: rpkv_e2e::http_client(),
            base: b.url(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            req = req.header("Content-Type", V2).body(b.to_string());
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn create(&self, group: &str, name: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/consumers/{group}"),
                Some(json!({"name": name, "format": "binary", "auto.offset.reset": "earliest"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["instance_id"], json!(name));
    }

    async fn subscribe(&self, group: &str, name: &str, topic: &str) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("/consumers/{group}/instances/{name}/subscription"),
                Some(json!({ "topics": [topic] })),
            )
            .await;
        assert_eq!(status, 204, "{body}");
    }

    /// Fetches until `n` records came.
    async fn fetch_n(&self, group: &str, name: &str, n: usize) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while got.len() < n {
            assert!(Instant::now() < deadline, "got {got:?}, wanted {n}");
            let resp = self
                .client
                .get(format!(
                    "{}/consumers/{group}/instances/{name}/records?timeout=1000",
                    self.base
                ))
                .header("Accept", BINARY)
                .send()
                .await
                .expect("fetch");
            assert_eq!(resp.status().as_u16(), 200);
            let records: Vec<Value> = resp.json().await.expect("records");
            got.extend(records);
        }
        got
    }

    async fn assignment(&self, group: &str, name: &str) -> Option<BTreeSet<i64>> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/consumers/{group}/instances/{name}/assignments"),
                None,
            )
            .await;
        (status == 200).then(|| {
            body["partitions"]
                .as_array()
                .expect("partitions")
                .iter()
                .filter_map(|p| p["partition"].as_i64())
                .collect()
        })
    }

    async fn committed(&self, group: &str, name: &str, topic: &str, parts: &[i32]) -> Vec<i64> {
        let partitions: Vec<Value> = parts
            .iter()
            .map(|p| json!({"topic": topic, "partition": p}))
            .collect();
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                &format!("/consumers/{group}/instances/{name}/offsets"),
                Some(json!({ "partitions": partitions })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["offsets"]
            .as_array()
            .expect("offsets")
            .iter()
            .map(|o| o["offset"].as_i64().expect("offset"))
            .collect()
    }
}

#[tokio::test]
async fn kcat_records_consumed_over_http_commit_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut b = Broker::start_in(&data, &["--topic", "orders:3:redpanda.kvstore=none"]).unwrap();
    for p in 0..3 {
        let lines: String = (0..4).map(|i| format!("k{p}{i}:v{p}{i}\n")).collect();
        kcat(
            &kafka(&b),
            &["-P", "-t", "orders", "-p", &p.to_string(), "-K:"],
            Some(&lines),
        );
    }
    let http = Http::new(&b);
    http.create("shop", "c1").await;
    http.subscribe("shop", "c1", "orders").await;
    let got = http.fetch_n("shop", "c1", 12).await;
    let seen: BTreeSet<(i64, i64)> = got
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 12, "every record once: {got:?}");
    assert_eq!(
        rpkv_e2e::unb64(got[0]["value"].as_str().unwrap())[0],
        b'v',
        "{got:?}"
    );
    // Commit everything fetched.
    let (status, _) = http
        .call(
            reqwest::Method::POST,
            "/consumers/shop/instances/c1/offsets",
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        http.committed("shop", "c1", "orders", &[0, 1, 2]).await,
        [4, 4, 4]
    );
    // An explicit commit of one partition.
    let (status, body) = http
        .call(
            reqwest::Method::POST,
            "/consumers/shop/instances/c1/offsets",
            Some(json!({"offsets": [{"topic": "orders", "partition": 1, "offset": 2}]})),
        )
        .await;
    assert_eq!(status, 204, "{body}");

    // After a restart: the offsets are back, over HTTP and for Kafka clients.
    assert!(b.terminate().unwrap().success());
    drop(b);
    let b = Broker::start_in(&data, &[]).unwrap();
    let http = Http::new(&b);
    http.create("shop", "c2").await;
    assert_eq!(
        http.committed("shop", "c2", "orders", &[0, 1, 2]).await,
        [4, 2, 4]
    );
    let py = python(
        "kafka_group.py",
        &["committed", &kafka(&b), "orders", "shop"],
    );
    assert_eq!(py["committed"], json!({"0": 4, "1": 2, "2": 4}), "{py}");
    // A new member resumes from them: only partition 1's last two records.
    http.subscribe("shop", "c2", "orders").await;
    let got = http.fetch_n("shop", "c2", 2).await;
    let seen: Vec<(i64, i64)> = got
        .iter()
        .map(|r| {
            (
                r["partition"].as_i64().unwrap(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(seen, [(1, 2), (1, 3)]);
}

/// Waits until the HTTP instance `web` of `group` and kafka-python split the
/// topic's 3 partitions, each holding some, and the split held.
async fn assert_split(http: &Http, py: &mut GroupMember, group: &str) {
    // Then the partitions are split: each holds some, none holds one twice.
    // kafka-python reports its assignment up to a poll (100 ms) late, so a
    // view is judged once both sides kept it for a second: a partition held
    // by both for that long is an overlap; a passing moment of a rebalance,
    // seen late on one side, is not.
    let all: BTreeSet<i64> = (0..3).collect();
    let mut stable = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while stable < 3 {
        assert!(
            Instant::now() < deadline,
            "no stable split: kafka-python {:?}",
            py.assignment
        );
        py.update();
        let h = http
            .assignment(group, "web")
            .await
            .expect("instance exists");
        let p = py.assignment.clone();
        tokio::time::sleep(Duration::from_secs(1)).await;
        py.update();
        let h_after = http
            .assignment(group, "web")
            .await
            .expect("instance exists");
        if h != h_after || p != py.assignment {
            stable = 0;
            continue;
        }
        let overlap: Vec<_> = h.intersection(&p).collect();
        assert!(
            overlap.is_empty(),
            "partition {overlap:?} held by both for a second: http {h:?}, kafka-python {p:?}"
        );
        let union: BTreeSet<i64> = h.union(&p).copied().collect();
        if !h.is_empty() && !p.is_empty() && union == all {
            stable += 1;
        } else {
            stable = 0;
        }
    }
}

#[tokio::test]
async fn an_http_instance_and_a_kafka_python_consumer_split_a_topic_without_overlap() {
    let b = Broker::start(&["--topic", "orders:3:redpanda.kvstore=none"]).unwrap();
    let http = Http::new(&b);
    let mut py = GroupMember::start(&kafka(&b), "orders", "mixed", 6000);
    // kafka-python alone first gets all three (it leads the group).
    wait_for_all(&mut py).await;
    http.create("mixed", "web").await;
    http.subscribe("mixed", "web", "orders").await;
    assert_split(&http, &mut py, "mixed").await;
    // Deleting the instance hands everything back to kafka-python.
    let (status, _) = http
        .call(
            reqwest::Method::DELETE,
            "/consumers/mixed/instances/web",
            None,
        )
        .await;
    assert_eq!(status, 204);
    wait_for_all(&mut py).await;
}

/// The HTTP instance joins first, so it leads: the broker assigns for the
/// group with the range rules and kafka-python reads that assignment.
#[tokio::test]
async fn an_http_instance_leading_the_group_assigns_for_kafka_python_too() {
    let b = Broker::start(&["--topic", "orders:3:redpanda.kvstore=none"]).unwrap();
    let http = Http::new(&b);
    http.create("led", "web").await;
    http.subscribe("led", "web", "orders").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.assignment("led", "web").await.map(|a| a.len()) != Some(3) {
        assert!(
            Instant::now() < deadline,
            "the instance never got the topic"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut py = GroupMember::start(&kafka(&b), "orders", "led", 6000);
    assert_split(&http, &mut py, "led").await;
    // Range: the first member id in order takes two partitions, the other one.
    let h = http.assignment("led", "web").await.unwrap();
    py.update();
    let mut sizes = [h.len(), py.assignment.len()];
    sizes.sort();
    assert_eq!(
        sizes,
        [1, 2],
        "http {h:?}, kafka-python {:?}",
        py.assignment
    );
}

async fn wait_for_all(py: &mut GroupMember) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while py.assignment.len() != 3 {
        assert!(
            Instant::now() < deadline,
            "kafka-python never held the whole topic"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        py.update();
    }
}

#[tokio::test]
async fn an_idle_instance_expires_after_the_consumer_timeout() {
    let b = Broker::start(&["--topic", "orders:3", "--http-consumer-timeout-ms", "1500"]).unwrap();
    let http = Http::new(&b);
    http.create("idle", "c").await;
    http.subscribe("idle", "c", "orders").await;
    // Used, it lives past the timeout.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        assert!(http.assignment("idle", "c").await.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    // Idle, it is gone within the timeout (and a heartbeat).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = http
        .call(
            reqwest::Method::GET,
            "/consumers/idle/instances/c/assignments",
            None,
        )
        .await;
    assert_eq!(
        (status, body["error_code"].clone()),
        (404, json!(40403)),
        "{body}"
    );
    // It left the group too: kafka-python sees no members.
    let py = python("kafka_group.py", &["admin", &kafka(&b), "idle"]);
    assert_eq!(py["members"], json!(0), "{py}");
}

/// The README's "Use it as your application's Kafka" block runs as written.
#[tokio::test]
async fn readme_consumer_flow_works_verbatim() {
    let b = Broker::start(&["--topic", "events"]).unwrap();
    let block = rpkv_e2e::readme_bash_block("### Use it as your application's Kafka");
    let script = block
        .replace("http://localhost:18082", &b.url())
        .replace("127.0.0.1:19092", &kafka(&b));
    let stdout = rpkv_e2e::run_bash(&script);
    // Every `# => ...` line of the block is what the command above printed.
    let expected: Vec<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# => "))
        .map(|l| l.replace("http://localhost:18082", &b.url()))
        .collect();
    assert!(expected.len() >= 4, "{block}");
    let printed: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(printed, expected, "README block output:\n{stdout}");
}

/// Records trimmed from the local log but kept in the tier are read by an
/// instance from the bucket: `earliest` starts at offset 0, not at the
/// local log start, and every offset comes once.
#[tokio::test]
async fn an_instance_reads_tiered_records_below_the_local_log_start() {
    let topic = "tiered:1:redpanda.kvstore=none,segment.bytes=65536,segment.ms=1000,retention.local.target.bytes=100000";
    let b = Broker::start(&["--topic", topic, "--retention-check-ms", "100"]).unwrap();
    let lines: String = (0..3000)
        .map(|i| format!("k{i}:{}\n", "v".repeat(100)))
        .collect();
    kcat(&kafka(&b), &["-P", "-t", "tiered", "-K:"], Some(&lines));
    let client = rpkv_e2e::http_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the local log was never trimmed");
        let status: Value = client
            .get(format!("{}/status/tier", b.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let start = status["partitions"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["topic"] == "tiered"))
            .and_then(|p| p["local_log_start"].as_u64())
            .unwrap_or(0);
        if start > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let http = Http::new(&b);
    http.create("tg", "c").await;
    http.subscribe("tg", "c", "tiered").await;
    let got = http.fetch_n("tg", "c", 3000).await;
    let offsets: Vec<i64> = got.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, (0..3000).collect::<Vec<i64>>());
}
