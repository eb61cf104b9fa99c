//! SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677), the server side, as
//! Kafka speaks it: no channel binding (`n,,` or `y,,`), an optional authzid
//! that must name the user, 4096 PBKDF2 iterations.
//!
//! The message flow is written here by hand: there is no well-kept crate for a
//! SCRAM server. The cryptography (HMAC, PBKDF2, SHA-2) comes from RustCrypto's
//! `hmac`, `pbkdf2` and `sha2`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256, Sha512};

use crate::wire::b64;

/// The PBKDF2 iteration count of every derived credential (Kafka's default).
pub const ITERATIONS: u32 = 4096;

/// The hash function of a SCRAM mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha512,
}

impl Hash {
    fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
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

    fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => Sha256::digest(data).to_vec(),
            Hash::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
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
        let salted = hash.salted_password(password, &salt, iterations);
        let client_key = hash.hmac(&salted, b"Client Key");
        Credential {
            stored_key: hash.hash(&client_key),
            server_key: hash.hmac(&salted, b"Server Key"),
            salt,
            iterations,
        }
    }

    /// Whether `password` is the one this credential was derived from
    /// (CPU-bound: PBKDF2; used by PLAIN).
    pub fn matches(&self, hash: Hash, password: &[u8]) -> bool {
        let salted = hash.salted_password(password, &self.salt, self.iterations);
        let stored = hash.hash(&hash.hmac(&salted, b"Client Key"));
        crate::http::auth::same(&stored, &self.stored_key)
    }
}

/// Why an exchange failed; every variant ends in SASL_AUTHENTICATION_FAILED.
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
}

/// The server's half of one exchange, between client-first and client-final.
#[derive(Debug)]
pub struct ScramServer {
    hash: Hash,
    user: String,
    credential: Credential,
    /// Client nonce and server nonce.
    nonce: String,
    client_nonce: String,
    /// What the client must echo base64-encoded in `c=`.
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
}

/// The parts of a client-first message.
#[derive(Debug, PartialEq, Eq)]
pub struct ClientFirst {
    pub user: String,
    pub nonce: String,
    gs2_header: String,
    bare: String,
}

/// Parses `gs2-header client-first-bare`, e.g. `n,,n=user,r=nonce`.
pub fn parse_client_first(msg: &[u8]) -> Result<ClientFirst, ScramError> {
    let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
    let mut parts = msg.splitn(3, ',');
    let cb = parts.next().unwrap_or_default();
    let authzid = parts.next().ok_or(ScramError::Malformed("no gs2 header"))?;
    let bare = parts
        .next()
        .ok_or(ScramError::Malformed("no client-first-bare"))?;
    match cb {
        "n" | "y" => {}
        c if c.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed("bad gs2 channel binding flag")),
    }
    let authzid = match authzid {
        "" => None,
        a => Some(decode_saslname(
            a.strip_prefix("a=")
                .ok_or(ScramError::Malformed("bad authzid"))?,
        )?),
    };
    let mut fields = bare.split(',');
    let user = fields
        .next()
        .and_then(|f| f.strip_prefix("n="))
        .ok_or(ScramError::Malformed("client-first must start with n=USER"))?;
    let user = decode_saslname(user)?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or(ScramError::Malformed("client-first has no r=NONCE"))?;
    if nonce.is_empty()
        || !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
    {
        return Err(ScramError::Malformed("bad client nonce"));
    }
    // Extensions (Kafka's tokenauth=true) follow; delegation tokens are not
    // supported, so any extension is ignored and the password must match.
    if user.is_empty() {
        return Err(ScramError::Malformed("empty user name"));
    }
    if let Some(a) = authzid
        && a != user
    {
        return Err(ScramError::Authzid { authzid: a, user });
    }
    let gs2_len = msg.len() - bare.len();
    Ok(ClientFirst {
        user,
        nonce: nonce.to_owned(),
        gs2_header: msg[..gs2_len].to_owned(),
        bare: bare.to_owned(),
    })
}

