//! Optional HTTP basic auth (`--basic-auth USER:PASSWORD`): every endpoint but
//! `/status/ready` answers 401 with `WWW-Authenticate: Basic realm="devbroker"`
//! unless the request carries the right credentials.

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::wire::b64;

/// The one user the broker accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl FromStr for BasicAuth {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((user, password)) if !user.is_empty() => Ok(BasicAuth {
                user: user.to_owned(),
                password: password.to_owned(),
            }),
            _ => Err("expected USER:PASSWORD with a non-empty user".to_owned()),
        }
    }
}

impl BasicAuth {
    /// The expected `Authorization` header value.
    fn header_value(&self) -> String {
        format!(
            "Basic {}",
            b64::encode(format!("{}:{}", self.user, self.password).as_bytes())
        )
    }
}

/// Compares without an early exit, so timing does not reveal a prefix match.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Checks a request's `Authorization` header against the expected credentials.
pub fn authorized(expected: &BasicAuth, header: Option<&HeaderValue>) -> bool {
    let Some(given) = header else {
        return false;
    };
    let want = expected.header_value();
    // The scheme name is case-insensitive; compare it apart from the token.
    let given = given.as_bytes();
    if given.len() < 6 || !given[..6].eq_ignore_ascii_case(b"basic ") {
        return false;
    }
    same(&given[6..], &want.as_bytes()[6..])
}

/// Middleware: 401 without valid credentials, except for the readiness probe.
pub async fn require(State(expected): State<Arc<BasicAuth>>, req: Request, next: Next) -> Response {
    if req.uri().path() == "/status/ready"
        || authorized(&expected, req.headers().get(header::AUTHORIZATION))
    {
        return next.run(req).await;
    }
    let mut resp =
        ApiError::new(StatusCode::UNAUTHORIZED, "missing or wrong credentials").into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"devbroker\""),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_checks_credentials() {
        let auth: BasicAuth = "alice:s3:cret".parse().unwrap();
        assert_eq!(auth.password, "s3:cret");
        assert!("nouser".parse::<BasicAuth>().is_err());
        assert!(":pw".parse::<BasicAuth>().is_err());
        let good =
            HeaderValue::from_str(&format!("basic {}", b64::encode(b"alice:s3:cret"))).unwrap();
        assert!(authorized(&auth, Some(&good)));
        let bad = HeaderValue::from_str(&format!("Basic {}", b64::encode(b"alice:wrong"))).unwrap();
        assert!(!authorized(&auth, Some(&bad)));
        assert!(!authorized(&auth, None));
        assert!(!authorized(
            &auth,
            Some(&HeaderValue::from_static("Bearer x"))
        ));
    }
}
