//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks them:
//! no channel binding (gs2 header `n,,`), no SASLprep of user names or
//! passwords (Kafka does none either), 4096 PBKDF2 iterations.
//!
//! - this file: the math both sides share (HMAC, H, Hi, the keys of a
//!   [`Credential`]) and the saslname escaping;
//! - [`server`]: the broker's side of one exchange ([`ScramServer`]);
//! - [`client`]: the client's side ([`ScramClient`]), which also checks the
//!   server's signature.
//!
//! The message flow is written here by hand: there is no well-kept crate for
//! SCRAM that offers both sides without pulling an async runtime or an older
//! RustCrypto generation. The cryptography comes from RustCrypto's `hmac`,
//! `pbkdf2` and `sha2`.

pub mod client;
pub mod server;

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

pub use client::{ScramClient, ScramClientFinal};
pub use server::{ClientFirst, ScramServer, parse_client_first};

/// The PBKDF2 iteration count of every derived credential (Kafka's default,
/// and the least a client accepts from a server).
pub const ITERATIONS: u32 = 4096;

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    /// The Kafka mechanism name: `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn mechanism(self) -> &'static str {
        match self {
            Hash::Sha256 => "SCRAM-SHA-256",
            Hash::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// HMAC(key, data).
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail.
        match self {
            Hash::Sha256 => {
                let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Hash::Sha512 => {
                let mut m = <Hmac<Sha512> as KeyInit>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
        }
    }

    /// H(data).
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    /// Hi(password, salt, iterations): PBKDF2 with HMAC (CPU-bound).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            Hash::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            Hash::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    /// ClientKey, StoredKey and ServerKey of a salted password.
    fn keys(self, salted: &[u8]) -> Keys {
        let client_key = self.hmac(salted, b"Client Key");
        Keys {
            stored_key: self.hash(&client_key),
            server_key: self.hmac(salted, b"Server Key"),
            client_key,
        }
    }
}

struct Keys {
    client_key: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

/// What the broker keeps of a password for one mechanism (RFC 5802 section 3):
/// never the password itself.
#[derive(Clone)]
pub struct Credential {
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// Derives StoredKey and ServerKey from `password` (CPU-bound: PBKDF2).
    pub fn derive(hash: Hash, password: &[u8], salt: Vec<u8>, iterations: u32) -> Credential {
        let keys = hash.keys(&hash.salted_password(password, &salt, iterations));
        Credential {
            stored_key: keys.stored_key,
            server_key: keys.server_key,
            salt,
            iterations,
        }
    }

    /// Whether `password` is the one this credential was derived from
    /// (CPU-bound: PBKDF2; used by PLAIN).
    pub fn matches(&self, hash: Hash, password: &[u8]) -> bool {
        let keys = hash.keys(&hash.salted_password(password, &self.salt, self.iterations));
        same(&keys.stored_key, &self.stored_key)
    }
}

/// Why an exchange failed. On the broker every variant ends in
/// SASL_AUTHENTICATION_FAILED; on the client it ends the connection.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("malformed SCRAM message: {0}")]
    Malformed(&'static str),
    #[error("channel binding is not supported; use a client without it (gs2 header n,,)")]
    ChannelBinding,
    #[error("the authorization id {authzid:?} is not the user {user:?}")]
    Authzid { authzid: String, user: String },
    #[error("wrong password")]
    InvalidCredentials,
    /// The server's nonce does not extend the client's (a replayed or forged exchange).
    #[error("the server's nonce does not start with the client's")]
    NonceMismatch,
    /// The server asks for fewer iterations than SCRAM's minimum, or absurdly many.
    #[error(
        "the server asks for {0} PBKDF2 iterations; accepted are {ITERATIONS} to {MAX_ITERATIONS}"
    )]
    Iterations(u32),
    /// The server ended the exchange with `e=...`.
    #[error("the server refused the exchange: {0}")]
    ServerError(String),
    /// The server's signature is wrong: it does not know the password.
    #[error(
        "the server's SCRAM signature is wrong: it does not hold this user's credential (is it the broker you meant?)"
    )]
    ServerSignature,
}

/// The most iterations a client runs for a server (Kafka's own limit is 16384;
/// this only stops a server from making the client spin for minutes).
pub const MAX_ITERATIONS: u32 = 1 << 20;

/// Compares without an early exit, so timing does not reveal a prefix match.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// `a XOR b`, byte by byte (ClientProof = ClientKey XOR ClientSignature).
fn xor(a: &[u8], b: &[u8]) -> Vec<u8> {
    a.iter().zip(b).map(|(x, y)| x ^ y).collect()
}

/// `,` as `=2C` and `=` as `=3D` (RFC 5802 saslname).
pub fn encode_saslname(s: &str) -> String {
    s.replace('=', "=3D").replace(',', "=2C")
}

/// `=2C` is `,` and `=3D` is `=`; any other `=` is an error (RFC 5802).
pub fn decode_saslname(s: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let esc = rest.get(i..i + 3);
        match esc {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed("bad escape in a user name")),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Whether `nonce` is a valid SCRAM nonce: printable ASCII without `,`.
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saslnames_round_trip() {
        for name in ["alice", "a,b=c", "==,,", ""] {
            assert_eq!(decode_saslname(&encode_saslname(name)).unwrap(), name);
        }
        assert_eq!(encode_saslname("a,b=c"), "a=2Cb=3Dc");
        assert!(decode_saslname("a=2").is_err());
        assert!(decode_saslname("a=41").is_err());
    }

    #[test]
    fn password_match() {
        let cred = Credential::derive(Hash::Sha512, b"s3cret", b"saltsalt".to_vec(), 4096);
        assert!(cred.matches(Hash::Sha512, b"s3cret"));
        assert!(!cred.matches(Hash::Sha512, b"s3cret!"));
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
    }
}
