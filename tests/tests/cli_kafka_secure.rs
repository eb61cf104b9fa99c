//! rpkv's Kafka client over SASL_SSL: every rpkv command that touches Kafka
//! (topic list/create/describe/delete, produce/consume, kv routing by
//! partition count, scans merged across partitions, partition, export and
//! import, the group commands, `kv watch`) against a dev broker whose Kafka
//! listener requires TLS and SASL
//! (`--tls-cert`/`--tls-key` from the test PKI, `--basic-auth`), with
//! SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN, by flags, environment, rpk's
//! `-X` options and a profile; and the refusals: wrong password, missing credentials, an
//! unknown CA, plaintext to a TLS listener.

use rpkv_e2e::Broker;
use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::pki::Pki;
use serde_json::{Value, json};

const USER: &str = "alice";
const PASSWORD: &str = "al1ce-pw";

/// A broker whose Kafka listener requires SASL_SSL (and HTTPS with basic
/// auth on the HTTP side), with the kvstore topic `kv3` of 3 partitions.
fn sasl_ssl_broker(pki: &Pki) -> Broker {
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    Broker::start(&[
        "--basic-auth",
        &format!("{USER}:{PASSWORD}"),
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--topic",
        "kv3:3",
    ])
    .unwrap()
}

fn https(b: &Broker) -> String {
    format!("https://{}", b.http_addr)
}

fn kafka(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

/// `args` after the connection flags `flags`.
fn with<'a>(flags: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    flags.iter().chain(args).copied().collect()
}

/// The topic names `topic list --format json` shows.
fn topic_names(out: &Value) -> Vec<String> {
    out.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_kafka_command_works_over_sasl_ssl_with_scram_sha_256_flags() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    let ca = pki.path("ca.pem");
    let r = Rpkv::with_urls(&https(&b), &kafka(&b));
    let f = [
        "--tls-ca",
        &ca,
        "--kafka-tls",
        "--sasl-mechanism",
        "SCRAM-SHA-256",
        "--user",
        USER,
        "--password",
        PASSWORD,
    ];
    let run = |args: &[&str]| r.run(&with(&f, args)).ok();
    let run_stdin =
        |args: &[&str], stdin: &str| r.run_stdin(&with(&f, args), Some(stdin.as_bytes())).ok();

    // topic create (CreateTopics), list (Metadata + DescribeConfigs), describe
    // (Metadata, ListOffsets, DescribeConfigs).
    let out = run(&[
        "topic",
        "create",
        "orders",
        "-p",
        "4",
        "-c",
        "redpanda.kvstore=cloud",
        "--format",
        "json",
    ]);
    assert_eq!(out.json(), json!([{"topic": "orders", "status": "OK"}]));
    run(&["topic", "create", "plain", "-p", "2"]);
    let out = run(&["topic", "list", "--format", "json"]);
    assert_eq!(
        out.json(),
        json!([
            {"name": "kv3", "partitions": 3, "replicas": 1, "kvstore": true},
            {"name": "orders", "partitions": 4, "replicas": 1, "kvstore": true},
            {"name": "plain", "partitions": 2, "replicas": 1, "kvstore": false}
        ])
    );

    // kv put/get with -p -1 route keys by the partition count from Metadata.
    for i in 0..12 {
        run(&[
            "kv",
            "put",
            "orders",
            &format!("key{i:02}"),
            &format!("v{i}"),
        ]);
    }
    let out = run(&["kv", "get", "orders", "key03", "key07", "--format", "json"]);
    let got = out.json();
    assert_eq!(got[0]["value"], "v3", "{got}");
    assert_eq!(got[1]["value"], "v7", "{got}");
    assert_eq!(got[0]["found"], true);
    // Where each partitioner puts a key, and where it lives.
    let out = run(&["kv", "partition", "orders", "key03", "--format", "json"]);
    let lives = out.json()[0]["lives_in"].clone();
    assert_eq!(lives, json!([got[0]["partition"]]), "{}", out.stdout);

    // kv scan -p -1 merges all 4 partitions by key.
    let out = run(&["kv", "scan", "orders", "--format", "json"]);
    let keys: Vec<String> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect();
    let want: Vec<String> = (0..12).map(|i| format!("key{i:02}")).collect();
    assert_eq!(keys, want);
    let parts: std::collections::BTreeSet<i64> = out
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["partition"].as_i64().unwrap())
        .collect();
    assert!(parts.len() > 1, "keys spread over partitions: {parts:?}");

    // kv delete routes too.
    run(&["kv", "delete", "orders", "key00"]);
    let out = run(&["kv", "get", "orders", "key00", "--format", "json"]);
    assert_eq!(out.json()[0]["found"], false);

    // describe: 4 partitions with offsets (ListOffsets), the kvstore config.
    let out = run(&["topic", "describe", "orders", "--format", "json"]);
    let d = out.json();
    let partitions = d["partitions"].as_array().unwrap();
    assert_eq!(partitions.len(), 4);
    let written: i64 = partitions
        .iter()
        .map(|p| p["high_watermark"].as_i64().unwrap())
        .sum();
    assert_eq!(written, 13, "12 puts and a delete: {d}");
    assert!(
        d["configs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "redpanda.kvstore" && c["value"] == "cloud"),
        "{d}"
    );

    // export the whole topic, import it into kv3 (both route by partition count).
    let exported = run(&["kv", "export", "orders"]).stdout;
    assert_eq!(exported.lines().count(), 11);
    run_stdin(&["kv", "import", "kv3"], &exported);
    let out = run(&["kv", "scan", "kv3", "--format", "json"]);
    assert_eq!(out.json().as_array().unwrap().len(), 11);

    // produce and consume (HTTP Proxy, partitions from Kafka).
    let out = run_stdin(
        &["topic", "produce", "plain", "-p", "1", "-f", "%k %v\\n"],
        "a 1\nb 2\n",
    );
    assert!(out.stdout.contains("partition 1 at offset 1"), "{out:?}");
    let out = run(&[
        "topic", "consume", "plain", "-p", "1", "-n", "2", "-f", "%k=%v\\n",
    ]);
    assert_eq!(out.stdout, "a=1\nb=2\n");

    // topic delete (DeleteTopics).
    run(&["topic", "delete", "plain"]);
    let out = run(&["topic", "list", "--format", "json"]);
    assert_eq!(topic_names(&out.json()), ["kv3", "orders"]);
}

