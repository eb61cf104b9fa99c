//! The inline editor popup (ratatui-textarea): every key but save and cancel
//! goes to the text area.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::Paragraph;
use ratatui_textarea::TextArea;

use super::super::action::PopupAction;
use super::super::app::{App, Origin, Pending};
use super::super::components::{hint_line, popup};
use super::super::keymap::Keymap;

/// A change being edited: the pending change (its base is the value read)
/// and the text area.
pub struct EditorPopup {
    pending: Pending,
    area: Box<TextArea<'static>>,
}

/// What a key did in the editor.
pub enum EditorOutcome {
    Stay(EditorPopup),
    Cancel,
    /// Review the text (the pending change's `new` is not set yet).
    Save(Pending, String),
}

impl EditorPopup {
    /// An editor over `text` for `pending`.
    pub fn new(pending: Pending, text: &str) -> Self {
        let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        EditorPopup {
            pending,
            area: Box::new(TextArea::new(lines)),
        }
    }

    pub fn pending(&self) -> &Pending {
        &self.pending
    }

    /// The text as edited so far.
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }

    pub fn on_key(mut self, key: KeyEvent, km: &Keymap) -> EditorOutcome {
        match km.popup_action(&key, &[PopupAction::EditorSave, PopupAction::EditorCancel]) {
            Some(PopupAction::EditorCancel) => EditorOutcome::Cancel,
            Some(_) => {
                let text = self.text();
                EditorOutcome::Save(self.pending, text)
            }
            None => {
                self.area.input(key);
                EditorOutcome::Stay(self)
            }
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let (theme, km, p) = (app.theme(), app.keymap(), &self.pending);
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
        let inner = popup(f, area, 85, 75, Line::styled(title, theme.title()), theme);
        let [body, foot] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        f.render_widget(&*self.area, body);
        let save: Vec<String> = km
            .popup_keys(PopupAction::EditorSave)
            .iter()
            .map(|k| k.label())
            .collect();
        let cancel = km.popup_hint(PopupAction::EditorCancel, 1);
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if let Some(first) = save.first() {
            pairs.push((first, "review & write"));
        }
        if let Some(second) = save.get(1) {
            pairs.push((second, "same"));
        }
        pairs.push((&cancel, "cancel"));
        f.render_widget(Paragraph::new(hint_line(theme, &pairs)), foot);
    }
}
