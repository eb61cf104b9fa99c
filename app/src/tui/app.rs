//! The TUI's state and its update functions. Nothing here touches the
//! terminal, spawns a task or awaits the network: key events and backend
//! replies come in, state changes, and what only the event loop can do comes
//! out of [`App::take_output`] as [`Out`] values: requests tagged with ids App
//! assigns, cancellations of those ids, and [`Effect`]s (suspend for an
//! editor, OSC 52, start the dev broker, switch profile). So App's logic is
//! tested without a broker: keys in, `Out`s out, replies fed back in.
//!
//! The parts: normal-mode actions in [`actions`]; moving around in
//! [`navigate`]; scans in [`scans`]; `:` commands in [`commands`]; reply
//! handling in [`replies`]; starting edits, deletes and history in
//! [`edits`]; what a popup's outcome does in [`popup_keys`] (the popups
//! themselves, with their keys and drawing, are in [`super::popups`]); the
//! mouse in [`mouse`].

mod actions;
mod commands;
mod edits;
mod follow;
mod groups;
mod mouse;
mod navigate;
mod popup_keys;
mod replies;
mod scans;
mod value_filter;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crossterm::event::{Event, KeyEvent, KeyEventKind, MouseEventKind};
use ratatui::layout::Rect;

use crate::client::{Error, sha256_hex};

use super::backend::{Request, TopicRow};
use super::fmt::{KeyFormat, ValueFormat};
use super::groups::GroupsView;
use super::keymap::Keymap;
use super::popups::{Popup, ReviewPopup};
use super::scan::{ScanView, Want};
use super::theme::Theme;

pub use replies::short_error;

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
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Things the loop that owns the terminal must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Suspend the terminal and edit `text` in `$VISUAL`/`$EDITOR`, then
    /// hand the result to [`App::external_done`].
    ExternalEdit(String),
    /// Copy bytes to the clipboard with OSC 52.
    Copy(Vec<u8>),
    /// Start the embedded dev broker.
    StartDevBroker,
    /// Switch to another profile (then [`App::set_target`]).
    SwitchProfile(String),
}

/// What App asks of the event loop, in order.
#[derive(Debug)]
pub enum Out {
    /// Run `request`; its reply comes back as a `Response` with this id.
    Request(u64, Request),
    /// Abort the request with this id (App ignores its reply from now on).
    Cancel(u64),
    Effect(Effect),
}

/// Screen areas of the last draw, for the mouse.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    pub topics: Rect,
    pub partitions: Rect,
    pub scan: Rect,
    pub value: Rect,
}

/// How App starts: the broker it talks to and the user's settings.
#[derive(Clone, Debug)]
pub struct Setup {
    pub http_url: String,
    pub read_only: bool,
    pub profile: Option<String>,
    /// Profile names, for `:ctx`.
    pub profiles: Vec<String>,
    /// True when the user chose the target (flag, env, profile): no dev-broker offer.
    pub explicit_target: bool,
    /// Data dir of the embedded dev broker, if one may be started.
    pub dev_data_dir: Option<PathBuf>,
    /// Topic to open once topics are listed.
    pub open_on_start: Option<String>,
    /// Directory exports are written to.
    pub export_dir: PathBuf,
    pub keymap: Keymap,
    pub theme: Theme,
}

impl Setup {
    /// Defaults for the broker at `http_url` (shown redacted by the client).
    pub fn new(http_url: impl Into<String>) -> Self {
        Setup {
            http_url: http_url.into(),
            read_only: false,
            profile: None,
            profiles: Vec::new(),
            explicit_target: true,
            dev_data_dir: None,
            open_on_start: None,
            export_dir: PathBuf::from("."),
            keymap: Keymap::default(),
            theme: Theme::from_env(),
        }
    }
}