#[test]
fn plain_and_scram_sha_512_from_the_environment() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    for (i, mechanism) in ["PLAIN", "SCRAM-SHA-512", "scram-sha-512"]
        .iter()
        .enumerate()
    {
        let r = Rpkv::with_urls(&https(&b), &kafka(&b))
            .env("RPKV_TLS_CA", &pki.path("ca.pem"))
            .env("RPKV_KAFKA_TLS", "true")
            .env("RPKV_SASL_MECHANISM", mechanism)
            .env("RPKV_USER", USER)
            .env("RPKV_PASSWORD", PASSWORD);
        let topic = format!("t{i}-{}", mechanism.to_lowercase());
        r.run(&["topic", "create", &topic, "-p", "2"]).ok();
        let out = r.run(&["topic", "list", "--format", "json"]).ok();
        assert!(
            topic_names(&out.json()).contains(&topic),
            "{mechanism}: {out:?}"
        );
    }
}

#[test]
fn rpk_style_x_options() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    let ca = format!("tls.ca={}", pki.path("ca.pem"));
    let pass = format!("pass={PASSWORD}");
    let r = Rpkv::with_urls(&https(&b), &kafka(&b));
    let x = [
        "-X",
        "tls.enabled=true",
        "-X",
        &ca,
        "-X",
        "sasl.mechanism=SCRAM-SHA-256",
        "-X",
        "user=alice",
        "-X",
        &pass,
    ];
    r.run(&with(&x, &["topic", "create", "via-x", "-p", "2"]))
        .ok();
    let out = r
        .run(&with(&x, &["topic", "list", "--format", "json"]))
        .ok();
    assert_eq!(topic_names(&out.json()), ["kv3", "via-x"]);
    // A flag given as well wins over -X.
    let line = r
        .run(&with(&x, &["--password", "nope", "topic", "list"]))
        .fails(1);
    assert!(line.contains("authentication failed"), "{line}");
}

