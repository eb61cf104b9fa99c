//! The review popup before a write: key, partition, the hash read and the
//! precondition it becomes, and a diff; after a failed write, why.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::action::PopupAction;
use super::super::app::{App, Origin, Pending};
use super::super::components::{diff_lines, diff_text, hint_line, popup};
use super::super::keymap::Keymap;
use crate::client::sha256_hex;

/// A change waiting for `y`, and why its last write failed, if it did.
pub struct ReviewPopup {
    pending: Pending,
    error: Option<String>,
}

/// What a key did in the review.
pub enum ReviewOutcome {
    Stay(ReviewPopup),
    Write(Pending),
    /// Back to the editor with the new value as text.
    EditAgain(Pending),
    Cancel,
}

const KEYS: [PopupAction; 3] = [
    PopupAction::ReviewWrite,
    PopupAction::ReviewEdit,
    PopupAction::ReviewCancel,
];

impl ReviewPopup {
    pub fn new(pending: Pending) -> Self {
        ReviewPopup {
            pending,
            error: None,
        }
    }

    /// A review reopened after its write failed (`why` is shown).
    pub fn failed(pending: Pending, why: String) -> Self {
        ReviewPopup {
            pending,
            error: Some(why),
        }
    }

    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    pub fn on_key(self, key: &KeyEvent, km: &Keymap) -> ReviewOutcome {
        match km.popup_action(key, &KEYS) {
            Some(PopupAction::ReviewWrite) => ReviewOutcome::Write(self.pending),
            Some(PopupAction::ReviewEdit) => ReviewOutcome::EditAgain(self.pending),
            Some(_) => ReviewOutcome::Cancel,
            None => ReviewOutcome::Stay(self),
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let (t, km, p) = (app.theme(), app.keymap(), &self.pending);
        let title = match p.origin {
            Origin::Restore { offset } => format!(" Review: restore offset {offset} "),
            Origin::New => " Review: new key ".to_owned(),
            Origin::Edit => " Review: edit ".to_owned(),
        };
        let inner = popup(f, area, 90, 85, Line::styled(title, t.title()), t);
        let error_lines = u16::from(self.error.is_some());
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
                Span::styled(app.key_format().render(&p.key), t.title()),
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
        let old = diff_text(p.base.as_deref(), p.edit_format, t);
        let new = diff_text(p.new.as_deref(), p.edit_format, t);
        f.render_widget(
            Paragraph::new(diff_lines(&old, &new, t)).wrap(Wrap { trim: false }),
            body,
        );
        if let Some(why) = &self.error {
            f.render_widget(Paragraph::new(Line::styled(why.clone(), t.error())), error);
        }
        let write = if self.error.is_some() {
            "write again"
        } else {
            "write"
        };
        let (w, e, c) = (
            km.popup_hint(PopupAction::ReviewWrite, 1),
            km.popup_hint(PopupAction::ReviewEdit, 1),
            km.popup_hint(PopupAction::ReviewCancel, 1),
        );
        let mut keys = vec![(w.as_str(), write), (c.as_str(), "cancel")];
        if p.new.is_some() {
            keys.insert(1, (e.as_str(), "edit again"));
        }
        f.render_widget(Paragraph::new(hint_line(t, &keys)), foot);
    }
}
