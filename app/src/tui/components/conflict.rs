//! The conflict view after a 409: the value now stored, its hash, and a diff
//! of it against the edit that was refused.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Pending};
use crate::client::sha256_hex;

pub fn draw(f: &mut Frame, area: Rect, app: &App, p: &Pending, current: Option<&[u8]>) {
    let t = &app.theme;
    let inner = super::popup(
        f,
        area,
        90,
        85,
        Line::styled(" Conflict (HTTP 409): nothing was written ", t.error()),
        t,
    );
    let [head, body, foot] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let lines = vec![
        Line::from(vec![
            Span::styled("key        ", t.dim()),
            Span::styled(app.key_format.render(&p.key), t.title()),
            Span::styled(
                format!("  ({} partition {})", p.topic, p.partition),
                t.dim(),
            ),
        ]),
        Line::from(vec![
            Span::styled("you read   ", t.dim()),
            Span::raw(match p.base_hash() {
                Some(h) => format!("sha256 {h}"),
                None => "(no such key)".to_owned(),
            }),
        ]),
        Line::from(vec![
            Span::styled("now stored ", t.dim()),
            Span::styled(
                match current {
                    Some(v) => format!("sha256 {}  ({} bytes)", sha256_hex(v), v.len()),
                    None => "(deleted)".to_owned(),
                },
                t.warn(),
            ),
        ]),
        Line::from(vec![
            Span::styled("your edit  ", t.dim()),
            Span::raw(match &p.new {
                Some(v) => format!("sha256 {}  ({} bytes)", sha256_hex(v), v.len()),
                None => "(delete)".to_owned(),
            }),
        ]),
        Line::raw(""),
        Line::styled("diff (now stored → your edit):", t.dim()),
    ];
    f.render_widget(Paragraph::new(lines), head);
    let old = super::diff_text(current, p.edit_format, t);
    let new = super::diff_text(p.new.as_deref(), p.edit_format, t);
    f.render_widget(
        Paragraph::new(super::diff_lines(&old, &new, t)).wrap(Wrap { trim: false }),
        body,
    );
    let keys = super::hint_line(
        t,
        &[
            ("r", "reload & re-edit"),
            ("o", "overwrite (ifMatches new hash)"),
            ("Esc", "cancel"),
        ],
    );
    f.render_widget(Paragraph::new(keys), foot);
}
