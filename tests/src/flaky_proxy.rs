//! A fault-injecting HTTP/1.1 proxy for tests: it sits between a client (the
//! broker's S3 client) and a server (moto's S3 server) and, depending on its
//! [`Faults`], delays requests, answers some with S3-style 500/503 errors, or
//! drops the connection, either before the request reaches the server or after
//! the server handled it (the answer is lost). The faults can be changed while
//! it runs, and it counts what it injected ([`FaultCounts`]), so a test can check
//! that faults really happened.
//!
//! Which request gets which fault is decided from a seeded hash of the request's
//! sequence number (no clock, no global RNG): the same seed gives the same fault
//! schedule for the same order of requests.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the proxy does to the requests it forwards. Rates are per mille of the
/// requests and apply in this order: a request is delayed (`delay_permille`)
/// and, independently, gets at most one of: for a path in `fail_paths` or inside
/// a brownout, 503; else a 500, a 503, a drop before forwarding, a drop after
/// forwarding, or nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Requests delayed before they are handled.
    pub delay_permille: u32,
    /// The added latency, uniform in this range.
    pub delay: (Duration, Duration),
    /// Requests answered `500 InternalError` without reaching the server.
    pub error_500_permille: u32,
    /// Requests answered `503 SlowDown` without reaching the server.
    pub error_503_permille: u32,
    /// Requests whose connection is closed before they reach the server (the
    /// request body, if any, is not read).
    pub drop_before_permille: u32,
    /// Requests forwarded (the server handles them) whose connection is then
    /// closed without an answer.
    pub drop_after_permille: u32,
    /// Brownouts: of every `brownout_every` requests (by sequence number), the
    /// first `brownout_len` are answered 503, as a bucket that is overloaded for
    /// a while. 0 = none.
    pub brownout_every: u64,
    pub brownout_len: u64,
    /// Requests whose path contains one of these answer 503, every time (an
    /// object the bucket cannot serve for now).
    pub fail_paths: Vec<String>,
}

impl Faults {
    /// Everything forwarded untouched.
    pub fn clean() -> Faults {
        Faults::default()
    }

    /// A bad day: about a third of the requests fail one way or another, one in
    /// three is slow (200-800 ms), with a brownout of 24 requests every 160.
    pub fn flaky() -> Faults {
        Faults {
            delay_permille: 300,
            delay: (Duration::from_millis(200), Duration::from_millis(800)),
            error_500_permille: 100,
            error_503_permille: 80,
            drop_before_permille: 80,
            drop_after_permille: 70,
            brownout_every: 160,
            brownout_len: 24,
            fail_paths: Vec::new(),
        }
    }
}

/// What the proxy saw and injected so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Requests received.
    pub requests: u64,
    /// Requests that reached the server.
    pub forwarded: u64,
    /// Requests delayed.
    pub delayed: u64,
    /// `500 InternalError` answers injected.
    pub errors_500: u64,
    /// `503 SlowDown` answers injected (brownouts included).
    pub errors_503: u64,
    /// Of those, in a brownout.
    pub brownout: u64,
    /// Of those, for a path in `fail_paths`.
    pub failed_paths: u64,
    /// Connections closed before the request reached the server.
    pub dropped_before: u64,
    /// Connections closed after the server handled the request.
    pub dropped_after: u64,
    /// Requests that could not be forwarded (the server was unreachable).
    pub upstream_errors: u64,
}

