//! Benchmark (not a test): the TUI in follow mode over N keys (default
//! 1,000,000) in PARTITIONS partitions (default 1; more: the merged
//! all-partitions view, key i in partition i % PARTITIONS) while writers
//! change RATE keys per second (default 1000: 85% updates of existing keys,
//! 10% new keys, 5% deletes) for SECS seconds (default 60), drawn on ratatui's `TestBackend` against an
//! in-process dev broker with its Kafka listener (follow mode reads the log
//! with Fetch long polls). The loop is the TUI's: every 16 ms it applies the
//! replies that arrived and draws one frame. Prints, per tenth of the run,
//! the frame time (apply + draw: p50/p99/max), the changes applied, the rows
//! held and the resident memory, to show all stay flat.
//!
//! ```sh
//! cargo run --release -p rpkv --example tui_follow_bench -- 1000000 1000 60
//! cargo run --release -p rpkv --example tui_follow_bench -- 1000000 1000 60 4
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use rpkv::client::{Client, write_request};
use rpkv::tui::app::{App, Setup};
use rpkv::tui::backend::Response;
use rpkv::tui::components;
use rpkv::tui::runner::Runner;
use tokio::sync::mpsc;

mod bench_support;
use bench_support::{InProcess, load, pct, status_kib};

/// splitmix64: a few lines of deterministic randomness for picking keys, so
/// that a benchmark needs no extra dependency.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn key(i: u64) -> Vec<u8> {
    format!("key-{i:08}").into_bytes()
}

