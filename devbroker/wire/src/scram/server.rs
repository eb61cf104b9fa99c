//! The server's side of a SCRAM exchange, as the dev broker runs it: an
//! optional authzid that must name the user, Kafka's `tokenauth` extension
//! ignored (no delegation tokens), and the client-final nonce of librdkafka
//! before 2.6.1 accepted.

use super::{Credential, Hash, ScramError, decode_saslname, same, valid_nonce, xor};
use crate::b64;

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
    if !valid_nonce(nonce) {
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
        let client_key = xor(&proof, &client_signature);
        if !same(&h.hash(&client_key), &self.credential.stored_key) {
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
            let keys = h.keys(&h.salted_password(b"pw", b"salt", 4096));
            let without_proof = format!("c=biws,r={nonce}");
            let auth = format!("n=u,r=CN,{sf},{without_proof}");
            let sig = h.hmac(&keys.stored_key, auth.as_bytes());
            format!(
                "{without_proof},p={}",
                b64::encode(xor(&keys.client_key, &sig))
            )
        };
        assert!(server.finish(prove("CNSN").as_bytes()).is_ok());
        assert!(server.finish(prove("CNCNSN").as_bytes()).is_ok());
        assert!(server.finish(prove("XXCNSN").as_bytes()).is_err());
        assert!(server.finish(prove("CN").as_bytes()).is_err());
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
