//! The Kafka listener with a real librdkafka client: kcat.

mod kafka_common;

use std::collections::HashMap;
use std::io::Write;

use kafka_common::{kcat, require_kcat};
use rpkv_e2e::{Broker, Kv};
use serde_json::Value;

fn addr(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

#[test]
fn metadata_lists_the_broker_and_topics() {
    require_kcat();
    let b = Broker::start(&[
        "--topic",
        "orders:3",
        "--topic",
        "plain:1:redpanda.kvstore=none",
    ])
    .unwrap();
    let a = addr(&b);
    let md: Value = serde_json::from_str(&kcat(&a, &["-L", "-J"], None)).unwrap();
    assert_eq!(md["brokers"][0]["id"], 0);
    assert_eq!(
        md["brokers"][0]["name"],
        a.as_str(),
        "advertises its own address"
    );
    let topics: HashMap<String, usize> = md["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["topic"].as_str().unwrap().to_string(),
                t["partitions"].as_array().unwrap().len(),
            )
        })
        .collect();
    assert_eq!(topics.get("orders"), Some(&3));
    assert_eq!(topics.get("plain"), Some(&1));
    for p in md["topics"][0]["partitions"].as_array().unwrap() {
        assert_eq!(p["leader"], 0);
    }
}

/// `partition|offset|key|value|headers` lines of everything in a topic.
fn consume_all(a: &str, topic: &str) -> Vec<(i32, i64, String, String, String)> {
    let out = kcat(
        a,
        &[
            "-C",
            "-t",
            topic,
            "-e",
            "-o",
            "beginning",
            "-q",
            "-f",
            "%p|%o|%k|%s|%h\n",
        ],
        None,
    );
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '|').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[3].to_string(),
                f[4].to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn produce_with_keys_then_consume_to_the_end_and_read_the_view() {
    require_kcat();
    let b = Broker::start(&["--topic", "kv:3"]).unwrap();
    let a = addr(&b);
    let input: String = (0..30).map(|i| format!("key{i}:value{i}\n")).collect();
    kcat(&a, &["-P", "-t", "kv", "-K:"], Some(&input));
    // Overwrite one key and delete another (kcat -Z sends an empty value as null).
    kcat(
        &a,
        &["-P", "-t", "kv", "-K:", "-Z"],
        Some("key1:changed\nkey2:\n"),
    );

    let records = consume_all(&a, "kv");
    assert_eq!(records.len(), 32, "{records:?}");
    let mut per_partition: HashMap<i32, i64> = HashMap::new();
    let mut latest: HashMap<String, (i32, String)> = HashMap::new();
    for (p, o, k, v, _) in &records {
        // Offsets in a partition are dense and in order.
        let next = per_partition.entry(*p).or_insert(0);
        assert_eq!(*o, *next);
        *next += 1;
        if let Some((prev, _)) = latest.get(k) {
            assert_eq!(prev, p, "a key stays in one partition");
        }
        latest.insert(k.clone(), (*p, v.clone()));
    }
    assert!(per_partition.len() > 1, "keys spread over partitions");

    // The view of the partition kcat chose has every key's latest value.
    let kv = Kv::new(b.url());
    for (k, (p, v)) in &latest {
        let got = kv.get("kv", *p, k.as_bytes()).await.unwrap();
        match k.as_str() {
            "key2" => assert_eq!(got, None, "a null value deletes"),
            "key1" => assert_eq!(got.as_deref(), Some(&b"changed"[..])),
            _ => assert_eq!(got.as_deref(), Some(v.as_bytes()), "{k}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kvstore_writes_are_records_and_compressed_produce_works() {
    require_kcat();
    let b = Broker::start(&["--topic", "kv"]).unwrap();
    let a = addr(&b);
    let kv = Kv::new(b.url());
    assert_eq!(kv.put("kv", 0, b"from-http", b"hello").await.unwrap(), 200);
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        kcat(
            &a,
            &[
                "-P", "-t", "kv", "-p", "0", "-K:", "-z", codec, "-H", "h1=v1",
            ],
            Some(&format!("{codec}:payload-{codec}\n")),
        );
    }
    let records = consume_all(&a, "kv");
    let keys: Vec<&str> = records.iter().map(|r| r.2.as_str()).collect();
    assert_eq!(keys, ["from-http", "gzip", "snappy", "lz4", "zstd"]);
    assert_eq!(records[0].3, "hello");
    assert_eq!(records[1].3, "payload-gzip");
    assert_eq!(records[4].4, "h1=v1", "headers round-trip");
    for codec in ["gzip", "snappy", "lz4", "zstd"] {
        let got = kv.get("kv", 0, codec.as_bytes()).await.unwrap();
        assert_eq!(got, Some(format!("payload-{codec}").into_bytes()));
    }
}

#[test]
fn garbage_frames_do_not_take_the_broker_down() {
    require_kcat();
    let b = Broker::start(&["--topic", "t"]).unwrap();
    let a = addr(&b);
    for junk in [
        &[0xff, 0xff, 0xff, 0xff][..],                          // negative size
        &[0x7f, 0, 0, 0][..],                                   // 2 GiB, over the limit
        &[0, 0, 0, 10, 0, 3, 0, 1, 0, 0, 0, 1, 0xff, 0xff][..], // Metadata v1, bad body
        &[0, 0, 0, 8, 0x12, 0x34, 0, 0, 0, 0, 0, 1][..],        // unknown API key
    ] {
        let mut s = std::net::TcpStream::connect(&a).unwrap();
        let _ = s.write_all(junk);
        drop(s);
    }
    kcat(&a, &["-P", "-t", "t", "-K:"], Some("still:alive\n"));
    let out = kcat(
        &a,
        &[
            "-C",
            "-t",
            "t",
            "-e",
            "-o",
            "beginning",
            "-q",
            "-f",
            "%k=%s\n",
        ],
        None,
    );
    assert_eq!(out, "still=alive\n");
}

#[test]
fn sigterm_with_a_consumer_attached_exits_cleanly() {
    require_kcat();
    let mut b = Broker::start(&["--topic", "t"]).unwrap();
    let a = addr(&b);
    // A consumer waiting at the end of the log (long-polling Fetch).
    let mut consumer = std::process::Command::new("kcat")
        .args(["-b", &a, "-C", "-t", "t", "-o", "end", "-q"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let status = b.terminate().unwrap();
    let _ = consumer.kill();
    let _ = consumer.wait();
    assert!(status.success(), "{status}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
