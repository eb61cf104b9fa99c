//! The review screen: what will be written, under which precondition, and a
//! diff of the value as read against the new one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Origin, Pending};
use crate::client::sha256_hex;

pub fn draw(f: &mut Frame, area: Rect, app: &App, p: &Pending) {
    let t = &app.theme;
    let title = match p.origin {
        Origin::Restore { offset } => format!(" Review: restore offset {offset} "),
        Origin::New => " Review: new key ".to_owned(),
        Origin::Edit => " Review: edit ".to_owned(),
    };
    let inner = super::popup(f, area, 90, 85, Line::styled(title, t.title()), t);
    let error_lines = u16::from(app.review_error.is_some());
    let [head, body, error, foot] = Layout::vertical([
        Constraint::Length(6),
        Constraint::Min(1),
        Constraint::Length(error_lines),
        Constraint::Length(1),
    ])
    .areas(inner);
    let pre = match p.base_hash() {
        Some(h) => format!("ifMatches sha256 {h}"),
        None => "ifExists: false (the key must not exist)".to_owned(),
    };
    let new = match &p.new {
        Some(v) => format!("sha256 {}  ({} bytes)", sha256_hex(v), v.len()),
        None => "(delete)".to_owned(),
    };
    let head_lines = vec![
        Line::from(vec![
            Span::styled("key        ", t.dim()),
            Span::styled(app.key_format.render(&p.key), t.title()),
        ]),
        Line::from(vec![
            Span::styled("where      ", t.dim()),
            Span::raw(format!("{} partition {}", p.topic, p.partition)),
        ]),
        Line::from(vec![
            Span::styled("read as    ", t.dim()),
            Span::raw(match &p.base {
                Some(v) => format!("sha256 {}  ({} bytes)", sha256_hex(v), v.len()),
                None => "(no such key)".to_owned(),
            }),
        ]),
        Line::from(vec![Span::styled("new value  ", t.dim()), Span::raw(new)]),
        Line::from(vec![
            Span::styled("condition  ", t.dim()),
            Span::styled(pre, t.warn()),
        ]),
        Line::styled("diff (read → new):", t.dim()),
    ];
    f.render_widget(Paragraph::new(head_lines), head);
    let old = super::diff_text(p.base.as_deref(), p.edit_format, t);
    let new = super::diff_text(p.new.as_deref(), p.edit_format, t);
    f.render_widget(
        Paragraph::new(super::diff_lines(&old, &new, t)).wrap(Wrap { trim: false }),
        body,
    );
    if let Some(why) = &app.review_error {
        f.render_widget(Paragraph::new(Line::styled(why.clone(), t.error())), error);
    }
    let write = if app.review_error.is_some() {
        "write again"
    } else {
        "write"
    };
    let mut keys = vec![("y", write), ("Esc", "cancel")];
    if p.new.is_some() {
        keys.insert(1, ("e", "edit again"));
    }
    f.render_widget(Paragraph::new(super::hint_line(t, &keys)), foot);
}
