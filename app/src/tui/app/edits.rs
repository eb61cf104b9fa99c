//! Starting changes from the normal mode: edit (inline or in `$EDITOR`),
//! delete, batch delete, history, export. Each opens a popup or asks for a
//! request; nothing is written before a review or a confirmation.

use crate::client::sha256_hex;

use super::super::backend::Request;
use super::super::popups::{
    ConfirmPopup, Confirmed, EditorPopup, HistoryPopup, Popup, ReviewPopup,
};
use super::{App, Effect, Origin, Pending, edit_text};

impl App {
    /// True (with a message) when the profile is read-only.
    pub(super) fn refuse_write(&mut self) -> bool {
        if self.read_only {
            let p = self.profile.clone().unwrap_or_default();
            self.error(format!("profile {p:?} is read-only: writes are refused"));
            return true;
        }
        false
    }

    pub(super) fn begin_edit(&mut self, external: bool) {
        if self.refuse_write() {
            return;
        }
        let Some(s) = &self.scan else {
            self.info("open a topic first");
            return;
        };
        let Some(row) = s.current().cloned() else {
            self.info("no key selected");
            return;
        };
        let pending = Pending {
            topic: s.topic.clone(),
            partition: row.partition,
            key: row.key,
            edit_format: self.value_format.edit_format(&row.value),
            base: Some(row.value),
            new: None,
            origin: Origin::Edit,
        };
        self.open_editor(pending, external);
    }

    /// Edits `pending` starting from its base value.
    pub(super) fn open_editor(&mut self, pending: Pending, external: bool) {
        let text = match &pending.base {
            Some(v) => edit_text(v, pending.edit_format),
            None => String::new(),
        };
        if external {
            self.effect(Effect::ExternalEdit(text));
            self.external = Some(pending);
            return;
        }
        self.popup = Some(Popup::Editor(EditorPopup::new(pending, &text)));
    }

    /// The external editor finished with `text` (or failed).
    pub fn external_done(&mut self, result: Result<String, String>) {
        let Some(pending) = self.external.take() else {
            return;
        };
        match result {
            Ok(mut text) => {
                let base_text = pending
                    .base
                    .as_deref()
                    .map(|v| edit_text(v, pending.edit_format))
                    .unwrap_or_default();
                // Editors add a final newline; drop it when the value had none.
                if !base_text.ends_with('\n') && text.ends_with('\n') {
                    text.pop();
                    if text.ends_with('\r') {
                        text.pop();
                    }
                }
                self.finish_edit(pending, &text);
            }
            Err(e) => self.error(format!("editor: {e}")),
        }
    }

    /// The edited text: to the review, unless unchanged or unparsable.
    pub(super) fn finish_edit(&mut self, mut pending: Pending, text: &str) {
        match pending.edit_format.parse(text) {
            Ok(bytes) => {
                if pending.base.as_deref() == Some(bytes.as_slice()) {
                    self.popup = None;
                    self.info("no change");
                    return;
                }
                pending.new = Some(bytes);
                self.popup = Some(Popup::Review(ReviewPopup::new(pending)));
            }
            Err(e) => self.error(format!(
                "cannot parse the edited value as {}: {e}",
                pending.edit_format.name()
            )),
        }
    }

    pub(super) fn begin_delete(&mut self) {
        if self.refuse_write() {
            return;
        }
        let Some(s) = &self.scan else { return };
        let Some(row) = s.current() else {
            self.info("no key selected");
            return;
        };
        let hash = sha256_hex(&row.value);
        let lines = vec![
            format!(
                "Delete key {} from {} partition {}?",
                self.key_format.render(&row.key),
                s.topic,
                row.partition
            ),
            format!("if it still matches sha256 {hash}"),
        ];
        let then = Confirmed::Delete {
            topic: s.topic.clone(),
            partition: row.partition,
            keys: vec![(row.key.clone(), hash)],
        };
        self.popup = Some(Popup::Confirm(ConfirmPopup::new(lines, then)));
    }

    pub(super) fn toggle_mark(&mut self) {
        let Some(s) = &mut self.scan else { return };
        let Some(row) = s.current().cloned() else {
            return;
        };
        let k = (row.partition, row.key.clone());
        if s.marked.remove(&k).is_none() {
            s.marked.insert(k, sha256_hex(&row.value));
        }
        let n = s.marked.len();
        s.move_by(1);
        self.info(format!("{n} selected"));
        self.after_cursor_move();
    }

    pub(super) fn begin_batch_delete(&mut self) {
        if self.refuse_write() {
            return;
        }
        let Some(s) = &self.scan else { return };
        if s.marked.is_empty() {
            self.info("select keys with space first");
            return;
        }
        let parts: std::collections::BTreeSet<i32> = s.marked.keys().map(|(p, _)| *p).collect();
        if parts.len() > 1 {
            self.error(format!(
                "the selection spans {} partitions; an atomic write covers one partition: select keys of one partition",
                parts.len()
            ));
            return;
        }
        let partition = *parts.iter().next().unwrap_or(&0);
        let keys: Vec<(Vec<u8>, String)> = s
            .marked
            .iter()
            .map(|((_, k), h)| (k.clone(), h.clone()))
            .collect();
        let mut lines = vec![format!(
            "Delete {} keys from {} partition {} in one atomic write?",
            keys.len(),
            s.topic,
            partition
        )];
        for (k, h) in keys.iter().take(8) {
            lines.push(format!("  {}  ({}…)", self.key_format.render(k), &h[..12]));
        }
        if keys.len() > 8 {
            lines.push(format!("  … and {} more", keys.len() - 8));
        }
        lines.push("each only if it still matches its sha256 (ifMatches)".into());
        let then = Confirmed::Delete {
            topic: s.topic.clone(),
            partition,
            keys,
        };
        self.popup = Some(Popup::Confirm(ConfirmPopup::new(lines, then)));
    }

    pub(super) fn begin_history(&mut self) {
        let Some(s) = &self.scan else { return };
        let Some(row) = s.current().cloned() else {
            self.info("no key selected");
            return;
        };
        let topic = s.topic.clone();
        self.popup = Some(Popup::History(HistoryPopup::new(
            topic.clone(),
            row.partition,
            row.key.clone(),
            Some(row.value),
        )));
        self.request(Request::History {
            topic,
            partition: row.partition,
            key: row.key,
        });
    }

    pub(super) fn begin_export(&mut self) {
        let Some(s) = &self.scan else {
            self.info("open a topic first");
            return;
        };
        let part = if s.all {
            "all".to_owned()
        } else {
            format!("p{}", s.partitions[0])
        };
        let mut path = self.export_dir.join(format!("{}-{part}.jsonl", s.topic));
        let mut i = 1;
        while path.exists() {
            path = self
                .export_dir
                .join(format!("{}-{part}-{i}.jsonl", s.topic));
            i += 1;
        }
        let req = Request::Export {
            topic: s.topic.clone(),
            partitions: s.partitions.clone(),
            range: s.range.clone(),
            path,
        };
        self.request(req);
    }
}
