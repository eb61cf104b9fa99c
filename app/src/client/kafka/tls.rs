//! TLS for Kafka connections (security protocols SSL and SASL_SSL): the
//! roots HTTPS uses (the system's plus `--tls-ca`, with pinning; see
//! [`crate::client::tls`]), an optional client certificate (mTLS), and the
//! server name taken from the broker's host.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::client::error::{Error, Result};
use crate::client::tls;

/// The rustls configuration of Kafka connections: the system's roots and
/// `ca_file`, a client certificate when `cert` and `key` are given. No ALPN:
/// Kafka listeners do not negotiate one.
pub(crate) fn client_config(
    ca_file: Option<&Path>,
    cert: Option<&Path>,
    key: Option<&Path>,
) -> Result<rustls::ClientConfig> {
    let builder = tls::verified_builder(ca_file, true)?;
    match (cert, key) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = read_certs(cert)?;
            let private = read_key(key)?;
            builder.with_client_auth_cert(chain, private).map_err(|e| {
                Error::Tls(format!(
                    "client certificate {} with key {}: {e}; pass the certificate's own private key with --tls-key",
                    cert.display(),
                    key.display()
                ))
            })
        }
        (Some(_), None) => Err(Error::Tls(
            "a client certificate (--tls-cert) needs its private key: pass --tls-key FILE".into(),
        )),
        (None, Some(_)) => Err(Error::Tls(
            "a client key (--tls-key) needs its certificate: pass --tls-cert FILE".into(),
        )),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading the client certificate {}", path.display()),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| {
            Error::Tls(format!(
                "client certificate {}: bad PEM: {e}",
                path.display()
            ))
        })?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "client certificate {} holds no PEM certificate; pass a file with a BEGIN CERTIFICATE block",
            path.display()
        )));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    let pem = std::fs::read(path).map_err(|source| Error::Io {
        context: format!("reading the client key {}", path.display()),
        source,
    })?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        Error::Tls(format!(
            "client key {} holds no usable PEM private key ({e}); pass a PKCS#8, PKCS#1 or SEC1 key (BEGIN PRIVATE KEY)",
            path.display()
        ))
    })
}

/// The host of `host:port` (`[v6]:port` too), for the TLS server name.
pub(crate) fn host_of(broker: &str) -> &str {
    let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// The TLS handshake over `tcp` with `broker`, within `timeout`.
pub(crate) async fn connect(
    config: &Arc<rustls::ClientConfig>,
    broker: &str,
    tcp: TcpStream,
    timeout: Duration,
) -> Result<TlsStream<TcpStream>> {
    let transport = |detail: String| Error::KafkaTransport {
        broker: broker.to_owned(),
        detail,
    };
    let host = host_of(broker);
    let name = ServerName::try_from(host.to_owned()).map_err(|_| {
        transport(format!(
            "{host:?} is not a host name or IP address TLS can check a certificate against"
        ))
    })?;
    let connector = TlsConnector::from(config.clone());
    match tokio::time::timeout(timeout, connector.connect(name, tcp)).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(match tls::classify_io(&e) {
            Some(failure) => Error::TlsHandshake {
                server: format!("Kafka broker {broker}"),
                failure,
            },
            None => transport(format!(
                "the TLS handshake did not complete ({e}); check that this listener speaks TLS (SSL or SASL_SSL), or drop --kafka-tls for a plaintext one"
            )),
        }),
        Err(_) => Err(transport(format!(
            "no TLS handshake within {timeout:?}; check that this listener speaks TLS (SSL or SASL_SSL), or drop --kafka-tls for a plaintext one"
        ))),
    }
}

#[cfg(test)]
mod tests;