impl FaultCounts {
    /// Requests that failed because of an injected fault.
    pub fn failures(&self) -> u64 {
        self.errors_500 + self.errors_503 + self.dropped_before + self.dropped_after
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    forwarded: AtomicU64,
    delayed: AtomicU64,
    errors_500: AtomicU64,
    errors_503: AtomicU64,
    brownout: AtomicU64,
    failed_paths: AtomicU64,
    dropped_before: AtomicU64,
    dropped_after: AtomicU64,
    upstream_errors: AtomicU64,
}

struct Shared {
    upstream: SocketAddr,
    seed: u64,
    faults: Mutex<Faults>,
    seq: AtomicU64,
    counts: Counters,
}

/// A running proxy; it stops (and closes its connections) when dropped.
pub struct FlakyProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

/// What happens to one request.
#[derive(Debug, PartialEq)]
enum Outcome {
    Forward,
    Error(StatusCode),
    DropBefore,
    DropAfter,
}

/// SplitMix64: a well-mixed 64-bit hash of `x`.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The fault plan of request `seq`: its added latency and its outcome.
fn plan(f: &Faults, seed: u64, seq: u64) -> (Option<Duration>, Outcome) {
    let roll = |salt: u64| mix(seed ^ mix(seq.wrapping_mul(4).wrapping_add(salt)));
    let delay = ((roll(0) % 1000) < u64::from(f.delay_permille)).then(|| {
        let (lo, hi) = f.delay;
        let span = hi.saturating_sub(lo).as_millis() as u64;
        lo + Duration::from_millis(roll(1) % (span + 1))
    });
    if f.brownout_every > 0 && seq % f.brownout_every < f.brownout_len {
        return (delay, Outcome::Error(StatusCode::SERVICE_UNAVAILABLE));
    }
    let mut r = roll(2) % 1000;
    for (rate, outcome) in [
        (
            f.error_500_permille,
            Outcome::Error(StatusCode::INTERNAL_SERVER_ERROR),
        ),
        (
            f.error_503_permille,
            Outcome::Error(StatusCode::SERVICE_UNAVAILABLE),
        ),
        (f.drop_before_permille, Outcome::DropBefore),
        (f.drop_after_permille, Outcome::DropAfter),
    ] {
        let rate = u64::from(rate);
        if r < rate {
            return (delay, outcome);
        }
        r -= rate;
    }
    (delay, Outcome::Forward)
}

/// An S3-style XML error document.
fn s3_error(status: StatusCode, seq: u64) -> Response<Full<Bytes>> {
    let (code, message) = if status == StatusCode::SERVICE_UNAVAILABLE {
        ("SlowDown", "Please reduce your request rate.")
    } else {
        (
            "InternalError",
            "We encountered an internal error. Please try again.",
        )
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>flaky-{seq}</RequestId></Error>"
    );
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/xml"),
    );
    resp
}

