//! Paging a large range against a real broker: memory stays bounded.
use crossterm::event::KeyCode;

use super::*;

#[tokio::test]
async fn tui_paging_keeps_memory_bounded() {
    let broker = Broker::start(&["big:1"]).await;
    let client = broker.client();
    let mut puts = Vec::new();
    for i in 0..2500u32 {
        puts.push((
            format!("key-{i:06}").into_bytes(),
            format!("value {i}").into_bytes(),
        ));
    }
    for chunk in puts.chunks(500) {
        let req = crate::client::write_request(chunk.to_vec(), vec![], None);
        client.write("big", 0, &req).await.unwrap();
    }
    let mut h = Harness::new(broker.config()).await;
    h.command("topic big").await;
    let max_rows = super::super::scan::MAX_PAGES * super::super::scan::PAGE_SIZE;
    let mut seen = 0;
    loop {
        h.key(KeyCode::PageDown).await;
        let s = h.app.scan().unwrap();
        assert!(
            s.rows_in_memory() <= max_rows,
            "{} rows in memory",
            s.rows_in_memory()
        );
        if s.cursor == seen {
            break;
        }
        seen = s.cursor;
    }
    let s = h.app.scan().unwrap();
    assert_eq!(s.cursor, 2499);
    assert_eq!(s.current().unwrap().key, b"key-002499");
    assert!(s.at_end());
    snap!("tui_scan_bottom", h);
    // And back to the top, re-fetching pages that were dropped.
    loop {
        h.key(KeyCode::PageUp).await;
        let s = h.app.scan().unwrap();
        assert!(s.rows_in_memory() <= max_rows);
        if s.cursor == 0 {
            break;
        }
    }
    assert_eq!(h.app.scan().unwrap().current().unwrap().key, b"key-000000");
    // Export writes the whole range.
    let dir = tempfile::tempdir().unwrap();
    h.app.set_export_dir(dir.path().to_owned());
    h.chars("x").await;
    let text = std::fs::read_to_string(dir.path().join("big-p0.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2500);
    assert!(h.status().contains("exported 2500 keys"), "{}", h.status());
    broker.stop().await;
}
