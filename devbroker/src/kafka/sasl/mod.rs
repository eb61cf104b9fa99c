//! SASL on the Kafka listener: SaslHandshake (v0-1) and SaslAuthenticate
//! (v0-2) with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.
//!
//! - this file: the users' credentials ([`Users`]) and one connection's
//!   authentication state ([`Session`]), which also gates every other API;
//! - [`plain`]: the PLAIN message;
//! - [`scram`]: the SCRAM exchange.
//!
//! The users are those of `--basic-auth`. Their SCRAM credentials (random salt,
//! StoredKey, ServerKey, 4096 iterations) are derived at start; the passwords
//! are not kept here (PLAIN is checked against the SCRAM-SHA-256 credential).
//! Only the SaslAuthenticate framing (handshake v1) is served: the v0 flow of
//! raw tokens after the handshake is not, as the clients used here (librdkafka,
//! kafka-python, the Java client) all use SaslAuthenticate.

pub mod plain;
pub mod scram;

use std::collections::HashMap;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::http::auth::BasicAuth;
use scram::{Credential, Hash, ScramServer};

/// A SASL mechanism the listener offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    /// Every mechanism, in the order SaslHandshake lists them.
    pub const ALL: [Mechanism; 3] = [
        Mechanism::Plain,
        Mechanism::ScramSha256,
        Mechanism::ScramSha512,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }

    /// Mechanism names are case-sensitive in Kafka.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// One user's SCRAM credentials.
#[derive(Clone, Debug)]
struct UserCredentials {
    sha256: Credential,
    sha512: Credential,
}

/// The users the listener accepts, with credentials derived from their passwords.
#[derive(Debug, Default)]
pub struct Users {
    users: HashMap<String, UserCredentials>,
}

/// Random bytes for salts and nonces failed (the OS has no entropy source).
#[derive(Debug, thiserror::Error)]
#[error("cannot get random bytes from the operating system: {0}")]
pub struct RandomError(String);

fn random_bytes(n: usize) -> Result<Vec<u8>, RandomError> {
    let mut buf = vec![0u8; n];
    getrandom::fill(&mut buf).map_err(|e| RandomError(e.to_string()))?;
    Ok(buf)
}

impl Users {
    /// Derives every user's credentials with fresh random salts (CPU-bound:
    /// two PBKDF2 runs of 4096 iterations per user; call off the runtime).
    pub fn derive(users: &[BasicAuth]) -> Result<Users, RandomError> {
        Self::derive_with(users, scram::ITERATIONS)
    }

    fn derive_with(users: &[BasicAuth], iterations: u32) -> Result<Users, RandomError> {
        let mut out = HashMap::new();
        for u in users {
            let pw = u.password.as_bytes();
            let creds = UserCredentials {
                sha256: Credential::derive(Hash::Sha256, pw, random_bytes(16)?, iterations),
                sha512: Credential::derive(Hash::Sha512, pw, random_bytes(16)?, iterations),
            };
            out.insert(u.user.clone(), creds);
        }
        Ok(Users { users: out })
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    fn credential(&self, user: &str, hash: Hash) -> Option<Credential> {
        self.users.get(user).map(|c| match hash {
            Hash::Sha256 => c.sha256.clone(),
            Hash::Sha512 => c.sha512.clone(),
        })
    }
}

const UNKNOWN_USER: &str = "unknown user";
const WRONG_PASSWORD: &str = "wrong password";

/// One connection's authentication state.
#[derive(Debug)]
pub enum Session {
    /// No users are configured: every API is open, SASL is not enabled.
    Open,
    /// Users are configured; nothing but ApiVersions and SaslHandshake yet.
    Start,
    /// SaslHandshake chose a mechanism; SaslAuthenticate comes next.
    Handshaken(Mechanism),
    /// SCRAM: client-first answered, client-final expected.
    Scram(Box<ScramServer>),
    /// Authenticated as this user.
    Authenticated { user: String, mechanism: Mechanism },
}

/// A SASL response, and whether the connection closes after it.
#[derive(Debug)]
pub struct Answer<R> {
    pub response: R,
    pub close: bool,
}

fn strb(s: impl Into<String>) -> StrBytes {
    StrBytes::from_string(s.into())
}

impl Session {
    /// The state of a new connection.
    pub fn new(users: Option<&Users>) -> Session {
        match users {
            Some(u) if !u.is_empty() => Session::Start,
            _ => Session::Open,
        }
    }

    /// Whether a request for `api` may be served in this state (Kafka's rule:
    /// before authentication only ApiVersions, SaslHandshake and, after the
    /// handshake, SaslAuthenticate). A refused request closes the connection.
    pub fn allows(&self, api: ApiKey) -> bool {
        match self {
            Session::Open | Session::Authenticated { .. } => true,
            Session::Start => matches!(api, ApiKey::ApiVersions | ApiKey::SaslHandshake),
            Session::Handshaken(_) | Session::Scram(_) => {
                matches!(api, ApiKey::ApiVersions | ApiKey::SaslAuthenticate)
            }
        }
    }

    /// The mechanisms SaslHandshake lists.
    fn enabled(&self) -> Vec<StrBytes> {
        match self {
            Session::Open => Vec::new(),
            _ => Mechanism::ALL.iter().map(|m| strb(m.name())).collect(),
        }
    }