#[test]
fn a_profile_holds_kafka_tls_and_the_sasl_mechanism() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    // Empty URLs from the environment count as unset, so the profile decides.
    let r = Rpkv::with_urls("", "").env("RPKV_PASSWORD", PASSWORD);
    let out = r
        .run(&[
            "profile",
            "create",
            "cloud",
            "--http-url",
            &https(&b),
            "--brokers",
            &kafka(&b),
            "--tls-ca",
            &pki.path("ca.pem"),
            "--kafka-tls",
            "--sasl-mechanism",
            "SCRAM-SHA-256",
            "--user",
            USER,
            "--use",
        ])
        .ok();
    assert!(out.stdout.contains("created profile \"cloud\""), "{out:?}");
    let text = std::fs::read_to_string(r.config_file()).unwrap();
    assert!(text.contains("kafka_tls = true"), "{text}");
    assert!(
        text.contains("sasl_mechanism = \"SCRAM-SHA-256\""),
        "{text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    let out = r.run(&["profile", "list", "--format", "json"]).ok();
    let p = &out.json()[0];
    assert_eq!(p["kafka_security"], "SASL_SSL", "{p}");
    assert_eq!(p["sasl_mechanism"], "SCRAM-SHA-256", "{p}");
    let out = r.run(&["profile", "list"]).ok();
    assert!(out.stdout.contains("SASL_SSL SCRAM-SHA-256"), "{out:?}");

    r.run(&[
        "topic",
        "create",
        "via-profile",
        "-p",
        "3",
        "-c",
        "redpanda.kvstore=cloud",
    ])
    .ok();
    r.run(&["kv", "put", "via-profile", "k", "v"]).ok();
    let out = r
        .run(&["kv", "get", "via-profile", "k", "--format", "json"])
        .ok();
    assert_eq!(out.json()[0]["value"], "v");
    let out = r.run(&["topic", "list", "--format", "json"]).ok();
    assert!(topic_names(&out.json()).contains(&"via-profile".to_owned()));

    // --kafka-tls=false overrides the profile: plaintext to a TLS listener.
    let line = r.run(&["--kafka-tls=false", "topic", "list"]).fails(1);
    assert!(line.contains("pass --kafka-tls"), "{line}");
}

#[test]
fn wrong_or_missing_credentials_are_refused_and_create_nothing() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    let ca = pki.path("ca.pem");
    let addr = kafka(&b);
    let r = Rpkv::with_urls(&https(&b), &addr);
    let tls = ["--tls-ca", &ca, "--kafka-tls"];
    let good = with(
        &tls,
        &[
            "--sasl-mechanism",
            "SCRAM-SHA-256",
            "--user",
            USER,
            "--password",
            PASSWORD,
        ],
    );

    for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
        let wrong = with(
            &tls,
            &[
                "--sasl-mechanism",
                mechanism,
                "--user",
                USER,
                "--password",
                "nope",
            ],
        );
        let line = r
            .run(&with(&wrong, &["topic", "create", "wrong-pw"]))
            .fails(1);
        assert!(
            line.contains(&format!("Kafka broker {addr}: authentication failed")),
            "{line}"
        );
        assert!(
            line.contains(mechanism) && line.contains("\"alice\""),
            "{line}"
        );
        assert!(line.contains("check --user and --password"), "{line}");
        assert!(!line.contains("nope"), "the password is not shown: {line}");
    }
    // An unknown user reads the same.
    let line = r
        .run(&with(
            &tls,
            &[
                "--sasl-mechanism",
                "SCRAM-SHA-256",
                "--user",
                "mallory",
                "--password",
                PASSWORD,
                "topic",
                "list",
            ],
        ))
        .fails(1);
    assert!(line.contains("authentication failed"), "{line}");

    // A mechanism without a password.
    let line = r
        .run(&with(
            &tls,
            &[
                "--sasl-mechanism",
                "SCRAM-SHA-256",
                "--user",
                USER,
                "topic",
                "create",
                "no-pw",
            ],
        ))
        .fails(1);
    assert!(
        line.contains(&format!("Kafka broker {addr}: authentication failed"))
            && line.contains("needs a user and a password"),
        "{line}"
    );
    // No SASL at all: the broker closes the connection; rpkv says what to pass.
    let line = r.run(&with(&tls, &["topic", "create", "no-sasl"])).fails(1);
    assert!(line.contains("pass --sasl-mechanism"), "{line}");
    // A mechanism name rpkv does not know is a usage error.
    let run = r.run(&with(
        &tls,
        &["--sasl-mechanism", "GSSAPI", "topic", "list"],
    ));
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("unknown SASL mechanism"), "{run:?}");

    // Nothing was created.
    let out = r
        .run(&with(&good, &["topic", "list", "--format", "json"]))
        .ok();
    assert_eq!(topic_names(&out.json()), ["kv3"]);
}

