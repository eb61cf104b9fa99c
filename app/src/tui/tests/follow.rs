//! Follow mode against an in-process broker with Kafka (the watch reads the
//! log with Fetch long polls): keys written meanwhile appear in byte order,
//! the selection stays on its key, deleted keys go, the changes popup lists
//! the changes and jumps to one; with a prefix filter only its keys show.

use crossterm::event::KeyCode;

use super::super::popups::Popup;
use super::*;
use crate::client::test_broker::TestBroker;

async fn setup() -> (TestBroker, Harness) {
    let b = TestBroker::start(&["demo:3"]).await;
    seed(&b.client, "demo", 3).await;
    let h = Harness::for_broker(&b).await;
    (b, h)
}

/// Handles replies (the watch's among them) until `done` holds.
async fn until(h: &mut Harness, what: &str, done: impl Fn(&Harness) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !done(h) {
        match tokio::time::timeout_at(deadline, h.rx.recv()).await {
            Ok(Some(resp)) => {
                h.runner.received(&resp);
                h.app.on_response(resp);
                h.perform();
                h.draw();
            }
            _ => panic!("never {what}:\n{}", h.screen()),
        }
    }
}

/// Follow mode on, and the watch started on every partition (then the
/// view was read again, so nothing written before is missed).
async fn follow_on(h: &mut Harness) {
    h.chars("F").await;
    let n = h.app.scan().map_or(0, |s| s.partitions.len());
    until(h, "started on every partition", |h| {
        h.app.follow().is_some_and(|f| f.started == n) && !h.app.busy()
    })
    .await;
}

async fn put(b: &TestBroker, key: &str, value: &str) {
    let p = partition_for_key(key.as_bytes(), 3);
    b.client
        .put("demo", p, key.into(), value.into(), None)
        .await
        .expect("put");
}

fn current_key(h: &Harness) -> String {
    let r = h
        .app
        .scan()
        .and_then(|s| s.current())
        .expect("a selected row");
    String::from_utf8_lossy(&r.key).into_owned()
}

fn shown(h: &Harness, key: &str) -> bool {
    let s = h.app.scan().expect("scan");
    s.loaded()
        .filter_map(|i| s.row(i))
        .any(|r| r.key == key.as_bytes())
}

#[tokio::test]
async fn tui_follow_shows_changes_in_place_and_lists_them() {
    let (b, mut h) = setup().await;
    h.command("topic demo").await;
    // blob, config/flags, counter, note, ...: select note.
    for _ in 0..3 {
        h.key(KeyCode::Down).await;
    }
    assert_eq!(current_key(&h), "note");
    follow_on(&mut h).await;
    assert!(!h.app.busy(), "follow mode does not count as busy");

    // A key before the selection: shown in byte order, marked, counted; the
    // selection stays on note.
    put(&b, "apple", r#"{"fruit":true}"#).await;
    until(&mut h, "apple shown", |h| shown(h, "apple")).await;
    assert_eq!(current_key(&h), "note");
    let s = h.app.scan().expect("scan");
    let keys: Vec<_> = s
        .loaded()
        .filter_map(|i| s.row(i))
        .map(|r| r.key.clone())
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "rows out of order");
    assert_eq!(keys.first().map(Vec::as_slice), Some(&b"apple"[..]));
    snap!("tui_follow", h);
    assert!(
        h.screen().contains("following: 1 change "),
        "{}",
        h.screen()
    );

    // A changed value: the row shows the new one.
    put(&b, "user:2", r#"{"name":"Linus","plan":"team"}"#).await;
    until(&mut h, "user:2 changed", |h| {
        let s = h.app.scan().expect("scan");
        s.loaded()
            .filter_map(|i| s.row(i))
            .any(|r| r.key == b"user:2" && r.value.ends_with(br#""team"}"#))
    })
    .await;
    assert_eq!(current_key(&h), "note");

    // The changes popup: newest first, with offsets and partitions.
    h.app.unmark_all();
    h.chars("c").await;
    assert!(matches!(h.app.popup(), Some(Popup::Changes(_))));
    snap!("tui_follow_changes", h);
    // Enter on the newest (user:2) selects its row.
    h.key(KeyCode::Enter).await;
    assert!(h.app.popup().is_none());
    assert_eq!(current_key(&h), "user:2");

    // A deleted key goes.
    let p = partition_for_key(b"apple", 3);
    b.client
        .delete("demo", p, vec![b"apple".to_vec()], None)
        .await
        .expect("delete");
    until(&mut h, "apple gone", |h| !shown(h, "apple")).await;
    assert_eq!(current_key(&h), "user:2");
    assert_eq!(h.app.follow().map(|f| f.count), Some(3));

    // F again: off, and the watch is cancelled.
    h.chars("F").await;
    assert!(h.app.follow().is_none());
    assert_eq!(h.runner.running(), 0, "the watch still runs");
    b.stop().await;
}

#[tokio::test]
async fn tui_follow_with_a_prefix_shows_only_its_keys() {
    let (b, mut h) = setup().await;
    h.command("topic demo").await;
    follow_on(&mut h).await;
    // The prefix filter restarts the watch over the prefix.
    h.chars("/").await;
    h.chars("user:").await;
    h.key(KeyCode::Enter).await;
    let n = h.app.scan().map_or(0, |s| s.partitions.len());
    until(&mut h, "restarted", |h| {
        h.app.follow().is_some_and(|f| f.started == n) && !h.app.busy()
    })
    .await;
    put(&b, "zeta", "outside").await;
    put(&b, "user:0", "inside").await;
    until(&mut h, "user:0 shown", |h| shown(h, "user:0")).await;
    assert!(!shown(&h, "zeta"));
    let s = h.app.scan().expect("scan");
    assert!(
        s.loaded()
            .filter_map(|i| s.row(i))
            .all(|r| r.key.starts_with(b"user:")),
        "a row outside the prefix:\n{}",
        h.screen()
    );
    // The selection (the first row) stays on its key.
    assert_eq!(current_key(&h), "user:1");
    // Leaving the scan view (the groups view) stops following.
    h.command("groups").await;
    assert!(h.app.follow().is_none());
    b.stop().await;
}

#[tokio::test]
async fn tui_follow_waits_for_the_ui_instead_of_queueing_replies() {
    let (b, mut h) = setup().await;
    h.command("topic demo").await;
    follow_on(&mut h).await;
    // 40 writes, one after the other, while the UI takes no reply.
    for i in 0..40 {
        put(&b, &format!("burst:{i:02}"), "x").await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut queued = Vec::new();
    while let Ok(resp) = h.rx.try_recv() {
        queued.push(resp);
    }
    assert!(!queued.is_empty(), "the watch sent nothing");
    assert!(
        queued.len() <= super::super::runner::STREAM_CREDITS,
        "{} replies queued",
        queued.len()
    );
    // Taking them lets the rest come: every key shows.
    for resp in queued {
        h.runner.taken(resp.id);
        h.app.on_response(resp);
        h.perform();
    }
    h.draw();
    until(&mut h, "every burst key shown", |h| {
        (0..40).all(|i| shown(h, &format!("burst:{i:02}")))
    })
    .await;
    assert_eq!(h.app.follow().map(|f| f.count), Some(40));
    b.stop().await;
}
