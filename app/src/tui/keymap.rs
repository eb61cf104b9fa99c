//! Remappable keys. Defaults follow k9s/gitui habits (arrows and vim keys);
//! `$XDG_CONFIG_HOME/rpkv/tui.toml` may rebind any action:
//!
//! ```toml
//! [keys]
//! quit = "ctrl-q"
//! down = ["j", "down", "ctrl-n"]
//! review_write = ["y", "ctrl-w"]
//! ```
//!
//! Normal-mode actions ([`Action`]) map one key to one action. Popup actions
//! ([`PopupAction`]) are looked up only by the popup that owns them, so the
//! same key may serve several popups; their hints show the first bound keys.
//! Lists inside popups (help, history) move with the normal `up`/`down` keys.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde::Deserialize;

use super::action::{Action, PopupAction};

/// A key with its modifiers (shift folded into the character for letters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` restricted to what can be bound, with an order for maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

impl Key {
    /// The bindable key of a key event, if any.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Key {
            code,
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// Parses `"j"`, `"G"`, `"ctrl-d"`, `"alt-x"`, `"enter"`, `"space"`, `"pagedown"`, `"f1"`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if lower.starts_with("ctrl-") || lower.starts_with("ctrl+") {
                ctrl = true;
                rest = &rest[5..];
            } else if lower.starts_with("alt-") || lower.starts_with("alt+") {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" => KeyCodeOrd::Tab,
                "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
                "backspace" => KeyCodeOrd::Backspace,
                "delete" | "del" => KeyCodeOrd::Delete,
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                "pageup" | "pgup" => KeyCodeOrd::PageUp,
                "pagedown" | "pgdn" => KeyCodeOrd::PageDown,
                "space" => KeyCodeOrd::Char(' '),
                other => match other.strip_prefix('f').and_then(|n| n.parse::<u8>().ok()) {
                    Some(n) if (1..=12).contains(&n) => KeyCodeOrd::F(n),
                    _ => return Err(format!("unknown key {s:?}")),
                },
            },
        };
        Ok(Key { code, ctrl, alt })
    }

    /// How help shows the key.
    pub fn label(&self) -> String {
        let mut s = String::new();
        if self.ctrl {
            s.push_str("ctrl-");
        }
        if self.alt {
            s.push_str("alt-");
        }
        match self.code {
            KeyCodeOrd::Char(' ') => s.push_str("space"),
            KeyCodeOrd::Char(c) => s.push(c),
            KeyCodeOrd::F(n) => {
                let _ = write!(s, "F{n}");
            }
            other => {
                let _ = write!(s, "{other:?}");
            }
        }
        s
    }
}

/// Key -> action for the normal mode, and each popup action's keys.
#[derive(Clone, Debug)]
pub struct Keymap {
    map: BTreeMap<Key, Action>,
    /// In the order given (the first keys are the ones hints show).
    popup: BTreeMap<PopupAction, Vec<Key>>,
}

/// The `[keys]` table: action name -> one key or a list of keys.
#[derive(Debug, Default, Deserialize)]
pub struct KeysFile {
    #[serde(default)]
    pub keys: BTreeMap<String, OneOrMany>,
}

/// One key or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

const DEFAULTS: &[(Action, &[&str])] = &[
    (Action::Quit, &["q", "ctrl-c"]),
    (Action::Up, &["up", "k"]),
    (Action::Down, &["down", "j"]),
    (Action::PageUp, &["pageup", "ctrl-u"]),
    (Action::PageDown, &["pagedown", "ctrl-d"]),
    (Action::Top, &["home", "g"]),
    (Action::Bottom, &["end", "G"]),
    (Action::Open, &["enter", "right", "l"]),
    (Action::Back, &["esc", "left"]),
    (Action::NextPane, &["tab"]),
    (Action::PrevPane, &["backtab"]),
    (Action::Help, &["?"]),
    (Action::Command, &[":"]),
    (Action::Filter, &["/"]),
    (Action::Refresh, &["r"]),
    (Action::KeyFormat, &["K"]),
    (Action::ValueFormat, &["V"]),
    (Action::Edit, &["e"]),
    (Action::EditExternal, &["E"]),
    (Action::NewKey, &["n"]),
    (Action::Delete, &["d"]),
    (Action::Select, &["space"]),
    (Action::BatchDelete, &["D"]),
    (Action::History, &["h"]),
    (Action::Copy, &["y"]),
    (Action::Export, &["x"]),
    (Action::Groups, &["C"]),
    (Action::Follow, &["F"]),
    (Action::Changes, &["c"]),
    (Action::ValueFilter, &["|"]),
];

