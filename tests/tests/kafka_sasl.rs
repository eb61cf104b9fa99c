//! SASL (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and TLS on the Kafka listener,
//! with real clients: kafka-python and kcat (librdkafka), over SASL_PLAINTEXT
//! and SASL_SSL (a CA and server certificate made here with rcgen).

mod kafka_common;

use std::process::Command;
use std::time::{Duration, Instant};

use kafka_common::{python, require_kcat, run_ok};
use rpkv_e2e::Broker;
use serde_json::Value;

const MECHANISMS: [&str; 3] = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"];
const USERS: [&str; 4] = [
    "--basic-auth",
    "alice:al1ce-pw",
    "--basic-auth",
    "bob:b0b,pw=x",
];

use rpkv_e2e::pki::Pki;

/// A broker with the two users and topics `t0`..`t2`, over TLS if `pki` is given.
fn broker(pki: Option<&Pki>, extra: &[&str]) -> Broker {
    let mut args: Vec<String> = USERS.iter().map(|s| s.to_string()).collect();
    for t in ["t0", "t1", "t2"] {
        args.extend(["--topic".to_owned(), format!("{t}:1")]);
    }
    if let Some(pki) = pki {
        args.extend([
            "--tls-cert".to_owned(),
            pki.path("server.pem"),
            "--tls-key".to_owned(),
            pki.path("server.key"),
        ]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Broker::start(&args).unwrap()
}

fn addr(b: &Broker) -> String {
    b.kafka_addr.expect("kafka listener announced").to_string()
}

/// kcat's `-X` flags for a protocol, mechanism and user (None: no credentials).
fn kcat_security(ca: Option<&str>, mech: &str, user: Option<(&str, &str)>) -> Vec<String> {
    let protocol = match (ca.is_some(), user.is_some()) {
        (true, true) => "SASL_SSL",
        (false, true) => "SASL_PLAINTEXT",
        (true, false) => "SSL",
        (false, false) => "PLAINTEXT",
    };
    let mut x = vec![format!("security.protocol={protocol}")];
    if let Some((u, p)) = user {
        x.push(format!("sasl.mechanisms={mech}"));
        x.push(format!("sasl.username={u}"));
        x.push(format!("sasl.password={p}"));
    }
    if let Some(ca) = ca {
        x.push(format!("ssl.ca.location={ca}"));
    }
    x.into_iter().flat_map(|v| ["-X".to_owned(), v]).collect()
}

fn kcat_cmd(a: &str, security: &[String], args: &[&str]) -> Command {
    require_kcat();
    let mut cmd = Command::new("kcat");
    cmd.arg("-b").arg(a).args(security).args(args);
    cmd
}

fn py(
    mode: &str,
    a: &str,
    ca: Option<&str>,
    mech: &str,
    user: Option<(&str, &str)>,
    topic: &str,
    n: usize,
) -> Value {
    let protocol = if ca.is_some() {
        "SASL_SSL"
    } else {
        "SASL_PLAINTEXT"
    };
    let (u, p) = user.unwrap_or(("-", "-"));
    let n = n.to_string();
    python(
        "kafka_sasl.py",
        &[mode, a, protocol, mech, u, p, ca.unwrap_or("-"), topic, &n],
    )
}

fn python_roundtrips(pki: Option<&Pki>) {
    let b = broker(pki, &[]);
    let a = addr(&b);
    let ca = pki.map(|p| p.path("ca.pem"));
    for (i, mech) in MECHANISMS.iter().enumerate() {
        let user = if i == 1 {
            ("bob", "b0b,pw=x")
        } else {
            ("alice", "al1ce-pw")
        };
        let topic = format!("t{i}");
        let out = py("roundtrip", &a, ca.as_deref(), mech, Some(user), &topic, 3);
        assert_eq!(
            out["offsets"],
            serde_json::json!([0, 1, 2]),
            "{mech}: {out}"
        );
        assert_eq!(
            out["consumed"],
            serde_json::json!([["k0", "v0"], ["k1", "v1"], ["k2", "v2"]]),
            "{mech}: {out}"
        );
        let topics: Vec<&str> = out["topics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(topics, ["t0", "t1", "t2"], "{mech}");
    }
}

#[test]
fn kafka_python_produces_and_consumes_with_every_mechanism_over_sasl_plaintext() {
    python_roundtrips(None);
}

#[test]
fn kafka_python_produces_and_consumes_with_every_mechanism_over_sasl_ssl() {
    python_roundtrips(Some(&Pki::new()));
}

fn kcat_roundtrips(pki: Option<&Pki>) {
    let b = broker(pki, &[]);
    let a = addr(&b);
    let ca = pki.map(|p| p.path("ca.pem"));
    for (i, mech) in MECHANISMS.iter().enumerate() {
        let user = if i == 2 {
            ("bob", "b0b,pw=x")
        } else {
            ("alice", "al1ce-pw")
        };
        let sec = kcat_security(ca.as_deref(), mech, Some(user));
        let md: Value =
            serde_json::from_str(&run_ok(&mut kcat_cmd(&a, &sec, &["-L", "-J"]), None)).unwrap();
        let mut topics: Vec<&str> = md["topics"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t["topic"].as_str())
            .collect();
        topics.sort();
        assert_eq!(topics, ["t0", "t1", "t2"], "{mech}: {md}");
        let topic = format!("t{i}");
        run_ok(
            &mut kcat_cmd(&a, &sec, &["-P", "-t", &topic, "-p", "0", "-K", ":"]),
            Some(&format!("a:{mech}-1\nb:{mech}-2\n")),
        );
        let out = run_ok(
            &mut kcat_cmd(
                &a,
                &sec,
                &[
                    "-C",
                    "-t",
                    &topic,
                    "-e",
                    "-o",
                    "beginning",
                    "-q",
                    "-f",
                    "%o|%k|%s\n",
                ],
            ),
            None,
        );
        assert_eq!(out, format!("0|a|{mech}-1\n1|b|{mech}-2\n"), "{mech}");
    }
}

#[test]
fn kcat_produces_consumes_and_lists_with_every_mechanism_over_sasl_plaintext() {
    kcat_roundtrips(None);
}

#[test]
fn kcat_produces_consumes_and_lists_with_every_mechanism_over_sasl_ssl() {
    kcat_roundtrips(Some(&Pki::new()));
}

fn kcat_fails(a: &str, sec: &[String], args: &[&str], stdin: Option<&str>) -> String {
    let cmd = kcat_cmd(a, sec, args);
    let run = rpkv_e2e::cli::run_command(cmd, stdin.map(str::as_bytes), Duration::from_secs(60));
    assert_ne!(
        run.code, 0,
        "kcat {args:?} succeeded:\n{}\n{}",
        run.stdout, run.stderr
    );
    run.stderr
}

fn refused_and_nothing_produced(pki: Option<&Pki>) {
    let b = broker(pki, &[]);
    let a = addr(&b);
    let ca = pki.map(|p| p.path("ca.pem"));
    for mech in MECHANISMS {
        let out = py(
            "refused",
            &a,
            ca.as_deref(),
            mech,
            Some(("alice", "wrong-pw")),
            "t0",
            0,
        );
        assert!(
            !out["error"].is_null(),
            "{mech}: a wrong password was accepted: {out}"
        );
        let sec = kcat_security(ca.as_deref(), mech, Some(("alice", "wrong-pw")));
        let err = kcat_fails(&a, &sec, &["-L", "-m", "5"], None);
        assert!(
            err.to_lowercase().contains("authentication"),
            "{mech}: {err}"
        );
        let err = kcat_fails(
            &a,
            &[
                sec.clone(),
                vec!["-X".into(), "message.timeout.ms=3000".into()],
            ]
            .concat(),
            &["-P", "-t", "t0", "-p", "0"],
            Some("bad\n"),
        );
        assert!(!err.is_empty(), "{mech}");
    }
    // No credentials at all: the first request past ApiVersions closes the connection.
    let out = py("refused", &a, ca.as_deref(), "PLAIN", None, "t0", 0);
    assert!(
        !out["error"].is_null(),
        "no credentials were accepted: {out}"
    );
    let sec = kcat_security(ca.as_deref(), "PLAIN", None);
    kcat_fails(
        &a,
        &[
            sec.clone(),
            vec!["-X".into(), "message.timeout.ms=3000".into()],
        ]
        .concat(),
        &["-P", "-t", "t0", "-p", "0"],
        Some("bad\n"),
    );
    kcat_fails(&a, &sec, &["-L", "-m", "5"], None);
    // Nothing was produced: the right user sees an empty partition.
    let end = py(
        "end",
        &a,
        ca.as_deref(),
        "SCRAM-SHA-256",
        Some(("alice", "al1ce-pw")),
        "t0",
        0,
    );
    assert_eq!(end["end"], 0, "{end}");
}

#[test]
fn a_wrong_password_and_missing_credentials_are_refused_over_sasl_plaintext() {
    refused_and_nothing_produced(None);
}

#[test]
fn a_wrong_password_and_missing_credentials_are_refused_over_sasl_ssl() {
    refused_and_nothing_produced(Some(&Pki::new()));
}

/// Clients that connect and never start the TLS handshake are dropped after
/// --header-read-timeout-ms, freeing their slots (here the only two).
#[test]
fn a_stalled_tls_handshake_does_not_hold_a_connection_slot() {
    let pki = Pki::new();
    let b = broker(
        Some(&pki),
        &["--max-connections", "2", "--header-read-timeout-ms", "500"],
    );
    let a = addr(&b);
    let stalled: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(&a).unwrap())
        .collect();
    let t0 = Instant::now();
    // Both slots are taken: a third connection is closed at once.
    let third = std::net::TcpStream::connect(&a).unwrap();
    assert!(
        closed_within(&third, Duration::from_millis(400)),
        "the limit did not apply"
    );
    for s in &stalled {
        assert!(
            closed_within(s, Duration::from_secs(10)),
            "a stalled handshake was kept"
        );
    }
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "closed before the deadline"
    );
    let ca = pki.path("ca.pem");
    let sec = kcat_security(Some(&ca), "SCRAM-SHA-512", Some(("alice", "al1ce-pw")));
    let md: Value =
        serde_json::from_str(&run_ok(&mut kcat_cmd(&a, &sec, &["-L", "-J"]), None)).unwrap();
    assert_eq!(md["brokers"][0]["id"], 0);
}

/// Whether the peer closes `s` (EOF or reset) within `limit`.
fn closed_within(s: &std::net::TcpStream, limit: Duration) -> bool {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 1];
    match std::io::Read::read(&mut &*s, &mut buf) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
    }
}
