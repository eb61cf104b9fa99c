//! The help popup: every action with its (remappable) keys. The normal `up`
//! and `down` keys scroll; any other key closes it.

use crossterm::event::KeyEvent;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::Action;
use super::super::app::App;
use super::super::components::popup;
use super::super::keymap::Keymap;

/// The help popup's state: how far it is scrolled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HelpPopup {
    scroll: u16,
}

impl HelpPopup {
    pub fn scroll(&self) -> u16 {
        self.scroll
    }

    /// `Some(self)` to stay open, `None` to close.
    pub fn on_key(mut self, key: &KeyEvent, km: &Keymap) -> Option<Self> {
        match km.action(key) {
            Some(Action::Down) => self.scroll += 1,
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            _ => return None,
        }
        Some(self)
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, app: &App) {
        let t = app.theme();
        let inner = popup(
            f,
            area,
            80,
            90,
            Line::styled(" Help — any key closes ", t.title()),
            t,
        );
        let mut lines = Vec::new();
        for a in Action::ALL {
            let keys: Vec<String> = app.keymap().keys_for(a).iter().map(|k| k.label()).collect();
            lines.push(Line::from(vec![
                Span::styled(format!("{:<22}", keys.join(" ")), t.key_hint()),
                Span::raw(a.describe()),
            ]));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled("Commands", t.title()));
        for (c, what) in [
            (
                ":topic NAME [P]",
                "open a topic (all partitions, or partition P)",
            ),
            (
                ":scan START END",
                "scan [START, END) in the key format; - = open end",
            ),
            (":get KEY...", "look keys up"),
            (":ctx [NAME]", "show profiles / switch to profile NAME"),
            (":q", "quit"),
        ] {
            lines.push(Line::from(vec![
                Span::styled(format!("{c:<22}"), t.key_hint()),
                Span::raw(what),
            ]));
        }
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            "Writes are compare-and-swap: ifMatches the SHA-256 read, ifExists:false for new keys.",
            t.dim(),
        ));
        lines.push(Line::styled(
            "Editor: ctrl-s review · Esc cancel. Keys remap in $XDG_CONFIG_HOME/rpkv/tui.toml [keys].",
            t.dim(),
        ));
        f.render_widget(Paragraph::new(lines).scroll((self.scroll, 0)), inner);
    }
}
