//! Unit tests of the pinning verifier and the failure sentences, on rcgen certificates.

use super::*;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

/// Like `openssl req -x509 ... -addext subjectAltName=IP:127.0.0.1,DNS:localhost`:
/// self-signed, CA:TRUE.
fn openssl_like(params: impl FnOnce(&mut CertificateParams)) -> CertificateDer<'static> {
    let mut p =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, "localhost");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params(&mut p);
    let key = KeyPair::generate().unwrap();
    p.self_signed(&key).unwrap().der().clone()
}

/// A CA called `ca_name` and a server certificate for `names` signed by it.
fn ca_and_leaf(
    ca_name: &str,
    names: &[&str],
) -> (CertificateDer<'static>, CertificateDer<'static>) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    let leaf = CertificateParams::new(names)
        .unwrap()
        .signed_by(&KeyPair::generate().unwrap(), &issuer)
        .unwrap();
    (ca_cert.der().clone(), leaf.der().clone())
}

fn verifier(pinned: Vec<CertificateDer<'static>>) -> PinningVerifier {
    PinningVerifier::new(pinned, Vec::new(), Arc::new(ring::default_provider())).unwrap()
}

/// What the verifier says of `cert` presented for `host`, as rpkv's sentence.
fn verdict(v: &PinningVerifier, cert: &CertificateDer<'_>, host: &str) -> Option<TlsFailure> {
    let name = ServerName::try_from(host.to_owned()).unwrap();
    v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
        .err()
        .map(|e| from_rustls(&e, "https://x"))
}

#[test]
fn a_pinned_ca_certificate_is_accepted_as_the_servers() {
    let cert = openssl_like(|_| {});
    let v = verifier(vec![cert.clone()]);
    assert_eq!(verdict(&v, &cert, "127.0.0.1"), None);
    assert_eq!(verdict(&v, &cert, "localhost"), None);
    // Still only for the names it covers.
    assert_eq!(
        verdict(&v, &cert, "db.example"),
        Some(TlsFailure::NameMismatch {
            host: "db.example".into(),
            covers: vec!["127.0.0.1".into(), "localhost".into()],
        })
    );
    // And only that certificate: another CA:TRUE one is refused.
    let other = openssl_like(|_| {});
    assert_eq!(
        verdict(&v, &other, "127.0.0.1"),
        Some(TlsFailure::CaCertificateAsServerCertificate)
    );
    // Without --tls-ca (the system's roots only) it is refused the same way.
    let (system_ca, _) = ca_and_leaf("a system CA", &["127.0.0.1"]);
    let system_only = PinningVerifier::new(
        Vec::new(),
        vec![system_ca],
        Arc::new(ring::default_provider()),
    )
    .unwrap();
    assert_eq!(
        verdict(&system_only, &cert, "127.0.0.1"),
        Some(TlsFailure::CaCertificateAsServerCertificate)
    );
    // With no roots at all, nothing is trusted.
    assert_eq!(
        verdict(&verifier(Vec::new()), &cert, "127.0.0.1"),
        Some(TlsFailure::UnknownCa)
    );
}

#[test]
fn an_expired_pinned_certificate_is_refused_as_expired() {
    let cert = openssl_like(|p| {
        p.not_before = date_time_ymd(2020, 1, 1);
        p.not_after = date_time_ymd(2021, 6, 30);
    });
    let v = verifier(vec![cert.clone()]);
    let got = verdict(&v, &cert, "127.0.0.1");
    assert_eq!(
        got,
        Some(TlsFailure::Expired {
            not_after: Some("2021-06-30 00:00 UTC".into())
        })
    );
    assert_eq!(
        got.unwrap().to_string(),
        "the server's certificate expired on 2021-06-30 00:00 UTC; renew it on the server (or check this machine's clock)"
    );
}

