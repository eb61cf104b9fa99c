//! Edits against a real broker: inline edit and review, conflicts, history
//! and restore, new keys, deletes.
use crossterm::event::{KeyCode, KeyModifiers};

use super::super::popups::Popup;
use super::*;

#[tokio::test]
async fn tui_inline_edit_review_and_write() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"counter", 3);
    h.command("topic demo").await;
    h.chars("/counter").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    snap!("tui_edit_inline", h);
    h.key(KeyCode::End).await;
    h.key(KeyCode::Backspace).await;
    h.chars("8").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    snap!("tui_edit_review", h);
    h.chars("y").await;
    snap!("tui_edit_written", h);
    assert_eq!(
        client.get("demo", p, b"counter").await.unwrap(),
        Some(b"8".to_vec())
    );
    broker.stop().await;
}

#[tokio::test]
async fn tui_conflict_view_cancel_and_overwrite() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"user:2", 3);
    h.command("topic demo").await;
    h.chars("/user:2").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    h.key_mod(KeyCode::Char('a'), KeyModifiers::CONTROL).await; // line start
    h.key_mod(KeyCode::Char('k'), KeyModifiers::CONTROL).await; // delete to end
    h.chars(r#"{"name":"Linus","plan":"pro"}"#).await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    assert!(matches!(h.app.popup(), Some(Popup::Review(_))));
    // Another writer changes the key before we confirm.
    client
        .put(
            "demo",
            p,
            b"user:2".to_vec(),
            br#"{"name":"Linus","plan":"team"}"#.to_vec(),
            None,
        )
        .await
        .unwrap();
    h.chars("y").await;
    snap!("tui_conflict", h);
    h.key(KeyCode::Esc).await;
    assert_eq!(
        client.get("demo", p, b"user:2").await.unwrap(),
        Some(br#"{"name":"Linus","plan":"team"}"#.to_vec())
    );
    // Again, and this time overwrite against the new hash.
    h.chars("e").await;
    h.key_mod(KeyCode::Char('a'), KeyModifiers::CONTROL).await;
    h.key_mod(KeyCode::Char('k'), KeyModifiers::CONTROL).await;
    h.chars("mine").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    client
        .put("demo", p, b"user:2".to_vec(), b"theirs".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    assert!(matches!(h.app.popup(), Some(Popup::Conflict(_))));
    h.chars("o").await;
    assert_eq!(
        client.get("demo", p, b"user:2").await.unwrap(),
        Some(b"mine".to_vec())
    );
    // Reload and re-edit starts from the stored value.
    h.chars("e").await;
    h.key(KeyCode::End).await;
    h.chars("!").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    client
        .put("demo", p, b"user:2".to_vec(), b"again".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    h.chars("r").await;
    snap!("tui_conflict_reedit", h);
    broker.stop().await;
}

#[tokio::test]
async fn tui_history_and_restore() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"counter", 3);
    for v in ["8", "9"] {
        client
            .put("demo", p, b"counter".to_vec(), v.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    client
        .delete("demo", p, vec![b"counter".to_vec()], None)
        .await
        .unwrap();
    client
        .put("demo", p, b"counter".to_vec(), b"10".to_vec(), None)
        .await
        .unwrap();
    h.command("topic demo").await;
    h.chars("/counter").await;
    h.key(KeyCode::Enter).await;
    h.chars("h").await;
    snap!("tui_history", h);
    // Newest first: 10, tombstone, 9, 8, 7. Restore "8".
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Enter).await;
    snap!("tui_history_restore_review", h);
    h.chars("y").await;
    assert_eq!(
        client.get("demo", p, b"counter").await.unwrap(),
        Some(b"8".to_vec())
    );
    broker.stop().await;
}

#[tokio::test]
async fn tui_new_key_delete_and_batch_delete() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    h.command("topic single").await;
    h.chars("n").await;
    h.chars("alpha").await;
    snap!("tui_new_key_prompt", h);
    h.key(KeyCode::Enter).await;
    h.chars("first value").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    snap!("tui_new_key_review", h);
    h.chars("y").await;
    assert_eq!(
        client.get("single", 0, b"alpha").await.unwrap(),
        Some(b"first value".to_vec())
    );
    // A second "new" of the same key fails its ifExists:false precondition.
    h.chars("n").await;
    h.chars("alpha").await;
    h.key(KeyCode::Enter).await;
    h.chars("second").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    h.chars("y").await;
    assert!(matches!(h.app.popup(), Some(Popup::Conflict(_))));
    h.key(KeyCode::Esc).await;
    assert_eq!(
        client.get("single", 0, b"alpha").await.unwrap(),
        Some(b"first value".to_vec())
    );
    for k in ["beta", "gamma", "delta"] {
        client
            .put(
                "single",
                0,
                k.as_bytes().to_vec(),
                k.as_bytes().to_vec(),
                None,
            )
            .await
            .unwrap();
    }
    h.chars("r").await;
    // Delete "alpha" (the first row) with confirmation.
    h.chars("g").await;
    h.chars("d").await;
    snap!("tui_delete_confirm", h);
    h.chars("y").await;
    assert_eq!(client.get("single", 0, b"alpha").await.unwrap(), None);
    // Select beta and delta, delete both in one write.
    h.chars("g").await;
    h.chars(" ").await; // beta
    h.chars("j").await; // skip delta? rows: beta, delta, gamma
    h.chars(" ").await;
    h.chars("D").await;
    snap!("tui_batch_delete_confirm", h);
    h.chars("y").await;
    assert_eq!(client.get("single", 0, b"beta").await.unwrap(), None);
    assert_eq!(client.get("single", 0, b"gamma").await.unwrap(), None);
    assert_eq!(
        client.get("single", 0, b"delta").await.unwrap(),
        Some(b"delta".to_vec())
    );
    snap!("tui_after_batch_delete", h);
    broker.stop().await;
}

#[tokio::test]
async fn tui_merged_view_finds_keys_where_they_live() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    // "dup" in partitions 0 and 2; "lone" only where murmur2 does not put it
    // (as a librdkafka producer would have).
    for (p, v) in [(0, "zero"), (2, "two")] {
        client
            .put("demo", p, b"dup".to_vec(), v.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    let murmur2 = partition_for_key(b"lone", 3);
    let lone = (murmur2 + 1) % 3;
    client
        .put("demo", lone, b"lone".to_vec(), b"v1".to_vec(), None)
        .await
        .unwrap();
    h.command("topic demo").await;

    // :get lists every copy and warns about the key in two partitions.
    h.command("get dup lone").await;
    let s = h.app.scan().expect("scan view");
    let rows: Vec<(i32, String, String)> = (0..s.known_rows())
        .filter_map(|i| s.row(i))
        .map(|r| {
            (
                r.partition,
                String::from_utf8_lossy(&r.key).into_owned(),
                String::from_utf8_lossy(&r.value).into_owned(),
            )
        })
        .collect();
    let mut want = vec![
        (0, "dup".to_owned(), "zero".to_owned()),
        (2, "dup".to_owned(), "two".to_owned()),
        (lone, "lone".to_owned(), "v1".to_owned()),
    ];
    want.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
    assert_eq!(rows, want);
    let (_, msg) = h.app.message().expect("a message");
    assert_eq!(
        msg,
        "warning: dup is in partitions 0 and 2 (producers with different partitioners wrote them); every copy is listed"
    );

    // n of a key that exists in one partition edits it there.
    h.key(KeyCode::Esc).await;
    h.chars("n").await;
    h.chars("lone").await;
    h.key(KeyCode::Enter).await;
    let Some(Popup::Editor(e)) = h.app.popup() else {
        panic!("no editor:\n{}", h.screen());
    };
    assert_eq!(e.text(), "v1");
    assert_eq!(e.pending().partition, lone);
    let msg = &h.app.message().expect("a message").1;
    assert_eq!(
        msg,
        &format!("lone exists already (partition {lone}): editing it")
    );
    h.chars("2").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    h.chars("y").await;
    let got = client.get("demo", lone, b"lone").await.unwrap();
    assert!(got.is_some_and(|v| v != b"v1"), "written in place");
    assert_eq!(client.get("demo", murmur2, b"lone").await.unwrap(), None);

    // n of a key in two partitions is refused; a new key goes to murmur2's.
    h.chars("n").await;
    h.chars("dup").await;
    h.key(KeyCode::Enter).await;
    assert!(h.app.popup().is_none(), "{}", h.screen());
    let msg = &h.app.message().expect("a message").1;
    assert_eq!(
        msg,
        "dup is in partitions 0 and 2: open one partition (:topic demo P) to write it"
    );
    h.chars("n").await;
    h.chars("fresh").await;
    h.key(KeyCode::Enter).await;
    let Some(Popup::Editor(e)) = h.app.popup() else {
        panic!("no editor:\n{}", h.screen());
    };
    assert_eq!(e.pending().partition, partition_for_key(b"fresh", 3));
    assert_eq!(e.pending().base, None);
    broker.stop().await;
}
