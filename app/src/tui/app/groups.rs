//! The groups view's logic: opening it (`:groups`, or the groups key on a
//! topic), its keys, the background refresh chain, and seeks and deletes
//! through the confirm popup.

use std::time::Duration;

use crate::client::SeekTo;

use super::super::action::Action;
use super::super::backend::Request;
use super::super::groups::{GroupsReply, GroupsRequest, GroupsView, REFRESH};
use super::super::popups::{ConfirmPopup, Confirmed, Popup};
use super::{App, Out};

impl App {
    /// Opens the groups view: every group, or those with offsets in `topic`.
    pub(super) fn open_groups(&mut self, topic: Option<String>) {
        self.close_groups();
        self.stop_follow();
        self.groups = Some(GroupsView::new(topic.clone()));
        self.request(Request::Groups(GroupsRequest::List {
            topic,
            after: Duration::ZERO,
        }));
    }

    pub(super) fn close_groups(&mut self) {
        if let Some(id) = self.groups.take().and_then(|g| g.refresh) {
            self.out.push(Out::Cancel(id));
        }
    }

    /// Whether `id` is the groups view's background refresh.
    pub(super) fn groups_owns(&self, id: u64) -> bool {
        self.groups.as_ref().is_some_and(|g| g.refresh == Some(id))
    }

    /// Reads what the view shows: now (`after` zero, with the spinner) or
    /// as the quiet background refresh. A refresh in flight is replaced.
    fn read_groups(&mut self, after: Duration) {
        let Some(g) = &mut self.groups else { return };
        if let Some(id) = g.refresh.take() {
            self.out.push(Out::Cancel(id));
        }
        let req = Request::Groups(match &g.detail {
            Some(d) => GroupsRequest::Detail {
                group: d.name.clone(),
                after,
            },
            None => GroupsRequest::List {
                topic: g.topic.clone(),
                after,
            },
        });
        if after.is_zero() {
            self.request(req);
        } else {
            let id = self.next_id;
            self.next_id += 1;
            self.out.push(Out::Request(id, req));
            g.refresh = Some(id);
        }
    }

    /// The groups view's keys; false when the view is closed or the action
    /// is the normal mode's (quit, help, the command line).
    pub(super) fn groups_action(&mut self, action: Action) -> bool {
        let Some(g) = &mut self.groups else {
            return false;
        };
        let page = self.table_height.max(2) as isize - 1;
        match action {
            Action::Quit | Action::Help | Action::Command => return false,
            Action::Up => g.move_by(-1),
            Action::Down => g.move_by(1),
            Action::PageUp => g.move_by(-page),
            Action::PageDown => g.move_by(page),
            Action::Top => g.move_by(isize::MIN / 2),
            Action::Bottom => g.move_by(isize::MAX / 2),
            Action::Open if g.detail.is_none() => {
                if let Some(sel) = g.selected().cloned() {
                    g.detail_cursor = 0;
                    g.detail = Some(sel);
                    self.read_groups(Duration::ZERO);
                }
            }
            Action::Back if g.detail.is_some() => {
                g.detail = None;
                self.read_groups(Duration::ZERO);
            }
            Action::Back => self.close_groups(),
            Action::Refresh => self.read_groups(Duration::ZERO),
            Action::Delete => match g.target().map(str::to_owned) {
                Some(group) if !self.refuse_write() => {
                    self.popup = Some(Popup::Confirm(ConfirmPopup::new(
                        vec![
                            format!("Delete consumer group {group} and its committed offsets?"),
                            "Kafka deletes only groups without members.".to_owned(),
                        ],
                        Confirmed::GroupDelete { group },
                    )));
                }
                Some(_) => {}
                None => self.info("no group selected"),
            },
            _ => {}
        }
        true
    }

    /// `:seek start|end|TIMESTAMP`: asks before committing.
    pub(super) fn cmd_seek(&mut self, args: &[&str]) {
        let Some(group) = self
            .groups
            .as_ref()
            .and_then(|g| g.target())
            .map(str::to_owned)
        else {
            return self.error("open the groups view first (:groups), then select a group");
        };
        let [to] = args else {
            return self.error("usage: :seek start|end|TIMESTAMP");
        };
        let target = match SeekTo::parse(to) {
            Ok(t) => t,
            Err(e) => return self.error(e.to_string()),
        };
        if self.refuse_write() {
            return;
        }
        let place = match &target {
            SeekTo::Start => "the start of each partition".to_owned(),
            SeekTo::End => "the end of each partition (skipping the lag)".to_owned(),
            SeekTo::Timestamp(ms) => format!("the first offsets at or after {ms} ms"),
            SeekTo::Offsets(o) => format!("{} given offsets", o.len()),
        };
        self.popup = Some(Popup::Confirm(ConfirmPopup::new(
            vec![
                format!("Seek consumer group {group} to {place}?"),
                "Every partition it has an offset in moves; Kafka refuses while it has members."
                    .to_owned(),
            ],
            Confirmed::GroupSeek { group, to: target },
        )));
    }

    /// A confirmed seek or delete.
    pub(super) fn group_confirmed(&mut self, then: Confirmed) {
        let req = match then {
            Confirmed::GroupSeek { group, to } => GroupsRequest::Seek { group, to },
            Confirmed::GroupDelete { group } => GroupsRequest::Delete { group },
            Confirmed::Delete { .. } => return,
        };
        self.request(Request::Groups(req));
    }

    pub(super) fn on_groups_reply(&mut self, id: u64, reply: GroupsReply) {
        let Some(g) = &mut self.groups else { return };
        if g.refresh == Some(id) {
            g.refresh = None;
        }
        match reply {
            GroupsReply::List(Ok(list)) => {
                if g.detail.is_none() {
                    g.accept_list(list);
                }
            }
            GroupsReply::Detail {
                group,
                result: Ok(d),
            } => {
                if g.detail.as_ref().is_some_and(|o| o.name == group) {
                    g.accept_detail(d);
                }
            }
            GroupsReply::List(Err(e)) | GroupsReply::Detail { result: Err(e), .. } => {
                g.loaded = true;
                g.stale = Some(e.clone());
                self.error(format!("groups: {e}"));
            }
            GroupsReply::Changed { deleted, result } => {
                // A deleted group's detail has nothing left to show.
                if deleted.is_some_and(|d| g.detail.as_ref().is_some_and(|o| o.name == d)) {
                    g.detail = None;
                }
                match result {
                    Ok(msg) => self.info(msg),
                    Err(e) => self.error(e),
                }
                return self.read_groups(Duration::ZERO);
            }
        }
        if self.groups.as_ref().is_some_and(|g| g.refresh.is_none()) {
            self.read_groups(REFRESH);
        }
    }
}
