//! The client's side of a SCRAM exchange (RFC 5802 section 3): client-first,
//! the proof in client-final, and the check of the server's signature in
//! server-final, which proves the server holds the user's credential.

use super::{
    Hash, ITERATIONS, MAX_ITERATIONS, ScramError, encode_saslname, same, valid_nonce, xor,
};
use crate::b64;

/// The gs2 header rpkv sends: no channel binding, no authzid.
const GS2_HEADER: &str = "n,,";

/// A client before server-first. Its `Debug` does not show the password.
pub struct ScramClient {
    hash: Hash,
    password: String,
    client_nonce: String,
    client_first_bare: String,
}

impl std::fmt::Debug for ScramClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramClient")
            .field("hash", &self.hash)
            .field("client_first_bare", &self.client_first_bare)
            .finish_non_exhaustive()
    }
}

/// A client after server-first: what to send, and the server signature
/// server-final must carry.
#[derive(Debug)]
pub struct ScramClientFinal {
    message: Vec<u8>,
    server_signature: Vec<u8>,
}

impl ScramClient {
    /// A client for `user` with `password`; `client_nonce` must be fresh and
    /// random (printable ASCII without `,`, e.g. base64 of 24 random bytes).
    pub fn new(
        hash: Hash,
        user: &str,
        password: &str,
        client_nonce: &str,
    ) -> Result<ScramClient, ScramError> {
        if user.is_empty() {
            return Err(ScramError::Malformed("empty user name"));
        }
        if !valid_nonce(client_nonce) {
            return Err(ScramError::Malformed("bad client nonce"));
        }
        Ok(ScramClient {
            hash,
            password: password.to_owned(),
            client_nonce: client_nonce.to_owned(),
            client_first_bare: format!("n={},r={client_nonce}", encode_saslname(user)),
        })
    }

    /// The client-first message (`n,,n=USER,r=NONCE`).
    pub fn client_first(&self) -> Vec<u8> {
        format!("{GS2_HEADER}{}", self.client_first_bare).into_bytes()
    }

    /// Reads server-first (`r=NONCE,s=SALT,i=ITERATIONS`) and computes
    /// client-final (CPU-bound: PBKDF2 with the server's iteration count).
    pub fn server_first(self, msg: &[u8]) -> Result<ScramClientFinal, ScramError> {
        let text = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let mut fields = text.split(',');
        let first = fields.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(ScramError::Malformed(
                "the server requires an extension rpkv does not know",
            ));
        }
        let nonce = first.strip_prefix("r=").ok_or(ScramError::Malformed(
            "server-first must start with r=NONCE",
        ))?;
        let salt = fields
            .next()
            .and_then(|f| f.strip_prefix("s="))
            .ok_or(ScramError::Malformed("server-first has no s=SALT"))?;
        let iterations = fields
            .next()
            .and_then(|f| f.strip_prefix("i="))
            .ok_or(ScramError::Malformed("server-first has no i=ITERATIONS"))?;
        // The combined nonce must extend ours with a part of the server's.
        if !valid_nonce(nonce)
            || nonce.len() <= self.client_nonce.len()
            || !nonce.starts_with(self.client_nonce.as_str())
        {
            return Err(ScramError::NonceMismatch);
        }
        let salt = b64::decode(salt).map_err(|_| ScramError::Malformed("s= is not base64"))?;
        if salt.is_empty() {
            return Err(ScramError::Malformed("empty salt"));
        }
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| ScramError::Malformed("i= is not a number"))?;
        if !(ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::Iterations(iterations));
        }
        let h = self.hash;
        let keys = h.keys(&h.salted_password(self.password.as_bytes(), &salt, iterations));
        let without_proof = format!("c={},r={nonce}", b64::encode(GS2_HEADER));
        let auth_message = format!("{},{text},{without_proof}", self.client_first_bare);
        let client_signature = h.hmac(&keys.stored_key, auth_message.as_bytes());
        let proof = xor(&keys.client_key, &client_signature);
        Ok(ScramClientFinal {
            message: format!("{without_proof},p={}", b64::encode(proof)).into_bytes(),
            server_signature: h.hmac(&keys.server_key, auth_message.as_bytes()),
        })
    }
}

