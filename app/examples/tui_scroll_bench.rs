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
use rpkv::client::{Client, ClientConfig, write_request};
use rpkv::tui::app::{App, Setup};
use rpkv::tui::components;
use rpkv::tui::runner::Runner;
use tokio::sync::{mpsc, oneshot};

/// A field of /proc/self/status in KiB (`VmRSS`, `RssAnon` = heap and
/// stacks, `RssFile` = mapped files such as the broker's LMDB pages).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn rss_kib() -> (u64, u64) {
    (status_kib("RssAnon"), status_kib("RssFile"))
}

/// Row reached, frame p50/p99/max, (anonymous, file-backed) RSS, rows held.
type Mark = (usize, Duration, Duration, Duration, (u64, u64), usize);

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let mut args = devbroker::server::ServeArgs::ephemeral(dir.path().join("data"));
    args.topics
        .push("big:1".parse().map_err(|e| anyhow::anyhow!("{e}"))?);
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let broker = tokio::spawn(async move {
        let r = devbroker::server::spawn(
            args,
            async move {
                let _ = stop_rx.await;
            },
            move |l| {
                let _ = ready_tx.send(l.http_addr);
            },
        )
        .await;
        match r {
            Ok(Err(e)) => eprintln!("broker: {e}"),
            Err(e) => eprintln!("broker task: {e}"),
            Ok(Ok(())) => {}
        }
    });
    let addr = ready_rx.await?;
    let config = ClientConfig {
        http_url: format!("http://{addr}"),
        brokers: vec!["127.0.0.1:1".into()],
        ..ClientConfig::default()
    };
    let client = Client::new(config.clone())?;

    // Load N keys: batches of 1000 puts, 16 writers (group commit).
    let t0 = Instant::now();
    let batches: Vec<usize> = (0..n).step_by(1000).collect();
    let mut tasks = Vec::new();
    for chunk in batches.chunks(batches.len().div_ceil(16).max(1)) {
        let chunk = chunk.to_vec();
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            for start in chunk {
                let puts = (start..(start + 1000).min(n))
                    .map(|i| {
                        (
                            format!("key-{i:08}").into_bytes(),
                            format!(r#"{{"id":{i},"name":"user {i}","ok":true}}"#).into_bytes(),
                        )
                    })
                    .collect();
                client
                    .write("big", 0, &write_request(puts, vec![], None))
                    .await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
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
                    runner.finished(r.id);
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
    let _ = stop.send(());
    let _ = broker.await;
    Ok(())
}