impl FlakyProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`
    /// (`http://host:port`), forwarding everything until [`FlakyProxy::set_faults`].
    pub async fn start(upstream: &str, seed: u64) -> Result<FlakyProxy> {
        let host = upstream
            .strip_prefix("http://")
            .context("the upstream must be http://host:port")?
            .trim_end_matches('/');
        let upstream: SocketAddr = tokio::net::lookup_host(host)
            .await?
            .next()
            .with_context(|| format!("cannot resolve {host}"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            seed,
            faults: Mutex::new(Faults::clean()),
            seq: AtomicU64::new(0),
            counts: Counters::default(),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(FlakyProxy {
            addr,
            shared,
            accept,
        })
    }

    /// `http://127.0.0.1:PORT`, to use as the client's endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes the faults for the requests received from now on.
    pub fn set_faults(&self, faults: Faults) {
        if let Ok(mut f) = self.shared.faults.lock() {
            *f = faults;
        }
    }

    /// What was seen and injected so far.
    pub fn counts(&self) -> FaultCounts {
        let c = &self.shared.counts;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultCounts {
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            delayed: get(&c.delayed),
            errors_500: get(&c.errors_500),
            errors_503: get(&c.errors_503),
            brownout: get(&c.brownout),
            failed_paths: get(&c.failed_paths),
            dropped_before: get(&c.dropped_before),
            dropped_after: get(&c.dropped_after),
            upstream_errors: get(&c.upstream_errors),
        }
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connection tasks are aborted with the accept loop (JoinSet drops them).
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while conns.try_join_next().is_some() {}
        conns.spawn(serve(stream, shared.clone()));
    }
}

/// Serves one client connection; a request whose plan is a drop closes it.
async fn serve(stream: TcpStream, shared: Arc<Shared>) {
    let (kill_tx, mut kill_rx) = tokio::sync::mpsc::channel::<()>(1);
    let service = hyper::service::service_fn(move |req| {
        let shared = shared.clone();
        let kill = kill_tx.clone();
        async move {
            match handle(&shared, req).await {
                Some(resp) => Ok::<_, std::convert::Infallible>(resp),
                None => {
                    // Close the connection without answering: the connection
                    // future is dropped below, which closes the socket.
                    let _ = kill.send(()).await;
                    std::future::pending().await
                }
            }
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        _ = kill_rx.recv() => {}
    }
}

/// Handles one request: `None` means "close the connection without an answer".
async fn handle(shared: &Shared, req: Request<Incoming>) -> Option<Response<Full<Bytes>>> {
    let c = &shared.counts;
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    c.requests.fetch_add(1, Ordering::Relaxed);
    let faults = shared.faults.lock().map(|f| f.clone()).unwrap_or_default();
    let (delay, mut outcome) = plan(&faults, shared.seed, seq);
    let path = req.uri().path();
    let targeted = faults.fail_paths.iter().any(|p| path.contains(p.as_str()));
    if targeted {
        outcome = Outcome::Error(StatusCode::SERVICE_UNAVAILABLE);
    }
    if let Some(d) = delay {
        c.delayed.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(d).await;
    }
    match outcome {
        Outcome::DropBefore => {
            c.dropped_before.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Outcome::Error(status) => {
            // Read the request body first, as a server that fails late does.
            let _ = req.into_body().collect().await;
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                c.errors_500.fetch_add(1, Ordering::Relaxed);
            } else {
                c.errors_503.fetch_add(1, Ordering::Relaxed);
                if targeted {
                    c.failed_paths.fetch_add(1, Ordering::Relaxed);
                } else if faults.brownout_every > 0
                    && seq % faults.brownout_every < faults.brownout_len
                {
                    c.brownout.fetch_add(1, Ordering::Relaxed);
                }
            }
            return Some(s3_error(status, seq));
        }
        Outcome::Forward | Outcome::DropAfter => {}
    }
    let resp = match forward(shared.upstream, req).await {
        Ok(r) => r,
        Err(e) => {
            c.upstream_errors.fetch_add(1, Ordering::Relaxed);
            let mut resp = Response::new(Full::new(Bytes::from(format!("proxy: {e:#}"))));
            *resp.status_mut() = StatusCode::BAD_GATEWAY;
            return Some(resp);
        }
    };
    c.forwarded.fetch_add(1, Ordering::Relaxed);
    if outcome == Outcome::DropAfter {
        c.dropped_after.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    Some(resp)
}

/// Sends the request to the server on a new connection and reads the whole
/// answer (so the server is done with it before the proxy answers or drops).
async fn forward(upstream: SocketAddr, req: Request<Incoming>) -> Result<Response<Full<Bytes>>> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await.context("reading the request body")?;
    let req = Request::from_parts(parts, Full::new(body.to_bytes()));
    let stream = TcpStream::connect(upstream)
        .await
        .context("connecting upstream")?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .context("reading the answer")?
        .to_bytes();
    drop(sender);
    let _ = conn.await;
    Ok(Response::from_parts(parts, Full::new(body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_is_reproducible_and_near_the_rates() {
        let f = Faults {
            brownout_every: 0,
            ..Faults::flaky()
        };
        let plans: Vec<_> = (0..10_000).map(|s| plan(&f, 7, s)).collect();
        assert_eq!(
            plans,
            (0..10_000).map(|s| plan(&f, 7, s)).collect::<Vec<_>>()
        );
        let count = |o: Outcome| plans.iter().filter(|(_, x)| *x == o).count();
        let near = |n: usize, permille: u32| n.abs_diff(permille as usize * 10) < 250;
        assert!(near(
            count(Outcome::Error(StatusCode::INTERNAL_SERVER_ERROR)),
            100
        ));
        assert!(near(
            count(Outcome::Error(StatusCode::SERVICE_UNAVAILABLE)),
            80
        ));
        assert!(near(count(Outcome::DropBefore), 80));
        assert!(near(count(Outcome::DropAfter), 70));
        let delays: Vec<Duration> = plans.iter().filter_map(|(d, _)| *d).collect();
        assert!(near(delays.len(), 300));
        assert!(
            delays
                .iter()
                .all(|d| *d >= Duration::from_millis(200) && *d <= Duration::from_millis(800))
        );
        assert_ne!(
            plans,
            (0..10_000).map(|s| plan(&f, 8, s)).collect::<Vec<_>>(),
            "another seed, another schedule"
        );
    }

    #[test]
    fn brownouts_and_clean() {
        let f = Faults::flaky();
        for seq in [0, 23, 160, 183] {
            assert_eq!(
                plan(&f, 1, seq).1,
                Outcome::Error(StatusCode::SERVICE_UNAVAILABLE)
            );
        }
        assert!((0..1000).all(|s| plan(&Faults::clean(), 1, s) == (None, Outcome::Forward)));
    }

    #[tokio::test]
    async fn forwards_and_injects() -> Result<()> {
        // A tiny upstream that answers every request with its method and body.
        let upstream = TcpListener::bind("127.0.0.1:0").await?;
        let up_addr = upstream.local_addr()?;
        let seen = Arc::new(AtomicU64::new(0));
        let seen2 = seen.clone();
        tokio::spawn(async move {
            while let Ok((s, _)) = upstream.accept().await {
                let seen = seen2.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let seen = seen.clone();
                        async move {
                            seen.fetch_add(1, Ordering::Relaxed);
                            let m = req.method().to_string();
                            let b = req.into_body().collect().await?.to_bytes();
                            let out = format!("{m} {}", String::from_utf8_lossy(&b));
                            Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from(out))))
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
        let proxy = FlakyProxy::start(&format!("http://{up_addr}"), 1).await?;
        let http = crate::http_client();
        let r = http
            .put(format!("{}/b/k", proxy.endpoint()))
            .body("hello")
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.text().await?, "PUT hello");

        // Every request fails: half 500, half dropped after reaching upstream.
        proxy.set_faults(Faults {
            error_500_permille: 500,
            drop_after_permille: 500,
            ..Faults::clean()
        });
        let mut answered_500 = 0;
        let mut transport_errors = 0;
        for _ in 0..20 {
            match http
                .put(format!("{}/b/k", proxy.endpoint()))
                .body("x")
                .send()
                .await
            {
                Ok(r) => {
                    assert_eq!(r.status(), 500);
                    assert!(r.text().await?.contains("<Code>InternalError</Code>"));
                    answered_500 += 1;
                }
                Err(_) => transport_errors += 1,
            }
        }
        let c = proxy.counts();
        assert_eq!(c.requests, 21);
        assert_eq!(c.errors_500, answered_500);
        assert_eq!(c.dropped_after, transport_errors);
        assert!(answered_500 > 0 && transport_errors > 0, "{c:?}");
        // The dropped requests did reach upstream; the 500s did not.
        assert_eq!(seen.load(Ordering::Relaxed), 1 + transport_errors);

        proxy.set_faults(Faults {
            drop_before_permille: 1000,
            ..Faults::clean()
        });
        assert!(
            http.get(format!("{}/b/k", proxy.endpoint()))
                .send()
                .await
                .is_err()
        );
        assert_eq!(seen.load(Ordering::Relaxed), 1 + transport_errors);
        assert_eq!(proxy.counts().dropped_before, 1);

        proxy.set_faults(Faults {
            fail_paths: vec!["/1/segments/".into()],
            ..Faults::clean()
        });
        let r = http
            .get(format!("{}/b/t/1/segments/x.seg", proxy.endpoint()))
            .send()
            .await?;
        assert_eq!(r.status(), 503);
        assert!(r.text().await?.contains("<Code>SlowDown</Code>"));
        let r = http
            .get(format!("{}/b/t/0/segments/x.seg", proxy.endpoint()))
            .send()
            .await?;
        assert_eq!(r.status(), 200);
        assert_eq!(proxy.counts().failed_paths, 1);
        Ok(())
    }
}
