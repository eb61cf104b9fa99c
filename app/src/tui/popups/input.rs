//! The single-line prompt: the `:` command line, the `/` filter, the key of a
//! new key. It draws in the hints line at the bottom.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::PopupAction;
use super::super::keymap::Keymap;
use super::super::theme::Theme;

/// What a single-line prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Command,
    Filter,
    NewKey,
    /// A jq expression over the values (`|`).
    ValueFilter,
}

/// A prompt and the text typed so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputPopup {
    kind: InputKind,
    text: String,
}

/// What a key did to the prompt.
#[derive(Debug, PartialEq, Eq)]
pub enum InputOutcome {
    Stay(InputPopup),
    Close,
    Submit(InputKind, String),
}

const KEYS: [PopupAction; 3] = [
    PopupAction::InputSubmit,
    PopupAction::InputCancel,
    PopupAction::InputClear,
];

impl InputPopup {
    pub fn new(kind: InputKind) -> Self {
        InputPopup {
            kind,
            text: String::new(),
        }
    }

    pub fn kind(&self) -> InputKind {
        self.kind
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// Submit, cancel and clear are remappable; Backspace deletes (and closes
    /// an empty prompt); other characters are typed.
    pub fn on_key(mut self, key: &KeyEvent, km: &Keymap) -> InputOutcome {
        match km.popup_action(key, &KEYS) {
            Some(PopupAction::InputSubmit) => return InputOutcome::Submit(self.kind, self.text),
            Some(PopupAction::InputCancel) => return InputOutcome::Close,
            Some(_) => self.text.clear(),
            None => match key.code {
                // Deletes a character; on an empty prompt, closes it.
                KeyCode::Backspace if self.text.pop().is_none() => return InputOutcome::Close,
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    self.text.push(c)
                }
                _ => {}
            },
        }
        InputOutcome::Stay(self)
    }

    /// Draws the prompt with the cursor after the text.
    pub fn draw(&self, f: &mut Frame, area: Rect, t: &Theme) {
        let prompt = match self.kind {
            InputKind::Command => ":",
            InputKind::Filter => "/",
            InputKind::NewKey => "new key: ",
            InputKind::ValueFilter => "| ",
        };
        let line = Line::from(vec![
            Span::styled(prompt, t.key_hint()),
            Span::raw(self.text.clone()),
        ]);
        f.render_widget(Paragraph::new(line), area);
        let x = area.x
            + (prompt.len() + unicode_width::UnicodeWidthStr::width(self.text.as_str())) as u16;
        f.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
    }
}
