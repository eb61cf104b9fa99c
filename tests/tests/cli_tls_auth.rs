//! rpkv over HTTPS with a self-signed CA (made here with rcgen) and HTTP basic
//! auth, against the dev broker's --tls-cert/--tls-key/--basic-auth.

use rpkv_e2e::Broker;
use rpkv_e2e::cli::Rpkv;

use rpkv_e2e::pki::Pki;

fn tls_broker(pki: &Pki, auth: &[&str]) -> (Broker, String) {
    let mut args = vec![
        "--topic".to_owned(),
        "secure".to_owned(),
        "--tls-cert".to_owned(),
        pki.path("server.pem"),
        "--tls-key".to_owned(),
        pki.path("server.key"),
    ];
    args.extend(auth.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let b = Broker::start(&args).unwrap();
    let url = format!("https://{}", b.http_addr);
    (b, url)
}

#[test]
fn https_with_custom_ca_and_basic_auth() {
    let pki = Pki::new();
    let (_b, url) = tls_broker(&pki, &["--basic-auth", "alice:s3cret"]);
    let ca = pki.path("ca.pem");
    let r = Rpkv::with_urls(&url, "127.0.0.1:1")
        .env("RPKV_USER", "alice")
        .env("RPKV_PASSWORD", "s3cret");
    r.run(&["--tls-ca", &ca, "kv", "put", "secure", "k", "v", "-p", "0"])
        .ok();
    let out = r
        .run(&[
            "--tls-ca", &ca, "kv", "get", "secure", "k", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(out.json()[0]["value"], "v");

    // The password given as a flag works the same.
    let flags = Rpkv::with_urls(&url, "127.0.0.1:1");
    flags
        .run(&[
            "--tls-ca",
            &ca,
            "--user",
            "alice",
            "--password",
            "s3cret",
            "kv",
            "scan",
            "secure",
            "-p",
            "0",
        ])
        .ok();

    // Wrong password, and no credentials: 401, one line, exit 1.
    let wrong = Rpkv::with_urls(&url, "127.0.0.1:1")
        .env("RPKV_USER", "alice")
        .env("RPKV_PASSWORD", "nope");
    let line = wrong
        .run(&["--tls-ca", &ca, "kv", "get", "secure", "k", "-p", "0"])
        .fails(1);
    assert!(line.contains("401"), "{line}");
    assert!(line.contains("topic \"secure\" partition 0"), "{line}");
    let line = flags
        .run(&["--tls-ca", &ca, "kv", "put", "secure", "k", "x", "-p", "0"])
        .fails(1);
    assert!(line.contains("401"), "{line}");

    // Without the CA the server's certificate is not trusted.
    let line = r.run(&["kv", "get", "secure", "k", "-p", "0"]).fails(1);
    assert!(line.to_lowercase().contains("certificate"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unauthenticated_requests_get_401_with_www_authenticate_except_readiness() {
    let pki = Pki::new();
    let (_b, url) = tls_broker(&pki, &["--basic-auth", "alice:s3cret"]);
    rpkv_e2e::install_crypto_provider();
    let ca = reqwest::Certificate::from_pem(&std::fs::read(pki.path("ca.pem")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let ready = http
        .get(format!("{url}/status/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    for path in ["/topics", "/brokers", "/metrics"] {
        let resp = http.get(format!("{url}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 401, "{path}");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Basic realm=\"devbroker\"",
            "{path}"
        );
    }
    let resp = http
        .post(format!("{url}/kvstore/secure/partition/0/scan"))
        .json(&serde_json::json!({"limit": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = http
        .post(format!("{url}/kvstore/secure/partition/0/scan"))
        .basic_auth("alice", Some("s3cret"))
        .json(&serde_json::json!({"limit": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn basic_auth_over_plain_http() {
    let b = Broker::start(&["--topic", "t", "--basic-auth", "bob:pw"]).unwrap();
    let r = Rpkv::new(&b);
    let line = r.run(&["kv", "scan", "t", "-p", "0"]).fails(1);
    assert!(line.contains("401"), "{line}");
    let r = r.env("RPKV_USER", "bob").env("RPKV_PASSWORD", "pw");
    r.run(&["kv", "scan", "t", "-p", "0"]).ok();
}

/// The HTTPS listener has the same guards as plain HTTP: a client that stalls
/// before or inside the TLS handshake is dropped at the header deadline, and
/// connections over --max-connections are refused until one closes.
#[tokio::test]
async fn https_has_the_header_deadline_and_the_connection_limit() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::{Duration, Instant};

    let pki = Pki::new();
    let (b, _) = tls_broker(&pki, &["--header-read-timeout-ms", "500"]);
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let mut s = TcpStream::connect(b.http_addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(opening).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "a stalled handshake got {:?}", &buf[..n]);
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "a stalled TLS client (sent {opening:?}) was kept {:?}",
            started.elapsed()
        );
    }
    drop(b);

    let (b, url) = tls_broker(
        &pki,
        &[
            "--max-connections",
            "3",
            "--header-read-timeout-ms",
            "30000",
        ],
    );
    let ca = std::fs::read(pki.path("ca.pem")).unwrap();
    rpkv_e2e::install_crypto_provider();
    let client = || {
        reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
            .pool_max_idle_per_host(0)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let get = || client().get(format!("{url}/topics")).send();
    // No request before the held connections: its slot might not be freed yet
    // when they connect, and one of them would be refused instead.
    let held: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(b.http_addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    assert!(get().await.is_err(), "a fourth HTTPS connection was served");
    drop(held);
    // The broker frees a slot once it sees the close; under load that can take
    // a moment, so a refused try is retried for a while.
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        match get().await {
            Ok(resp) => break resp.status(),
            Err(e) if Instant::now() < deadline => {
                eprintln!("slot not free yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no slot was freed within 10 s: {e}"),
        }
    };
    assert_eq!(status, 200, "a freed slot is usable again");
}
