//! The mouse: a click focuses a pane (and opens a topic or partition, or
//! selects a row); the wheel moves the pane under the pointer.

use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::Position;

use super::{App, Focus};

impl App {
    pub(super) fn on_mouse(&mut self, m: MouseEvent) {
        let pos = Position::new(m.column, m.row);
        let a = self.areas;
        if self.popup.is_some() {
            return;
        }
        match m.kind {
            MouseEventKind::Down(MouseButton::Left) => {
                if a.topics.contains(pos) {
                    self.focus = Focus::Topics;
                    let i = (m.row.saturating_sub(a.topics.y + 1)) as usize;
                    if i < self.topics.len() {
                        self.topic_cursor = i;
                        self.open();
                    }
                } else if a.partitions.contains(pos) {
                    self.focus = Focus::Partitions;
                    let i = (m.row.saturating_sub(a.partitions.y + 1)) as usize;
                    if i < self.partition_rows() {
                        self.partition_cursor = i;
                        self.open();
                    }
                } else if a.scan.contains(pos) {
                    self.focus = Focus::Scan;
                    if let Some(s) = &mut self.scan {
                        let body = m.row.saturating_sub(a.scan.y + 2) as usize;
                        if m.row >= a.scan.y + 2 {
                            let target = s.offset + body;
                            s.move_by(target as isize - s.cursor as isize);
                            self.value_scroll = 0;
                        }
                    }
                    self.after_cursor_move();
                } else if a.value.contains(pos) {
                    self.focus = Focus::Value;
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let d: isize = if m.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                let saved = self.focus;
                if a.value.contains(pos) {
                    self.focus = Focus::Value;
                } else if a.scan.contains(pos) {
                    self.focus = Focus::Scan;
                } else if a.topics.contains(pos) {
                    self.focus = Focus::Topics;
                } else {
                    return;
                }
                self.move_by(d);
                self.focus = saved;
            }
            _ => {}
        }
    }
}
