//! The changes popup of follow mode: the last changes (newest first) with
//! offset, partition, put or delete, key and value; Enter jumps to the key.
//! It lists the changes as they were when it opened, so the row under the
//! cursor does not move while more arrive.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::super::action::{Action, PopupAction};
use super::super::app::App;
use super::super::components::{hint_line, popup};
use super::super::fmt;
use super::super::follow::{CHANGES_KEPT, Seen};
use crate::client::Change;

/// The changes listed, newest first, and the cursor.
#[derive(Clone, Debug)]
pub struct ChangesPopup {
    changes: Vec<Seen>,
    /// Changes seen since follow mode started (more than listed, past the cap).
    total: u64,
    cursor: usize,
}

/// What a key did in the popup.
pub enum ChangesOutcome {
    Stay(ChangesPopup),
    Close,
    /// Show this change's key in the scan.
    Jump(Change),
}

impl ChangesPopup {
    /// The popup over `recent` (oldest first, as follow mode keeps them).
    pub fn new<'a>(recent: impl DoubleEndedIterator<Item = &'a Seen>, total: u64) -> Self {
        ChangesPopup {
            changes: recent.rev().cloned().collect(),
            total,
            cursor: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.changes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    pub fn on_key(mut self, key: &KeyEvent, app: &App) -> ChangesOutcome {
        let km = app.keymap();
        match km.popup_action(key, &[PopupAction::ChangesJump, PopupAction::ChangesClose]) {
            Some(PopupAction::ChangesJump) => {
                return match self.changes.get(self.cursor) {
                    Some(s) => ChangesOutcome::Jump(s.change.clone()),
                    None => ChangesOutcome::Close,
                };
            }
            Some(_) => return ChangesOutcome::Close,
            None => {}
        }
        let last = self.changes.len().saturating_sub(1);
        match km.action(key) {
            Some(Action::Down) => self.cursor = (self.cursor + 1).min(last),
            Some(Action::Up) => self.cursor = self.cursor.saturating_sub(1),
            Some(Action::Top) => self.cursor = 0,
            Some(Action::Bottom) => self.cursor = last,
            _ => {}
        }
        ChangesOutcome::Stay(self)
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let (t, km, kf) = (app.theme(), app.keymap(), app.key_format());
        let title = format!(
            " Changes · last {} of {} (at most {CHANGES_KEPT}) ",
            self.changes.len(),
            self.total
        );
        let inner = popup(f, area, 90, 70, Line::styled(title, t.title()), t);
        let [body, foot] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
        if self.changes.is_empty() {
            f.render_widget(
                Paragraph::new(Line::styled("no changes yet", t.dim())),
                body,
            );
        } else {
            let rows: Vec<Row> = self
                .changes
                .iter()
                .map(|s| {
                    let c = &s.change;
                    let (op, value) = match &c.value {
                        Some(v) => ("put", fmt::escape_utf8(&v[..v.len().min(120)])),
                        None => ("delete", String::new()),
                    };
                    Row::new(vec![
                        Cell::from(c.offset.to_string()),
                        Cell::from(c.partition.to_string()),
                        Cell::from(op),
                        Cell::from(kf.render(&c.key)),
                        Cell::from(value),
                    ])
                })
                .collect();
            let table = Table::new(
                rows,
                [
                    Constraint::Length(8),
                    Constraint::Length(3),
                    Constraint::Length(6),
                    Constraint::Percentage(35),
                    Constraint::Min(8),
                ],
            )
            .header(Row::new(vec!["offset", "p", "op", "key", "value"]).style(t.title()))
            .row_highlight_style(t.selected());
            let mut state = TableState::default();
            state.select(Some(self.cursor));
            f.render_stateful_widget(table, body, &mut state);
        }
        let (jump, close) = (
            km.popup_hint(PopupAction::ChangesJump, 1),
            km.popup_hint(PopupAction::ChangesClose, 1),
        );
        let moves = format!("{}/{}", km.hint(Action::Up), km.hint(Action::Down));
        let keys = hint_line(
            t,
            &[
                (&jump, "jump to the key"),
                (&moves, "move"),
                (&close, "close"),
            ],
        );
        f.render_widget(Paragraph::new(keys), foot);
    }
}
