//! Where rpkv keeps its files, after the XDG base directory spec: the profile
//! file and the TUI's key bindings under `$XDG_CONFIG_HOME/rpkv`, the data dir
//! of `rpkv dev` under `$XDG_DATA_HOME/rpkv`, the TUI's log under
//! `$XDG_STATE_HOME/rpkv`. A variable that is unset, empty or relative counts
//! as unset (the spec says to ignore relative paths); then `$HOME` and the
//! spec's default apply.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `$XDG_<var>` when set to an absolute path, else `$HOME/<fallback>`; `None`
/// when neither is set.
pub fn xdg_dir(var: &str, fallback: &str) -> Option<PathBuf> {
    resolve(std::env::var_os(var), std::env::var_os("HOME"), fallback)
}

fn resolve(xdg: Option<OsString>, home: Option<OsString>, fallback: &str) -> Option<PathBuf> {
    match xdg {
        Some(v) if !v.is_empty() && Path::new(&v).is_absolute() => Some(PathBuf::from(v)),
        _ => home
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(fallback)),
    }
}

/// `$XDG_CONFIG_HOME/rpkv` (or `~/.config/rpkv`).
pub fn config_dir() -> Option<PathBuf> {
    xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("rpkv"))
}

/// `$XDG_CONFIG_HOME/rpkv/rpkv.toml`: connection profiles.
pub fn profiles_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("rpkv.toml"))
}

/// `$XDG_CONFIG_HOME/rpkv/tui.toml`: the TUI's key bindings.
pub fn tui_keys_file() -> Option<PathBuf> {
    config_dir().map(|d| d.join("tui.toml"))
}

/// `$XDG_DATA_HOME/rpkv/devbroker` (or `~/.local/share/rpkv/devbroker`): the
/// data dir of `rpkv dev` and of the TUI's embedded broker; `./.devbroker`
/// when there is no home.
pub fn dev_data_dir() -> PathBuf {
    xdg_dir("XDG_DATA_HOME", ".local/share")
        .map(|d| d.join("rpkv").join("devbroker"))
        .unwrap_or_else(|| PathBuf::from(".devbroker"))
}

/// `$XDG_STATE_HOME/rpkv/rpkv.log` (or `~/.local/state/rpkv/rpkv.log`, else
/// in the temp dir): where the TUI logs, never the screen.
pub fn log_file() -> PathBuf {
    xdg_dir("XDG_STATE_HOME", ".local/state")
        .unwrap_or_else(std::env::temp_dir)
        .join("rpkv")
        .join("rpkv.log")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdg_variables_win_over_home_unless_empty_or_relative() {
        let home = || Some(OsString::from("/home/ada"));
        assert_eq!(
            resolve(Some("/cfg".into()), home(), ".config"),
            Some(PathBuf::from("/cfg"))
        );
        for ignored in ["", "relative/cfg"] {
            assert_eq!(
                resolve(Some(ignored.into()), home(), ".config"),
                Some(PathBuf::from("/home/ada/.config")),
                "{ignored:?}"
            );
        }
        assert_eq!(
            resolve(None, home(), ".local/state"),
            Some(PathBuf::from("/home/ada/.local/state"))
        );
        assert_eq!(resolve(None, Some("".into()), ".config"), None);
        assert_eq!(resolve(None, None, ".config"), None);
    }

    #[test]
    fn files_live_under_their_rpkv_dirs() {
        if let Some(dir) = config_dir() {
            assert_eq!(profiles_file(), Some(dir.join("rpkv.toml")));
            assert_eq!(tui_keys_file(), Some(dir.join("tui.toml")));
        }
        assert!(log_file().ends_with("rpkv/rpkv.log"));
        assert!(dev_data_dir().ends_with("devbroker"));
    }
}
