//! Hostile clients over raw TCP: odd topic names in paths, oversized headers,
//! slowloris, stalled bodies and too many connections, on HTTP and Kafka.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rpkv_e2e::{Broker, Kv};
use serde_json::Value;

/// Sends raw bytes, reads until the server closes or `wait` passes; returns what came back.
fn raw(addr: SocketAddr, request: &[u8], wait: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Status code and body of a raw HTTP/1.1 answer.
fn parse(resp: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(resp).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn request(method: &str, path: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p.display().to_string());
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn odd_topic_names_get_clean_errors_and_touch_no_file() {
    let b = Broker::start(&["--topic", "kv"]).unwrap();
    let kv = Kv::new(b.url());
    assert_eq!(kv.put("kv", 0, b"k", b"v").await.unwrap(), 200);
    let parent = b.data_dir.parent().unwrap().to_path_buf();
    let before = files_under(&parent);
    let long = "a".repeat(300);
    let names = [
        "..%2F..%2Fetc",
        "..",
        "%2e%2e",
        ".",
        "a%2Fb",
        "caf%C3%A9",
        "%FF%FE",
        "%00",
        "kv%00",
        long.as_str(),
        "%E2%80%AE",
    ];
    let mut checked = 0;
    for name in names {
        for (method, path, body) in [
            (
                "POST",
                format!("/kvstore/{name}/partition/0/write"),
                r#"{"puts":[{"key":"aw==","value":"dg=="}]}"#,
            ),
            ("POST", format!("/kvstore/{name}/partition/0/scan"), "{}"),
            (
                "POST",
                format!("/kvstore/{name}/partition/0/batch_get"),
                r#"{"keys":["aw=="]}"#,
            ),
            (
                "POST",
                format!("/topics/{name}"),
                r#"{"records":[{"value":"dg=="}]}"#,
            ),
            (
                "GET",
                format!("/topics/{name}/partitions/0/records?offset=0"),
                "",
            ),
        ] {
            let resp = raw(
                b.http_addr,
                &request(method, &path, body),
                Duration::from_secs(10),
            );
            let (status, text) = parse(&resp);
            assert!(
                (400..500).contains(&status) || status == 503,
                "{method} {path} answered {status}: {text}"
            );
            let json: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: body is not JSON ({e}): {text}"));
            assert_eq!(
                json["error_code"].as_u64(),
                Some(u64::from(status)),
                "{text}"
            );
            checked += 1;
        }
    }
    // The data survived, and nothing appeared next to it.
    assert_eq!(
        kv.get("kv", 0, b"k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(files_under(&parent), before);
    eprintln!("odd topic names: {checked} requests, all clean 4xx/503 with JSON bodies");
}

#[test]
fn oversized_headers_get_431() {
    let b = Broker::start(&[]).unwrap();
    let big = "x".repeat(100 << 10);
    let req = format!("GET /topics HTTP/1.1\r\nhost: x\r\nx-big: {big}\r\n\r\n");
    let (status, _) = parse(&raw(b.http_addr, req.as_bytes(), Duration::from_secs(10)));
    assert_eq!(status, 431);
    // Many small headers are fine up to the limit.
    let (status, _) = parse(&raw(
        b.http_addr,
        &request("GET", "/topics", ""),
        Duration::from_secs(10),
    ));
    assert_eq!(status, 200);
}

#[test]
fn slowloris_and_idle_connections_are_closed() {
    let b = Broker::start(&["--header-read-timeout-ms", "500"]).unwrap();
    // Headers trickled one byte every 100 ms never complete: closed after ~0.5 s.
    let mut s = TcpStream::connect(b.http_addr).unwrap();
    s.write_all(b"GET /topics HTTP/1.1\r\nhost: x\r\n").unwrap();
    let started = Instant::now();
    let closed = loop {
        std::thread::sleep(Duration::from_millis(100));
        if s.write_all(b"x").is_err() {
            break true;
        }
        if started.elapsed() > Duration::from_secs(5) {
            break false;
        }
    };
    assert!(closed, "a slowloris connection was still open after 5 s");
    // A silent connection is closed too.
    let mut s = TcpStream::connect(b.http_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert!(
        n == 0 || buf.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        &buf[..n]
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "idle connection kept {:?}",
        started.elapsed()
    );
    // The broker still answers.
    let (status, _) = parse(&raw(
        b.http_addr,
        &request("GET", "/topics", ""),
        Duration::from_secs(10),
    ));
    assert_eq!(status, 200);
}

#[test]
fn a_stalled_body_gets_408() {
    let b = Broker::start(&["--topic", "kv", "--request-timeout-ms", "500"]).unwrap();
    let mut s = TcpStream::connect(b.http_addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(
        b"POST /kvstore/kv/partition/0/write HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"puts\":",
    )
    .unwrap();
    let started = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        if String::from_utf8_lossy(&out).contains("}") {
            break;
        }
    }
    let (status, body) = parse(&out);
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("\"error_code\":408"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// ApiVersions v0 with correlation id 7.
const API_VERSIONS: [u8; 14] = [0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 7, 0xff, 0xff];

fn kafka_answers(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    if s.write_all(&API_VERSIONS).is_err() {
        return false;
    }
    let mut head = [0u8; 8];
    s.read_exact(&mut head).is_ok() && head[4..8] == [0, 0, 0, 7]
}

#[test]
fn idle_kafka_connections_are_closed() {
    let b = Broker::start(&["--kafka-idle-timeout-ms", "1500"]).unwrap();
    let k = b.kafka_addr.unwrap();
    let mut s = TcpStream::connect(k).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A connection in use stays open across requests spaced under the limit.
    for _ in 0..3 {
        s.write_all(&API_VERSIONS).unwrap();
        let mut head = [0u8; 8];
        s.read_exact(&mut head).unwrap();
        assert_eq!(head[4..8], [0, 0, 0, 7]);
        let size = i32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
        let mut rest = vec![0u8; size - 4];
        s.read_exact(&mut rest).unwrap();
        std::thread::sleep(Duration::from_millis(100));
    }
    // Then silence: the broker closes it.
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "an idle Kafka connection got {:?}", &buf[..n]);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "idle Kafka connection kept {:?}",
        started.elapsed()
    );
    assert!(
        kafka_answers(k),
        "the listener still serves new connections"
    );
}

#[test]
fn connections_over_the_limit_are_refused_on_http_and_kafka() {
    let b = Broker::start(&[
        "--max-connections",
        "4",
        "--header-read-timeout-ms",
        "30000",
    ])
    .unwrap();
    let held: Vec<TcpStream> = (0..4)
        .map(|_| TcpStream::connect(b.http_addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let (status, body) = parse(&raw(
        b.http_addr,
        &request("GET", "/topics", ""),
        Duration::from_secs(10),
    ));
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("--max-connections"), "{body}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    let (status, _) = parse(&raw(
        b.http_addr,
        &request("GET", "/topics", ""),
        Duration::from_secs(10),
    ));
    assert_eq!(status, 200, "a freed slot is usable again");

    let k = b.kafka_addr.unwrap();
    let held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(k).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert!(!kafka_answers(k), "a fifth Kafka connection was served");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert!(kafka_answers(k), "a freed Kafka slot is usable again");
}

#[test]
fn loopback_by_default_and_a_loud_warning_otherwise() {
    // Defaults: both listeners on loopback.
    let help = std::process::Command::new(rpkv_e2e::bin_path("devbroker"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[default: 127.0.0.1:18082]"), "{help}");
    assert!(help.contains("[default: 127.0.0.1:19092]"), "{help}");

    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("stderr")).unwrap();
    let mut child = std::process::Command::new(rpkv_e2e::bin_path("devbroker"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["--http-addr", "0.0.0.0:0", "--kafka-addr", "0.0.0.0:0"])
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while std::io::BufRead::read_line(&mut out, &mut line).unwrap_or(0) > 0 {
        if line.contains("devbroker: ready") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let err = std::fs::read_to_string(dir.path().join("stderr")).unwrap();
    assert!(
        err.contains("HTTP listener is bound to a non-loopback address without authentication"),
        "{err}"
    );
    assert!(
        err.contains("Kafka listener is bound to all interfaces without authentication"),
        "{err}"
    );
}