/// Today's popup keys.
const POPUP_DEFAULTS: &[(PopupAction, &[&str])] = &[
    (PopupAction::InputSubmit, &["enter"]),
    (PopupAction::InputCancel, &["esc"]),
    (PopupAction::InputClear, &["ctrl-u"]),
    (PopupAction::EditorSave, &["ctrl-s", "f2"]),
    (PopupAction::EditorCancel, &["esc"]),
    (PopupAction::ReviewWrite, &["y", "enter"]),
    (PopupAction::ReviewEdit, &["e"]),
    (PopupAction::ReviewCancel, &["esc", "n", "q"]),
    (PopupAction::ConflictReload, &["r"]),
    (PopupAction::ConflictOverwrite, &["o"]),
    (PopupAction::ConflictCancel, &["esc", "c", "q"]),
    (PopupAction::HistoryRestore, &["enter", "R"]),
    (PopupAction::HistoryClose, &["esc", "q"]),
    (PopupAction::ConfirmYes, &["y"]),
    (PopupAction::ConfirmNo, &["n", "esc", "q"]),
    (PopupAction::OfferStart, &["y", "enter"]),
    (PopupAction::OfferDecline, &["n", "esc"]),
    (PopupAction::OfferQuit, &["q"]),
    (PopupAction::ChangesJump, &["enter"]),
    (PopupAction::ChangesClose, &["esc", "c", "q"]),
];

impl Default for Keymap {
    fn default() -> Self {
        let mut map = BTreeMap::new();
        for (action, keys) in DEFAULTS {
            for k in *keys {
                if let Ok(key) = Key::parse(k) {
                    map.insert(key, *action);
                }
            }
        }
        let popup = POPUP_DEFAULTS
            .iter()
            .map(|(a, keys)| (*a, keys.iter().filter_map(|k| Key::parse(k).ok()).collect()))
            .collect();
        Keymap { map, popup }
    }
}

impl Keymap {
    /// Defaults with the file's bindings applied: an action named in the file
    /// loses its default keys and gets the listed ones.
    pub fn from_file(file: &KeysFile) -> Result<Keymap, String> {
        let mut km = Keymap::default();
        for (name, keys) in &file.keys {
            let list: Vec<&String> = match keys {
                OneOrMany::One(k) => vec![k],
                OneOrMany::Many(ks) => ks.iter().collect(),
            };
            if let Ok(action) = name.parse::<PopupAction>() {
                let parsed = list
                    .into_iter()
                    .map(|k| Key::parse(k))
                    .collect::<Result<Vec<_>, _>>()?;
                km.popup.insert(action, parsed);
                continue;
            }
            let action: Action = name.parse()?;
            km.map.retain(|_, a| *a != action);
            for k in list {
                km.map.insert(Key::parse(k)?, action);
            }
        }
        Ok(km)
    }

    /// Parses a TOML document with a `[keys]` table.
    pub fn from_toml(text: &str) -> Result<Keymap, String> {
        let file: KeysFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Keymap::from_file(&file)
    }