#[test]
fn a_ca_signed_certificate_needs_its_ca() {
    let (ca, leaf) = ca_and_leaf("test CA", &["127.0.0.1"]);
    assert_eq!(
        verdict(&verifier(vec![ca.clone()]), &leaf, "127.0.0.1"),
        None
    );
    let (other_ca, _) = ca_and_leaf("another CA", &["127.0.0.1"]);
    let got = verdict(&verifier(vec![other_ca]), &leaf, "127.0.0.1");
    assert_eq!(got, Some(TlsFailure::UnknownCa));
    // A CA of the same name but another key: the signature does not verify.
    let (impostor, _) = ca_and_leaf("test CA", &["127.0.0.1"]);
    assert_eq!(
        verdict(&verifier(vec![impostor]), &leaf, "127.0.0.1"),
        Some(TlsFailure::Rejected {
            reason: "its signature does not match its issuer's key".into()
        })
    );
    assert_eq!(
        got.unwrap().to_string(),
        "the server's certificate is not signed by a trusted CA; pass its CA with --tls-ca FILE"
    );
    // A pinned leaf (the exact certificate, not its CA) is accepted too.
    assert_eq!(
        verdict(&verifier(vec![leaf.clone()]), &leaf, "127.0.0.1"),
        None
    );
    assert_eq!(
        verdict(&verifier(vec![ca]), &leaf, "localhost")
            .unwrap()
            .to_string(),
        "the server's certificate is for 127.0.0.1, not localhost; connect with a name it covers, or give the server a certificate for localhost"
    );
}

#[test]
fn handshake_errors_map_to_sentences() {
    let corrupt = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
    assert_eq!(
        from_rustls(&corrupt, "https://127.0.0.1:9644/x"),
        TlsFailure::TlsToPlainHttpPort
    );
    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
    assert_eq!(
        from_rustls(&alert, "https://h").to_string(),
        "the TLS handshake failed: the server sent the alert \"handshake failure\"; check that the server speaks TLS on this port"
    );
    let not_yet = rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
        time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(0)),
        not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(951_825_600)),
    });
    assert_eq!(
        from_rustls(&not_yet, "https://h"),
        TlsFailure::NotYetValid {
            not_before: Some("2000-02-29 12:00 UTC".into())
        }
    );
    let no_names = TlsFailure::NameMismatch {
        host: "h".into(),
        covers: vec![],
    };
    assert!(no_names.to_string().contains("names no host"), "{no_names}");
}

#[test]
fn no_sentence_shows_rustls_debug_forms() {
    let webpki_other = |e: webpki::Error| {
        rustls::Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(e))))
    };
    let errors = [
        webpki_other(webpki::Error::CaUsedAsEndEntity),
        webpki_other(webpki::Error::EndEntityUsedAsCa),
        webpki_other(webpki::Error::BadDer),
        rustls::Error::InvalidCertificate(CertificateError::BadSignature),
        rustls::Error::InvalidCertificate(CertificateError::Revoked),
        rustls::Error::InvalidCertificate(CertificateError::Expired),
        rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
        rustls::Error::PeerIncompatible(rustls::PeerIncompatible::NoCipherSuitesInCommon),
        rustls::Error::DecryptError,
    ];
    for e in errors {
        let s = from_rustls(&e, "https://h").to_string();
        for bad in [
            "Other(",
            "OtherError",
            "CaUsedAsEndEntity",
            "BadDer",
            "Error",
        ] {
            assert!(!s.contains(bad), "{e:?} -> {s}");
        }
    }
}

#[test]
fn names_and_dates_read_plainly() {
    assert_eq!(
        san_name("DnsName(\"a.example\")").as_deref(),
        Some("a.example")
    );
    assert_eq!(san_name("IpAddress(10.0.0.1)").as_deref(), Some("10.0.0.1"));
    assert_eq!(san_name("DirectoryName"), None);
    let at = |s| {
        utc(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            s,
        )))
    };
    assert_eq!(at(0), "1970-01-01 00:00 UTC");
    assert_eq!(at(1_767_225_599), "2025-12-31 23:59 UTC");
}
