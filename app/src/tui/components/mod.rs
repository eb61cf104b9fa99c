//! Drawing the panes: one module per pane, each a `draw` over the app state
//! (read through `App`'s accessors). Popups draw themselves (see
//! [`super::popups`]) with the helpers here: [`popup`], [`hint_line`],
//! [`diff_lines`].

mod command_line;
mod groups;
mod partitions;
mod scan_table;
mod status_line;
mod topics;
mod value_view;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear};

use super::app::{App, Areas, Focus};
use super::popups::Popup;
use super::theme::Theme;

/// Draws the whole screen (and records the layout for the mouse and paging).
pub fn draw(f: &mut Frame, app: &mut App) {
    let [main, status, hints] = Layout::vertical([
        Constraint::Min(6),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let left_w = (main.width / 4).clamp(20, 34);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(20)]).areas(main);
    let [topics_a, parts_a] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(left);
    let [scan_a, value_a] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(right);
    let areas = Areas {
        topics: topics_a,
        partitions: parts_a,
        scan: scan_a,
        value: value_a,
    };
    if app.groups().is_some() {
        // The groups view covers the panes (no pane takes a click).
        app.layout(Areas::default(), scan_table::body_height(main));
        let app = &*app;
        if let Some(g) = app.groups() {
            groups::draw(f, main, app, g);
        }
        status_line::draw(f, status, app);
        command_line::draw(f, hints, app);
        if let Some(p) = app.popup() {
            p.draw(f, f.area(), app);
        }
        return;
    }
    app.layout(areas, scan_table::body_height(scan_a));
    let app = &*app;

    topics::draw(f, topics_a, app);
    partitions::draw(f, parts_a, app);
    scan_table::draw(f, scan_a, app);
    value_view::draw(f, value_a, app);
    status_line::draw(f, status, app);
    command_line::draw(f, hints, app);

    if let Some(p) = app.popup() {
        p.draw(f, f.area(), app);
    }
}

/// A bordered block whose style shows focus.
pub(crate) fn pane<'a>(title: impl Into<Line<'a>>, theme: &Theme, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.border(focused))
        .title(title)
}

/// A popup frame: clears a centered area and returns its inner block area.
pub(crate) fn popup(
    f: &mut Frame,
    area: Rect,
    w_pct: u16,
    h_pct: u16,
    title: Line<'_>,
    theme: &Theme,
) -> Rect {
    let w = (area.width * w_pct / 100).max(20).min(area.width);
    let h = (area.height * h_pct / 100).max(5).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Double)
        .border_style(theme.border(true))
        .title(title);
    let inner = block.inner(r);
    f.render_widget(block, r);
    inner
}

/// A footer line of key hints: `key: what` pairs.
pub(crate) fn hint_line(theme: &Theme, pairs: &[(&str, &str)]) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, (k, what)) in pairs.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(k.to_string(), theme.key_hint()));
        spans.push(Span::styled(format!(" {what}"), Style::default()));
    }
    Line::from(spans)
}

/// Diff lines (old -> new) with three lines of context, coloured.
pub(crate) fn diff_lines(old: &str, new: &str, theme: &Theme) -> Vec<Line<'static>> {
    use similar::{ChangeTag, TextDiff};
    let diff = TextDiff::from_lines(old, new);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            out.push(Line::styled("…", theme.dim()));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let text = change.value().trim_end_matches('\n').to_owned();
                let (sign, style) = match change.tag() {
                    ChangeTag::Delete => ("-", theme.diff_del()),
                    ChangeTag::Insert => ("+", theme.diff_add()),
                    ChangeTag::Equal => (" ", Style::default()),
                };
                out.push(Line::styled(format!("{sign} {text}"), style));
            }
        }
    }
    if out.is_empty() {
        out.push(Line::styled("(no difference)", theme.dim()));
    }
    out
}

/// The text a value is diffed as: pretty JSON when it is JSON, else as edited.
pub(crate) fn diff_text(value: Option<&[u8]>, fmt: super::fmt::KeyFormat, theme: &Theme) -> String {
    match value {
        None => String::new(),
        Some(v) if super::fmt::classify(v) == super::fmt::Kind::Json => {
            let lines = super::fmt::json_lines(v, usize::MAX / 2, theme);
            let mut s: String = lines.iter().map(|l| format!("{l}\n")).collect();
            if s.is_empty() {
                s.push('\n');
            }
            s
        }
        Some(v) => {
            let mut s = super::app::edit_text(v, fmt);
            s.push('\n');
            s
        }
    }
}

pub(crate) fn focused(app: &App, f: Focus) -> bool {
    matches!(app.popup(), None | Some(Popup::Input(_))) && app.focus() == f
}
