//! Optional HTTP basic auth (`--basic-auth USER:PASSWORD`, repeatable): every
//! endpoint but `/status/ready` answers 401 with
//! `WWW-Authenticate: Basic realm="devbroker"` unless the request carries the
//! credentials of one of the users. The same users authenticate with SASL on
//! the Kafka listener (`kafka::sasl`).

use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::wire::b64;

/// A user the broker accepts. Its `Debug` does not show the password.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicAuth {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
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
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
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

/// Whether the header carries the credentials of any of `users` (each is
/// compared, so timing does not tell which one matched).
pub fn authorized_any(users: &[BasicAuth], header: Option<&HeaderValue>) -> bool {
    users.iter().fold(false, |ok, u| authorized(u, header) | ok)
}

/// Wraps the router so every endpoint but `/status/ready` needs the
/// credentials of one of `users` (none: no authentication).
pub fn protect(app: axum::Router, users: Vec<BasicAuth>) -> axum::Router {
    if users.is_empty() {
        return app;
    }
    app.layer(axum::middleware::from_fn_with_state(
        Arc::new(users),
        require,
    ))
}

/// Middleware: 401 without valid credentials, except for the readiness probe.
pub async fn require(
    State(expected): State<Arc<Vec<BasicAuth>>>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/status/ready"
        || authorized_any(&expected, req.headers().get(header::AUTHORIZATION))
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
    use crate::http::{AppState, router};
    use crate::storage::{Store, StoreOptions};
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    #[tokio::test]
    async fn the_router_demands_credentials_except_for_readiness() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let spec: crate::config::TopicSpec = "kv:1".parse().unwrap();
        store
            .create_topic(&spec.name, spec.partitions, spec.config)
            .await
            .unwrap();
        let app = protect(
            router(AppState::new(store), crate::defaults::MAX_REQUEST_BYTES),
            vec!["alice:pw".parse().unwrap(), "bob:pw2".parse().unwrap()],
        );
        let send = |path: &str, auth: Option<&str>| {
            let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            let req = if path == "/status/ready" {
                Request::get(path).body(Body::empty()).unwrap()
            } else {
                req.body(Body::from(r#"{"limit":1}"#)).unwrap()
            };
            app.clone().oneshot(req)
        };
        let scan = "/kvstore/kv/partition/0/scan";
        let resp = send(scan, None).await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"devbroker\""
        );
        let wrong = format!("Basic {}", b64::encode(b"alice:nope"));
        assert_eq!(
            send(scan, Some(&wrong)).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let right = format!("Basic {}", b64::encode(b"alice:pw"));
        let bob = format!("Basic {}", b64::encode(b"bob:pw2"));
        assert_eq!(
            send(scan, Some(&bob)).await.unwrap().status(),
            StatusCode::OK
        );
        let crossed = format!("Basic {}", b64::encode(b"bob:pw"));
        assert_eq!(
            send(scan, Some(&crossed)).await.unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
        let resp = send(scan, Some(&right)).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{body:?}");
        assert_eq!(
            send("/status/ready", None).await.unwrap().status(),
            StatusCode::OK
        );
    }

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
