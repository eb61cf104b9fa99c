//! The conflict popup after a 409: the value now stored, its hash, and a diff
//! of it against the edit that was refused. Reload re-edits from the stored
//! value; overwrite writes the edit `ifMatches` the stored value's hash.

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

/// The refused change and the value stored now (`None`: deleted).
pub struct ConflictPopup {
    pending: Pending,
    current: Option<Vec<u8>>,
}

/// What a key did in the conflict popup.
pub enum ConflictOutcome {
    Stay(ConflictPopup),
    /// Edit again from the stored value (the change's base is now that value).
    Reload(Pending),
    /// Write the edit against the stored value.
    Overwrite(Pending),
    Cancel,
}

const KEYS: [PopupAction; 3] = [
    PopupAction::ConflictReload,
    PopupAction::ConflictOverwrite,
    PopupAction::ConflictCancel,
];

impl ConflictPopup {
    pub fn new(pending: Pending, current: Option<Vec<u8>>) -> Self {
        ConflictPopup { pending, current }
    }

    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    pub fn current(&self) -> Option<&[u8]> {
        self.current.as_deref()
    }

    pub fn on_key(self, key: &KeyEvent, km: &Keymap) -> ConflictOutcome {
        let ConflictPopup { pending, current } = self;
        match km.popup_action(key, &KEYS) {
            Some(PopupAction::ConflictReload) => ConflictOutcome::Reload(Pending {
                new: None,
                origin: if current.is_some() {
                    pending.origin.clone()
                } else {
                    Origin::New
                },
                base: current,
                ..pending
            }),
            Some(PopupAction::ConflictOverwrite) => ConflictOutcome::Overwrite(Pending {
                base: current,
                ..pending
            }),
            Some(_) => ConflictOutcome::Cancel,
            None => ConflictOutcome::Stay(ConflictPopup { pending, current }),
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let (t, km, p) = (app.theme(), app.keymap(), &self.pending);
        let current = self.current.as_deref();
        let inner = popup(
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
                Span::styled(app.key_format().render(&p.key), t.title()),
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
        let old = diff_text(current, p.edit_format, t);
        let new = diff_text(p.new.as_deref(), p.edit_format, t);
        f.render_widget(
            Paragraph::new(diff_lines(&old, &new, t)).wrap(Wrap { trim: false }),
            body,
        );
        let (r, o, c) = (
            km.popup_hint(PopupAction::ConflictReload, 1),
            km.popup_hint(PopupAction::ConflictOverwrite, 1),
            km.popup_hint(PopupAction::ConflictCancel, 1),
        );
        let keys = hint_line(
            t,
            &[
                (&r, "reload & re-edit"),
                (&o, "overwrite (ifMatches new hash)"),
                (&c, "cancel"),
            ],
        );
        f.render_widget(Paragraph::new(keys), foot);
    }
}
