//! What a finished request's reply does. Replies whose id App no longer
//! waits for (cancelled, or from before a profile switch) are dropped; id 0
//! is for replies nobody asked for (the dev broker, the topics after seeding).

use crate::client::{Error, Located, Lookup, and_list, sha256_hex};

use super::super::backend::{GetPurpose, LocatePurpose, Reply, Response, Row, WritePurpose};
use super::super::fmt::KeyFormat;
use super::super::popups::{ConflictPopup, DevOfferPopup, Popup};
use super::super::scan::ScanView;
use super::{App, Conn, Focus, Origin, Pending};

impl App {
    /// Takes a finished request's reply.
    pub fn on_response(&mut self, resp: Response) {
        // A request that replies more than once stays in flight until its last.
        let in_flight = if resp.reply.is_stream() {
            self.inflight.contains_key(&resp.id)
        } else {
            self.inflight.remove(&resp.id).is_some()
        };
        let known =
            in_flight || resp.id == 0 || self.groups_owns(resp.id) || self.follow_owns(resp.id);
        let want = self.page_requests.remove(&resp.id);
        if !known {
            return; // cancelled
        }
        if self.writing.as_ref().is_some_and(|(id, _)| *id == resp.id) {
            self.writing = None;
        }
        let answered = match &resp.reply {
            Reply::Ready(r) => answered(r),
            Reply::Topics(r) => answered(r),
            Reply::Page { result, .. } => answered(result),
            Reply::Got { result, .. } => answered(result),
            Reply::Located { result, .. } => answered(result),
            Reply::Written { result, .. } => answered(result),
            Reply::History { result, .. } => answered(result),
            Reply::Filtered(result) => answered(result),
            Reply::Exported { .. }
            | Reply::DevBroker(_)
            | Reply::Groups(_)
            | Reply::Follow(_)
            | Reply::FilterProgress { .. } => false,
        };
        if answered {
            // Before the reply's own message, which wins.
            self.reachable();
        }
        match resp.reply {
            Reply::Ready(r) => self.on_ready(r),
            Reply::Topics(r) => match r {
                Ok(topics) => {
                    let selected = self.selected_topic().map(|t| t.name.clone());
                    self.topics = topics;
                    if let Some(i) =
                        selected.and_then(|name| self.topics.iter().position(|t| t.name == name))
                    {
                        self.topic_cursor = i;
                    }
                    self.topic_cursor = self.topic_cursor.min(self.topics.len().saturating_sub(1));
                    if let Some(name) = self.open_on_start.take() {
                        self.command(&format!("topic {name}"));
                    }
                }
                Err(e) => {
                    if matches!(self.popup, Some(Popup::DevOffer(_))) {
                        self.conn = Conn::Down(short_error(&e));
                    } else {
                        self.failed("topics", &e);
                    }
                }
            },
            Reply::Page {
                generation,
                page: _,
                result,
            } => {
                let Some(s) = &mut self.scan else { return };
                if s.generation != generation {
                    return;
                }
                match (result, want) {
                    (Ok(page), Some(w)) => {
                        s.accept(w, page);
                        let h = self.table_height;
                        s.scroll_into_view(h);
                        self.follow_page_taken(resp.id);
                        self.fetch_pages();
                    }
                    (Ok(_), None) => {}
                    (Err(e), _) => {
                        // The rows shown stay (stale after a reload).
                        s.loading = None;
                        self.failed("scan", &e);
                    }
                }
            }
            Reply::Got { purpose, result } => self.on_got(purpose, result),
            Reply::Located { purpose, result } => self.on_located(purpose, result),
            Reply::Written { purpose, result } => self.on_written(purpose, result),
            Reply::History { key, result } => {
                let Some(Popup::History(h)) = &mut self.popup else {
                    return;
                };
                if h.key() != key {
                    return;
                }
                if let Err(e) = h.accept(result) {
                    self.popup = None;
                    self.failed("history", &e);
                }
            }
            Reply::Exported { result } => match result {
                Ok((path, n)) => self.info(format!("exported {n} keys to {}", path.display())),
                Err(e) => self.error(format!("export: {e}")),
            },
            Reply::Groups(r) => self.on_groups_reply(resp.id, r),
            Reply::Follow(r) => self.on_follow(r),
            Reply::FilterProgress { scanned, matched } => self.on_filter_progress(scanned, matched),
            Reply::Filtered(r) => self.on_filtered(r),
            Reply::DevBroker(r) => match r {
                Ok(addr) => self.info(format!("embedded dev broker serving on {addr}")),
                Err(e) => self.error(format!("dev broker: {e}")),
            },
        }
    }

