//! The groups view against an in-process broker with Kafka: the list, one
//! group's partitions, the background refresh, seek and delete through the
//! confirm popup. Groups get their offsets from the client's OffsetCommit
//! (a seek of a group without members), records from the HTTP Proxy.

use crossterm::event::KeyCode;

use super::super::popups::Popup;
use super::*;
use crate::client::test_broker::TestBroker;
use crate::client::{OutgoingRecord, SeekTo};

async fn produce(client: &Client, partition: i32, n: usize) {
    let records = (0..n)
        .map(|i| OutgoingRecord {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(b"v".to_vec()),
            partition: Some(partition),
        })
        .collect();
    client.produce("orders", records).await.expect("produce");
}

/// `orders` with 5, 3 and 0 records; `billing` at the start of each
/// partition (lag 8), `audit` at the end (lag 0).
async fn setup() -> (TestBroker, Harness) {
    let b = TestBroker::start(&["orders:3"]).await;
    produce(&b.client, 0, 5).await;
    produce(&b.client, 1, 3).await;
    let topics = ["orders".to_owned()];
    b.client
        .seek_group("billing", &SeekTo::Start, &topics)
        .await
        .expect("billing at the start");
    b.client
        .seek_group("audit", &SeekTo::End, &topics)
        .await
        .expect("audit at the end");
    let h = Harness::for_broker(&b).await;
    (b, h)
}

/// Handles replies (the quiet refresh among them) until `done` holds.
async fn wait_screen(h: &mut Harness, what: &str, done: impl Fn(&str) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !done(&h.screen()) {
        match tokio::time::timeout_at(deadline, h.rx.recv()).await {
            Ok(Some(resp)) => {
                h.runner.finished(resp.id);
                h.app.on_response(resp);
                h.perform();
                h.draw();
            }
            _ => panic!("never {what}:\n{}", h.screen()),
        }
    }
}

#[tokio::test]
async fn tui_groups_list_detail_and_live_refresh() {
    let (b, mut h) = setup().await;
    h.command("groups").await;
    snap!("tui_groups", h);
    // billing is second (sorted by name): its partitions.
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Enter).await;
    snap!("tui_group_detail", h);
    assert!(h.screen().contains("total lag 8"), "{}", h.screen());

    // New records: the shown lag follows without a key press, and the
    // refresh never makes the UI wait (nothing counts as busy).
    produce(&b.client, 2, 4).await;
    assert!(!h.app.busy());
    wait_screen(&mut h, "refreshed to a lag of 12", |s| {
        s.contains("total lag 12")
    })
    .await;
    let d = h
        .app
        .groups()
        .and_then(|g| g.detail.as_ref())
        .expect("detail");
    let p2 = d.partitions.iter().find(|p| p.partition == 2).expect("p2");
    assert_eq!(
        (p2.current_offset, p2.log_end_offset, p2.lag),
        (Some(0), Some(4), Some(4))
    );

    // Esc: back to the list, which refreshes too; Esc again closes the view.
    h.key(KeyCode::Esc).await;
    assert!(h.app.groups().is_some_and(|g| g.detail.is_none()));
    h.key(KeyCode::Esc).await;
    assert!(h.app.groups().is_none());
    // :topic from the groups view closes it and opens the topic.
    h.command("groups").await;
    h.command("topic orders").await;
    assert!(h.app.groups().is_none());
    assert_eq!(h.app.scan().map(|s| s.topic.as_str()), Some("orders"));
    b.stop().await;
}

#[tokio::test]
async fn tui_groups_of_a_topic_seek_and_delete_ask_first() {
    let (b, mut h) = setup().await;
    // From the topics pane: the groups with offsets in the selected topic.
    h.chars("C").await;
    assert!(
        h.screen().contains("Consumer groups of orders (2)"),
        "{}",
        h.screen()
    );

    // Delete asks; "no" keeps the group.
    h.chars("d").await;
    assert!(matches!(h.app.popup(), Some(Popup::Confirm(_))));
    snap!("tui_group_delete_confirm", h);
    h.chars("n").await;
    let names = |gs: Vec<crate::client::ListedGroup>| -> Vec<String> {
        gs.into_iter().map(|g| g.name).collect()
    };
    assert_eq!(
        names(b.client.list_groups().await.unwrap()),
        vec!["audit", "billing"]
    );

    // :seek end on billing (asked first) leaves it no lag.
    h.key(KeyCode::Down).await;
    h.command("seek end").await;
    assert!(matches!(h.app.popup(), Some(Popup::Confirm(_))));
    assert!(
        h.screen()
            .contains("Seek consumer group billing to the end"),
        "{}",
        h.screen()
    );
    h.chars("y").await;
    assert_eq!(
        b.client.describe_group("billing").await.unwrap().total_lag,
        0
    );
    assert!(
        h.status().contains("3 partition(s) moved"),
        "{}",
        h.status()
    );

    // Delete with "yes": gone from the broker and from the view.
    h.chars("d").await;
    h.chars("y").await;
    assert_eq!(names(b.client.list_groups().await.unwrap()), vec!["audit"]);
    assert!(
        h.status().contains("group billing deleted"),
        "{}",
        h.status()
    );
    assert!(
        h.screen().contains("Consumer groups of orders (1)"),
        "{}",
        h.screen()
    );
    b.stop().await;
}
