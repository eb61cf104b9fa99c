//! Kafka TLS: client certificate loading and real handshakes against a
//! tokio-rustls server that requires client certificates (the dev broker
//! does not do mTLS, so this server stands in for a listener that does).

use std::path::PathBuf;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::*;
use crate::client::tls::TlsFailure;

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as
/// PEM files in a temp dir: `ca.pem`, `server.pem`/`server.key`,
/// `client.pem`/`client.key`, and `other.key` (a key of no certificate).
struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, ca_name);
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let write = |name: &str, pem: String| std::fs::write(dir.path().join(name), pem).unwrap();
        write("ca.pem", ca_cert.pem());
        for (name, sans) in [
            ("server", vec!["127.0.0.1"]),
            ("client", vec!["rpkv-client"]),
        ] {
            let key = KeyPair::generate().unwrap();
            let mut params =
                CertificateParams::new(sans.into_iter().map(str::to_owned).collect::<Vec<_>>())
                    .unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            write(&format!("{name}.pem"), cert.pem());
            write(&format!("{name}.key"), key.serialize_pem());
        }
        write("other.key", KeyPair::generate().unwrap().serialize_pem());
        Pki {
            ca: ca_cert.der().clone(),
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A TLS server on a free loopback port with `pki`'s server certificate that
/// requires a client certificate signed by `client_ca`. Each connection that
/// completes the handshake and sends `ping` gets back the client
/// certificate's DER length as text.
async fn mtls_server(pki: &Pki, client_ca: &CertificateDer<'static>) -> String {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(client_ca.clone()).unwrap();
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let chain = read_certs(&pki.path("server.pem")).unwrap();
    let key = read_key(&pki.path("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map_or(0, |c| c.len());
                let mut ping = [0u8; 4];
                if tls.read_exact(&mut ping).await.is_ok() && &ping == b"ping" {
                    let _ = tls.write_all(peer.to_string().as_bytes()).await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Connects with `config`, sends `ping`, returns the answer.
async fn ping(config: rustls::ClientConfig, addr: &str) -> Result<String> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let mut tls = connect(&Arc::new(config), addr, tcp, Duration::from_secs(5)).await?;
    let exchange = async {
        tls.write_all(b"ping").await?;
        tls.flush().await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    exchange.await.map_err(|e| Error::Tls(e.to_string()))
}

#[tokio::test]
async fn a_client_certificate_passes_a_listener_that_requires_one() {
    let pki = Pki::new("rpkv unit test CA");
    let addr = mtls_server(&pki, &pki.ca).await;
    let ca = pki.path("ca.pem");
    let with_cert = client_config(
        Some(&ca),
        Some(&pki.path("client.pem")),
        Some(&pki.path("client.key")),
    )
    .unwrap();
    let answer = ping(with_cert, &addr).await.unwrap();
    let client_der = read_certs(&pki.path("client.pem")).unwrap()[0].len();
    assert_eq!(
        answer,
        client_der.to_string(),
        "the server saw our certificate"
    );

    // Without one the server refuses the connection.
    let without = client_config(Some(&ca), None, None).unwrap();
    let err = ping(without, &addr).await.unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // A certificate from a CA the server does not trust is refused too.
    let stranger = Pki::new("another CA");
    let foreign = client_config(
        Some(&ca),
        Some(&stranger.path("client.pem")),
        Some(&stranger.path("client.key")),
    )
    .unwrap();
    assert!(ping(foreign, &addr).await.is_err());
}

#[tokio::test]
async fn a_server_certificate_from_an_unknown_ca_says_pass_tls_ca() {
    let pki = Pki::new("rpkv unit test CA");
    let addr = mtls_server(&pki, &pki.ca).await;
    let stranger = Pki::new("another CA");
    let config = client_config(Some(&stranger.path("ca.pem")), None, None).unwrap();
    let err = ping(config, &addr).await.unwrap_err();
    match &err {
        Error::TlsHandshake { server, failure } => {
            assert_eq!(server, &format!("Kafka broker {addr}"));
            assert_eq!(failure, &TlsFailure::UnknownCa);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("--tls-ca FILE"), "{err}");
}

#[test]
fn client_certificate_files_are_checked() {
    let pki = Pki::new("rpkv unit test CA");
    let (cert, key) = (pki.path("client.pem"), pki.path("client.key"));
    let err = client_config(None, Some(&cert), None).unwrap_err();
    assert!(err.to_string().contains("pass --tls-key FILE"), "{err}");
    let err = client_config(None, None, Some(&key)).unwrap_err();
    assert!(err.to_string().contains("pass --tls-cert FILE"), "{err}");
    // A key file given as the certificate, and a certificate given as the key.
    let err = client_config(None, Some(&key), Some(&key)).unwrap_err();
    assert!(
        err.to_string().contains("holds no PEM certificate"),
        "{err}"
    );
    let err = client_config(None, Some(&cert), Some(&cert)).unwrap_err();
    assert!(
        err.to_string().contains("no usable PEM private key"),
        "{err}"
    );
    // The key of another certificate.
    let err = client_config(None, Some(&cert), Some(&pki.path("other.key"))).unwrap_err();
    assert!(err.to_string().contains("own private key"), "{err}");
    let missing = pki.path("missing.pem");
    let err = client_config(None, Some(&missing), Some(&key)).unwrap_err();
    assert!(
        err.to_string().contains("reading the client certificate"),
        "{err}"
    );
}

#[test]
fn the_server_name_is_the_brokers_host() {
    assert_eq!(host_of("seed.example.com:9092"), "seed.example.com");
    assert_eq!(host_of("127.0.0.1:19092"), "127.0.0.1");
    assert_eq!(host_of("[::1]:9092"), "::1");
    assert_eq!(host_of("broker"), "broker");
}

#[tokio::test]
async fn a_certificate_for_another_name_says_which_names_it_covers() {
    let pki = Pki::new("rpkv unit test CA");
    let addr = mtls_server(&pki, &pki.ca).await;
    let config = Arc::new(client_config(Some(&pki.path("ca.pem")), None, None).unwrap());
    // The server's certificate covers 127.0.0.1 only; ask for localhost.
    let port = addr.rsplit_once(':').unwrap().1;
    let broker = format!("localhost:{port}");
    let tcp = TcpStream::connect(&addr).await.unwrap();
    let err = connect(&config, &broker, tcp, Duration::from_secs(5))
        .await
        .expect_err("the name does not match");
    match &err {
        Error::TlsHandshake { failure, .. } => assert_eq!(
            failure,
            &TlsFailure::NameMismatch {
                host: "localhost".into(),
                covers: vec!["127.0.0.1".into()],
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("the server's certificate is for 127.0.0.1, not localhost"),
        "{err}"
    );
}
