//! rpkv over HTTPS against the dev broker's --tls-cert/--tls-key: the
//! certificate of the usual `openssl req -x509` one-liner (CA:TRUE) pinned
//! with --tls-ca, and one readable sentence (exit 1) for each way TLS fails:
//! unknown CA, name mismatch, expired, http:// to the HTTPS port and https://
//! to a plain one.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};
use rpkv_e2e::Broker;
use rpkv_e2e::cli::Rpkv;

const NOT_TRUSTED: &str =
    "the server's certificate is not signed by a trusted CA; pass its CA with --tls-ca FILE";
const CA_AS_SERVER: &str = "the server's certificate is a CA certificate (CA:TRUE); pass exactly that certificate with --tls-ca FILE to trust it, or give the server a certificate without CA:TRUE";
const PLAIN_TO_TLS: &str =
    "the server speaks HTTPS but the URL says http://; use https:// in --http-url";
const TLS_TO_PLAIN: &str = "the server answered in plain HTTP, not TLS; use http:// in --http-url (or enable TLS on the server)";

/// The usual self-signed one-liner, made by the real `openssl` binary, with
/// subjectAltName `san`; writes `{name}.pem` and `{name}.key` in `dir`.
fn openssl_cert(dir: &Path, name: &str, san: &str) -> (PathBuf, PathBuf) {
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-subj", "/CN=localhost", "-addext"])
        .arg(format!("subjectAltName={san}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (tests/install-deps.sh installs it)");
    assert!(out.status.success(), "openssl: {out:?}");
    (cert, key)
}

/// A CA (written as `ca.pem`) and a server certificate for 127.0.0.1 signed
/// by it (`server.pem`, `server.key`), valid until `not_after` (y, m, d).
fn rcgen_ca_and_server(dir: &Path, not_after: Option<(i32, u8, u8)>) -> (PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "rpkv e2e TLS errors CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    if let Some((y, m, d)) = not_after {
        server.not_before = date_time_ymd(y - 1, m, d);
        server.not_after = date_time_ymd(y, m, d);
    }
    let server_key = KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
    let (cert, key) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert, server_cert.pem()).unwrap();
    std::fs::write(&key, server_key.serialize_pem()).unwrap();
    (cert, key)
}

/// A broker serving HTTPS with `cert`/`key`, and its https:// URL.
fn https_broker(cert: &Path, key: &Path) -> (Broker, String) {
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let b = Broker::start(&["--topic", "t", "--tls-cert", &cert, "--tls-key", &key]).unwrap();
    let url = format!("https://{}", b.http_addr);
    (b, url)
}

/// Runs `rpkv kv get t k -p 0` with `args` before it; asserts exit 1 and one
/// line on stderr that holds `sentence` and no rustls Debug form.
fn fails_with(http_url: &str, args: &[&str], sentence: &str) -> String {
    let mut all = args.to_vec();
    all.extend(["kv", "get", "t", "k", "-p", "0"]);
    let line = Rpkv::with_urls(http_url, "127.0.0.1:1").run(&all).fails(1);
    assert!(line.starts_with("rpkv: "), "{line}");
    assert!(line.contains(sentence), "expected {sentence:?} in {line:?}");
    for debug in [
        "Other(",
        "OtherError",
        "CaUsedAsEndEntity",
        "DnsName(",
        "Error",
    ] {
        assert!(!line.contains(debug), "{debug:?} in {line:?}");
    }
    line
}

#[test]
fn the_openssl_one_liner_certificate_works_with_tls_ca() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_cert(dir.path(), "server", "IP:127.0.0.1,DNS:localhost");
    let (b, url) = https_broker(&cert, &key);
    let ca = cert.display().to_string();
    let r = Rpkv::with_urls(&url, "127.0.0.1:1");
    r.run(&["--tls-ca", &ca, "kv", "put", "t", "k", "v", "-p", "0"])
        .ok();
    let out = r
        .run(&[
            "--tls-ca", &ca, "kv", "get", "t", "k", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(out.json()[0]["value"], "v");
    // The other name it covers works too.
    let by_name = format!("https://localhost:{}", b.http_addr.port());
    let out = Rpkv::with_urls(&by_name, "127.0.0.1:1")
        .run(&[
            "--tls-ca", &ca, "kv", "get", "t", "k", "-p", "0", "--format", "json",
        ])
        .ok();
    assert_eq!(out.json()[0]["value"], "v");
    // Without --tls-ca the CA:TRUE certificate is refused, saying what to do.
    let line = fails_with(&url, &[], CA_AS_SERVER);
    assert!(line.contains(&url), "names the server: {line}");
}

#[test]
fn a_certificate_for_another_name_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_cert(dir.path(), "other", "DNS:db.example,IP:10.1.2.3");
    let (_b, url) = https_broker(&cert, &key);
    let ca = cert.display().to_string();
    fails_with(
        &url,
        &["--tls-ca", &ca],
        "the server's certificate is for db.example, 10.1.2.3, not 127.0.0.1; connect with a name it covers, or give the server a certificate for 127.0.0.1",
    );
}

#[test]
fn an_unknown_ca_is_refused_with_the_tls_ca_hint() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = rcgen_ca_and_server(dir.path(), None);
    let (_b, url) = https_broker(&cert, &key);
    fails_with(&url, &[], NOT_TRUSTED);
    // With its CA it works.
    let ca = dir.path().join("ca.pem").display().to_string();
    Rpkv::with_urls(&url, "127.0.0.1:1")
        .run(&["--tls-ca", &ca, "kv", "scan", "t", "-p", "0"])
        .ok();
}

#[test]
fn an_expired_certificate_is_refused_as_expired() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = rcgen_ca_and_server(dir.path(), Some((2021, 6, 30)));
    let (_b, url) = https_broker(&cert, &key);
    let ca = dir.path().join("ca.pem").display().to_string();
    fails_with(
        &url,
        &["--tls-ca", &ca],
        "the server's certificate expired on 2021-06-30 00:00 UTC; renew it on the server (or check this machine's clock)",
    );
}

#[test]
fn http_and_https_mixed_up_say_which_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = openssl_cert(dir.path(), "server", "IP:127.0.0.1");
    let (b, _) = https_broker(&cert, &key);
    let plain_url = format!("http://{}", b.http_addr);
    fails_with(&plain_url, &[], PLAIN_TO_TLS);
    // A write the same (it is sent once, not retried).
    let line = Rpkv::with_urls(&plain_url, "127.0.0.1:1")
        .run(&["kv", "put", "t", "k", "v", "-p", "0"])
        .fails(1);
    assert!(line.contains(PLAIN_TO_TLS), "{line}");

    let plain = Broker::start(&["--topic", "t"]).unwrap();
    fails_with(&format!("https://{}", plain.http_addr), &[], TLS_TO_PLAIN);
}
