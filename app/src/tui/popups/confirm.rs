//! A yes/no popup before a (batch) delete, a group's seek or deletion.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::super::action::PopupAction;
use super::super::app::App;
use super::super::components::popup;
use super::super::keymap::Keymap;
use super::super::theme::Theme;

/// What a confirmation does when accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    /// Delete these keys, each `ifMatches` its hash, in one write.
    Delete {
        topic: String,
        partition: i32,
        keys: Vec<(Vec<u8>, String)>,
    },
    /// Commit new offsets for a consumer group.
    GroupSeek {
        group: String,
        to: crate::client::SeekTo,
    },
    /// Delete a consumer group.
    GroupDelete { group: String },
}

/// The question and what `yes` does.
pub struct ConfirmPopup {
    lines: Vec<String>,
    then: Confirmed,
}

/// What a key did to the question.
pub enum ConfirmOutcome {
    Stay(ConfirmPopup),
    Yes(Confirmed),
    No,
}

impl ConfirmPopup {
    pub fn new(lines: Vec<String>, then: Confirmed) -> Self {
        ConfirmPopup { lines, then }
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    pub fn on_key(self, key: &KeyEvent, km: &Keymap) -> ConfirmOutcome {
        match km.popup_action(key, &[PopupAction::ConfirmYes, PopupAction::ConfirmNo]) {
            Some(PopupAction::ConfirmYes) => ConfirmOutcome::Yes(self.then),
            Some(_) => ConfirmOutcome::No,
            None => ConfirmOutcome::Stay(self),
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let km = app.keymap();
        let keys = format!(
            "{}: yes   {}: no",
            km.popup_hint(PopupAction::ConfirmYes, 1),
            km.popup_hint(PopupAction::ConfirmNo, 2)
        );
        frame(f, area, app.theme(), " Confirm ", &self.lines, &keys);
    }
}

/// A question popup: title, lines, and a line of keys.
pub fn frame(f: &mut Frame, area: Rect, theme: &Theme, title: &str, lines: &[String], keys: &str) {
    let inner = popup(
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
