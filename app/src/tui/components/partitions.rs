//! The partitions pane: "all" (merged by key) and each partition.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::{List, ListItem, ListState};

use super::super::app::{App, Focus};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let n = app.partition_rows();
    let mut items = vec![ListItem::new("all (merged by key)")];
    items.extend((0..n.saturating_sub(1)).map(|p| ListItem::new(format!("partition {p}"))));
    let title = match app.selected_topic() {
        Some(topic) => format!(" Partitions of {} ", topic.name),
        None => " Partitions ".to_owned(),
    };
    let list = List::new(items)
        .block(super::pane(
            title,
            t,
            super::focused(app, Focus::Partitions),
        ))
        .highlight_style(t.selected())
        .highlight_symbol("▸");
    let mut state = ListState::default();
    state.select(Some(app.partition_cursor().min(n.saturating_sub(1))));
    f.render_stateful_widget(list, area, &mut state);
}