    /// The action bound to a key event.
    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        let key = Key::from_event(ev)?;
        self.map.get(&key).copied()
    }

    /// The first of `among` (one popup's actions) bound to a key event.
    pub fn popup_action(&self, ev: &KeyEvent, among: &[PopupAction]) -> Option<PopupAction> {
        let key = Key::from_event(ev)?;
        among
            .iter()
            .copied()
            .find(|a| self.popup.get(a).is_some_and(|keys| keys.contains(&key)))
    }

    /// The keys bound to a popup action, in the order configured.
    pub fn popup_keys(&self, action: PopupAction) -> &[Key] {
        self.popup.get(&action).map_or(&[], Vec::as_slice)
    }

    /// The first `n` keys of a popup action joined by `/`, for hints.
    pub fn popup_hint(&self, action: PopupAction, n: usize) -> String {
        let keys = self.popup_keys(action);
        if keys.is_empty() {
            return "-".into();
        }
        keys.iter()
            .take(n.max(1))
            .map(Key::label)
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The keys bound to an action, for help and hints.
    pub fn keys_for(&self, action: Action) -> Vec<Key> {
        self.map
            .iter()
            .filter(|(_, a)| **a == action)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The first key bound to an action, as a label (for hints).
    pub fn hint(&self, action: Action) -> String {
        let keys = self.keys_for(action);
        // Prefer Enter/Tab/Esc, then a plain character, over other keys.
        keys.iter()
            .find(|k| {
                matches!(
                    k.code,
                    KeyCodeOrd::Enter | KeyCodeOrd::Tab | KeyCodeOrd::Esc
                ) && !k.ctrl
            })
            .or_else(|| {
                keys.iter()
                    .find(|k| matches!(k.code, KeyCodeOrd::Char(_)) && !k.ctrl)
            })
            .or(keys.first())
            .map(Key::label)
            .unwrap_or_else(|| "-".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn tui_defaults_cover_vim_and_arrows() {
        let km = Keymap::default();
        assert_eq!(
            km.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Down, KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
    }

    #[test]
    fn tui_keys_are_remappable() {
        let km =
            Keymap::from_toml("[keys]\nquit = \"ctrl-q\"\ndown = [\"n\", \"down\"]\n").unwrap();
        assert_eq!(km.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
        assert_eq!(
            km.action(&ev(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('n'), KeyModifiers::NONE)),
            Some(Action::Down)
        );
        assert_eq!(km.action(&ev(KeyCode::Char('j'), KeyModifiers::NONE)), None);
        assert!(Keymap::from_toml("[keys]\nfly = \"x\"\n").is_err());
        assert!(Keymap::from_toml("[keys]\nquit = \"hyper-x\"\n").is_err());
    }

    #[test]
    fn tui_popup_keys_default_and_remap() {
        let y = ev(KeyCode::Char('y'), KeyModifiers::NONE);
        let review = [
            PopupAction::ReviewWrite,
            PopupAction::ReviewEdit,
            PopupAction::ReviewCancel,
        ];
        let km = Keymap::default();
        assert_eq!(km.popup_action(&y, &review), Some(PopupAction::ReviewWrite));
        // The same key in another popup, and in the normal mode.
        assert_eq!(
            km.popup_action(&y, &[PopupAction::ConfirmYes, PopupAction::ConfirmNo]),
            Some(PopupAction::ConfirmYes)
        );
        assert_eq!(km.action(&y), Some(Action::Copy));
        assert_eq!(km.popup_hint(PopupAction::ConfirmNo, 2), "n/Esc");
        assert_eq!(km.popup_hint(PopupAction::EditorSave, 1), "ctrl-s");

        let km = Keymap::from_toml("[keys]\nreview_write = \"w\"\ncopy = \"c\"\n").unwrap();
        assert_eq!(km.popup_action(&y, &review), None);
        let w = ev(KeyCode::Char('w'), KeyModifiers::NONE);
        assert_eq!(km.popup_action(&w, &review), Some(PopupAction::ReviewWrite));
        assert_eq!(km.popup_hint(PopupAction::ReviewWrite, 1), "w");
        // Other popups keep their defaults.
        assert_eq!(
            km.popup_action(&y, &[PopupAction::ConfirmYes]),
            Some(PopupAction::ConfirmYes)
        );
        assert!(Keymap::from_toml("[keys]\nreview_fly = \"x\"\n").is_err());
    }
}
