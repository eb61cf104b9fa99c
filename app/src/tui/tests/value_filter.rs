//! The `|` filter against an in-process broker: matches of a jq expression
//! after the prefix narrowing, progress in the status line while it runs,
//! Esc cancels, a bad expression is a status-line error with the parser's
//! message, Esc on the matches brings the range back.

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::super::app::Out;
use super::super::backend::Request;
use super::*;
use crate::client::write_request;

fn shown_keys(h: &Harness) -> Vec<String> {
    let s = h.app.scan().expect("scan");
    s.loaded()
        .filter_map(|i| s.row(i))
        .map(|r| String::from_utf8_lossy(&r.key).into_owned())
        .collect()
}

#[tokio::test]
async fn tui_value_filter_shows_matches_and_reports_bad_expressions() {
    let (broker, mut h) = demo().await;
    h.command("topic demo").await;

    // A bad expression: the parser's message, and nothing is asked.
    h.chars("|").await;
    h.chars(".plan ==").await;
    h.app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    assert!(
        !h.app
            .take_output()
            .iter()
            .any(|o| matches!(o, Out::Request(..))),
        "a bad expression sent a request"
    );
    h.draw();
    let status = h.status();
    assert!(status.contains("bad filter \".plan ==\""), "{status}");
    assert!(status.contains("expected"), "{status}");
    assert_eq!(shown_keys(&h).len(), DEMO.len());

    // A good one: only the matching keys, after the prefix.
    h.chars("/user:").await;
    h.key(KeyCode::Enter).await;
    h.chars("|").await;
    h.chars(r#".plan == "pro""#).await;
    h.key(KeyCode::Enter).await;
    assert_eq!(shown_keys(&h), ["user:1", "user:3"]);
    snap!("tui_value_filter", h);
    assert!(h.status().contains("2 matches"), "{}", h.status());

    // Esc: the prefix's keys again.
    h.key(KeyCode::Esc).await;
    assert_eq!(shown_keys(&h), ["user:1", "user:2", "user:3"]);
    broker.stop().await;
}

#[tokio::test]
async fn tui_value_filter_shows_progress_and_esc_cancels() {
    let broker = Broker::start(&["big:1"]).await;
    let client = broker.client();
    // 3000 JSON values: three pages of the filter's 1000.
    for chunk in 0..6 {
        let puts = (0..500)
            .map(|i| {
                let n = chunk * 500 + i;
                (
                    format!("k{n:05}").into_bytes(),
                    format!(r#"{{"n":{n}}}"#).into_bytes(),
                )
            })
            .collect();
        client
            .write("big", 0, &write_request(puts, vec![], None))
            .await
            .expect("seed");
    }
    let mut h = Harness::new(broker.config()).await;
    h.command("topic big").await;
    let before = shown_keys(&h);

    // Started, not settled: take replies until the first progress shows.
    h.chars("|").await;
    for c in ".n % 7 == 0".chars() {
        h.app.on_event(Event::Key(KeyEvent::new(
            KeyCode::Char(c),
            KeyModifiers::NONE,
        )));
    }
    h.app.on_event(Event::Key(KeyEvent::new(
        KeyCode::Enter,
        KeyModifiers::NONE,
    )));
    let outs = h.app.take_output();
    assert!(
        outs.iter()
            .any(|o| matches!(o, Out::Request(_, Request::Filter { .. }))),
        "no filter request"
    );
    h.runner.perform(outs);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = tokio::time::timeout_at(deadline, h.rx.recv())
            .await
            .expect("a progress reply in time")
            .expect("reply");
        let progress = matches!(
            resp.reply,
            super::super::backend::Reply::FilterProgress { .. }
        );
        h.app.on_response(resp);
        h.draw();
        if progress {
            break;
        }
    }
    let status = h.status();
    assert!(
        status.contains("| 1000 keys scanned, 143 matches (Esc cancels)"),
        "{status}"
    );
    assert!(h.app.busy());

    // Esc cancels: nothing runs, the rows stay the range's.
    h.key(KeyCode::Esc).await;
    assert!(!h.app.busy());
    assert!(h.status().contains("cancelled"), "{}", h.status());
    assert_eq!(shown_keys(&h), before);
    assert!(h.app.scan().is_some_and(|s| s.value_filter.is_none()));

    // Run to the end: every seventh key.
    h.chars("|").await;
    h.chars(".n % 7 == 0").await;
    h.key(KeyCode::Enter).await;
    let keys = shown_keys(&h);
    assert_eq!(keys.len(), 429, "3000 / 7 rounded up");
    assert!(
        keys.iter()
            .all(|k| k[1..].parse::<u32>().is_ok_and(|n| n % 7 == 0))
    );
    assert!(h.status().contains("429 matches"), "{}", h.status());
    broker.stop().await;
}
