//! Key history: every version of a key in the topic log, newest first, with
//! offset, time, size and hash; restore takes one through the review popup.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::super::action::{Action, PopupAction};
use super::super::app::{App, Origin, Pending};
use super::super::backend::{History, Version};
use super::super::components::{hint_line, popup};
use super::super::fmt::{self, ValueFormat};
use super::super::keymap::{KeyCodeOrd, Keymap};
use crate::client::{Error, sha256_hex};

/// The history of one key, while it is read and after.
#[derive(Clone, Debug)]
pub struct HistoryPopup {
    topic: String,
    partition: i32,
    key: Vec<u8>,
    /// The value as the table read it (the base of a restore).
    current: Option<Vec<u8>>,
    history: Option<History>,
    cursor: usize,
}

/// What a key did in the history.
pub enum HistoryOutcome {
    Stay(HistoryPopup),
    Close,
    /// Restore the version under the cursor.
    Restore(HistoryPopup),
}

impl HistoryPopup {
    /// The history of `key`, read as `current`, before the log is read.
    pub fn new(topic: String, partition: i32, key: Vec<u8>, current: Option<Vec<u8>>) -> Self {
        HistoryPopup {
            topic,
            partition,
            key,
            current,
            history: None,
            cursor: 0,
        }
    }

    pub fn key(&self) -> &[u8] {
        &self.key
    }

    pub fn history(&self) -> Option<&History> {
        self.history.as_ref()
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Takes the log's answer; `Err` hands back the error (the popup closes).
    pub fn accept(&mut self, result: Result<History, Error>) -> Result<(), Error> {
        self.history = Some(result?);
        Ok(())
    }

    /// The version under the cursor (the list shows the newest first).
    pub fn selected(&self) -> Option<&Version> {
        self.history
            .as_ref()
            .and_then(|h| h.versions.iter().rev().nth(self.cursor))
    }

    /// Why the selected version cannot be restored: `Some(None)` when
    /// nothing is selected, `Some(Some(why))` when it is the current value.
    pub fn why_not_restore(&self) -> Option<Option<&'static str>> {
        let Some(v) = self.selected() else {
            return Some(None);
        };
        if v.value.is_none() && self.current.is_none() {
            return Some(Some("the key is already deleted"));
        }
        if v.value == self.current {
            return Some(Some("that version is the current value"));
        }
        None
    }

    /// The change that restores the selected version (read as `current`).
    pub fn restore(self, vf: ValueFormat) -> Option<Pending> {
        let v = self.selected().cloned()?;
        let edit_format = vf.edit_format(v.value.as_deref().unwrap_or_default());
        Some(Pending {
            topic: self.topic,
            partition: self.partition,
            key: self.key,
            base: self.current,
            new: v.value,
            origin: Origin::Restore { offset: v.offset },
            edit_format,
        })
    }

    /// The normal `up`/`down` keys move; restore and close are remappable.
    pub fn on_key(mut self, key: &KeyEvent, km: &Keymap) -> HistoryOutcome {
        match km.popup_action(
            key,
            &[PopupAction::HistoryRestore, PopupAction::HistoryClose],
        ) {
            Some(PopupAction::HistoryRestore) => return HistoryOutcome::Restore(self),
            Some(_) => return HistoryOutcome::Close,
            None => {}
        }
        match km.action(key) {
            Some(Action::Down) => {
                let n = self.history.as_ref().map_or(0, |x| x.versions.len());
                self.cursor = (self.cursor + 1).min(n.saturating_sub(1));
            }
            Some(Action::Up) => self.cursor = self.cursor.saturating_sub(1),
            _ => {}
        }
        HistoryOutcome::Stay(self)
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let (t, km) = (app.theme(), app.keymap());
        let title = format!(
            " History of {} · {} partition {} ",
            app.key_format().render(&self.key),
            self.topic,
            self.partition
        );
        let inner = popup(f, area, 90, 80, Line::styled(title, t.title()), t);
        let [info, body, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let Some(hist) = &self.history else {
            f.render_widget(
                Paragraph::new(Line::styled("reading the log…", t.warn())),
                info,
            );
            return;
        };
        let summary = format!(
            "{} versions · {} records read{}",
            hist.versions.len(),
            hist.scanned,
            if hist.truncated {
                " (stopped at the cap)"
            } else {
                ""
            }
        );
        f.render_widget(Paragraph::new(Line::styled(summary, t.dim())), info);
        let rows: Vec<Row> = hist
            .versions
            .iter()
            .rev()
            .map(|v| {
                let (size, hash, preview) = match &v.value {
                    Some(val) => (
                        fmt::size(val.len()),
                        sha256_hex(val)[..16].to_owned(),
                        fmt::escape_utf8(&val[..val.len().min(120)]),
                    ),
                    None => ("-".into(), "(tombstone)".into(), "deleted".into()),
                };
                let current = if v.value == self.current { "◆" } else { " " };
                Row::new(vec![
                    Cell::from(current),
                    Cell::from(v.offset.to_string()),
                    Cell::from(
                        v.timestamp
                            .map(fmt::timestamp)
                            .unwrap_or_else(|| "-".into()),
                    ),
                    Cell::from(size),
                    Cell::from(hash),
                    Cell::from(preview),
                ])
            })
            .collect();
        let table = Table::new(
            rows,
            [
                Constraint::Length(1),
                Constraint::Length(8),
                Constraint::Length(25),
                Constraint::Length(9),
                Constraint::Length(16),
                Constraint::Min(8),
            ],
        )
        .header(
            Row::new(vec!["", "offset", "time (UTC)", "size", "sha256", "value"]).style(t.title()),
        )
        .row_highlight_style(t.selected());
        let mut state = TableState::default();
        if !hist.versions.is_empty() {
            state.select(Some(self.cursor));
        }
        f.render_stateful_widget(table, body, &mut state);
        let arrows = |a: Action, code: KeyCodeOrd| km.keys_for(a).iter().any(|k| k.code == code);
        let moves = if arrows(Action::Up, KeyCodeOrd::Up) && arrows(Action::Down, KeyCodeOrd::Down)
        {
            "↑↓".to_owned()
        } else {
            format!("{}/{}", km.hint(Action::Up), km.hint(Action::Down))
        };
        let (restore, close) = (
            km.popup_hint(PopupAction::HistoryRestore, 1),
            km.popup_hint(PopupAction::HistoryClose, 1),
        );
        let keys = hint_line(
            t,
            &[
                (&restore, "restore this version (CAS)"),
                (&moves, "move"),
                (&close, "close"),
                ("◆", "= current value"),
            ],
        );
        f.render_widget(Paragraph::new(keys), foot);
    }
}