fn value(i: u64, version: u64) -> Vec<u8> {
    format!(r#"{{"id":{i},"name":"user {i}","version":{version}}}"#).into_bytes()
}

/// Writes `rate` single-key changes per second until `stop`, from 8 tasks
/// (each write is durable before the next of its task). Counts them.
fn writers(
    client: &Client,
    n: u64,
    partitions: u64,
    rate: u64,
    written: Arc<AtomicU64>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<anyhow::Result<()>>> {
    const TASKS: u64 = 8;
    (0..TASKS)
        .map(|t| {
            let client = client.clone();
            let written = written.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let period = Duration::from_secs_f64(TASKS as f64 / rate as f64);
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut rng = 0x5eed_0000 + t;
                let mut fresh = n + t; // new keys: n + t, n + t + TASKS, ...
                let mut version = 1;
                while !*stop.borrow() {
                    tick.tick().await;
                    let roll = next(&mut rng) % 100;
                    let (i, req) = if roll < 85 {
                        let i = next(&mut rng) % n;
                        (
                            i,
                            write_request(vec![(key(i), value(i, version))], vec![], None),
                        )
                    } else if roll < 95 {
                        fresh += TASKS;
                        let req = write_request(vec![(key(fresh), value(fresh, 0))], vec![], None);
                        (fresh, req)
                    } else {
                        let i = next(&mut rng) % n;
                        (i, write_request(vec![], vec![key(i)], None))
                    };
                    version += 1;
                    let partition = i32::try_from(i % partitions)?;
                    client.write("big", partition, &req).await?;
                    written.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect()
}

/// One frame of the TUI's loop: apply the replies that arrived, start what
/// they ask for, draw.
fn frame(
    app: &mut App,
    runner: &mut Runner,
    rx: &mut mpsc::UnboundedReceiver<Response>,
    term: &mut Terminal<TestBackend>,
) -> anyhow::Result<()> {
    while let Ok(r) = rx.try_recv() {
        runner.received(&r);
        app.on_response(r);
    }
    app.tick();
    runner.perform(app.take_output());
    term.draw(|f| components::draw(f, app))?;
    Ok(())
}

/// One tenth of the run.
struct Mark {
    at: Duration,
    frames: Vec<Duration>,
    applied: u64,
    written: u64,
    anon_kib: u64,
    rows_held: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    };
    let (n, rate, secs) = (arg(1, 1_000_000), arg(2, 1000).max(1), arg(3, 60).max(1));
    let partitions = arg(4, 1).clamp(1, 64);
    let dir = tempfile::tempdir()?;
    let topic = format!("big:{partitions}");
    let broker = InProcess::start(dir.path(), &[&topic]).await?;
    let client = Client::new(broker.config.clone())?;
    let t0 = Instant::now();
    load(&client, "big", i32::try_from(partitions)?, n, |i| {
        (key(i), value(i, 0))
    })
    .await?;
    println!("loaded {n} keys in {:.1} s", t0.elapsed().as_secs_f64());

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut app = App::new(Setup::new(client.http_url()));
    let mut runner = Runner::new(client.clone(), tx);
    let mut term = Terminal::new(TestBackend::new(120, 40))?;
    app.start();
    app.command("topic big");
    // Follow mode on; wait until the view is loaded and the watch started.
    let mut followed = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        runner.perform(app.take_output());
        let ready = app.follow().is_some_and(|f| f.started as u64 == partitions) && !app.busy();
        if ready {
            break;
        }
        if !app.busy() && !followed {
            app.on_event(Event::Key(KeyEvent::new(
                KeyCode::Char('F'),
                KeyModifiers::SHIFT,
            )));
            followed = true;
            continue;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(r)) => {
                runner.received(&r);
                app.on_response(r);
            }
            _ => anyhow::bail!("follow mode did not start within 60 s"),
        }
    }
    term.draw(|f| components::draw(f, &mut app))?;
    let anon_start = status_kib("RssAnon");

    let written = Arc::new(AtomicU64::new(0));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks = writers(&client, n, partitions, rate, written.clone(), stop_rx);
    let run = Duration::from_secs(secs);
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(16));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut marks: Vec<Mark> = Vec::new();
    let mut frames = Vec::new();
    let mut all_frames = Vec::new();
    let mut next_mark = run / 10;
    while started.elapsed() < run {
        tick.tick().await;
        // One frame: apply what arrived, start what that asks for, draw.
        let f0 = Instant::now();
        frame(&mut app, &mut runner, &mut rx, &mut term)?;
        frames.push(f0.elapsed());
        if started.elapsed() >= next_mark {
            all_frames.extend_from_slice(&frames);
            marks.push(Mark {
                at: started.elapsed(),
                frames: std::mem::take(&mut frames),
                applied: app.follow().map_or(0, |f| f.count),
                written: written.load(Ordering::Relaxed),
                anon_kib: status_kib("RssAnon"),
                rows_held: app.scan().map_or(0, |s| s.rows_in_memory()),
            });
            next_mark += run / 10;
        }
    }
    let _ = stop_tx.send(true);
    for t in tasks {
        t.await??;
    }
    let total = written.load(Ordering::Relaxed);
    // Let the last changes arrive (up to 10 s), still drawing.
    let drain = Instant::now();
    while app.follow().map_or(0, |f| f.count) < total && drain.elapsed() < Duration::from_secs(10) {
        tick.tick().await;
        frame(&mut app, &mut runner, &mut rx, &mut term)?;
    }
    let applied = app.follow().map_or(0, |f| f.count);
    println!(
        "follow mode over {n} keys in {partitions} partition(s): {total} changes written in {:.1} s ({:.0}/s), {applied} applied by the TUI",
        run.as_secs_f64(),
        total as f64 / run.as_secs_f64()
    );
    all_frames.sort();
    println!(
        "frame (apply + draw, every 16 ms): p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs, max {:.0} µs over {} frames",
        pct(&all_frames, 0.5).as_secs_f64() * 1e6,
        pct(&all_frames, 0.99).as_secs_f64() * 1e6,
        pct(&all_frames, 0.999).as_secs_f64() * 1e6,
        all_frames.last().unwrap_or(&Duration::ZERO).as_secs_f64() * 1e6,
        all_frames.len()
    );
    println!(
        "anonymous RSS before writing: {} MiB (heap of the TUI and the in-process broker)",
        anon_start / 1024
    );
    println!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10}",
        "at s", "written", "applied", "frame p50", "p99", "max", "anon MiB", "rows held"
    );
    for mut m in marks {
        m.frames.sort();
        println!(
            "{:>6.1} {:>10} {:>10} {:>8.0}µs {:>8.0}µs {:>8.0}µs {:>9} {:>10}",
            m.at.as_secs_f64(),
            m.written,
            m.applied,
            pct(&m.frames, 0.5).as_secs_f64() * 1e6,
            pct(&m.frames, 0.99).as_secs_f64() * 1e6,
            m.frames.last().unwrap_or(&Duration::ZERO).as_secs_f64() * 1e6,
            m.anon_kib / 1024,
            m.rows_held
        );
    }
    drop(app);
    broker.stop().await;
    Ok(())
}
