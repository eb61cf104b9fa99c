//! The TUI's state and its update functions. Nothing here touches the
//! terminal or awaits the network: key events and backend replies come in,
//! state changes, requests go out to the [`Backend`], and things only the
//! terminal owner can do (suspend for an editor, OSC 52) become [`Effect`]s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::layout::{Position, Rect};
use ratatui_textarea::TextArea;
use rpkv_wire::kvstore::{Delete, WriteRequest};
use tokio::task::AbortHandle;

use crate::client::{Client, Error, ScanRange, partition_for_key, sha256_hex};

use super::action::Action;
use super::backend::{
    Backend, GetPurpose, History, Reply, Request, Response, Row, TopicRow, WritePurpose,
    precondition_for,
};
use super::fmt::{KeyFormat, ValueFormat, prefix_successor};
use super::keymap::Keymap;
use super::scan::{PAGE_SIZE, ScanView, Want};
use super::theme::Theme;

/// Which pane has the focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Focus {
    Topics,
    Partitions,
    Scan,
    Value,
}

impl Focus {
    fn next(self) -> Self {
        match self {
            Focus::Topics => Focus::Partitions,
            Focus::Partitions => Focus::Scan,
            Focus::Scan => Focus::Value,
            Focus::Value => Focus::Topics,
        }
    }
    fn prev(self) -> Self {
        match self {
            Focus::Topics => Focus::Value,
            Focus::Partitions => Focus::Topics,
            Focus::Scan => Focus::Partitions,
            Focus::Value => Focus::Scan,
        }
    }
}

/// Connection state, for the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conn {
    Connecting,
    Connected,
    Down(String),
}

/// How serious a status message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Error,
}

/// Where a pending change came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Edit,
    New,
    Restore { offset: i64 },
}

/// A change waiting for review: the value as read (the precondition) and the
/// new one (`None` = delete).
#[derive(Clone, Debug)]
pub struct Pending {
    pub topic: String,
    pub partition: i32,
    pub key: Vec<u8>,
    pub base: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
    pub origin: Origin,
    /// The format the value is edited in.
    pub edit_format: KeyFormat,
}

impl Pending {
    /// The hash the write's precondition asks for (`None` = `ifExists:false`).
    pub fn base_hash(&self) -> Option<String> {
        self.base.as_deref().map(sha256_hex)
    }
}

/// What a single-line prompt is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    Command,
    Filter,
    NewKey,
}

/// What a confirmation does when accepted.
#[derive(Clone, Debug)]
pub enum Confirmed {
    Delete {
        topic: String,
        partition: i32,
        keys: Vec<(Vec<u8>, String)>,
    },
}

/// The key history popup.
#[derive(Clone, Debug)]
pub struct HistoryView {
    pub topic: String,
    pub partition: i32,
    pub key: Vec<u8>,
    /// The value as the table read it (the base of a restore).
    pub current: Option<Vec<u8>>,
    pub history: Option<History>,
    pub cursor: usize,
}

/// The popup on top of the panes, if any.
pub enum Overlay {
    None,
    Help {
        scroll: u16,
    },
    Input {
        kind: InputKind,
        text: String,
    },
    Editor {
        pending: Pending,
        area: Box<TextArea<'static>>,
    },
    Review(Pending),
    Conflict {
        pending: Pending,
        current: Option<Vec<u8>>,
    },
    History(HistoryView),
    Confirm {
        lines: Vec<String>,
        then: Confirmed,
    },
    DevOffer,
}

/// Things the loop that owns the terminal must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Suspend the terminal and edit `text` in `$VISUAL`/`$EDITOR`.
    ExternalEdit(String),
    /// Copy bytes to the clipboard with OSC 52.
    Copy(Vec<u8>),
    /// Start the embedded dev broker.
    StartDevBroker,
    /// Switch to another profile.
    SwitchProfile(String),
}

/// Screen areas of the last draw, for the mouse.
#[derive(Clone, Copy, Debug, Default)]
pub struct Areas {
    pub topics: Rect,
    pub partitions: Rect,
    pub scan: Rect,
    pub value: Rect,
}

