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
