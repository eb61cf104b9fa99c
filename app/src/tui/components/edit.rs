//! The inline editor popup (ratatui-textarea).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use super::super::app::{Origin, Pending};
use super::super::theme::Theme;

pub fn draw(f: &mut Frame, area: Rect, theme: &Theme, p: &Pending, ta: &TextArea<'static>) {
    let what = if p.origin == Origin::New {
        "New key"
    } else {
        "Edit"
    };
    let title = format!(
        " {what} {} · {} partition {} · as {} ",
        super::super::fmt::escape_utf8(&p.key),
        p.topic,
        p.partition,
        p.edit_format.name()
    );
    let inner = super::popup(f, area, 85, 75, Line::styled(title, theme.title()), theme);
    let [body, foot] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    f.render_widget(ta, body);
    let hints = super::hint_line(
        theme,
        &[
            ("ctrl-s", "review & write"),
            ("F2", "same"),
            ("Esc", "cancel"),
        ],
    );
    f.render_widget(Paragraph::new(hints), foot);
}
