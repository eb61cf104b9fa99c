//! The Kafka listener with kafka-python: admin, idempotent producer, consumer
//! with manual assignment.

mod kafka_common;

use std::collections::HashMap;

use kafka_common::{http_topics, python, require_kafka_python};
use rpkv_e2e::{Broker, Kv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn admin_creates_describes_alters_and_deletes_topics() {
    require_kafka_python();
    let b = Broker::start(&[]).unwrap();
    let a = b.kafka_addr.unwrap().to_string();
    let r = python(
        "kafka_admin.py",
        &[
            &a,
            "create",
            "sessions",
            "2",
            "redpanda.kvstore=cloud",
            "retention.ms=3600000",
        ],
    );
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        http_topics(&b.url())
            .await
            .contains(&"sessions".to_string())
    );
    // It takes kvstore requests.
    let kv = Kv::new(b.url());
    assert_eq!(kv.put("sessions", 1, b"user", b"alice").await.unwrap(), 200);

    let d = python("kafka_admin.py", &[&a, "describe", "sessions"]);
    assert_eq!(d["error_code"], 0);
    // TOPIC_CONFIG = 1, DEFAULT_CONFIG = 5.
    assert_eq!(
        d["configs"]["redpanda.kvstore"],
        json!({"value": "cloud", "source": 1})
    );
    assert_eq!(
        d["configs"]["retention.ms"],
        json!({"value": "3600000", "source": 1})
    );
    assert_eq!(
        d["configs"]["max.message.bytes"],
        json!({"value": "1048576", "source": 5})
    );
    assert_eq!(
        d["configs"]["cleanup.policy"],
        json!({"value": "delete", "source": 5})
    );

    let r = python(
        "kafka_admin.py",
        &[&a, "alter", "sessions", "retention.ms=60000"],
    );
    assert_eq!(r["ok"], true, "{r}");
    let d = python("kafka_admin.py", &[&a, "describe", "sessions"]);
    assert_eq!(
        d["configs"]["retention.ms"],
        json!({"value": "60000", "source": 1})
    );
    assert_eq!(d["configs"]["redpanda.kvstore"]["value"], "cloud", "kept");
    let r = python(
        "kafka_admin.py",
        &[&a, "alter", "sessions", "redpanda.kvstore=none"],
    );
    assert_eq!(r["ok"], false, "kvstore is fixed at creation: {r}");

    let r = python("kafka_admin.py", &[&a, "create", "sessions", "1"]);
    assert_eq!(r["error"], "TopicAlreadyExistsError", "{r}");
    let r = python("kafka_admin.py", &[&a, "create", "bad", "1", "nope=1"]);
    assert_eq!(r["error"], "InvalidConfigurationError", "{r}");

    let r = python("kafka_admin.py", &[&a, "delete", "sessions"]);
    assert_eq!(r["ok"], true, "{r}");
    assert!(
        !http_topics(&b.url())
            .await
            .contains(&"sessions".to_string())
    );
    let gone = kv
        .call(
            "sessions",
            1,
            "batch_get",
            &json!({"keys": [rpkv_e2e::b64("user")]}),
        )
        .await
        .unwrap();
    assert_eq!(gone.status, 503, "deleted topic's view is gone");
    let d = python("kafka_admin.py", &[&a, "describe", "sessions"]);
    assert_eq!(d["error_code"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn idempotent_producer_and_manual_assignment_consumer() {
    require_kafka_python();
    let b = Broker::start(&["--topic", "orders:3"]).unwrap();
    let a = b.kafka_addr.unwrap().to_string();
    let pairs: Vec<String> = (0..40).map(|i| format!("order-{i}=v{i}")).collect();
    let mut args: Vec<&str> = vec![&a, "orders"];
    args.extend(pairs.iter().map(String::as_str));
    let produced = python("kafka_produce.py", &args);
    assert_eq!(produced["idempotent"], true);
    assert!(
        produced["producer_id"].as_i64().unwrap_or(-1) >= 0,
        "kafka-python got a producer id (InitProducerId): {produced}"
    );
    let records = produced["records"].as_array().unwrap();
    assert_eq!(records.len(), 40);
    let mut chosen: HashMap<String, i32> = HashMap::new();
    for r in records {
        let p = r["partition"].as_i64().unwrap() as i32;
        chosen.insert(r["key"].as_str().unwrap().to_string(), p);
    }
    let partitions: std::collections::HashSet<i32> = chosen.values().copied().collect();
    assert_eq!(
        partitions.len(),
        3,
        "murmur2 spreads 40 keys over 3 partitions"
    );

    // The view on the partition the client chose has each key.
    let kv = Kv::new(b.url());
    for (k, p) in &chosen {
        let v = kv.get("orders", *p, k.as_bytes()).await.unwrap();
        let want = format!("v{}", k.trim_start_matches("order-"));
        assert_eq!(v, Some(want.into_bytes()), "{k} on partition {p}");
    }

    let consumed = python("kafka_consume.py", &[&a, "orders", "3"]);
    let got = consumed["records"].as_array().unwrap();
    assert_eq!(got.len(), 40, "{consumed}");
    for r in got {
        let k = r["key"].as_str().unwrap();
        assert_eq!(
            Some(&(r["partition"].as_i64().unwrap() as i32)),
            chosen.get(k)
        );
        assert_eq!(r["value"], format!("v{}", k.trim_start_matches("order-")));
    }
    // kafka-python's partitioner is Kafka's murmur2: the HTTP Proxy (which uses
    // murmur2 when no partition is given) picks the same partition for each key.
    let http = rpkv_e2e::http_client();
    for (k, p) in chosen.iter().take(10) {
        let body = json!({"records": [{"key": rpkv_e2e::b64(k), "value": rpkv_e2e::b64("x")}]});
        let resp: serde_json::Value = http
            .post(format!("{}/topics/orders", b.url()))
            .header("Content-Type", "application/vnd.kafka.binary.v2+json")
            .body(body.to_string())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(resp["offsets"][0]["partition"], *p, "{k}: {resp}");
    }
    // Offsets reported by the producer match what the consumer read.
    for r in records {
        let hit = got.iter().any(|c| {
            c["key"] == r["key"] && c["offset"] == r["offset"] && c["partition"] == r["partition"]
        });
        assert!(hit, "{r} not consumed at its offset");
    }
}
