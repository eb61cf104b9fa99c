//! Benchmark (not a test): the TUI scrolling a partition of N keys (default
//! 1,000,000) from top to bottom, drawn on ratatui's `TestBackend` against an
//! in-process dev broker. Prints frame time (p50/p99/max) and resident memory
//! per tenth of the way down, to show both stay flat.
//!
//! ```sh
//! cargo run --release -p rpkv --example tui_scroll_bench -- 1000000
//! ```

use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rpkv::client::Client;
use rpkv::tui::app::{App, Setup};
use rpkv::tui::components;
use rpkv::tui::runner::Runner;
use tokio::sync::mpsc;

mod bench_support;
use bench_support::{InProcess, load, pct, status_kib};

fn rss_kib() -> (u64, u64) {
    (status_kib("RssAnon"), status_kib("RssFile"))
}

/// Row reached, frame p50/p99/max, (anonymous, file-backed) RSS, rows held.
type Mark = (usize, Duration, Duration, Duration, (u64, u64), usize);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let broker = InProcess::start(dir.path(), &["big:1"]).await?;
    let client = Client::new(broker.config.clone())?;

    let t0 = Instant::now();
    load(&client, "big", 1, n as u64, |i| {
        (
            format!("key-{i:08}").into_bytes(),
            format!(r#"{{"id":{i},"name":"user {i}","ok":true}}"#).into_bytes(),
        )
    })
    .await?;
    println!("loaded {n} keys in {:.1} s", t0.elapsed().as_secs_f64());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut app = App::new(Setup::new(client.http_url()));
    let mut runner = Runner::new(client, tx);
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    app.start();
    app.command("topic big");
    let rss_start = rss_kib();
    let mut frames: Vec<Duration> = Vec::new();
    let mut report: Vec<Mark> = Vec::new();
    let mut next_mark = n / 10;
    let started = Instant::now();
    let mut steps = 0usize;
    loop {
        // Handle replies until idle (pages arrive), then draw one frame.
        runner.perform(app.take_output());
        while app.busy() {
            match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                Ok(Some(r)) => {
                    runner.received(&r);
                    app.on_response(r);
                    runner.perform(app.take_output());
                }
                _ => anyhow::bail!("request stuck"),
            }
        }
        let f0 = Instant::now();
        term.draw(|f| components::draw(f, &mut app))?;
        frames.push(f0.elapsed());
        let (cursor, in_mem) = app
            .scan()
            .map_or((0, 0), |s| (s.cursor, s.rows_in_memory()));
        if cursor + 1 >= next_mark || cursor + 1 >= n {
            let mut sorted = std::mem::take(&mut frames);
            sorted.sort();
            report.push((
                cursor + 1,
                pct(&sorted, 0.5),
                pct(&sorted, 0.99),
                *sorted.last().unwrap_or(&Duration::ZERO),
                rss_kib(),
                in_mem,
            ));
            next_mark += n / 10;
        }
        if cursor + 1 >= n {
            break;
        }
        app.on_event(Event::Key(KeyEvent::new(
            KeyCode::PageDown,
            KeyModifiers::NONE,
        )));
        steps += 1;
    }
    let total = started.elapsed();
    println!(
        "scrolled {n} keys top to bottom: {steps} page-downs in {:.1} s ({:.0} rows/s incl. fetching)",
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64()
    );
    println!(
        "before scrolling: anonymous RSS {} MiB, file-backed RSS {} MiB",
        rss_start.0 / 1024,
        rss_start.1 / 1024
    );
    println!(
        "(anonymous = heap of the TUI and the in-process broker; file-backed = LMDB pages the broker read)"
    );
    println!(
        "{:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>10}",
        "row", "frame p50", "p99", "max", "anon MiB", "file MiB", "rows held"
    );
    for (row, p50, p99, max, (anon, file), mem) in report {
        println!(
            "{row:>10} {:>8.0}µs {:>8.0}µs {:>8.0}µs {:>9} {:>9} {mem:>10}",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6,
            max.as_secs_f64() * 1e6,
            anon / 1024,
            file / 1024
        );
    }
    broker.stop().await;
    Ok(())
}