/// The whole TUI state.
pub struct App {
    theme: Theme,
    keymap: Keymap,
    profile: Option<String>,
    profiles: Vec<String>,
    read_only: bool,
    http_url: String,
    explicit_target: bool,
    conn: Conn,
    topics: Vec<TopicRow>,
    topic_cursor: usize,
    /// 0 = all partitions, i + 1 = partition i.
    partition_cursor: usize,
    focus: Focus,
    scan: Option<ScanView>,
    key_format: KeyFormat,
    value_format: ValueFormat,
    value_scroll: usize,
    popup: Option<Popup>,
    message: Option<(Level, String)>,
    /// Requests asked for and not answered or cancelled, with their labels.
    inflight: BTreeMap<u64, &'static str>,
    /// Which page each running page request fetches.
    page_requests: BTreeMap<u64, Want>,
    /// The id the next request gets (0 is for replies nobody asked for).
    next_id: u64,
    out: Vec<Out>,
    spinner: usize,
    quit: bool,
    areas: Areas,
    /// Height of the scan table's body at the last draw.
    table_height: usize,
    generation: u64,
    export_dir: PathBuf,
    /// Pending external edit (while the terminal is suspended).
    external: Option<Pending>,
    open_on_start: Option<String>,
    dev_data_dir: Option<PathBuf>,
    /// The reviewed change being written (request id and the change), so a
    /// failed or cancelled write goes back to its review instead of being lost.
    writing: Option<(u64, Pending)>,
    /// The groups view, when open (it replaces the panes).
    groups: Option<GroupsView>,
    /// Follow mode, when on (see [`follow`]).
    follow: Option<super::follow::Follow>,
    /// The `|` filter running or shown (see [`value_filter`]).
    filtering: Option<value_filter::FilterRun>,
}

impl App {
    pub fn new(setup: Setup) -> Self {
        App {
            theme: setup.theme,
            keymap: setup.keymap,
            profile: setup.profile,
            profiles: setup.profiles,
            read_only: setup.read_only,
            http_url: setup.http_url,
            explicit_target: setup.explicit_target,
            conn: Conn::Connecting,
            topics: Vec::new(),
            topic_cursor: 0,
            partition_cursor: 0,
            focus: Focus::Topics,
            scan: None,
            key_format: KeyFormat::Utf8,
            value_format: ValueFormat::Auto,
            value_scroll: 0,
            popup: None,
            message: None,
            inflight: BTreeMap::new(),
            page_requests: BTreeMap::new(),
            next_id: 1,
            out: Vec::new(),
            spinner: 0,
            quit: false,
            areas: Areas::default(),
            table_height: 10,
            generation: 0,
            export_dir: setup.export_dir,
            external: None,
            open_on_start: setup.open_on_start,
            dev_data_dir: setup.dev_data_dir,
            writing: None,
            groups: None,
            follow: None,
            filtering: None,
        }
    }

    // ----- what the draw code reads -----

