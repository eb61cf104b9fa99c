//! One keep-alive HTTP/1.1 connection (hyper), and waiting for a server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::http::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    pub sender: SendRequest<Full<Bytes>>,
    pub host: String,
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> Result<Conn> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            sender,
            host: addr.to_string(),
        })
    }

    pub async fn post(&mut self, path: &Uri, body: Bytes) -> Result<(StatusCode, Bytes)> {
        self.sender.ready().await?;
        let req = Request::post(path.clone())
            .header(header::HOST, &self.host)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }

    /// GETs a path and fails on anything but 200.
    pub async fn get_ok(&mut self, path: &Uri) -> Result<Bytes> {
        self.sender.ready().await?;
        let req = Request::get(path.clone())
            .header(header::HOST, &self.host)
            .body(Full::new(Bytes::new()))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        if status != StatusCode::OK {
            bail!("{path} answered {status}");
        }
        Ok(body)
    }

    /// POSTs JSON and fails on anything but 200.
    pub async fn post_ok(&mut self, path: &Uri, body: Bytes) -> Result<Bytes> {
        let (status, reply) = self.post(path, body).await?;
        if status != StatusCode::OK {
            bail!(
                "{path} answered {status}: {}",
                String::from_utf8_lossy(&reply[..reply.len().min(300)])
            );
        }
        Ok(reply)
    }
}

pub async fn wait_ready(addr: SocketAddr, path: &str, body: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let uri: Uri = path.parse()?;
    loop {
        if let Ok(mut c) = Conn::open(addr).await
            && c.post_ok(&uri, Bytes::from(body.to_string())).await.is_ok()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{addr} not ready within 60s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