    /// SaslHandshake.
    pub fn handshake(&mut self, req: &SaslHandshakeRequest) -> Answer<SaslHandshakeResponse> {
        let mut resp = SaslHandshakeResponse::default();
        resp.mechanisms = self.enabled();
        match self {
            Session::Open | Session::Authenticated { .. } => {
                // What Kafka answers on a listener without SASL, or once
                // authenticated (re-authentication is not supported).
                resp.error_code = ResponseError::IllegalSaslState.code();
                Answer {
                    response: resp,
                    close: false,
                }
            }
            Session::Start => match Mechanism::from_name(req.mechanism.as_str()) {
                Some(m) => {
                    *self = Session::Handshaken(m);
                    Answer {
                        response: resp,
                        close: false,
                    }
                }
                None => {
                    tracing::info!(mechanism = %req.mechanism.as_str(), "Kafka client asked for an unsupported SASL mechanism; closing the connection");
                    resp.error_code = ResponseError::UnsupportedSaslMechanism.code();
                    Answer {
                        response: resp,
                        close: true,
                    }
                }
            },
            // The gate does not let a second handshake through.
            Session::Handshaken(_) | Session::Scram(_) => {
                resp.error_code = ResponseError::IllegalSaslState.code();
                Answer {
                    response: resp,
                    close: true,
                }
            }
        }
    }

    /// SaslAuthenticate. PBKDF2 (PLAIN) runs on a blocking thread.
    pub async fn authenticate(
        &mut self,
        users: Option<&std::sync::Arc<Users>>,
        req: &SaslAuthenticateRequest,
        server_nonce: impl FnOnce() -> Result<String, RandomError>,
    ) -> Answer<SaslAuthenticateResponse> {
        // The log says why; the client is not told whether the user exists.
        let fail = |mechanism: Mechanism, user: &str, why: String| {
            tracing::warn!(mechanism = mechanism.name(), user, reason = %why, "Kafka SASL authentication failed; closing the connection");
            let shown = if why == UNKNOWN_USER || why == WRONG_PASSWORD {
                String::new()
            } else {
                format!(" ({why})")
            };
            let mut r = SaslAuthenticateResponse::default();
            r.error_code = ResponseError::SaslAuthenticationFailed.code();
            r.error_message = Some(strb(format!(
                "Authentication failed: invalid credentials with SASL mechanism {}{shown}; check the user and password (the broker's --basic-auth)",
                mechanism.name()
            )));
            Answer {
                response: r,
                close: true,
            }
        };
        let ok = |bytes: Vec<u8>| Answer {
            response: SaslAuthenticateResponse::default().with_auth_bytes(Bytes::from(bytes)),
            close: false,
        };
        let state = std::mem::replace(self, Session::Start);
        let Some(users) = users else {
            *self = state;
            let mut r = SaslAuthenticateResponse::default();
            r.error_code = ResponseError::IllegalSaslState.code();
            r.error_message = Some(strb("SASL is not enabled on this listener"));
            return Answer {
                response: r,
                close: false,
            };
        };
        match state {
            Session::Handshaken(Mechanism::Plain) => {
                let parsed = match plain::parse(&req.auth_bytes) {
                    Ok(p) => p,
                    Err(e) => return fail(Mechanism::Plain, "", e.to_string()),
                };
                let Some(cred) = users.credential(&parsed.user, Hash::Sha256) else {
                    return fail(Mechanism::Plain, &parsed.user, UNKNOWN_USER.into());
                };
                let password = parsed.password.clone();
                let matched = tokio::task::spawn_blocking(move || {
                    cred.matches(Hash::Sha256, password.as_bytes())
                })
                .await
                .unwrap_or(false);
                if !matched {
                    return fail(Mechanism::Plain, &parsed.user, WRONG_PASSWORD.into());
                }
                tracing::info!(user = %parsed.user, mechanism = "PLAIN", "Kafka client authenticated");
                *self = Session::Authenticated {
                    user: parsed.user,
                    mechanism: Mechanism::Plain,
                };
                ok(Vec::new())
            }
            Session::Handshaken(m) => {
                let hash = if m == Mechanism::ScramSha512 {
                    Hash::Sha512
                } else {
                    Hash::Sha256
                };
                let first = match scram::parse_client_first(&req.auth_bytes) {
                    Ok(f) => f,
                    Err(e) => return fail(m, "", e.to_string()),
                };
                let Some(cred) = users.credential(&first.user, hash) else {
                    let user = first.user.clone();
                    return fail(m, &user, UNKNOWN_USER.into());
                };
                let nonce = match server_nonce() {
                    Ok(n) => n,
                    Err(e) => return fail(m, &first.user.clone(), e.to_string()),
                };
                let (server, server_first) = ScramServer::start(hash, first, cred, &nonce);
                *self = Session::Scram(Box::new(server));
                ok(server_first)
            }
            Session::Scram(server) => {
                let m = if server.hash() == Hash::Sha512 {
                    Mechanism::ScramSha512
                } else {
                    Mechanism::ScramSha256
                };
                match server.finish(&req.auth_bytes) {
                    Ok(server_final) => {
                        tracing::info!(user = %server.user(), mechanism = m.name(), "Kafka client authenticated");
                        *self = Session::Authenticated {
                            user: server.user().to_owned(),
                            mechanism: m,
                        };
                        ok(server_final)
                    }
                    Err(e) => fail(m, server.user(), e.to_string()),
                }
            }
            other @ (Session::Open | Session::Authenticated { .. } | Session::Start) => {
                // Start cannot get here (the gate closes the connection first).
                *self = other;
                let mut r = SaslAuthenticateResponse::default();
                r.error_code = ResponseError::IllegalSaslState.code();
                r.error_message = Some(strb(
                    "SaslAuthenticate request received after successful authentication",
                ));
                Answer {
                    response: r,
                    close: false,
                }
            }
        }
    }
}

/// A fresh server nonce: 24 random bytes, base64 (printable, no comma).
pub fn server_nonce() -> Result<String, RandomError> {
    Ok(crate::wire::b64::encode(random_bytes(24)?))
}

#[cfg(test)]
mod tests;
