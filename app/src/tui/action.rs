//! What a key press (or command) asks the app to do, independent of which key
//! it was: keys map to actions through the remappable [`super::keymap::Keymap`].

use std::fmt;
use std::str::FromStr;

/// A user intent in the normal (no popup) mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    NextPane,
    PrevPane,
    Help,
    Command,
    Filter,
    Refresh,
    KeyFormat,
    ValueFormat,
    Edit,
    EditExternal,
    NewKey,
    Delete,
    Select,
    BatchDelete,
    History,
    Copy,
    Export,
    Groups,
    Follow,
    Changes,
    ValueFilter,
}

impl Action {
    /// Every action, in the order help lists them.
    pub const ALL: [Action; 30] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Open,
        Action::Back,
        Action::NextPane,
        Action::PrevPane,
        Action::Help,
        Action::Command,
        Action::Filter,
        Action::Refresh,
        Action::KeyFormat,
        Action::ValueFormat,
        Action::Edit,
        Action::EditExternal,
        Action::NewKey,
        Action::Delete,
        Action::Select,
        Action::BatchDelete,
        Action::History,
        Action::Copy,
        Action::Export,
        Action::Groups,
        Action::Follow,
        Action::Changes,
        Action::ValueFilter,
        Action::Quit,
    ];

    /// The name used in the config file's `[keys]` table.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::Back => "back",
            Action::NextPane => "next_pane",
            Action::PrevPane => "prev_pane",
            Action::Help => "help",
            Action::Command => "command",
            Action::Filter => "filter",
            Action::Refresh => "refresh",
            Action::KeyFormat => "key_format",
            Action::ValueFormat => "value_format",
            Action::Edit => "edit",
            Action::EditExternal => "edit_external",
            Action::NewKey => "new_key",
            Action::Delete => "delete",
            Action::Select => "select",
            Action::BatchDelete => "batch_delete",
            Action::History => "history",
            Action::Copy => "copy",
            Action::Export => "export",
            Action::Groups => "groups",
            Action::Follow => "follow",
            Action::Changes => "changes",
            Action::ValueFilter => "value_filter",
        }
    }

    /// One line describing the action, for help.
    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first row",
            Action::Bottom => "last loaded row",
            Action::Open => "open topic / partition / value",
            Action::Back => "back, close, cancel a request",
            Action::NextPane => "next pane",
            Action::PrevPane => "previous pane",
            Action::Help => "this help",
            Action::Command => "command line (:topic :scan :get :groups :seek :ctx :q)",
            Action::Filter => "key prefix filter (on the server)",
            Action::Refresh => "refresh",
            Action::KeyFormat => "cycle key format utf8/hex/base64",
            Action::ValueFormat => "cycle value format auto/utf8/hex/base64",
            Action::Edit => "edit value inline (CAS)",
            Action::EditExternal => "edit value in $VISUAL/$EDITOR (CAS)",
            Action::NewKey => "new key (ifExists:false)",
            Action::Delete => "delete key (ifMatches)",
            Action::Select => "select row for batch delete",
            Action::BatchDelete => "delete selected keys atomically",
            Action::History => "key history from the topic log",
            Action::Copy => "copy value (OSC 52)",
            Action::Export => "export range to JSONL",
            Action::Groups => "consumer groups of the selected topic (:groups: all)",
            Action::Follow => "follow mode: live changes in the scan (on/off)",
            Action::Changes => "changes popup (while following)",
            Action::ValueFilter => "jq filter on values (page by page, Esc cancels)",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown action {s:?}"))
    }
}

/// What a key means inside a popup. Each popup reads only its own actions, so
/// one key can mean different things in different popups (`y` writes in the
/// review, confirms a delete, and copies in the normal mode). Config names are
/// prefixed with the popup: `review_write`, `confirm_no`, ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PopupAction {
    InputSubmit,
    InputCancel,
    InputClear,
    EditorSave,
    EditorCancel,
    ReviewWrite,
    ReviewEdit,
    ReviewCancel,
    ConflictReload,
    ConflictOverwrite,
    ConflictCancel,
    HistoryRestore,
    HistoryClose,
    ConfirmYes,
    ConfirmNo,
    OfferStart,
    OfferDecline,
    OfferQuit,
    ChangesJump,
    ChangesClose,
}

impl PopupAction {
    /// Every popup action.
    pub const ALL: [PopupAction; 20] = [
        PopupAction::InputSubmit,
        PopupAction::InputCancel,
        PopupAction::InputClear,
        PopupAction::EditorSave,
        PopupAction::EditorCancel,
        PopupAction::ReviewWrite,
        PopupAction::ReviewEdit,
        PopupAction::ReviewCancel,
        PopupAction::ConflictReload,
        PopupAction::ConflictOverwrite,
        PopupAction::ConflictCancel,
        PopupAction::HistoryRestore,
        PopupAction::HistoryClose,
        PopupAction::ConfirmYes,
        PopupAction::ConfirmNo,
        PopupAction::OfferStart,
        PopupAction::OfferDecline,
        PopupAction::OfferQuit,
        PopupAction::ChangesJump,
        PopupAction::ChangesClose,
    ];

    /// The name used in the config file's `[keys]` table.
    pub fn name(self) -> &'static str {
        match self {
            PopupAction::InputSubmit => "input_submit",
            PopupAction::InputCancel => "input_cancel",
            PopupAction::InputClear => "input_clear",
            PopupAction::EditorSave => "editor_save",
            PopupAction::EditorCancel => "editor_cancel",
            PopupAction::ReviewWrite => "review_write",
            PopupAction::ReviewEdit => "review_edit",
            PopupAction::ReviewCancel => "review_cancel",
            PopupAction::ConflictReload => "conflict_reload",
            PopupAction::ConflictOverwrite => "conflict_overwrite",
            PopupAction::ConflictCancel => "conflict_cancel",
            PopupAction::HistoryRestore => "history_restore",
            PopupAction::HistoryClose => "history_close",
            PopupAction::ConfirmYes => "confirm_yes",
            PopupAction::ConfirmNo => "confirm_no",
            PopupAction::OfferStart => "offer_start",
            PopupAction::OfferDecline => "offer_decline",
            PopupAction::OfferQuit => "offer_quit",
            PopupAction::ChangesJump => "changes_jump",
            PopupAction::ChangesClose => "changes_close",
        }
    }
}

impl fmt::Display for PopupAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PopupAction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PopupAction::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| format!("unknown action {s:?}"))
    }
}
