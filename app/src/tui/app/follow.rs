//! Follow mode (`F` in the scan view): a watch of the view's partitions and
//! range runs as a background request ([`Request::Follow`]) whose events come
//! back as replies; each change is applied to the loaded window in place
//! ([`ScanView::apply_change`]). Turning it off, opening another topic,
//! another broker or the groups view cancels the watch; a new range or
//! prefix starts a new one.

use std::time::Instant;

use crossterm::event::KeyEvent;

use crate::client::{Change, Error, ScanRange, WatchEvent};

use super::super::backend::Request;
use super::super::follow::Follow;
use super::super::popups::changes::ChangesOutcome;
use super::super::popups::{ChangesPopup, Popup};
use super::super::scan::{Applied, Source};
use super::{App, Out};

impl App {
    pub fn follow(&self) -> Option<&Follow> {
        self.follow.as_ref()
    }

    /// True while rows are marked: the loop keeps ticking to unmark them.
    pub fn animating(&self) -> bool {
        self.follow.as_ref().is_some_and(Follow::marking)
    }

    /// Takes every follow-mode mark off (tests snapshot without timing).
    #[cfg(test)]
    pub(crate) fn unmark_all(&mut self) {
        if let Some(f) = &mut self.follow {
            f.prune(Instant::now() + super::super::follow::FLASH);
        }
    }

    /// Whether `id` is follow mode's watch.
    pub(super) fn follow_owns(&self, id: u64) -> bool {
        self.follow.as_ref().is_some_and(|f| f.id == id)
    }

    /// `F`: follow mode on or off.
    pub(super) fn toggle_follow(&mut self) {
        if self.follow.is_some() {
            self.stop_follow();
            self.info("follow mode off");
            return;
        }
        match &self.scan {
            None => return self.info("open a topic first"),
            Some(s) if s.source == Source::Keys => {
                return self.info("follow mode works on a scan, not on :get results");
            }
            Some(_) => {}
        }
        self.start_follow();
        let (f, c) = (
            self.keymap.hint(super::super::action::Action::Follow),
            self.keymap.hint(super::super::action::Action::Changes),
        );
        self.info(format!(
            "following: changes show as they are written ({f} stops, {c} lists them)"
        ));
    }

    fn start_follow(&mut self) {
        let Some(s) = &self.scan else { return };
        let req = Request::Follow {
            topic: s.topic.clone(),
            partitions: s.partitions.clone(),
            range: s.range.clone(),
        };
        // Not in `inflight`: it runs until cancelled, without the spinner.
        let id = self.next_id;
        self.next_id += 1;
        self.out.push(Out::Request(id, req));
        self.follow = Some(Follow::new(id));
    }

    /// Cancels the watch (leaving the scan view, or `F`).
    pub(super) fn stop_follow(&mut self) {
        if let Some(f) = self.follow.take() {
            self.out.push(Out::Cancel(f.id));
        }
    }

    /// The view's range or prefix changed: a following view follows the new one.
    pub(super) fn refollow(&mut self) {
        if self.follow.is_some() {
            self.stop_follow();
            self.start_follow();
        }
    }

    /// Remembers when a page request went out while following, so changes
    /// that arrive before its reply are applied over it.
    pub(super) fn follow_page_sent(&mut self, id: u64) {
        if let Some(f) = &mut self.follow {
            f.page_sent.insert(id, Instant::now());
        }
    }

    /// A page was taken: the changes received since it was asked for are
    /// applied again (the scan may have read the keys before they changed).
    pub(super) fn follow_page_taken(&mut self, id: u64) {
        let Some(f) = &mut self.follow else { return };
        let pages = &self.page_requests;
        let sent = f.page_sent.remove(&id);
        f.page_sent.retain(|id, _| pages.contains_key(id));
        let (Some(sent), Some(s)) = (sent, &mut self.scan) else {
            return;
        };
        for c in f.since(sent) {
            s.apply_change(c.partition, &c.key, c.value.as_deref());
        }
        s.scroll_into_view(self.table_height);
    }

    /// One event of the watch.
    pub(super) fn on_follow(&mut self, result: Result<WatchEvent, Error>) {
        let Some(f) = &mut self.follow else { return };
        match result {
            Ok(WatchEvent::Started { .. }) => {
                f.started += 1;
                let all = self.scan.as_ref().map_or(0, |s| s.partitions.len());
                if f.started == all {
                    // Catch what changed between the scan and the watch's start.
                    self.reload_scan();
                }
            }
            Ok(WatchEvent::Retrying { error, .. }) => f.retrying = Some(error),
            Ok(WatchEvent::Changes(changes)) => {
                f.retrying = None;
                let now = Instant::now();
                for c in changes {
                    let shown = self.scan.as_mut().is_some_and(|s| {
                        s.apply_change(c.partition, &c.key, c.value.as_deref()) != Applied::Outside
                    });
                    f.record(c, shown, now);
                }
                let h = self.table_height;
                if let Some(s) = &mut self.scan {
                    s.scroll_into_view(h);
                }
                self.fetch_pages();
            }
            Err(e) => {
                self.follow = None;
                self.failed("follow mode stopped", &e);
            }
        }
    }

    /// `c`: the changes popup (while following).
    pub(super) fn open_changes(&mut self) {
        match &self.follow {
            Some(f) => {
                self.popup = Some(Popup::Changes(ChangesPopup::new(f.recent.iter(), f.count)));
            }
            None => {
                let key = self.keymap.hint(super::super::action::Action::Follow);
                self.info(format!("not following: {key} turns follow mode on"));
            }
        }
    }

    pub(super) fn changes_key(&mut self, p: ChangesPopup, key: &KeyEvent) {
        match p.on_key(key, self) {
            ChangesOutcome::Stay(p) => self.popup = Some(Popup::Changes(p)),
            ChangesOutcome::Close => {}
            ChangesOutcome::Jump(c) => self.jump_to_change(&c),
        }
    }

    /// Moves the cursor to the change's key: on its row when it is loaded,
    /// else the scan starts again at the key.
    fn jump_to_change(&mut self, c: &Change) {
        let Some(s) = &mut self.scan else { return };
        if let Some(abs) = s.position(c.partition, &c.key) {
            s.cursor = abs;
            self.value_scroll = 0;
            self.focus = super::Focus::Scan;
            let h = self.table_height;
            s.scroll_into_view(h);
            return;
        }
        if c.value.is_none() {
            let key = self.key_format.render(&c.key);
            return self.info(format!("{key} is deleted"));
        }
        if !s.covers(c.partition, &c.key) {
            return self.info("that key is not in this view any more");
        }
        let range = ScanRange {
            start: Some(c.key.clone()),
            end: s.range.end.clone(),
        };
        let prefix = s.prefix.clone();
        self.set_range(range, prefix);
    }
}
