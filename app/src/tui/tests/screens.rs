//! The screens: topics, scans, value formats, help, the command line, the mouse.
use crossterm::event::{Event, KeyCode, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};

use super::super::theme::Theme;
use super::*;

#[tokio::test]
async fn tui_topics_and_scan_screens() {
    let (broker, mut h) = demo().await;
    snap!("tui_topics", h);
    h.key(KeyCode::Enter).await;
    snap!("tui_scan_all_partitions", h);
    // Partition 1 only, from the partitions pane.
    h.key(KeyCode::Tab).await; // scan -> value
    h.key(KeyCode::Tab).await; // value -> topics
    h.key(KeyCode::Tab).await; // topics -> partitions
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Enter).await;
    snap!("tui_scan_partition_1", h);
    // The plain topic refuses a scan with a message.
    h.command("topic plain").await;
    assert!(h.status().contains("not a kvstore topic"), "{}", h.status());
    broker.stop().await;
}

#[tokio::test]
async fn tui_value_view_formats() {
    let (broker, mut h) = demo().await;
    h.command("topic demo").await;
    h.chars("/user:1").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_json", h);
    h.chars("V").await;
    snap!("tui_value_utf8", h);
    h.chars("V").await;
    snap!("tui_value_hex", h);
    h.chars("V").await;
    snap!("tui_value_base64", h);
    h.chars("V").await; // back to auto
    h.chars("/note").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_text", h);
    h.chars("/blob").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_binary", h);
    h.chars("K").await; // keys as hex
    h.key(KeyCode::Esc).await; // clears the filter
    snap!("tui_keys_hex", h);
    broker.stop().await;
}

#[tokio::test]
async fn tui_help_and_command_line() {
    let (broker, mut h) = demo().await;
    h.chars("?").await;
    snap!("tui_help", h);
    h.key(KeyCode::Esc).await;
    h.chars(":topic demo").await;
    snap!("tui_command_line", h);
    h.key(KeyCode::Enter).await;
    h.command("get counter user:2 nope").await;
    snap!("tui_get_results", h);
    h.command("scan config user:2").await;
    snap!("tui_scan_range", h);
    h.app.set_profiles(vec!["local".into(), "prod".into()]);
    h.command("ctx").await;
    assert!(
        h.status().contains("profiles: local, prod"),
        "{}",
        h.status()
    );
    h.command("ctx prod").await;
    assert_eq!(
        std::mem::take(&mut h.effects),
        vec![Effect::SwitchProfile("prod".into())]
    );
    h.command("bogus").await;
    assert!(h.status().contains("unknown command"), "{}", h.status());
    h.command("q").await;
    assert!(h.app.should_quit());
    broker.stop().await;
}

#[tokio::test]
async fn tui_mouse_and_no_color() {
    let (broker, mut h) = demo().await;
    // Click the first topic: it opens.
    let a = h.app.areas().topics;
    h.app.on_event(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: a.x + 3,
        row: a.y + 1,
        modifiers: KeyModifiers::NONE,
    }));
    h.settle().await;
    assert!(h.app.scan().is_some());
    // Wheel over the table moves the cursor.
    let s = h.app.areas().scan;
    h.app.on_event(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: s.x + 5,
        row: s.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    h.settle().await;
    assert_eq!(h.app.scan().unwrap().cursor, 3);
    // NO_COLOR: no cell has a colour.
    h.app.set_theme(Theme { color: false });
    h.draw();
    let buf = h.term.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    broker.stop().await;
}