    /// A request succeeded: the broker answers (again).
    fn reachable(&mut self) {
        if matches!(self.conn, Conn::Down(_)) {
            self.info("broker reachable again");
        }
        self.conn = Conn::Connected;
    }

    fn on_ready(&mut self, r: Result<(), Error>) {
        let Err(e) = r else { return };
        // Built without the embedded broker (`--no-default-features`),
        // there is nothing to offer.
        let offer =
            cfg!(feature = "dev") && !self.explicit_target && matches!(e, Error::Connect { .. });
        self.conn = Conn::Down(short_error(&e));
        if offer {
            self.popup = Some(Popup::DevOffer(DevOfferPopup));
        } else {
            self.failed("connecting", &e);
        }
    }

    fn on_got(
        &mut self,
        purpose: GetPurpose,
        result: Result<Vec<(i32, crate::client::Lookup)>, Error>,
    ) {
        match (purpose, result) {
            (GetPurpose::Lookup, Ok(found)) => {
                let Some(s) = &self.scan else { return };
                let missing: Vec<String> = found
                    .iter()
                    .filter(|(_, l)| l.value.is_none())
                    .map(|(_, l)| self.key_format.render(&l.key))
                    .collect();
                let rows: Vec<Row> = found
                    .into_iter()
                    .filter_map(|(p, l)| {
                        l.value.map(|value| Row {
                            partition: p,
                            key: l.key,
                            value,
                        })
                    })
                    .collect();
                let n = rows.len();
                let (topic, partitions, all) = (s.topic.clone(), s.partitions.clone(), s.all);
                let generation = self.next_generation();
                self.scan = Some(ScanView::with_rows(
                    topic, partitions, all, rows, generation,
                ));
                self.focus = Focus::Scan;
                if missing.is_empty() {
                    self.info(format!("{n} found (r or Esc: back to the scan)"));
                } else {
                    self.info(format!("{n} found; missing: {}", missing.join(", ")));
                }
            }
            (GetPurpose::Conflict(pending), Ok(found)) => {
                let current = found.into_iter().next().and_then(|(_, l)| l.value);
                self.popup = Some(Popup::Conflict(ConflictPopup::new(*pending, current)));
            }
            (GetPurpose::Conflict(pending), Err(e)) => {
                let why = format!("409: changed since read, and reading the new value failed: {e}");
                self.failed("reading the conflicting value", &e);
                self.back_to_review(*pending, why);
            }
            (GetPurpose::Lookup, Err(e)) => self.failed("get", &e),
        }
    }

    /// Keys looked up in every partition of the merged view.
    fn on_located(&mut self, purpose: LocatePurpose, result: Result<Vec<Located>, Error>) {
        let located = match result {
            Ok(l) => l,
            Err(e) => return self.failed("get", &e),
        };
        match purpose {
            LocatePurpose::Lookup => {
                let several: Vec<String> = located
                    .iter()
                    .filter(|l| l.copies.len() > 1)
                    .map(|l| {
                        format!(
                            "{} is in partitions {}",
                            self.key_format.render(&l.key),
                            and_list(&l.partitions())
                        )
                    })
                    .collect();
                // One row per copy; a missing key in the partitioner's partition.
                let found: Vec<(i32, Lookup)> = located
                    .into_iter()
                    .flat_map(|l| {
                        if l.copies.is_empty() {
                            let missing = Lookup {
                                key: l.key,
                                value: None,
                            };
                            return vec![(l.home, missing)];
                        }
                        let key = l.key;
                        l.copies
                            .into_iter()
                            .map(|c| {
                                let lookup = Lookup {
                                    key: key.clone(),
                                    value: Some(c.value),
                                };
                                (c.partition, lookup)
                            })
                            .collect()
                    })
                    .collect();
                self.on_got(GetPurpose::Lookup, Ok(found));
                if !several.is_empty() {
                    self.error(format!(
                        "warning: {} (producers with different partitioners wrote them); every copy is listed",
                        several.join("; ")
                    ));
                }
            }
            LocatePurpose::NewKey => {
                let Some(l) = located.into_iter().next() else {
                    return;
                };
                let Some(s) = &self.scan else { return };
                let topic = s.topic.clone();
                let shown = self.key_format.render(&l.key);
                let pending = match l.copies.as_slice() {
                    [] => Pending {
                        topic,
                        partition: l.home,
                        key: l.key,
                        base: None,
                        new: None,
                        origin: Origin::New,
                        edit_format: KeyFormat::Utf8,
                    },
                    [one] => {
                        self.info(format!(
                            "{shown} exists already (partition {}): editing it",
                            one.partition
                        ));
                        Pending {
                            topic,
                            partition: one.partition,
                            edit_format: self.value_format.edit_format(&one.value),
                            key: l.key.clone(),
                            base: Some(one.value.clone()),
                            new: None,
                            origin: Origin::Edit,
                        }
                    }
                    _ => {
                        return self.error(format!(
                            "{shown} is in partitions {}: open one partition (:topic {topic} P) to write it",
                            and_list(&l.partitions())
                        ));
                    }
                };
                self.open_editor(pending, false);
            }
        }
    }