/// `=2C` is `,` and `=3D` is `=`; any other `=` is an error (RFC 5802).
fn decode_saslname(s: &str) -> Result<String, ScramError> {
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

impl ScramServer {
    /// Starts an exchange for `first` with the user's credential and a fresh
    /// server nonce; returns the server and its server-first message.
    pub fn start(
        hash: Hash,
        first: ClientFirst,
        credential: Credential,
        server_nonce: &str,
    ) -> (ScramServer, Vec<u8>) {
        let client_nonce = first.nonce;
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            b64::encode(&credential.salt),
            credential.iterations
        );
        let out = server_first.clone().into_bytes();
        (
            ScramServer {
                hash,
                user: first.user,
                credential,
                nonce,
                client_nonce,
                gs2_header: first.gs2_header,
                client_first_bare: first.bare,
                server_first,
            },
            out,
        )
    }

    /// The exchange's hash function.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The user this exchange authenticates.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Checks client-final (`c=biws,r=NONCE,p=PROOF`); on success returns the
    /// server-final message (`v=SIGNATURE`).
    pub fn finish(&self, msg: &[u8]) -> Result<Vec<u8>, ScramError> {
        let msg = std::str::from_utf8(msg).map_err(|_| ScramError::Malformed("not UTF-8"))?;
        let (without_proof, proof) = msg
            .rsplit_once(",p=")
            .ok_or(ScramError::Malformed("client-final has no p=PROOF"))?;
        let mut fields = without_proof.split(',');
        let binding = fields
            .next()
            .and_then(|f| f.strip_prefix("c="))
            .ok_or(ScramError::Malformed("client-final must start with c="))?;
        let nonce = fields
            .next()
            .and_then(|f| f.strip_prefix("r="))
            .ok_or(ScramError::Malformed("client-final has no r=NONCE"))?;
        let binding =
            b64::decode(binding).map_err(|_| ScramError::Malformed("c= is not base64"))?;
        if binding != self.gs2_header.as_bytes() {
            return Err(ScramError::Malformed(
                "channel binding c= does not match the gs2 header",
            ));
        }
        // librdkafka before 2.6.1 sends the client nonce once more in front of
        // the combined nonce (its issue 4895); Kafka 3.x accepts that, and so
        // does this broker, since Debian's kcat links such a librdkafka. Any
        // other nonce is refused.
        let legacy = nonce
            .strip_prefix(self.client_nonce.as_str())
            .is_some_and(|rest| rest == self.nonce);
        if nonce != self.nonce && !legacy {
            return Err(ScramError::Malformed("nonce does not match"));
        }
        let proof = b64::decode(proof).map_err(|_| ScramError::Malformed("p= is not base64"))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let h = self.hash;
        let client_signature = h.hmac(&self.credential.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::InvalidCredentials);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !crate::http::auth::same(&h.hash(&client_key), &self.credential.stored_key) {
            return Err(ScramError::InvalidCredentials);
        }
        let server_signature = h.hmac(&self.credential.server_key, auth_message.as_bytes());
        Ok(format!("v={}", b64::encode(&server_signature)).into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 section 3: the SCRAM-SHA-256 exchange of user "user", password "pencil".
    #[test]
    fn rfc7677_sha256_test_vector() {
        let salt = b64::decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = Credential::derive(Hash::Sha256, b"pencil", salt, 4096);
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(first.user, "user");
        let (server, server_first) =
            ScramServer::start(Hash::Sha256, first, cred, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        assert_eq!(
            String::from_utf8(server_first).unwrap(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let final_msg = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let server_final = server.finish(final_msg).unwrap();
        assert_eq!(
            String::from_utf8(server_final).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn a_wrong_proof_or_nonce_is_refused() {
        let salt = b64::decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let cred = Credential::derive(Hash::Sha256, b"not-pencil", salt, 4096);
        let first = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        let (server, _) =
            ScramServer::start(Hash::Sha256, first, cred, "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
        let final_msg = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert_eq!(
            server.finish(final_msg),
            Err(ScramError::InvalidCredentials)
        );
        let other_nonce =
            b"c=biws,r=rOprNGfwEbeRWgbNEkqOxyz,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert!(matches!(
            server.finish(other_nonce),
            Err(ScramError::Malformed(_))
        ));
        let bad_binding = b"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert!(matches!(
            server.finish(bad_binding),
            Err(ScramError::Malformed(_))
        ));
    }

    /// librdkafka < 2.6.1 repeats the client nonce: accepted with a right
    /// proof over what it sent; a nonce with anything else in front is not.
    #[test]
    fn the_old_librdkafka_nonce_is_accepted() {
        let h = Hash::Sha256;
        let cred = Credential::derive(h, b"pw", b"salt".to_vec(), 4096);
        let first = parse_client_first(b"n,,n=u,r=CN").unwrap();
        let (server, sf) = ScramServer::start(h, first, cred, "SN");
        let sf = String::from_utf8(sf).unwrap();
        let prove = |nonce: &str| {
            let salted = h.salted_password(b"pw", b"salt", 4096);
            let client_key = h.hmac(&salted, b"Client Key");
            let without_proof = format!("c=biws,r={nonce}");
            let auth = format!("n=u,r=CN,{sf},{without_proof}");
            let sig = h.hmac(&h.hash(&client_key), auth.as_bytes());
            let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
            format!("{without_proof},p={}", b64::encode(&proof))
        };
        assert!(server.finish(prove("CNSN").as_bytes()).is_ok());
        assert!(server.finish(prove("CNCNSN").as_bytes()).is_ok());
        assert!(server.finish(prove("XXCNSN").as_bytes()).is_err());
        assert!(server.finish(prove("CN").as_bytes()).is_err());
    }

    /// A full SHA-512 round trip computed the client's way, and PLAIN's check.
    #[test]
    fn sha512_round_trip_and_password_match() {
        let cred = Credential::derive(Hash::Sha512, b"s3cret", b"saltsalt".to_vec(), 4096);
        assert!(cred.matches(Hash::Sha512, b"s3cret"));
        assert!(!cred.matches(Hash::Sha512, b"s3cret!"));
        let first = parse_client_first(b"n,a=alice,n=alice,r=abc").unwrap();
        let (server, sf) = ScramServer::start(Hash::Sha512, first, cred, "XYZ");
        let sf = String::from_utf8(sf).unwrap();
        assert!(sf.starts_with("r=abcXYZ,s="), "{sf}");
        // The client's side of RFC 5802 section 3.
        let h = Hash::Sha512;
        let salted = h.salted_password(b"s3cret", b"saltsalt", 4096);
        let client_key = h.hmac(&salted, b"Client Key");
        let stored = h.hash(&client_key);
        let without_proof = format!("c={},r=abcXYZ", b64::encode(b"n,a=alice,"));
        let auth = format!("n=alice,r=abc,{sf},{without_proof}");
        let sig = h.hmac(&stored, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        let msg = format!("{without_proof},p={}", b64::encode(&proof));
        let server_final = server.finish(msg.as_bytes()).unwrap();
        let want = h.hmac(&h.hmac(&salted, b"Server Key"), auth.as_bytes());
        assert_eq!(
            server_final,
            format!("v={}", b64::encode(&want)).into_bytes()
        );
    }

    #[test]
    fn client_first_parsing() {
        let f = parse_client_first(b"n,,n=a=2Cb=3Dc,r=xyz,tokenauth=true").unwrap();
        assert_eq!(f.user, "a,b=c");
        assert_eq!(f.nonce, "xyz");
        assert_eq!(
            parse_client_first(b"p=tls-unique,,n=user,r=x"),
            Err(ScramError::ChannelBinding)
        );
        assert!(matches!(
            parse_client_first(b"n,a=bob,n=alice,r=x"),
            Err(ScramError::Authzid { .. })
        ));
        for bad in [
            &b""[..],
            b"n,,",
            b"n,,n=,r=x",
            b"n,,n=user",
            b"n,,n=user,r=",
            b"n,,n=us=er,r=x",
            b"x,,n=user,r=x",
            b"n,,r=x,n=user",
            b"\xff,,n=user,r=x",
        ] {
            assert!(parse_client_first(bad).is_err(), "{bad:?}");
        }
    }
}
