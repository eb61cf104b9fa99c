//! The topics pane: name, partition count, kvstore badge.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState};

use super::super::app::{App, Focus};

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let items: Vec<ListItem> = app
        .topics()
        .iter()
        .map(|topic| {
            let parts = topic.partitions.map_or("?".to_owned(), |n| n.to_string());
            let mut spans = vec![
                Span::raw(topic.name.clone()),
                Span::styled(format!(" {parts}p"), t.dim()),
            ];
            match topic.kvstore {
                Some(true) => spans.push(Span::styled(" KV", t.badge())),
                Some(false) => {}
                None => spans.push(Span::styled(" ?", t.dim())),
            }
            ListItem::new(Line::from(spans))
        })
        .collect();
    let title = format!(" Topics ({}) ", app.topics().len());
    let list = List::new(items)
        .block(super::pane(title, t, super::focused(app, Focus::Topics)))
        .highlight_style(t.selected())
        .highlight_symbol("▸");
    let mut state = ListState::default();
    if !app.topics().is_empty() {
        state.select(Some(app.topic_cursor()));
    }
    f.render_stateful_widget(list, area, &mut state);
}
