//! A yes/no popup.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::super::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, title: &str, lines: &[String], keys: &str) {
    let inner = super::popup(
        f,
        area,
        70,
        40,
        Line::styled(title.to_owned(), theme.title()),
        theme,
    );
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    let text: Vec<Line> = lines.iter().map(|l| Line::raw(l.clone())).collect();
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }), body);
    f.render_widget(
        Paragraph::new(Line::styled(keys.to_owned(), theme.key_hint())),
        foot,
    );
}
