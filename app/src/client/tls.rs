//! TLS for the HTTP client and the Kafka connections: rustls with the ring
//! provider, the system's CA roots plus the certificates of `--tls-ca`,
//! certificate pinning, and one readable sentence for each way a handshake
//! fails ([`TlsFailure`]).

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, ring};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::error::{Error, Result};

/// Why a TLS handshake failed, as one sentence that says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsFailure {
    /// No trusted CA signed the server's certificate.
    #[error(
        "the server's certificate is not signed by a trusted CA; pass its CA with --tls-ca FILE"
    )]
    UnknownCa,
    /// The server's certificate is past its end date.
    #[error("the server's certificate expired{}; renew it on the server (or check this machine's clock)", on(.not_after))]
    Expired {
        /// When it expired (UTC), if rustls said.
        not_after: Option<String>,
    },
    /// The server's certificate is not valid yet.
    #[error("the server's certificate is not valid yet{}; check this machine's clock or the certificate's dates", until(.not_before))]
    NotYetValid {
        /// When it becomes valid (UTC), if rustls said.
        not_before: Option<String>,
    },
    /// The certificate does not cover the host in the URL.
    #[error("{}", name_mismatch(.host, .covers))]
    NameMismatch {
        /// The host rpkv connected to.
        host: String,
        /// The names the certificate covers (its subjectAltName entries).
        covers: Vec<String>,
    },
    /// The server presents a CA certificate as its own and it is not the one
    /// given with `--tls-ca`.
    #[error(
        "the server's certificate is a CA certificate (CA:TRUE); pass exactly that certificate with --tls-ca FILE to trust it, or give the server a certificate without CA:TRUE"
    )]
    CaCertificateAsServerCertificate,
    /// An `http://` URL points at a port that speaks TLS.
    #[error("the server speaks HTTPS but the URL says http://; use https:// in --http-url")]
    PlainHttpToTlsPort,
    /// An `https://` URL points at a port that speaks plain HTTP.
    #[error(
        "the server answered in plain HTTP, not TLS; use http:// in --http-url (or enable TLS on the server)"
    )]
    TlsToPlainHttpPort,
    /// Any other problem with the server's certificate.
    #[error(
        "the server's certificate was rejected: {reason}; check the certificate the server presents and the --tls-ca file"
    )]
    Rejected {
        /// What is wrong with it, in words.
        reason: String,
    },
    /// Any other handshake failure.
    #[error("the TLS handshake failed: {reason}; check that the server speaks TLS on this port")]
    Handshake {
        /// What rustls reported, in words.
        reason: String,
    },
}

fn on(t: &Option<String>) -> String {
    t.as_ref().map(|t| format!(" on {t}")).unwrap_or_default()
}

fn until(t: &Option<String>) -> String {
    t.as_ref()
        .map(|t| format!(" (until {t})"))
        .unwrap_or_default()
}

fn name_mismatch(host: &str, covers: &[String]) -> String {
    if covers.is_empty() {
        format!(
            "the server's certificate names no host (no subjectAltName), so it is not valid for {host}; give the server a certificate whose subjectAltName covers {host}"
        )
    } else {
        format!(
            "the server's certificate is for {}, not {host}; connect with a name it covers, or give the server a certificate for {host}",
            covers.join(", ")
        )
    }
}