#[test]
fn tls_failures_say_what_to_do() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    let r = Rpkv::with_urls(&https(&b), &kafka(&b));
    let sasl = [
        "--sasl-mechanism",
        "SCRAM-SHA-256",
        "--user",
        USER,
        "--password",
        PASSWORD,
    ];
    // No --tls-ca: the test CA is not among the system's.
    let line = r
        .run(&with(&sasl, &["--kafka-tls", "topic", "list"]))
        .fails(1);
    assert!(
        line.contains(&format!("Kafka broker {}", kafka(&b)))
            && line.contains("not signed by a trusted CA; pass its CA with --tls-ca FILE"),
        "{line}"
    );
    // Another CA than the broker's (with the same name, so rustls finds the
    // issuer and says its signature does not match).
    let other = Pki::new();
    let other_ca = other.path("ca.pem");
    let line = r
        .run(&with(
            &sasl,
            &["--kafka-tls", "--tls-ca", &other_ca, "topic", "create", "x"],
        ))
        .fails(1);
    assert!(
        line.contains("certificate was rejected") && line.contains("the --tls-ca file"),
        "{line}"
    );
    // Plaintext to the TLS listener.
    let line = r.run(&with(&sasl, &["topic", "list"])).fails(1);
    assert!(line.contains("pass --kafka-tls"), "{line}");
    // A client certificate without its key.
    let line = r
        .run(&with(
            &sasl,
            &[
                "--tls-ca",
                &pki.path("ca.pem"),
                "--tls-cert",
                &pki.path("server.pem"),
                "topic",
                "list",
            ],
        ))
        .fails(1);
    assert!(line.contains("pass --tls-key FILE"), "{line}");
}

#[test]
fn kafka_tls_without_sasl_is_ssl() {
    // A listener with TLS and no users: security protocol SSL.
    let pki = Pki::new();
    let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
    let b = Broker::start(&["--tls-cert", &cert, "--tls-key", &key, "--topic", "t:2"]).unwrap();
    let r = Rpkv::with_urls(&https(&b), &kafka(&b));
    let ca = pki.path("ca.pem");
    let out = r
        .run(&[
            "--tls-ca",
            &ca,
            "--kafka-tls",
            "topic",
            "list",
            "--format",
            "json",
        ])
        .ok();
    assert_eq!(topic_names(&out.json()), ["t"]);
    // Asking for SASL where the listener has none says so.
    let line = r
        .run(&[
            "--tls-ca",
            &ca,
            "--kafka-tls",
            "--sasl-mechanism",
            "PLAIN",
            "--user",
            USER,
            "--password",
            PASSWORD,
            "topic",
            "list",
        ])
        .fails(1);
    assert!(
        line.contains("does not use SASL; drop --sasl-mechanism"),
        "{line}"
    );
}

/// The group commands (FindCoordinator, then the coordinator by `kafka_at`)
/// and `kv watch` (Fetch long polls per leader) over SASL_SSL.
#[test]
fn group_commands_and_kv_watch_work_over_sasl_ssl() {
    let pki = Pki::new();
    let b = sasl_ssl_broker(&pki);
    let ca = pki.path("ca.pem");
    let r = Rpkv::with_urls(&https(&b), &kafka(&b));
    let f = [
        "--tls-ca",
        &ca,
        "--kafka-tls",
        "--sasl-mechanism",
        "SCRAM-SHA-512",
        "--user",
        USER,
        "--password",
        PASSWORD,
    ];
    let run = |args: &[&str]| r.run(&with(&f, args)).ok();
    for i in 0..9 {
        run(&["kv", "put", "kv3", &format!("key{i}"), &format!("v{i}")]);
    }
    run(&["kv", "delete", "kv3", "key4"]);

    // kv watch from the beginning sees every change on all 3 partitions.
    let out = run(&[
        "kv",
        "watch",
        "kv3",
        "--from-beginning",
        "--count",
        "10",
        "--format",
        "json",
    ]);
    let changes: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(changes.len(), 10, "{}", out.stdout);
    let deleted: Vec<&Value> = changes.iter().filter(|c| c["deleted"] == true).collect();
    assert_eq!(deleted.len(), 1, "{}", out.stdout);
    assert_eq!(deleted[0]["key"], "key4");
    let parts: std::collections::BTreeSet<i64> = changes
        .iter()
        .map(|c| c["partition"].as_i64().unwrap())
        .collect();
    assert!(parts.len() > 1, "changes of several partitions: {parts:?}");

    // A standalone group: seek commits offsets, list/describe show it and its lag.
    run(&["group", "seek", "g", "--to", "start", "--topics", "kv3"]);
    let list = run(&["group", "list", "--format", "json"]).json();
    assert_eq!(list[0]["name"], "g", "{list}");
    let d = run(&["group", "describe", "g", "--format", "json"]).json()[0].clone();
    assert_eq!(
        d["total_lag"], 10,
        "every record is lag from the start: {d}"
    );
    run(&["group", "seek", "g", "--to", "end", "--topics", "kv3"]);
    let d = run(&["group", "describe", "g", "--format", "json"]).json()[0].clone();
    assert_eq!(d["total_lag"], 0, "{d}");
    run(&["group", "offset-delete", "g", "--topic", "kv3:0"]);
    run(&["group", "delete", "g"]);
    let list = run(&["group", "list", "--format", "json"]).json();
    assert_eq!(list, json!([]), "{list}");
}
