//! What the open popup's outcome does: the popup decides what a key means
//! (see [`super::super::popups`]); App then writes, asks, or opens the next one.

use crossterm::event::KeyEvent;
use rpkv_wire::kvstore::{Delete, WriteRequest};

use super::super::backend::{Request, WritePurpose, precondition_for};
use super::super::popups::confirm::ConfirmOutcome;
use super::super::popups::conflict::ConflictOutcome;
use super::super::popups::dev_offer::DevOfferOutcome;
use super::super::popups::editor::EditorOutcome;
use super::super::popups::history::HistoryOutcome;
use super::super::popups::input::InputOutcome;
use super::super::popups::review::ReviewOutcome;
use super::super::popups::{Confirmed, EditorPopup, Popup, ReviewPopup};
use super::{App, Effect, Pending, edit_text};

impl App {
    /// Hands a key to the open popup (taken out of `self.popup`).
    pub(super) fn popup_key(&mut self, popup: Popup, key: KeyEvent) {
        let km = &self.keymap;
        match popup {
            Popup::Help(p) => self.popup = p.on_key(&key, km).map(Popup::Help),
            Popup::Changes(p) => self.changes_key(p, &key),
            Popup::Input(p) => match p.on_key(&key, km) {
                InputOutcome::Stay(p) => self.popup = Some(Popup::Input(p)),
                InputOutcome::Close => {}
                InputOutcome::Submit(kind, text) => self.submit_input(kind, text),
            },
            Popup::Editor(p) => match p.on_key(key, km) {
                EditorOutcome::Stay(p) => self.popup = Some(Popup::Editor(p)),
                EditorOutcome::Cancel => self.info("edit cancelled"),
                EditorOutcome::Save(pending, text) => self.finish_edit(pending, &text),
            },
            Popup::Review(p) => match p.on_key(&key, km) {
                ReviewOutcome::Stay(p) => self.popup = Some(Popup::Review(p)),
                ReviewOutcome::Write(pending) => self.write_pending(pending),
                ReviewOutcome::EditAgain(mut pending) => {
                    let text = pending
                        .new
                        .take()
                        .map(|v| edit_text(&v, pending.edit_format))
                        .unwrap_or_default();
                    self.popup = Some(Popup::Editor(EditorPopup::new(pending, &text)));
                }
                ReviewOutcome::Cancel => self.info("not written"),
            },
            Popup::Conflict(p) => match p.on_key(&key, km) {
                ConflictOutcome::Stay(p) => self.popup = Some(Popup::Conflict(p)),
                ConflictOutcome::Reload(pending) => self.open_editor(pending, false),
                ConflictOutcome::Overwrite(pending) => self.write_pending(pending),
                ConflictOutcome::Cancel => {
                    self.info("cancelled: the other writer's value stays");
                    self.reload_scan();
                }
            },
            Popup::History(p) => match p.on_key(&key, km) {
                HistoryOutcome::Stay(p) => self.popup = Some(Popup::History(p)),
                HistoryOutcome::Close => {}
                HistoryOutcome::Restore(p) => {
                    if self.refuse_write() {
                        self.popup = Some(Popup::History(p));
                        return;
                    }
                    if let Some(why) = p.why_not_restore() {
                        if let Some(why) = why {
                            self.info(why);
                        }
                        self.popup = Some(Popup::History(p));
                    } else if let Some(pending) = p.restore(self.value_format) {
                        self.popup = Some(Popup::Review(ReviewPopup::new(pending)));
                    }
                }
            },
            Popup::Confirm(p) => match p.on_key(&key, km) {
                ConfirmOutcome::Stay(p) => self.popup = Some(Popup::Confirm(p)),
                ConfirmOutcome::Yes(then) => self.confirmed(then),
                ConfirmOutcome::No if self.groups.is_some() => self.info("nothing changed"),
                ConfirmOutcome::No => self.info("not deleted"),
            },
            Popup::DevOffer(p) => match p.on_key(&key, km) {
                DevOfferOutcome::Stay => self.popup = Some(Popup::DevOffer(p)),
                DevOfferOutcome::Start => {
                    self.effect(Effect::StartDevBroker);
                    self.info("starting the embedded dev broker");
                }
                DevOfferOutcome::Quit => self.quit = true,
                DevOfferOutcome::Decline => {}
            },
        }
    }

    fn confirmed(&mut self, then: Confirmed) {
        match then {
            Confirmed::Delete {
                topic,
                partition,
                keys,
            } => {
                let count = keys.len();
                let request = WriteRequest {
                    puts: Vec::new(),
                    deletes: keys
                        .into_iter()
                        .map(|(key, hash)| Delete {
                            key,
                            precondition: Some(crate::client::Precondition::if_matches(hash)),
                        })
                        .collect(),
                };
                self.request(Request::Write {
                    topic,
                    partition,
                    request,
                    purpose: WritePurpose::Delete { count },
                });
            }
            Confirmed::GroupSeek { .. } | Confirmed::GroupDelete { .. } => {
                self.group_confirmed(then)
            }
        }
    }

    /// Writes a reviewed change with its precondition: `ifMatches` the hash
    /// of the value read, or `ifExists:false` for a new key.
    fn write_pending(&mut self, pending: Pending) {
        if self.refuse_write() {
            return;
        }
        let precondition = precondition_for(pending.base.as_deref());
        let request = match &pending.new {
            Some(v) => crate::client::write_request(
                vec![(pending.key.clone(), v.clone())],
                vec![],
                Some(precondition),
            ),
            None => {
                if pending.base.is_none() {
                    return self.info("nothing to write");
                }
                crate::client::write_request(vec![], vec![pending.key.clone()], Some(precondition))
            }
        };
        let id = self.request(Request::Write {
            topic: pending.topic.clone(),
            partition: pending.partition,
            request,
            purpose: WritePurpose::Reviewed(Box::new(pending.clone())),
        });
        self.writing = Some((id, pending));
    }
}