/// The whole TUI state.
pub struct App {
    pub theme: Theme,
    pub keymap: Keymap,
    backend: Backend,
    pub profile: Option<String>,
    pub profiles: Vec<String>,
    pub read_only: bool,
    pub http_url: String,
    /// True when the user chose the target (flag, env, profile): no dev-broker offer.
    pub explicit_target: bool,
    pub conn: Conn,
    pub topics: Vec<TopicRow>,
    pub topic_cursor: usize,
    /// 0 = all partitions, i + 1 = partition i.
    pub partition_cursor: usize,
    pub focus: Focus,
    pub scan: Option<ScanView>,
    pub key_format: KeyFormat,
    pub value_format: ValueFormat,
    pub value_scroll: usize,
    pub overlay: Overlay,
    pub message: Option<(Level, String)>,
    inflight: BTreeMap<u64, (&'static str, AbortHandle)>,
    page_requests: BTreeMap<u64, Want>,
    pub spinner: usize,
    pub effects: Vec<Effect>,
    pub quit: bool,
    pub areas: Areas,
    /// Height of the scan table's body at the last draw.
    pub table_height: usize,
    generation: u64,
    /// Directory exports are written to.
    pub export_dir: PathBuf,
    /// Pending external edit (while the terminal is suspended).
    pub external: Option<Pending>,
    /// Topic to open once topics are listed.
    pub open_on_start: Option<String>,
    /// Data dir of the embedded dev broker, if one may be started.
    pub dev_data_dir: Option<PathBuf>,
    /// The reviewed change being written (request id and the change), so a
    /// failed or cancelled write goes back to its review instead of being lost.
    writing: Option<(u64, Pending)>,
    /// Why the last write of the change under review failed, shown in the review.
    pub review_error: Option<String>,
}

impl App {
    pub fn new(client: Client, tx: tokio::sync::mpsc::UnboundedSender<Response>) -> Self {
        let http_url = client.http_url().to_owned();
        let read_only = client.is_read_only();
        App {
            theme: Theme::from_env(),
            keymap: Keymap::default(),
            backend: Backend::new(client, tx),
            profile: None,
            profiles: Vec::new(),
            read_only,
            http_url,
            explicit_target: true,
            conn: Conn::Connecting,
            topics: Vec::new(),
            topic_cursor: 0,
            partition_cursor: 0,
            focus: Focus::Topics,
            scan: None,
            key_format: KeyFormat::Utf8,
            value_format: ValueFormat::Auto,
            value_scroll: 0,
            overlay: Overlay::None,
            message: None,
            inflight: BTreeMap::new(),
            page_requests: BTreeMap::new(),
            spinner: 0,
            effects: Vec::new(),
            quit: false,
            areas: Areas::default(),
            table_height: 10,
            generation: 0,
            export_dir: PathBuf::from("."),
            external: None,
            open_on_start: None,
            dev_data_dir: None,
            writing: None,
            review_error: None,
        }
    }

    /// The embedded broker's data dir, for the offer popup.
    pub fn dev_data_dir_label(&self) -> String {
        self.dev_data_dir.as_deref().map_or_else(
            || "the XDG data dir".to_owned(),
            |d| d.display().to_string(),
        )
    }

    /// Swaps the client (new profile, or the embedded broker) and reloads.
    pub fn set_client(&mut self, client: Client, profile: Option<String>) {
        self.cancel_all();
        self.http_url = client.http_url().to_owned();
        self.read_only = client.is_read_only();
        let tx = self.backend.sender();
        self.backend = Backend::new(client, tx);
        self.profile = profile;
        self.topics.clear();
        self.scan = None;
        self.focus = Focus::Topics;
        self.start();
    }

    pub fn client(&self) -> &Client {
        self.backend.client()
    }

    /// A sender for replies that come from outside the backend.
    pub fn sender(&self) -> tokio::sync::mpsc::UnboundedSender<Response> {
        self.backend.sender()
    }

    /// First requests: readiness and topics.
    pub fn start(&mut self) {
        self.conn = Conn::Connecting;
        self.request(Request::Ready);
        self.request(Request::Topics);
    }

    /// True while a request runs (the spinner turns).
    pub fn busy(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// What runs now, for the status line.
    pub fn busy_label(&self) -> Option<&'static str> {
        self.inflight.values().next().map(|(l, _)| *l)
    }

