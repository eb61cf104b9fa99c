//! Key history: every version of a key in the topic log, newest first, with
//! offset, time, size and hash; Enter restores one through the review screen.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::super::app::{App, HistoryView};
use super::super::fmt;
use crate::client::sha256_hex;

pub fn draw(f: &mut Frame, area: Rect, app: &App, h: &HistoryView) {
    let t = &app.theme;
    let title = format!(
        " History of {} · {} partition {} ",
        app.key_format.render(&h.key),
        h.topic,
        h.partition
    );
    let inner = super::popup(f, area, 90, 80, Line::styled(title, t.title()), t);
    let [info, body, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let Some(hist) = &h.history else {
        f.render_widget(
            Paragraph::new(Line::styled("reading the log…", t.warn())),
            info,
        );
        return;
    };
    let summary = format!(
        "{} versions · {} records read{}",
        hist.versions.len(),
        hist.scanned,
        if hist.truncated {
            " (stopped at the cap)"
        } else {
            ""
        }
    );
    f.render_widget(Paragraph::new(Line::styled(summary, t.dim())), info);
    let rows: Vec<Row> = hist
        .versions
        .iter()
        .rev()
        .map(|v| {
            let (size, hash, preview) = match &v.value {
                Some(val) => (
                    fmt::size(val.len()),
                    sha256_hex(val)[..16].to_owned(),
                    fmt::escape_utf8(&val[..val.len().min(120)]),
                ),
                None => ("-".into(), "(tombstone)".into(), "deleted".into()),
            };
            let current = if v.value == h.current { "◆" } else { " " };
            Row::new(vec![
                Cell::from(current),
                Cell::from(v.offset.to_string()),
                Cell::from(
                    v.timestamp
                        .map(fmt::timestamp)
                        .unwrap_or_else(|| "-".into()),
                ),
                Cell::from(size),
                Cell::from(hash),
                Cell::from(preview),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Length(1),
            Constraint::Length(8),
            Constraint::Length(25),
            Constraint::Length(9),
            Constraint::Length(16),
            Constraint::Min(8),
        ],
    )
    .header(Row::new(vec!["", "offset", "time (UTC)", "size", "sha256", "value"]).style(t.title()))
    .row_highlight_style(t.selected());
    let mut state = TableState::default();
    if !hist.versions.is_empty() {
        state.select(Some(h.cursor));
    }
    f.render_stateful_widget(table, body, &mut state);
    let keys = super::hint_line(
        t,
        &[
            ("Enter", "restore this version (CAS)"),
            ("↑↓", "move"),
            ("Esc", "close"),
            ("◆", "= current value"),
        ],
    );
    f.render_widget(Paragraph::new(keys), foot);
}