    pub fn theme(&self) -> &Theme {
        &self.theme
    }
    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }
    pub fn profile(&self) -> Option<&str> {
        self.profile.as_deref()
    }
    pub fn read_only(&self) -> bool {
        self.read_only
    }
    pub fn http_url(&self) -> &str {
        &self.http_url
    }
    pub fn conn(&self) -> &Conn {
        &self.conn
    }
    pub fn topics(&self) -> &[TopicRow] {
        &self.topics
    }
    pub fn topic_cursor(&self) -> usize {
        self.topic_cursor
    }
    pub fn partition_cursor(&self) -> usize {
        self.partition_cursor
    }
    pub fn focus(&self) -> Focus {
        self.focus
    }
    pub fn scan(&self) -> Option<&ScanView> {
        self.scan.as_ref()
    }
    pub fn key_format(&self) -> KeyFormat {
        self.key_format
    }
    pub fn value_format(&self) -> ValueFormat {
        self.value_format
    }
    pub fn value_scroll(&self) -> usize {
        self.value_scroll
    }
    pub fn popup(&self) -> Option<&Popup> {
        self.popup.as_ref()
    }
    pub fn message(&self) -> Option<&(Level, String)> {
        self.message.as_ref()
    }
    pub fn spinner(&self) -> usize {
        self.spinner
    }
    pub fn areas(&self) -> Areas {
        self.areas
    }
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn groups(&self) -> Option<&GroupsView> {
        self.groups.as_ref()
    }

    /// The embedded broker's data dir, for the offer popup.
    pub fn dev_data_dir_label(&self) -> String {
        self.dev_data_dir.as_deref().map_or_else(
            || "the XDG data dir".to_owned(),
            |d| d.display().to_string(),
        )
    }

    /// True while a request runs (the spinner turns).
    pub fn busy(&self) -> bool {
        !self.inflight.is_empty()
    }

    /// What runs now, for the status line.
    pub fn busy_label(&self) -> Option<&'static str> {
        self.inflight.values().next().copied()
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

    // ----- what the draw code and the loop set -----

    /// Records the layout of a draw: the panes (for the mouse) and the scan
    /// table's body height, which keeps the cursor in view.
    pub fn layout(&mut self, areas: Areas, table_height: usize) {
        self.areas = areas;
        self.table_height = table_height;
        if let Some(s) = &mut self.scan {
            s.scroll_into_view(table_height);
        }
    }

    /// Opens a popup directly (tests start from one).
    #[cfg(test)]
    pub(crate) fn show(&mut self, popup: Popup) {
        self.popup = Some(popup);
    }

    pub fn set_theme(&mut self, theme: Theme) {
        self.theme = theme;
    }

    pub fn set_profiles(&mut self, profiles: Vec<String>) {
        self.profiles = profiles;
    }

    pub fn set_export_dir(&mut self, dir: PathBuf) {
        self.export_dir = dir;
    }

    /// A spinner tick while busy.
    pub fn tick(&mut self) {
        self.spinner = self.spinner.wrapping_add(1);
        if let Some(f) = &mut self.follow {
            f.prune(std::time::Instant::now());
        }
    }

    /// Shows a message in the status line (for the loop's own errors).
    pub fn notify(&mut self, level: Level, msg: impl Into<String>) {
        match level {
            Level::Info => self.info(msg),
            Level::Error => self.error(msg),
        }
    }

    /// Another broker (new profile, or the embedded one): cancels what runs
    /// and reloads. The loop swaps the client its requests run with.
    pub fn set_target(&mut self, http_url: String, read_only: bool, profile: Option<String>) {
        self.cancel_all();
        self.stop_follow();
        self.http_url = http_url;
        self.read_only = read_only;
        self.profile = profile;
        self.topics.clear();
        self.scan = None;
        self.groups = None;
        self.focus = Focus::Topics;
        self.start();
    }

    /// First requests: readiness and topics.
    pub fn start(&mut self) {
        self.conn = Conn::Connecting;
        self.request(Request::Ready);
        self.request(Request::Topics);
    }

    /// What the loop must do now, in order.
    pub fn take_output(&mut self) -> Vec<Out> {
        std::mem::take(&mut self.out)
    }

    pub fn has_output(&self) -> bool {
        !self.out.is_empty()
    }

    // ----- requests -----

    fn request(&mut self, req: Request) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.inflight.insert(id, req.label());
        self.out.push(Out::Request(id, req));
        id
    }

    fn cancel(&mut self, id: u64) {
        if self.inflight.remove(&id).is_some() {
            self.out.push(Out::Cancel(id));
        }
    }

    fn effect(&mut self, e: Effect) {
        self.out.push(Out::Effect(e));
    }

    fn cancel_all(&mut self) {
        for id in std::mem::take(&mut self.inflight).into_keys() {
            self.out.push(Out::Cancel(id));
        }
        self.writing = None;
        self.page_requests.clear();
        if let Some(s) = &mut self.scan {
            s.loading = None;
        }
    }

    fn cancel_pages(&mut self) {
        for id in std::mem::take(&mut self.page_requests).into_keys() {
            self.cancel(id);
        }
    }

    // ----- messages -----

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
        if replies::is_unreachable(e) {
            tracing::warn!(error = %e, "{what} failed: broker unreachable");
            self.conn = Conn::Down(short_error(e));
            self.message = Some((Level::Error, format!("{what} failed")));
        } else {
            self.error(format!("{what}: {e}"));
        }
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
    /// the reason: the edited value and its precondition are kept, and
    /// writing again is one key.
    fn back_to_review(&mut self, pending: Pending, why: String) {
        self.popup = Some(Popup::Review(ReviewPopup::failed(pending, why)));
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

    /// Handles one key press: the open popup's, else the normal mode's.
    pub fn on_key(&mut self, key: KeyEvent) {
        if let Some(popup) = self.popup.take() {
            self.popup_key(popup, key);
            return;
        }
        if let Some(action) = self.keymap.action(&key) {
            self.message = None;
            self.update(action);
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