    fn request(&mut self, req: Request) -> u64 {
        let label = req.label();
        let (id, abort) = self.backend.spawn(req);
        self.inflight.insert(id, (label, abort));
        id
    }

    fn cancel_all(&mut self) {
        for (_, (_, h)) in std::mem::take(&mut self.inflight) {
            h.abort();
        }
        self.writing = None;
        self.page_requests.clear();
        if let Some(s) = &mut self.scan {
            s.loading = None;
        }
    }

    fn info(&mut self, msg: impl Into<String>) {
        self.message = Some((Level::Info, msg.into()));
    }

    fn error(&mut self, msg: impl Into<String>) {
        let msg = msg.into();
        tracing::warn!(%msg, "shown in status line");
        self.message = Some((Level::Error, msg));
    }

    /// A request of kind `what` failed. When the broker could not be reached,
    /// the status line says so, beside its URL, with the key that retries
    /// (see `Conn::Down`); nothing shown is thrown away. Other errors are
    /// shown as they are.
    fn failed(&mut self, what: &str, e: &Error) {
        if is_unreachable(e) {
            tracing::warn!(error = %e, "{what} failed: broker unreachable");
            self.conn = Conn::Down(short_error(e));
            self.message = Some((Level::Error, format!("{what} failed")));
        } else {
            self.error(format!("{what}: {e}"));
        }
    }

    /// A request succeeded: the broker answers (again).
    fn reachable(&mut self) {
        if matches!(self.conn, Conn::Down(_)) {
            self.info("broker reachable again");
        }
        self.conn = Conn::Connected;
    }

    /// True while a reviewed change is being written: another edit waits.
    fn write_in_flight(&mut self) -> bool {
        if self.writing.is_some() {
            self.info("a write is in flight: wait for it, or Esc to cancel it");
            return true;
        }
        false
    }

    /// Reopens the review of a change whose write did not go through, with
    /// the reason: the edited value and its precondition are kept, `y`
    /// writes again.
    fn back_to_review(&mut self, pending: Pending, why: String) {
        self.review_error = Some(why);
        self.overlay = Overlay::Review(pending);
    }

    // ----- input -----

    /// Handles one terminal event; false when nothing can have changed.
    pub fn on_event(&mut self, ev: Event) -> bool {
        match ev {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(k),
            Event::Mouse(m) if !matches!(m.kind, MouseEventKind::Moved) => self.on_mouse(m),
            Event::Resize(..) => {}
            _ => return false,
        }
        true
    }

