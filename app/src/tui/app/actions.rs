//! What each normal-mode [`Action`] does (keys map to actions through the
//! remappable keymap; popups read their own keys).

use super::super::action::Action;
use super::super::popups::{HelpPopup, InputKind, InputPopup, Popup};
use super::super::scan::ScanView;
use super::{App, Effect};

impl App {
    /// Applies one action (normal mode).
    pub fn update(&mut self, action: Action) {
        if self.groups_action(action) {
            return;
        }
        match action {
            Action::Quit => self.quit = true,
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(self.table_height.max(2) as isize - 1)),
            Action::PageDown => self.move_by(self.table_height.max(2) as isize - 1),
            Action::Top => self.jump_edge(true),
            Action::Bottom => self.jump_edge(false),
            Action::Open => self.open(),
            Action::Back => self.back(),
            Action::NextPane => self.focus = self.focus.next(),
            Action::PrevPane => self.focus = self.focus.prev(),
            Action::Help => self.popup = Some(Popup::Help(HelpPopup::default())),
            Action::Command => self.prompt(InputKind::Command),
            Action::Filter => {
                if self.scan.is_none() {
                    self.info("open a topic first");
                } else {
                    self.prompt(InputKind::Filter);
                }
            }
            Action::Refresh => self.refresh(),
            Action::KeyFormat => {
                self.key_format = self.key_format.next();
                self.info(format!("keys shown as {}", self.key_format.name()));
            }
            Action::ValueFormat => {
                self.value_format = self.value_format.next();
                self.value_scroll = 0;
                self.info(format!("values shown as {}", self.value_format.name()));
            }
            Action::Edit
            | Action::EditExternal
            | Action::NewKey
            | Action::Delete
            | Action::BatchDelete
            | Action::History
                if self.write_in_flight() => {}
            Action::Edit => self.begin_edit(false),
            Action::EditExternal => self.begin_edit(true),
            Action::NewKey => {
                if self.refuse_write() || self.scan.is_none() {
                    if self.scan.is_none() {
                        self.info("open a topic first");
                    }
                    return;
                }
                self.prompt(InputKind::NewKey);
            }
            Action::Delete => self.begin_delete(),
            Action::Select => self.toggle_mark(),
            Action::BatchDelete => self.begin_batch_delete(),
            Action::History => self.begin_history(),
            Action::Copy => match self.scan.as_ref().and_then(ScanView::current) {
                Some(r) => {
                    let n = r.value.len();
                    let value = r.value.clone();
                    self.effect(Effect::Copy(value));
                    self.info(format!(
                        "copied {} to the clipboard (OSC 52)",
                        super::super::fmt::size(n)
                    ));
                }
                None => self.info("no value to copy"),
            },
            Action::Export => self.begin_export(),
            Action::Follow => self.toggle_follow(),
            Action::Changes => self.open_changes(),
            Action::ValueFilter => {
                if self.scan.is_none() {
                    self.info("open a topic first");
                } else {
                    self.prompt(InputKind::ValueFilter);
                }
            }
            Action::Groups => {
                let topic = self.selected_topic().map(|t| t.name.clone());
                self.open_groups(topic);
            }
        }
    }

    pub(super) fn prompt(&mut self, kind: InputKind) {
        self.popup = Some(Popup::Input(InputPopup::new(kind)));
    }
}
