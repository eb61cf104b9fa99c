//! The help popup: every action with its (remappable) keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::Action;
use super::super::app::App;

pub fn draw(f: &mut Frame, area: Rect, app: &App, scroll: u16) {
    let t = &app.theme;
    let inner = super::popup(
        f,
        area,
        80,
        90,
        Line::styled(" Help — any key closes ", t.title()),
        t,
    );
    let mut lines = Vec::new();
    for a in Action::ALL {
        let keys: Vec<String> = app.keymap.keys_for(a).iter().map(|k| k.label()).collect();
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
    f.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}