/// The rustls client configuration for a [`super::http::HttpTransport`]:
/// [`verified_builder`]'s verifier, no client certificate, HTTP/1.1 by ALPN.
/// `system_roots` false skips loading the system's CA certificates (for an
/// `http://` base URL).
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    system_roots: bool,
) -> Result<rustls::ClientConfig> {
    let mut config = verified_builder(ca_file, system_roots)?.with_no_client_auth();
    // reqwest leaves ALPN to a preconfigured config; without its http2
    // feature (rpkv --no-default-features) it speaks HTTP/1.1 only.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// A rustls client configuration up to the client certificate, shared by
/// HTTPS and Kafka TLS: ring, the system's roots (when `system_roots`) plus
/// those in `ca_file`, pinning (see [`PinningVerifier`]).
pub(crate) fn verified_builder(
    ca_file: Option<&Path>,
    system_roots: bool,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>> {
    let provider = Arc::new(ring::default_provider());
    // reqwest is built without a provider of its own; anything else in this
    // process that builds a rustls config gets ring, the only one built.
    let _ = ring::default_provider().install_default();
    let pinned = match ca_file {
        Some(path) => read_ca_file(path)?,
        None => Vec::new(),
    };
    let system = if system_roots {
        let system = rustls_native_certs::load_native_certs();
        for e in &system.errors {
            tracing::debug!(error = %e, "loading the system's CA certificates");
        }
        system.certs
    } else {
        Vec::new()
    };
    let verifier = PinningVerifier::new(pinned, system, provider.clone()).map_err(
        |(i, e)| {
            Error::Tls(format!(
                "CA file {}: certificate {} is not a usable X.509 certificate ({e}); pass a PEM file of CA or server certificates",
                path_shown(ca_file),
                i + 1
            ))
        },
    )?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(format!("TLS versions: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier)))
}

fn path_shown(p: Option<&Path>) -> String {
    p.map(|p| p.display().to_string()).unwrap_or_default()
}

fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading TLS CA {}", path.display()),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("CA file {}: bad PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "CA file {} holds no PEM certificate; pass a file with a BEGIN CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

/// Accepts a server certificate byte-equal to one in the `--tls-ca` file
/// (pinning), whatever its CA flag; otherwise the WebPKI verifier decides.
///
/// Hand-written because rustls has no pinning option: its WebPKI verifier
/// refuses a trust anchor presented as the server's own certificate when it
/// says CA:TRUE (webpki's `CaUsedAsEndEntity`), and that is what the usual
/// `openssl req -x509` one-liner makes. curl and rpk accept such a certificate
/// given as the CA file, so rpkv does too, for exactly that certificate.
#[derive(Debug)]
struct PinningVerifier {
    /// The certificates of the `--tls-ca` file (also among `inner`'s roots).
    pinned: Vec<CertificateDer<'static>>,
    /// WebPKI with the system's roots and the pinned ones; `None` when there
    /// are no roots at all (no system CAs and no `--tls-ca`).
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl PinningVerifier {
    /// Pins `pinned` and trusts them and the `system` roots (those that
    /// parse). Fails with the index of a pinned certificate that is no
    /// usable certificate.
    fn new(
        pinned: Vec<CertificateDer<'static>>,
        system: Vec<CertificateDer<'static>>,
        provider: Arc<CryptoProvider>,
    ) -> std::result::Result<Self, (usize, rustls::Error)> {
        let mut roots = RootCertStore::empty();
        for (i, cert) in pinned.iter().enumerate() {
            roots.add(cert.clone()).map_err(|e| (i, e))?;
        }
        let (added, ignored) = roots.add_parsable_certificates(system);
        tracing::debug!(added, ignored, "system CA certificates");
        let inner = if roots.is_empty() {
            None
        } else {
            // Only fails without roots.
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .ok()
        };
        Ok(PinningVerifier {
            pinned,
            inner,
            provider,
        })
    }
}

impl ServerCertVerifier for PinningVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let verdict = match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Err(CertificateError::UnknownIssuer.into()),
        };
        match verdict {
            Err(e)
                if pinnable(&e)
                    && self
                        .pinned
                        .iter()
                        .any(|c| c.as_ref() == end_entity.as_ref()) =>
            {
                // webpki checks the certificate's own dates before its CA flag
                // and before looking for an issuer, so an expired pinned
                // certificate already failed above as expired. The name is
                // checked after the chain, so it is checked here.
                let cert = ParsedCertificate::try_from(end_entity)?;
                rustls::client::verify_server_name(&cert, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The failures a pinned certificate overrides: no chain to a root, or a CA
/// certificate presented as the server's.
fn pinnable(e: &rustls::Error) -> bool {
    match e {
        rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => true,
        rustls::Error::InvalidCertificate(CertificateError::Other(o)) => matches!(
            o.0.downcast_ref::<webpki::Error>(),
            Some(webpki::Error::CaUsedAsEndEntity)
        ),
        _ => false,
    }
}

/// The TLS failure behind a reqwest error for `url`, if it is one.
pub(crate) fn classify(url: &str, e: &reqwest::Error) -> Option<TlsFailure> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut texts = Vec::new();
    while let Some(err) = cur {
        if let Some(r) = rustls_error(err) {
            return Some(from_rustls(r, url));
        }
        texts.push(err.to_string().to_ascii_lowercase());
        cur = err.source();
    }
    // Plain HTTP sent to a TLS listener: rustls on the server answers with a
    // TLS alert record (0x15 0x03 ...), which hyper cannot parse as HTTP, or
    // just closes the connection.
    if url.starts_with("http://") && texts.iter().any(|t| t.contains("invalid http version")) {
        return Some(TlsFailure::PlainHttpToTlsPort);
    }
    None
}

/// The TLS failure behind an error of a Kafka connection (tokio-rustls
/// reports rustls errors inside `io::Error`), if it is one.
pub(crate) fn classify_io(e: &std::io::Error) -> Option<TlsFailure> {
    let r = rustls_error(e)?;
    // Not a URL: the http:// / https:// mix-ups do not apply to Kafka.
    Some(from_rustls(r, "kafka"))
}

/// A rustls error, directly or inside (nested) `io::Error`s, whose `source()`
/// skips the error they wrap.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut err = err;
    loop {
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        err = err.downcast_ref::<std::io::Error>()?.get_ref()?;
    }
}

/// Maps a rustls error seen on a request to `url`.
fn from_rustls(e: &rustls::Error, url: &str) -> TlsFailure {
    use rustls::Error as E;
    tracing::debug!(error = ?e, "TLS handshake failed");
    match e {
        E::InvalidCertificate(c) => from_certificate_error(c),
        E::InvalidMessage(_) | E::InappropriateMessage { .. } if url.starts_with("https://") => {
            TlsFailure::TlsToPlainHttpPort
        }
        E::AlertReceived(alert) => TlsFailure::Handshake {
            reason: format!("the server sent the alert {}", alert_words(*alert)),
        },
        E::PeerIncompatible(_) => TlsFailure::Handshake {
            reason: "the server and rpkv share no TLS version or cipher suite".to_owned(),
        },
        other => TlsFailure::Handshake {
            reason: match other {
                E::General(s) => s.clone(),
                _ => "an unexpected TLS error (RUST_LOG=debug shows it)".to_owned(),
            },
        },
    }
}

fn from_certificate_error(c: &CertificateError) -> TlsFailure {
    use CertificateError as C;
    let rejected = |reason: &str| TlsFailure::Rejected {
        reason: reason.to_owned(),
    };
    match c {
        C::UnknownIssuer => TlsFailure::UnknownCa,
        C::Expired => TlsFailure::Expired { not_after: None },
        C::ExpiredContext { not_after, .. } => TlsFailure::Expired {
            not_after: Some(utc(*not_after)),
        },
        C::NotValidYet => TlsFailure::NotYetValid { not_before: None },
        C::NotValidYetContext { not_before, .. } => TlsFailure::NotYetValid {
            not_before: Some(utc(*not_before)),
        },
        C::NotValidForNameContext {
            expected,
            presented,
        } => TlsFailure::NameMismatch {
            host: expected.to_str().into_owned(),
            covers: presented.iter().filter_map(|n| san_name(n)).collect(),
        },
        C::NotValidForName => TlsFailure::NameMismatch {
            host: "the host in the URL".to_owned(),
            covers: Vec::new(),
        },
        C::Other(o) => match o.0.downcast_ref::<webpki::Error>() {
            Some(webpki::Error::CaUsedAsEndEntity) => TlsFailure::CaCertificateAsServerCertificate,
            Some(webpki::Error::EndEntityUsedAsCa) => {
                rejected("a server (non-CA) certificate is used as the CA of its chain")
            }
            Some(webpki::Error::UnknownIssuer) => TlsFailure::UnknownCa,
            _ => rejected("it is malformed or uses an unsupported feature"),
        },
        C::BadEncoding => rejected("it is not valid DER"),
        C::Revoked => rejected("it is revoked"),
        C::BadSignature => rejected("its signature does not match its issuer's key"),
        C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
            rejected("its extended key usage does not allow TLS servers")
        }
        C::UnhandledCriticalExtension => rejected("it has an unknown critical extension"),
        C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
            rejected("it is signed with an unsupported algorithm")
        }
        _ => rejected("it is not acceptable"),
    }
}

/// A subjectAltName entry as webpki lists it (`DnsName("a.example")`,
/// `IpAddress(10.0.0.1)`) as the bare name; `None` for entries that are not
/// host names.
fn san_name(listed: &str) -> Option<String> {
    if let Some(dns) = listed
        .strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
    {
        return Some(dns.to_owned());
    }
    listed
        .strip_prefix("IpAddress(")
        .and_then(|r| r.strip_suffix(')'))
        .map(str::to_owned)
}

fn alert_words(alert: rustls::AlertDescription) -> String {
    // The alert's name in words: "BadCertificate" -> "bad certificate".
    let name = format!("{alert:?}");
    let mut words = String::new();
    for (i, ch) in name.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            words.push(' ');
        }
        words.push(ch.to_ascii_lowercase());
    }
    format!("\"{words}\"")
}

/// A UNIX time as `YYYY-MM-DD HH:MM UTC`.
fn utc(t: UnixTime) -> String {
    let secs = t.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

#[cfg(test)]
mod tests;
