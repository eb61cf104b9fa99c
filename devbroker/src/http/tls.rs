//! Optional TLS (rustls) on the HTTP and Kafka listeners: `--tls-cert` and
//! `--tls-key`, PEM files.
//!
//! Only the acceptor is built here; connections go through the same accept
//! loop as plain HTTP ([`super::guard::serve`]), so the connection limit and the
//! header deadline (which also bounds the TLS handshake) apply to both.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Installs ring as the process's default rustls crypto provider, once.
///
/// The workspace builds rustls with ring alone and reqwest without a provider
/// of its own, so a reqwest client (object_store's S3 client among them) needs
/// this before it is built, or reqwest panics. Harmless when already installed.
pub fn install_crypto_provider() {
    // Err means a provider is installed already (ring, the only one built).
    let _ = ring::default_provider().install_default();
}

/// Loads the certificate chain and private key into a TLS acceptor that offers
/// HTTP/2 and HTTP/1.1 by ALPN.
pub async fn load(cert: &Path, key: &Path) -> std::io::Result<TlsAcceptor> {
    let mut config = server_config(cert, key).await?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The same certificate and key, for the Kafka listener (no ALPN: Kafka
/// clients offer none).
pub async fn load_kafka(cert: &Path, key: &Path) -> std::io::Result<TlsAcceptor> {
    Ok(TlsAcceptor::from(Arc::new(server_config(cert, key).await?)))
}

/// Reads the PEM files into a rustls server configuration (ring provider).
async fn server_config(cert: &Path, key: &Path) -> std::io::Result<ServerConfig> {
    let what = || {
        format!(
            "TLS certificate {} and key {}",
            cert.display(),
            key.display()
        )
    };
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let cert_pem = tokio::fs::read(cert)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("reading {}: {e}", cert.display())))?;
    let key_pem = tokio::fs::read(key)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("reading {}: {e}", key.display())))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("{}: bad certificate PEM: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!(
            "{}: no certificate found; pass a PEM file with a CERTIFICATE block",
            cert.display()
        )));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid(format!("{}: bad private key PEM: {e}", key.display())))?;
    ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(format!("{}: {e}", what())))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| invalid(format!("{}: {e}", what())))
}