    fn on_written(&mut self, purpose: WritePurpose, result: Result<(), Error>) {
        match (purpose, result) {
            (WritePurpose::Reviewed(p), Ok(())) => {
                let what = match (&p.new, &p.origin) {
                    (None, _) => "deleted".to_owned(),
                    (Some(_), Origin::New) => "created".to_owned(),
                    (Some(_), Origin::Restore { offset }) => format!("restored offset {offset} of"),
                    (Some(_), Origin::Edit) => "wrote".to_owned(),
                };
                let hash = p
                    .new
                    .as_deref()
                    .map(sha256_hex)
                    .map(|h| format!(" (sha256 {}…)", &h[..12]))
                    .unwrap_or_default();
                self.info(format!("{what} {}{hash}", self.key_format.render(&p.key)));
                self.reload_scan();
            }
            (WritePurpose::Reviewed(p), Err(e)) if e.is_precondition_failed() => {
                // 409: read what is stored now, for the conflict popup.
                self.error("409: changed since read; nothing written");
                let keys = vec![(p.partition, p.key.clone())];
                let topic = p.topic.clone();
                self.request(super::super::backend::Request::Get {
                    topic,
                    keys,
                    purpose: GetPurpose::Conflict(p),
                });
            }
            (WritePurpose::Delete { count }, Ok(())) => {
                self.info(format!(
                    "deleted {count} key{}",
                    if count == 1 { "" } else { "s" }
                ));
                if let Some(s) = &mut self.scan {
                    s.marked.clear();
                }
                self.reload_scan();
            }
            (WritePurpose::Delete { .. }, Err(e)) if e.is_precondition_failed() => {
                self.error("409: a key changed since it was read; nothing deleted (refreshed)");
                self.reload_scan();
            }
            (WritePurpose::Reviewed(p), Err(e)) => {
                let why = match &e {
                    Error::Connect { .. } => {
                        "write failed: broker unreachable; nothing written".to_owned()
                    }
                    Error::Timeout { .. } => "write timed out (it may have been applied; the precondition makes writing again safe)".to_owned(),
                    other => format!("write failed: {other}"),
                };
                self.failed("write", &e);
                self.back_to_review(*p, why);
            }
            (WritePurpose::Delete { .. }, Err(e)) => self.failed("delete", &e),
        }
    }
}

/// True unless the request failed because the broker did not answer.
fn answered<T>(r: &Result<T, Error>) -> bool {
    r.as_ref().err().is_none_or(|e| !is_unreachable(e))
}

/// True when the broker did not answer at all (refused, unreachable, timeout).
pub(super) fn is_unreachable(e: &Error) -> bool {
    matches!(e, Error::Connect { .. } | Error::Timeout { .. })
}

/// The reason the status line shows beside "unreachable".
pub fn short_error(e: &Error) -> String {
    match e {
        Error::Connect { detail, .. } => detail.clone(),
        Error::Timeout { .. } => "timeout".into(),
        Error::Http { status, .. } => format!("HTTP {status}"),
        other => other.to_string(),
    }
}
