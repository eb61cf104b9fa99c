//! `rpkv kv` against the real dev broker with explicit partitions (no Kafka needed):
//! text and JSON output, preconditions and exit codes, byte formats, paging,
//! export/import, errors.

use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::{Broker, Kv, sha256_hex};
use serde_json::json;

fn broker() -> (Broker, Rpkv) {
    let b = Broker::start(&["--topic", "kv:3", "--topic", "copy:3"]).unwrap();
    let r = Rpkv::new(&b);
    (b, r)
}

#[test]
fn put_get_scan_delete_in_text_and_json() {
    let (_b, r) = broker();
    let out = r.run(&["kv", "put", "kv", "foo", "bar", "-p", "0"]).ok();
    assert_eq!(
        out.stdout,
        "OPERATION  TOPIC  PARTITION  KEYS  SUCCESS\nput        kv     0          1     true\n"
    );
    let out = r
        .run(&[
            "kv", "put", "kv", "hello", "world", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!({"operation": "put", "topic": "kv", "partition": 0, "key_count": 1, "success": true})
    );

    let out = r
        .run(&["kv", "get", "kv", "foo", "missing", "-p", "0"])
        .ok();
    assert_eq!(
        out.stdout,
        "KEY      VALUE        PARTITION\nfoo      bar          0\nmissing  (not found)  0\n"
    );
    let out = r
        .run(&[
            "kv", "get", "kv", "foo", "missing", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!([
            {"key": "foo", "value": "bar", "found": true, "partition": 0},
            {"key": "missing", "value": null, "found": false, "partition": 0}
        ])
    );

    let out = r.run(&["kv", "scan", "kv", "-p", "0"]).ok();
    assert_eq!(
        out.stdout,
        "KEY    VALUE  PARTITION\nfoo    bar    0\nhello  world  0\n"
    );
    let out = r
        .run(&[
            "kv",
            "scan",
            "kv",
            "-p",
            "0",
            "--format",
            "json",
            "--start-key",
            "g",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!([{"key": "hello", "value": "world", "partition": 0}])
    );
    let out = r
        .run(&[
            "kv",
            "scan",
            "kv",
            "-p",
            "0",
            "--format",
            "json",
            "--end-key",
            "g",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!([{"key": "foo", "value": "bar", "partition": 0}])
    );

    let out = r
        .run(&[
            "kv", "delete", "kv", "foo", "hello", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!([{"operation": "delete", "topic": "kv", "partition": 0, "key_count": 2, "success": true}])
    );
    let out = r.run(&["kv", "delete", "kv", "x", "-p", "1"]).ok();
    assert!(
        out.stdout
            .starts_with("OPERATION  TOPIC  PARTITION  KEYS  SUCCESS\ndelete"),
        "{out:?}"
    );
    let out = r
        .run(&["kv", "scan", "kv", "-p", "0", "--format", "json"])
        .ok();
    assert_eq!(out.json(), json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn preconditions_exit_3_and_apply_nothing() {
    let (b, r) = broker();
    let kv = Kv::new(b.url());
    r.run(&["kv", "put", "kv", "counter", "10", "-p", "1"]).ok();

    // ifExists=false on an existing key.
    let line = r
        .run(&[
            "kv",
            "put",
            "kv",
            "counter",
            "0",
            "-p",
            "1",
            "--if-exists",
            "false",
        ])
        .fails(3);
    assert!(line.contains("topic \"kv\" partition 1"), "{line}");
    assert!(line.contains("409"), "{line}");
    // ifExists=true on a missing key.
    r.run(&[
        "kv",
        "put",
        "kv",
        "nokey",
        "v",
        "-p",
        "1",
        "--if-exists",
        "true",
    ])
    .fails(3);
    r.run(&[
        "kv",
        "delete",
        "kv",
        "nokey",
        "-p",
        "1",
        "--if-exists",
        "true",
    ])
    .fails(3);
    // ifMatches with a stale hash.
    let stale = sha256_hex("9");
    r.run(&[
        "kv",
        "put",
        "kv",
        "counter",
        "11",
        "-p",
        "1",
        "--if-matches",
        &stale,
    ])
    .fails(3);
    assert_eq!(kv.get("kv", 1, b"counter").await.unwrap().unwrap(), b"10");
    assert_eq!(kv.get("kv", 1, b"nokey").await.unwrap(), None);

    // The hash of the current value (from `kv hash`) wins.
    let hash = r.run(&["kv", "hash", "10"]).ok().stdout.trim().to_owned();
    assert_eq!(
        hash,
        "4a44dc15364204a80fe80e9039455cc1608281820fe2b24f1e5233ade6af1dd5"
    );
    r.run(&[
        "kv",
        "put",
        "kv",
        "counter",
        "11",
        "-p",
        "1",
        "--if-matches",
        &hash,
    ])
    .ok();
    assert_eq!(kv.get("kv", 1, b"counter").await.unwrap().unwrap(), b"11");
    r.run(&[
        "kv",
        "put",
        "kv",
        "fresh",
        "v",
        "-p",
        "1",
        "--if-exists",
        "false",
    ])
    .ok();
    r.run(&[
        "kv",
        "delete",
        "kv",
        "fresh",
        "-p",
        "1",
        "--if-matches",
        &sha256_hex("v"),
    ])
    .ok();

    // A malformed hash is a usage error, before any request.
    let out = r.run(&[
        "kv",
        "put",
        "kv",
        "counter",
        "12",
        "-p",
        "1",
        "--if-matches",
        "abc",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("64 hex digits"), "{out:?}");
    let out = r.run(&["kv", "put", "kv", "counter", "12", "--if-exists", "maybe"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hex_and_base64_formats() {
    let (b, r) = broker();
    let kv = Kv::new(b.url());
    r.run(&[
        "kv",
        "put",
        "kv",
        "00ff",
        "c3a9",
        "-p",
        "2",
        "--key-format",
        "hex",
        "--value-format",
        "hex",
    ])
    .ok();
    assert_eq!(
        kv.get("kv", 2, &[0x00, 0xff]).await.unwrap().unwrap(),
        "é".as_bytes()
    );
    let out = r
        .run(&[
            "kv",
            "get",
            "kv",
            "AP8=",
            "-p",
            "2",
            "--key-format",
            "base64",
            "--value-format",
            "base64",
            "--format",
            "json",
        ])
        .ok();
    assert_eq!(
        out.json(),
        json!([{"key": "AP8=", "value": "w6k=", "found": true, "partition": 2}])
    );
    let out = r
        .run(&["kv", "scan", "kv", "-p", "2", "--key-format", "hex"])
        .ok();
    assert_eq!(out.stdout, "KEY   VALUE  PARTITION\n00ff  é      2\n");
    let hash = r
        .run(&["kv", "hash", "w6k=", "--value-format", "base64"])
        .ok();
    assert_eq!(hash.stdout.trim(), sha256_hex("é"));
    let out = r.run(&["kv", "get", "kv", "zz", "-p", "2", "--key-format", "hex"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("not hex"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_pages_past_1000_entries() {
    let (b, r) = broker();
    let kv = Kv::new(b.url());
    let puts: Vec<_> = (0..2300)
        .map(|i| json!({"key": rpkv_e2e::b64(format!("k{i:05}")), "value": rpkv_e2e::b64("v")}))
        .collect();
    for chunk in puts.chunks(1000) {
        let reply = kv
            .call("kv", 0, "write", &json!({"puts": chunk}))
            .await
            .unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
    }
    let out = r
        .run(&[
            "kv", "scan", "kv", "-p", "0", "--limit", "2100", "--format", "json",
        ])
        .ok();
    let entries = out.json();
    let entries = entries.as_array().unwrap();
    assert_eq!(entries.len(), 2100);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["key"], format!("k{i:05}"));
    }
    // The default limit is the kvstore's 500.
    let out = r
        .run(&["kv", "scan", "kv", "-p", "0", "--format", "json"])
        .ok();
    assert_eq!(out.json().as_array().unwrap().len(), 500);
    let out = r.run(&["kv", "scan", "kv", "-p", "0", "--limit", "0"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn export_then_import_gives_an_identical_scan() {
    let (b, r) = broker();
    let kv = Kv::new(b.url());
    for p in 0..3 {
        for i in 0..40u8 {
            let key = format!("p{p}-key{i:03}");
            let value: Vec<u8> = if i % 3 == 0 {
                vec![0xff, i, 0x00]
            } else {
                format!("value {i}\n\"q\"").into_bytes()
            };
            assert_eq!(kv.put("kv", p, key.as_bytes(), &value).await.unwrap(), 200);
        }
    }
    let mut lines = String::new();
    for p in 0..3 {
        let p = p.to_string();
        lines.push_str(&r.run(&["kv", "export", "kv", "-p", &p]).ok().stdout);
    }
    assert_eq!(lines.lines().count(), 120);
    assert!(lines.contains("\"value_encoding\":\"base64\""), "{lines}");
    let first: serde_json::Value = serde_json::from_str(lines.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        first,
        json!({"key": "p0-key001", "value": "value 1\n\"q\"", "partition": 0})
    );

    let out = r
        .run_stdin(
            &[
                "kv",
                "import",
                "copy",
                "--keep-partitions",
                "--batch-bytes",
                "300",
                "--format",
                "json",
            ],
            Some(lines.as_bytes()),
        )
        .ok();
    let summary = out.json();
    assert_eq!(summary["key_count"], 120);
    assert!(summary["batches"].as_u64().unwrap() > 3, "{summary}");
    for p in 0..3 {
        assert_eq!(
            kv.scan_all("kv", p).await.unwrap(),
            kv.scan_all("copy", p).await.unwrap(),
            "partition {p}"
        );
    }
    let bad = r.run_stdin(&["kv", "import", "copy", "-p", "0"], Some(b"{not json}\n"));
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.stderr.contains("line 1"), "{bad:?}");
}

#[test]
fn errors_are_one_line_naming_topic_partition_and_cause() {
    let (_b, r) = broker();
    let line = r.run(&["kv", "get", "nosuch", "foo", "-p", "0"]).fails(1);
    assert!(line.contains("topic \"nosuch\" partition 0"), "{line}");
    assert!(line.contains("HTTP 503"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
    let line = r.run(&["kv", "scan", "kv", "-p", "7"]).fails(1);
    assert!(line.contains("partition 7"), "{line}");

    let dead = Rpkv::with_urls("http://127.0.0.1:1", "127.0.0.1:1");
    let line = dead.run(&["kv", "get", "kv", "foo", "-p", "0"]).fails(1);
    assert!(line.contains("connection refused"), "{line}");
    assert!(line.contains("http://127.0.0.1:1/"), "{line}");
    let line = dead.run(&["topic", "list"]).fails(1);
    assert!(line.contains("127.0.0.1:1"), "{line}");
    assert!(line.contains("connection refused"), "{line}");
}

#[test]
fn profiles_round_trip_and_read_only_refuses_writes() {
    let (b, r) = broker();
    let url = b.url();
    r.run(&[
        "profile",
        "create",
        "local",
        "--http-url",
        &url,
        "--user",
        "alice",
    ])
    .ok();
    let r = r.env("RPKV_PASSWORD", "s3cret");
    r.run(&["profile", "create", "ro", "--http-url", &url, "--read-only"])
        .ok();
    r.run(&[
        "profile",
        "create",
        "saved",
        "--user",
        "bob",
        "--save-password",
    ])
    .ok();
    let text = std::fs::read_to_string(r.config_file()).unwrap();
    assert_eq!(text.matches("password").count(), 1, "{text}");
    assert!(text.contains("current = \"local\""), "{text}");

    let out = r.run(&["profile", "list", "--format", "json"]).ok();
    let list = out.json();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["name"], "local");
    assert_eq!(list[0]["current"], true);
    assert_eq!(list[1]["read_only"], true);
    assert_eq!(list[2]["password_saved"], true);
    let out = r.run(&["profile", "list"]).ok();
    assert!(
        out.stdout.starts_with("NAME   CURRENT  HTTP-URL"),
        "{out:?}"
    );

    // A read-only profile reads but refuses writes, naming the profile.
    let ro = r.env("RPKV_HTTP_URL", "");
    let mut cmd_args = vec!["--profile", "ro", "kv", "put", "kv", "k", "v", "-p", "0"];
    let line = ro.run(&cmd_args).fails(1);
    assert!(line.contains("read-only"), "{line}");
    assert!(line.contains("\"ro\""), "{line}");
    cmd_args = vec!["--profile", "ro", "kv", "scan", "kv", "-p", "0"];
    ro.run(&cmd_args).ok();
    ro.run(&["profile", "use", "ro"]).ok();
    ro.run(&["kv", "delete", "kv", "k", "-p", "0"]).fails(1);
    ro.run(&["profile", "delete", "ro"]).ok();
    ro.run(&["profile", "use", "ro"]).fails(1);
    ro.run(&["--profile", "nope", "kv", "scan", "kv", "-p", "0"])
        .fails(1);
}

#[test]
fn completions_help_and_no_subcommand() {
    let r = Rpkv::with_urls("http://127.0.0.1:1", "127.0.0.1:1");
    for shell in ["bash", "zsh", "fish"] {
        let out = r.run(&["completions", shell]).ok();
        assert!(out.stdout.contains("rpkv"), "{shell}");
        assert!(out.stdout.contains("scan"), "{shell}");
    }
    for cmd in [
        vec!["kv", "get", "--help"],
        vec!["kv", "put", "--help"],
        vec!["kv", "scan", "--help"],
        vec!["kv", "export", "--help"],
        vec!["kv", "import", "--help"],
        vec!["topic", "produce", "--help"],
        vec!["topic", "consume", "--help"],
        vec!["profile", "create", "--help"],
        vec!["dev", "--help"],
    ] {
        let out = r.run(&cmd).ok();
        assert!(out.stdout.contains("Examples:"), "{cmd:?}: {out:?}");
    }
    let out = r.run(&[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("Usage:"), "{out:?}");
    assert_eq!(r.run(&["kv", "frobnicate"]).code, 2);
}