impl ScramClientFinal {
    /// The client-final message (`c=biws,r=NONCE,p=PROOF`).
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// Checks server-final: `v=SIGNATURE` must be the server signature of
    /// this exchange; `e=...` is the server's refusal.
    pub fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let text =
            std::str::from_utf8(server_final).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let first = text.split(',').next().unwrap_or_default();
        if let Some(e) = first.strip_prefix("e=") {
            return Err(ScramError::ServerError(e.to_owned()));
        }
        let v = first
            .strip_prefix("v=")
            .ok_or(ScramError::Malformed("server-final has no v=SIGNATURE"))?;
        let v = b64::decode(v).map_err(|_| ScramError::Malformed("v= is not base64"))?;
        if !same(&v, &self.server_signature) {
            return Err(ScramError::ServerSignature);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scram::{Credential, ScramServer, parse_client_first};

    const RFC_SERVER_FIRST: &[u8] =
        b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";

    /// RFC 7677 section 3: user "user", password "pencil", the client's messages.
    #[test]
    fn rfc7677_sha256_test_vector() {
        let c = ScramClient::new(Hash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(c.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let f = c.server_first(RFC_SERVER_FIRST).unwrap();
        assert_eq!(
            String::from_utf8(f.message().to_vec()).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        f.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
            .unwrap();
        // A server that does not hold the credential cannot sign.
        assert_eq!(
            f.verify(b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Err(ScramError::ServerSignature)
        );
        assert_eq!(
            f.verify(b"e=invalid-proof"),
            Err(ScramError::ServerError("invalid-proof".into()))
        );
    }

    /// The client against the broker's server code, both hashes, a user name
    /// that needs escaping; a wrong password fails at the server.
    #[test]
    fn client_and_server_agree() {
        for h in [Hash::Sha256, Hash::Sha512] {
            for (password, ok) in [("s3cret", true), ("wrong", false)] {
                let cred = Credential::derive(h, b"s3cret", b"saltsalt".to_vec(), ITERATIONS);
                let c = ScramClient::new(h, "a,b=c", password, "CLIENTnonce").unwrap();
                let first = parse_client_first(&c.client_first()).unwrap();
                assert_eq!(first.user, "a,b=c");
                let (server, server_first) = ScramServer::start(h, first, cred, "SERVERnonce");
                let f = c.server_first(&server_first).unwrap();
                match server.finish(f.message()) {
                    Ok(server_final) => {
                        assert!(ok, "{h:?}: a wrong password was accepted");
                        f.verify(&server_final).unwrap();
                    }
                    Err(e) => {
                        assert!(!ok, "{h:?}: {e}");
                        assert_eq!(e, ScramError::InvalidCredentials);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_server_first_messages_are_refused() {
        let client =
            || ScramClient::new(Hash::Sha256, "user", "pencil", "rOprNGfwEbeRWgbNEkqO").unwrap();
        for (msg, want) in [
            (
                &b"r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"[..],
                ScramError::NonceMismatch,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
                ScramError::Iterations(1),
            ),
        ] {
            assert_eq!(client().server_first(msg).unwrap_err(), want);
        }
        for msg in [
            &b""[..],
            b"m=ext,r=rOprNGfwEbeRWgbNEkqOxx,s=AAAA,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOxx,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOxx,s=!!,i=4096",
            b"r=rOprNGfwEbeRWgbNEkqOxx,s=AAAA,i=many",
        ] {
            assert!(client().server_first(msg).is_err(), "{msg:?}");
        }
        assert!(ScramClient::new(Hash::Sha256, "", "pw", "n").is_err());
        assert!(ScramClient::new(Hash::Sha256, "u", "pw", "a,b").is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let c = ScramClient::new(Hash::Sha512, "u", "s3cret", "n").unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
