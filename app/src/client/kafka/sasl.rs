//! SASL on a Kafka connection, right after ApiVersions: SaslHandshake v1,
//! then SaslAuthenticate with PLAIN (RFC 4616) or SCRAM-SHA-256/512
//! (RFC 5802/7677, the client side of `rpkv_wire::scram`, which also checks
//! the server's signature).

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rpkv_wire::scram::{Hash, ScramClient};

use super::conn::{Conn, Supported, kafka_error};
use crate::client::config::SaslMechanism;
use crate::client::error::{Error, Result};

impl Supported for SaslHandshakeRequest {
    // v0 would send raw tokens after the handshake; v1 frames them in
    // SaslAuthenticate, which every current broker serves.
    const OURS: (i16, i16) = (1, 1);
}
impl Supported for SaslAuthenticateRequest {
    const OURS: (i16, i16) = (0, 2);
}

/// What to say when the user or the password is missing.
fn missing(mechanism: SaslMechanism) -> String {
    format!(
        "SASL {mechanism} needs a user and a password: pass --user and --password (or RPKV_USER and RPKV_PASSWORD), or use a profile that has them"
    )
}

/// Authenticates `conn` as `user` with `mechanism`.
pub(crate) async fn authenticate(
    conn: &mut Conn,
    mechanism: SaslMechanism,
    user: Option<&str>,
    password: Option<&str>,
) -> Result<()> {
    let auth_error = |conn: &Conn, detail: String| Error::KafkaAuth {
        broker: conn.broker().to_owned(),
        detail,
    };
    let (Some(user), Some(password)) = (user.filter(|u| !u.is_empty()), password) else {
        return Err(auth_error(conn, missing(mechanism)));
    };
    let hs = conn
        .request(
            SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_static_str(mechanism.name())),
        )
        .await?;
    if hs.error_code == ResponseError::UnsupportedSaslMechanism.code() {
        let offered: Vec<&str> = hs.mechanisms.iter().map(|m| m.as_str()).collect();
        return Err(auth_error(
            conn,
            format!(
                "the broker does not offer SASL {mechanism} (it offers {}); pass one of those with --sasl-mechanism",
                if offered.is_empty() {
                    "none".to_owned()
                } else {
                    offered.join(", ")
                }
            ),
        ));
    }
    if hs.error_code == ResponseError::IllegalSaslState.code() {
        return Err(auth_error(
            conn,
            "this listener does not use SASL; drop --sasl-mechanism (or the profile's sasl_mechanism)"
                .to_owned(),
        ));
    }
    if let Some(e) = kafka_error(hs.error_code, None) {
        return Err(e);
    }
    match mechanism {
        SaslMechanism::Plain => {
            let token = format!("\0{user}\0{password}");
            step(conn, mechanism, user, token.into_bytes()).await?;
        }
        SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512 => {
            let hash = if mechanism == SaslMechanism::ScramSha512 {
                Hash::Sha512
            } else {
                Hash::Sha256
            };
            let nonce = client_nonce().map_err(|e| conn.transport(e))?;
            let client = ScramClient::new(hash, user, password, &nonce)
                .map_err(|e| auth_error(conn, e.to_string()))?;
            let server_first = step(conn, mechanism, user, client.client_first()).await?;
            // PBKDF2 with the server's iteration count: CPU-bound, so off the runtime.
            let computed = tokio::task::spawn_blocking(move || client.server_first(&server_first))
                .await
                .map_err(|e| conn.transport(format!("computing the SCRAM proof: {e}")))?;
            let fin = computed.map_err(|e| {
                auth_error(
                    conn,
                    format!("{e} (in the broker's SCRAM server-first message)"),
                )
            })?;
            let server_final = step(conn, mechanism, user, fin.message().to_vec()).await?;
            fin.verify(&server_final)
                .map_err(|e| auth_error(conn, e.to_string()))?;
        }
    }
    tracing::debug!(broker = %conn.broker(), user, mechanism = mechanism.name(), "Kafka SASL authenticated");
    Ok(())
}

/// One SaslAuthenticate round: sends `token`, returns the broker's.
async fn step(
    conn: &mut Conn,
    mechanism: SaslMechanism,
    user: &str,
    token: Vec<u8>,
) -> Result<Bytes> {
    let resp = conn
        .request(SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)))
        .await?;
    if resp.error_code == ResponseError::SaslAuthenticationFailed.code() {
        let said = resp
            .error_message
            .as_ref()
            .map(|m| m.to_string())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "invalid credentials".to_owned());
        return Err(Error::KafkaAuth {
            broker: conn.broker().to_owned(),
            detail: format!(
                "the broker refused user {user:?} with SASL {mechanism} (it says: {}); check --user and --password (or the profile's)",
                said.trim_end_matches('.')
            ),
        });
    }
    if let Some(e) = kafka_error(resp.error_code, resp.error_message.as_ref()) {
        return Err(e);
    }
    Ok(resp.auth_bytes)
}

/// A fresh SCRAM client nonce: 24 random bytes from ring's system RNG, base64.
fn client_nonce() -> std::result::Result<String, String> {
    let mut bytes = [0u8; 24];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| "cannot get random bytes from the operating system for SCRAM".to_owned())?;
    Ok(rpkv_wire::b64::encode(bytes))
}
