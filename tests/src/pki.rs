//! A throwaway PKI for the TLS tests: a CA and a server certificate for
//! 127.0.0.1 and localhost signed by it, written as `ca.pem`, `server.pem` and
//! `server.key` in a temp dir removed on drop (made with rcgen).

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};

pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    /// A CA and a server certificate for 127.0.0.1 and localhost signed by it.
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "rpkv e2e test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().expect("server key");
        let server_cert =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .expect("server params")
                .signed_by(&server_key, &issuer)
                .expect("server certificate");
        let write = |name: &str, pem: String| {
            std::fs::write(dir.path().join(name), pem).expect("writing a PEM file")
        };
        write("ca.pem", ca_cert.pem());
        write("server.pem", server_cert.pem());
        write("server.key", server_key.serialize_pem());
        Pki { dir }
    }

    /// The path of `ca.pem`, `server.pem` or `server.key`.
    pub fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}
