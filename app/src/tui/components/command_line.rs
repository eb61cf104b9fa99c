//! The bottom line: the `:` command / `/` filter / new-key prompt while one is
//! open, else key hints for the focused pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::super::popups::Popup;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    if let Some(Popup::Input(input)) = app.popup() {
        input.draw(f, area, t);
        return;
    }
    let k = |a: Action| app.keymap().hint(a);
    let pairs: Vec<(String, &str)> = match app.focus() {
        _ if app.groups().is_some_and(|g| g.detail.is_some()) => vec![
            (k(Action::Back), "back"),
            (":seek start|end|TS".to_owned(), "seek"),
            (k(Action::Delete), "delete"),
            (k(Action::Refresh), "refresh"),
            (k(Action::Help), "help"),
        ],
        _ if app.groups().is_some() => vec![
            (k(Action::Open), "partitions"),
            (k(Action::Back), "close"),
            (k(Action::Delete), "delete"),
            (k(Action::Refresh), "refresh"),
            (k(Action::Help), "help"),
        ],
        Focus::Topics | Focus::Partitions => vec![
            (k(Action::Open), "open"),
            (k(Action::NextPane), "pane"),
            (k(Action::Command), "command"),
            (k(Action::Refresh), "refresh"),
            (k(Action::Help), "help"),
            (k(Action::Quit), "quit"),
        ],
        Focus::Scan | Focus::Value => vec![
            (k(Action::Filter), "filter"),
            (k(Action::Edit), "edit"),
            (k(Action::EditExternal), "$EDITOR"),
            (k(Action::NewKey), "new"),
            (k(Action::Delete), "delete"),
            (k(Action::Select), "select"),
            (k(Action::History), "history"),
            (k(Action::Copy), "copy"),
            (k(Action::KeyFormat), "key fmt"),
            (k(Action::ValueFormat), "value fmt"),
            (k(Action::Help), "help"),
        ],
    };
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), *b)).collect();
    let mut line = super::hint_line(t, &refs);
    line.spans.insert(0, Span::raw(" "));
    f.render_widget(Paragraph::new(line), area);
}
