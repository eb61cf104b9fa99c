//! The HTTP ceiling of the benchmark: an axum server on the same runtime setup as
//! the dev broker whose every POST answers a canned body, byte for byte the size
//! (and shape) of the dev broker's reply to a 100-key batch_get of 16-byte keys
//! with 256-byte values. It reads the request body like a real handler would.
//!
//! Prints `noop: http listening on ADDR` then `noop: ready` on stdout.

use std::io::Write;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use clap::Parser;
use rpkv_e2e::bench::{KEY_LEN, VALUE_LEN, batch_get_reply};

#[derive(Parser)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    http_addr: SocketAddr,
    /// Results per reply.
    #[arg(long, default_value_t = 100)]
    results: usize,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let body = Bytes::from(batch_get_reply(args.results, KEY_LEN, VALUE_LEN));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.http_addr)
            .await
            .with_context(|| format!("binding {}", args.http_addr))?;
        let addr = listener.local_addr()?;
        let app = Router::new().fallback(move |_req: Bytes| {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], body).into_response() }
        });
        let mut out = std::io::stdout();
        write!(out, "noop: http listening on {addr}\nnoop: ready\n")?;
        out.flush()?;
        axum::serve(listener, app).await?;
        Ok(())
    })
}
