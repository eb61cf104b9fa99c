//! Moving around in the normal mode: the cursor of the focused pane, its
//! ends, opening what is under it, and stepping back (Esc also cancels what
//! runs).

use super::super::action::Action;
use super::super::scan::ScanView;
use super::{App, Focus};

impl App {
    pub(super) fn move_by(&mut self, delta: isize) {
        match self.focus {
            Focus::Topics => {
                let n = self.topics.len();
                if n > 0 {
                    self.topic_cursor =
                        (self.topic_cursor as isize + delta).clamp(0, n as isize - 1) as usize;
                }
            }
            Focus::Partitions => {
                let n = self.partition_rows();
                if n > 0 {
                    self.partition_cursor =
                        (self.partition_cursor as isize + delta).clamp(0, n as isize - 1) as usize;
                }
            }
            Focus::Scan => {
                if let Some(s) = &mut self.scan {
                    let before = s.cursor;
                    s.move_by(delta);
                    if s.cursor != before {
                        self.value_scroll = 0;
                    }
                }
                self.after_cursor_move();
            }
            Focus::Value => {
                self.value_scroll = (self.value_scroll as isize + delta).max(0) as usize;
            }
        }
    }

    pub(super) fn jump_edge(&mut self, top: bool) {
        match self.focus {
            Focus::Topics => {
                self.topic_cursor = if top {
                    0
                } else {
                    self.topics.len().saturating_sub(1)
                }
            }
            Focus::Partitions => {
                self.partition_cursor = if top {
                    0
                } else {
                    self.partition_rows().saturating_sub(1)
                }
            }
            Focus::Scan => {
                if let Some(s) = &mut self.scan {
                    if top { s.to_top() } else { s.to_bottom() }
                }
                self.value_scroll = 0;
                self.after_cursor_move();
            }
            Focus::Value => self.value_scroll = 0,
        }
    }

    pub(super) fn open(&mut self) {
        match self.focus {
            Focus::Topics => {
                if let Some(t) = self.selected_topic().cloned() {
                    self.partition_cursor = 0;
                    self.open_topic(&t, None);
                }
            }
            Focus::Partitions => {
                if let Some(t) = self.selected_topic().cloned() {
                    let p = self.partition_cursor.checked_sub(1).map(|p| p as i32);
                    self.open_topic(&t, p);
                }
            }
            Focus::Scan => {
                if self.scan.as_ref().and_then(ScanView::current).is_some() {
                    self.focus = Focus::Value;
                }
            }
            Focus::Value => {}
        }
    }

    /// Esc: cancels what runs (a cancelled write goes back to its review),
    /// else steps back a pane or clears the filter.
    pub(super) fn back(&mut self) {
        if self.busy() {
            let writing = self.writing.take();
            self.cancel_all();
            match writing {
                Some((_, pending)) => {
                    self.info("write cancelled");
                    self.back_to_review(
                        pending,
                        "write cancelled (it may have been applied; the precondition makes writing again safe)".into(),
                    )
                }
                None => self.info("cancelled"),
            }
            return;
        }
        match self.focus {
            Focus::Value => self.focus = Focus::Scan,
            Focus::Scan => {
                if self.scan.as_ref().is_some_and(|s| s.value_filter.is_some()) {
                    self.clear_value_filter();
                } else if self.scan.as_ref().is_some_and(|s| s.prefix.is_some()) {
                    self.set_filter(Vec::new());
                } else {
                    self.focus = Focus::Partitions;
                }
            }
            Focus::Partitions => self.focus = Focus::Topics,
            Focus::Topics => {
                let q = self.keymap.hint(Action::Quit);
                self.info(format!("press {q} to quit"));
            }
        }
    }
}