    /// Handles one key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if !matches!(self.overlay, Overlay::None) {
            self.overlay_key(key);
            return;
        }
        if let Some(action) = self.keymap.action(&key) {
            self.message = None;
            self.update(action);
        }
    }

    /// Applies one action (normal mode).
    pub fn update(&mut self, action: Action) {
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
            Action::Help => self.overlay = Overlay::Help { scroll: 0 },
            Action::Command => {
                self.overlay = Overlay::Input {
                    kind: InputKind::Command,
                    text: String::new(),
                }
            }
            Action::Filter => {
                if self.scan.is_none() {
                    self.info("open a topic first");
                } else {
                    self.overlay = Overlay::Input {
                        kind: InputKind::Filter,
                        text: String::new(),
                    }
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
                self.overlay = Overlay::Input {
                    kind: InputKind::NewKey,
                    text: String::new(),
                };
            }
            Action::Delete => self.begin_delete(),
            Action::Select => self.toggle_mark(),
            Action::BatchDelete => self.begin_batch_delete(),
            Action::History => self.begin_history(),
            Action::Copy => match self.scan.as_ref().and_then(ScanView::current) {
                Some(r) => {
                    let n = r.value.len();
                    self.effects.push(Effect::Copy(r.value.clone()));
                    self.info(format!(
                        "copied {} to the clipboard (OSC 52)",
                        super::fmt::size(n)
                    ));
                }
                None => self.info("no value to copy"),
            },
            Action::Export => self.begin_export(),
        }
    }

    fn move_by(&mut self, delta: isize) {
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

    fn jump_edge(&mut self, top: bool) {
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

    /// Rows of the partitions pane: "all" plus one per partition.
    pub fn partition_rows(&self) -> usize {
        self.selected_topic()
            .and_then(|t| t.partitions)
            .map_or(1, |n| n as usize + 1)
    }

    pub fn selected_topic(&self) -> Option<&TopicRow> {
        self.topics.get(self.topic_cursor)
    }

    fn open(&mut self) {
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

    fn back(&mut self) {
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
                if self.scan.as_ref().is_some_and(|s| s.prefix.is_some()) {
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

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Opens a topic: one partition, or all partitions merged by key.
    pub fn open_topic(&mut self, topic: &TopicRow, partition: Option<i32>) {
        if topic.kvstore == Some(false) {
            self.error(format!(
                "{} is not a kvstore topic (redpanda.kvstore is off): nothing to scan",
                topic.name
            ));
            return;
        }
        let n = topic.partitions.unwrap_or(1).max(1);
        let (partitions, all) = match partition {
            Some(p) => (vec![p], false),
            None if n == 1 => (vec![0], false),
            None => ((0..n).collect(), true),
        };
        if let Some(i) = self.topics.iter().position(|t| t.name == topic.name) {
            self.topic_cursor = i;
        }
        self.partition_cursor = partition.map_or(0, |p| p as usize + 1);
        let generation = self.next_generation();
        self.cancel_pages();
        self.scan = Some(ScanView::new(
            topic.name.clone(),
            partitions,
            all,
            ScanRange::default(),
            generation,
        ));
        self.focus = Focus::Scan;
        self.value_scroll = 0;
        self.fetch_pages();
    }

    fn cancel_pages(&mut self) {
        for id in std::mem::take(&mut self.page_requests).into_keys() {
            if let Some((_, h)) = self.inflight.remove(&id) {
                h.abort();
            }
        }
    }

    /// Asks for the page the cursor needs, if any.
    fn fetch_pages(&mut self) {
        let Some(s) = &mut self.scan else { return };
        let Some((want, range)) = s.wanted() else {
            return;
        };
        s.loading = Some(want);
        let req = Request::Page {
            generation: s.generation,
            page: match want {
                Want::Next(p) | Want::Prev(p) => p,
            },
            topic: s.topic.clone(),
            partitions: s.partitions.clone(),
            range,
            limit: PAGE_SIZE,
        };
        let id = self.request(req);
        self.page_requests.insert(id, want);
    }

    fn after_cursor_move(&mut self) {
        let h = self.table_height;
        if let Some(s) = &mut self.scan {
            s.scroll_into_view(h);
        }
        self.fetch_pages();
    }

    fn refresh(&mut self) {
        self.request(Request::Topics);
        self.reload_scan();
        self.info("refreshing");
    }

    fn reload_scan(&mut self) {
        let generation = self.next_generation();
        self.cancel_pages();
        if let Some(s) = &mut self.scan {
            if s.source == super::scan::Source::Keys {
                return;
            }
            s.reload(generation);
        }
        self.fetch_pages();
    }

    fn set_filter(&mut self, prefix: Vec<u8>) {
        let generation = self.next_generation();
        self.cancel_pages();
        let Some(s) = &mut self.scan else { return };
        s.source = super::scan::Source::Scan;
        if prefix.is_empty() {
            s.prefix = None;
            s.range = ScanRange::default();
        } else {
            s.range = ScanRange {
                start: Some(prefix.clone()),
                end: prefix_successor(&prefix),
            };
            s.prefix = Some(prefix);
        }
        s.restart(generation);
        self.focus = Focus::Scan;
        self.value_scroll = 0;
        self.fetch_pages();
    }

    fn refuse_write(&mut self) -> bool {
        if self.read_only {
            let p = self.profile.clone().unwrap_or_default();
            self.error(format!("profile {p:?} is read-only: writes are refused"));
            return true;
        }
        false
    }

    fn begin_edit(&mut self, external: bool) {
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

    fn open_editor(&mut self, pending: Pending, external: bool) {
        let text = match &pending.base {
            Some(v) => edit_text(v, pending.edit_format),
            None => String::new(),
        };
        if external {
            self.effects.push(Effect::ExternalEdit(text));
            self.external = Some(pending);
            return;
        }
        let lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
        let area = TextArea::new(lines);
        self.overlay = Overlay::Editor {
            pending,
            area: Box::new(area),
        };
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

    fn finish_edit(&mut self, mut pending: Pending, text: &str) {
        match pending.edit_format.parse(text) {
            Ok(bytes) => {
                if pending.base.as_deref() == Some(bytes.as_slice()) {
                    self.overlay = Overlay::None;
                    self.info("no change");
                    return;
                }
                pending.new = Some(bytes);
                self.overlay = Overlay::Review(pending);
            }
            Err(e) => self.error(format!(
                "cannot parse the edited value as {}: {e}",
                pending.edit_format.name()
            )),
        }
    }

    fn begin_delete(&mut self) {
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
        self.overlay = Overlay::Confirm {
            lines,
            then: Confirmed::Delete {
                topic: s.topic.clone(),
                partition: row.partition,
                keys: vec![(row.key.clone(), hash)],
            },
        };
    }

    fn toggle_mark(&mut self) {
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

    fn begin_batch_delete(&mut self) {
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
        self.overlay = Overlay::Confirm {
            lines,
            then: Confirmed::Delete {
                topic: s.topic.clone(),
                partition,
                keys,
            },
        };
    }

    fn begin_history(&mut self) {
        let Some(s) = &self.scan else { return };
        let Some(row) = s.current().cloned() else {
            self.info("no key selected");
            return;
        };
        let topic = s.topic.clone();
        self.overlay = Overlay::History(HistoryView {
            topic: topic.clone(),
            partition: row.partition,
            key: row.key.clone(),
            current: Some(row.value),
            history: None,
            cursor: 0,
        });
        self.request(Request::History {
            topic,
            partition: row.partition,
            key: row.key,
        });
    }

    fn begin_export(&mut self) {
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

    fn overlay_key(&mut self, key: KeyEvent) {
        let overlay = std::mem::replace(&mut self.overlay, Overlay::None);
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        self.overlay = match overlay {
            Overlay::None => Overlay::None,
            Overlay::Help { scroll } => match key.code {
                KeyCode::Down | KeyCode::Char('j') => Overlay::Help { scroll: scroll + 1 },
                KeyCode::Up | KeyCode::Char('k') => Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                },
                _ => Overlay::None,
            },
            Overlay::Input { kind, mut text } => match key.code {
                KeyCode::Esc => Overlay::None,
                KeyCode::Enter => {
                    self.submit_input(kind, text);
                    return;
                }
                KeyCode::Backspace => {
                    if text.pop().is_none() {
                        Overlay::None
                    } else {
                        Overlay::Input { kind, text }
                    }
                }
                KeyCode::Char('u') if ctrl => Overlay::Input {
                    kind,
                    text: String::new(),
                },
                KeyCode::Char(c) if !ctrl => {
                    text.push(c);
                    Overlay::Input { kind, text }
                }
                _ => Overlay::Input { kind, text },
            },
            Overlay::Editor { pending, mut area } => match key.code {
                KeyCode::Esc => {
                    self.info("edit cancelled");
                    Overlay::None
                }
                KeyCode::Char('s') if ctrl => {
                    let text = area.lines().join("\n");
                    self.finish_edit(pending, &text);
                    return;
                }
                KeyCode::F(2) => {
                    let text = area.lines().join("\n");
                    self.finish_edit(pending, &text);
                    return;
                }
                _ => {
                    area.input(key);
                    Overlay::Editor { pending, area }
                }
            },
            Overlay::Review(pending) => match key.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    self.review_error = None;
                    self.write_pending(pending);
                    Overlay::None
                }
                KeyCode::Char('e') => {
                    self.review_error = None;
                    let mut p = pending.clone();
                    let text = p
                        .new
                        .as_deref()
                        .map(|v| edit_text(v, p.edit_format))
                        .unwrap_or_default();
                    p.new = None;
                    let area = TextArea::new(text.split('\n').map(str::to_owned).collect());
                    Overlay::Editor {
                        pending: p,
                        area: Box::new(area),
                    }
                }
                KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('q') => {
                    self.review_error = None;
                    self.info("not written");
                    Overlay::None
                }
                _ => Overlay::Review(pending),
            },
            Overlay::Conflict { pending, current } => match key.code {
                KeyCode::Char('r') => {
                    // Reload: edit again, starting from the current value.
                    let p = Pending {
                        base: current.clone(),
                        new: None,
                        origin: if current.is_some() {
                            pending.origin.clone()
                        } else {
                            Origin::New
                        },
                        ..pending
                    };
                    self.open_editor(p, false);
                    return;
                }
                KeyCode::Char('o') => {
                    let p = Pending {
                        base: current,
                        ..pending
                    };
                    self.write_pending(p);
                    Overlay::None
                }
                KeyCode::Esc | KeyCode::Char('c') | KeyCode::Char('q') => {
                    self.info("cancelled: the other writer's value stays");
                    self.reload_scan();
                    Overlay::None
                }
                _ => Overlay::Conflict { pending, current },
            },
            Overlay::History(mut h) => match key.code {
                KeyCode::Esc | KeyCode::Char('q') => Overlay::None,
                KeyCode::Down | KeyCode::Char('j') => {
                    let n = h.history.as_ref().map_or(0, |x| x.versions.len());
                    h.cursor = (h.cursor + 1).min(n.saturating_sub(1));
                    Overlay::History(h)
                }
                KeyCode::Up | KeyCode::Char('k') => {
                    h.cursor = h.cursor.saturating_sub(1);
                    Overlay::History(h)
                }
                KeyCode::Enter | KeyCode::Char('R') => {
                    if self.refuse_write() {
                        self.overlay = Overlay::History(h);
                        return;
                    }
                    // Versions are listed newest first.
                    let version = h
                        .history
                        .as_ref()
                        .and_then(|x| x.versions.iter().rev().nth(h.cursor))
                        .cloned();
                    match version {
                        Some(v) if v.value.is_none() && h.current.is_none() => {
                            self.info("the key is already deleted");
                            Overlay::History(h)
                        }
                        Some(v) if v.value == h.current => {
                            self.info("that version is the current value");
                            Overlay::History(h)
                        }
                        Some(v) => {
                            let fmt = self
                                .value_format
                                .edit_format(v.value.as_deref().unwrap_or_default());
                            Overlay::Review(Pending {
                                topic: h.topic,
                                partition: h.partition,
                                key: h.key,
                                base: h.current,
                                new: v.value,
                                origin: Origin::Restore { offset: v.offset },
                                edit_format: fmt,
                            })
                        }
                        None => Overlay::History(h),
                    }
                }
                _ => Overlay::History(h),
            },
            Overlay::Confirm { lines, then } => match key.code {
                KeyCode::Char('y') => {
                    self.confirmed(then);
                    Overlay::None
                }
                KeyCode::Char('n') | KeyCode::Esc | KeyCode::Char('q') => {
                    self.info("not deleted");
                    Overlay::None
                }
                _ => Overlay::Confirm { lines, then },
            },
            Overlay::DevOffer => match key.code {
                KeyCode::Char('y') | KeyCode::Enter => {
                    self.effects.push(Effect::StartDevBroker);
                    self.info("starting the embedded dev broker");
                    Overlay::None
                }
                KeyCode::Char('q') => {
                    self.quit = true;
                    Overlay::None
                }
                KeyCode::Char('n') | KeyCode::Esc => Overlay::None,
                _ => Overlay::DevOffer,
            },
        };
    }

    fn submit_input(&mut self, kind: InputKind, text: String) {
        match kind {
            InputKind::Command => self.command(text.trim()),
            InputKind::Filter => match self.key_format.parse(&text) {
                Ok(prefix) => {
                    if prefix.is_empty() {
                        self.info("filter cleared");
                    } else {
                        self.info(format!("prefix {text}"));
                    }
                    self.set_filter(prefix);
                }
                Err(e) => self.error(e),
            },
            InputKind::NewKey => {
                let key = match self.key_format.parse(&text) {
                    Ok(k) if !k.is_empty() => k,
                    Ok(_) => return self.info("no key given"),
                    Err(e) => return self.error(e),
                };
                let Some(s) = &self.scan else { return };
                let partition = if s.all {
                    partition_for_key(&key, s.partitions.len() as i32)
                } else {
                    s.partitions[0]
                };
                let pending = Pending {
                    topic: s.topic.clone(),
                    partition,
                    key,
                    base: None,
                    new: None,
                    origin: Origin::New,
                    edit_format: KeyFormat::Utf8,
                };
                self.open_editor(pending, false);
            }
        }
    }

    /// Runs a `:` command.
    pub fn command(&mut self, line: &str) {
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else { return };
        let args: Vec<&str> = words.collect();
        match cmd {
            "q" | "q!" | "quit" | "qa" => self.quit = true,
            "topic" | "t" => {
                let Some(name) = args.first() else {
                    return self.error("usage: :topic NAME");
                };
                let p = match args.get(1).map(|p| p.parse::<i32>()) {
                    Some(Ok(p)) => Some(p),
                    Some(Err(_)) => return self.error("usage: :topic NAME [PARTITION]"),
                    None => None,
                };
                match self.topics.iter().find(|t| t.name == *name).cloned() {
                    Some(t) => self.open_topic(&t, p),
                    None if self.topics.is_empty() && self.busy() => {
                        self.open_on_start = Some(name.to_string());
                    }
                    None => self.error(format!("no topic {name:?}")),
                }
            }
            "scan" => {
                if self.scan.is_none() {
                    return self.error("open a topic first (:topic NAME)");
                }
                let parse = |s: Option<&&str>| -> Result<Option<Vec<u8>>, String> {
                    match s {
                        None | Some(&"-") | Some(&"") => Ok(None),
                        Some(t) => self.key_format.parse(t).map(Some),
                    }
                };
                let (start, end) = match (parse(args.first()), parse(args.get(1))) {
                    (Ok(s), Ok(e)) => (s, e),
                    (Err(e), _) | (_, Err(e)) => return self.error(e),
                };
                let generation = self.next_generation();
                self.cancel_pages();
                if let Some(s) = &mut self.scan {
                    s.source = super::scan::Source::Scan;
                    s.prefix = None;
                    s.range = ScanRange { start, end };
                    s.restart(generation);
                }
                self.focus = Focus::Scan;
                self.fetch_pages();
            }
            "get" => {
                let Some(s) = &self.scan else {
                    return self.error("open a topic first (:topic NAME)");
                };
                if args.is_empty() {
                    return self.error("usage: :get KEY...");
                }
                let mut keys = Vec::new();
                for a in &args {
                    match self.key_format.parse(a) {
                        Ok(k) => {
                            let p = if s.all {
                                partition_for_key(&k, s.partitions.len() as i32)
                            } else {
                                s.partitions[0]
                            };
                            keys.push((p, k));
                        }
                        Err(e) => return self.error(e),
                    }
                }
                let topic = s.topic.clone();
                self.request(Request::Get {
                    topic,
                    keys,
                    purpose: GetPurpose::Lookup,
                });
            }
            "ctx" | "context" | "profile" => match args.first() {
                None => {
                    let list = if self.profiles.is_empty() {
                        "no profiles in the config file".to_owned()
                    } else {
                        format!("profiles: {}", self.profiles.join(", "))
                    };
                    let cur = self.profile.clone().unwrap_or_else(|| "(none)".into());
                    self.info(format!("{list} (current: {cur}; :ctx NAME switches)"));
                }
                Some(name) => self.effects.push(Effect::SwitchProfile(name.to_string())),
            },
            "help" | "h" => self.overlay = Overlay::Help { scroll: 0 },
            other => self.error(format!(
                "unknown command :{other} (try :topic :scan :get :ctx :q)"
            )),
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
        }
    }

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

    // ----- mouse -----

    fn on_mouse(&mut self, m: MouseEvent) {
        let pos = Position::new(m.column, m.row);
        let a = self.areas;
        if !matches!(self.overlay, Overlay::None) {
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

    // ----- backend replies -----

    /// Takes a finished request's reply.
    pub fn on_response(&mut self, resp: Response) {
        let known = self.inflight.remove(&resp.id).is_some() || resp.id == 0;
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
            Reply::Written { result, .. } => answered(result),
            Reply::History { result, .. } => answered(result),
            Reply::Exported { .. } | Reply::DevBroker(_) => false,
        };
        if answered {
            // Before the reply's own message, which wins.
            self.reachable();
        }
        match resp.reply {
            Reply::Ready(r) => match r {
                Ok(()) => {}
                Err(e) => {
                    // Built without the embedded broker (`--no-default-features`),
                    // there is nothing to offer.
                    let offer = cfg!(feature = "dev")
                        && !self.explicit_target
                        && matches!(e, Error::Connect { .. });
                    self.conn = Conn::Down(short_error(&e));
                    if offer {
                        self.overlay = Overlay::DevOffer;
                    } else {
                        self.failed("connecting", &e);
                    }
                }
            },
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
                    if matches!(self.overlay, Overlay::DevOffer) {
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
            Reply::Got { purpose, result } => match (purpose, result) {
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
                    let generation = self.generation + 1;
                    self.generation = generation;
                    let (topic, partitions, all) = (s.topic.clone(), s.partitions.clone(), s.all);
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
                    self.overlay = Overlay::Conflict {
                        pending: *pending,
                        current,
                    };
                }
                (GetPurpose::Conflict(pending), Err(e)) => {
                    let why =
                        format!("409: changed since read, and reading the new value failed: {e}");
                    self.failed("reading the conflicting value", &e);
                    self.back_to_review(*pending, why);
                }
                (GetPurpose::Lookup, Err(e)) => self.failed("get", &e),
            },
            Reply::Written { purpose, result } => match (purpose, result) {
                (WritePurpose::Reviewed(p), Ok(())) => {
                    let what = match (&p.new, &p.origin) {
                        (None, _) => "deleted".to_owned(),
                        (Some(_), Origin::New) => "created".to_owned(),
                        (Some(_), Origin::Restore { offset }) => {
                            format!("restored offset {offset} of")
                        }
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
                    self.error("409: changed since read; nothing written");
                    let keys = vec![(p.partition, p.key.clone())];
                    let topic = p.topic.clone();
                    self.request(Request::Get {
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
                        Error::Connect { .. } => "write failed: broker unreachable; nothing written".to_owned(),
                        Error::Timeout { .. } => {
                            "write timed out (it may have been applied; the precondition makes writing again safe)".to_owned()
                        }
                        other => format!("write failed: {other}"),
                    };
                    self.failed("write", &e);
                    self.back_to_review(*p, why);
                }
                (WritePurpose::Delete { .. }, Err(e)) => self.failed("delete", &e),
            },
            Reply::History { key, result } => {
                let Overlay::History(h) = &mut self.overlay else {
                    return;
                };
                if h.key != key {
                    return;
                }
                match result {
                    Ok(hist) => h.history = Some(hist),
                    Err(e) => {
                        self.overlay = Overlay::None;
                        self.failed("history", &e);
                    }
                }
            }
            Reply::Exported { result } => match result {
                Ok((path, n)) => self.info(format!("exported {n} keys to {}", path.display())),
                Err(e) => self.error(format!("export: {e}")),
            },
            Reply::DevBroker(r) => match r {
                Ok(addr) => self.info(format!("embedded dev broker serving on {addr}")),
                Err(e) => self.error(format!("dev broker: {e}")),
            },
        }
    }
}

/// The text a value is edited as.
pub fn edit_text(value: &[u8], fmt: KeyFormat) -> String {
    match fmt {
        KeyFormat::Utf8 => String::from_utf8_lossy(value).into_owned(),
        other => other.render(value),
    }
}

/// True unless the request failed because the broker did not answer.
fn answered<T>(r: &Result<T, Error>) -> bool {
    r.as_ref().err().is_none_or(|e| !is_unreachable(e))
}

/// True when the broker did not answer at all (refused, unreachable, timeout).
fn is_unreachable(e: &Error) -> bool {
    matches!(e, Error::Connect { .. } | Error::Timeout { .. })
}

fn short_error(e: &Error) -> String {
    match e {
        Error::Connect { detail, .. } => detail.clone(),
        Error::Timeout { .. } => "timeout".into(),
        Error::Http { status, .. } => format!("HTTP {status}"),
        other => other.to_string(),
    }
}
