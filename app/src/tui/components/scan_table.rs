//! The scan table: the loaded window of rows, a cursor, marks for batch
//! delete, a partition column in the merged view.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row as TableRow, Table};

use super::super::app::{App, Focus};
use super::super::fmt::{self, Kind, ValueFormat};
use super::super::scan::Source;

fn preview(value: &[u8], vf: ValueFormat, width: usize) -> String {
    let head = &value[..value.len().min(width * 4 + 4)];
    let s = match vf {
        ValueFormat::Hex => hex::encode(head),
        ValueFormat::Base64 => rpkv_wire::b64::encode(head),
        ValueFormat::Utf8 => fmt::escape_utf8(head),
        ValueFormat::Auto => match fmt::classify(value) {
            Kind::Binary => hex::encode(head),
            _ => fmt::escape_utf8(head),
        },
    };
    truncate(&s, width)
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Rows the table's body shows in `area` (borders and header excluded).
pub fn body_height(area: Rect) -> usize {
    area.height.saturating_sub(3) as usize
}

/// Draws the table; the cursor was scrolled into view by `App::layout`.
pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let height = body_height(area);
    let focused = super::focused(app, Focus::Scan);
    let t = app.theme().clone();
    let (kf, vf) = (app.key_format(), app.value_format());
    let Some(s) = app.scan() else {
        let p = Paragraph::new(vec![
            Line::raw(""),
            Line::styled(
                "  Select a topic and press Enter, or type :topic NAME",
                t.dim(),
            ),
        ])
        .block(super::pane(" Scan ", &t, focused));
        f.render_widget(p, area);
        return;
    };
    let mut title = vec![Span::styled(format!(" {} ", s.topic), t.title())];
    title.push(Span::raw(if s.all {
        "· all partitions ".to_owned()
    } else {
        format!("· partition {} ", s.partitions[0])
    }));
    if let Some(p) = &s.prefix {
        title.push(Span::styled(
            format!("· prefix {} ", kf.render(p)),
            t.warn(),
        ));
    } else if s.range.start.is_some() || s.range.end.is_some() {
        let show = |k: &Option<Vec<u8>>| k.as_deref().map_or("…".to_owned(), |k| kf.render(k));
        title.push(Span::styled(
            format!("· [{}, {}) ", show(&s.range.start), show(&s.range.end)),
            t.warn(),
        ));
    }
    if let Some(expr) = &s.value_filter {
        title.push(Span::styled(format!("· | {expr} "), t.warn()));
    } else if s.source == Source::Keys {
        title.push(Span::styled("· :get results ", t.warn()));
    }
    title.push(Span::styled(
        format!("· key {} · value {} ", kf.name(), vf.name()),
        t.dim(),
    ));

    let known = s.known_rows();
    let more = if s.at_end() { "" } else { "+" };
    let pos = if known == 0 { 0 } else { s.cursor + 1 };
    let mut footer = format!(" {pos}/{known}{more} · {} in memory ", s.rows_in_memory());
    if !s.marked.is_empty() {
        footer.push_str(&format!("· {} selected ", s.marked.len()));
    }
    if let Some(fl) = app.follow() {
        let plural = if fl.count == 1 { "" } else { "s" };
        footer.push_str(&format!("· following: {} change{plural} ", fl.count));
        if let Some(why) = &fl.retrying {
            footer.push_str(&format!("· retrying: {why} "));
        }
    }
    if s.loading.is_some() {
        footer.push_str("· loading… ");
    } else if s.stale {
        footer.push_str("· stale: not refreshed ");
    }

    let inner_w = area.width.saturating_sub(2) as usize;
    let key_w = (inner_w * 2 / 5).clamp(8, 48);
    let part_w = if s.all { 4 } else { 0 };
    let size_w = 9;
    let val_w = inner_w.saturating_sub(2 + key_w + part_w + size_w + 4);
    let mut rows = Vec::new();
    let now = std::time::Instant::now();
    for abs in s.offset..s.offset + height {
        let Some(r) = s.row(abs) else { break };
        // Follow mode marks a row whose value just changed.
        let changed = app
            .follow()
            .is_some_and(|fl| fl.flashing(r.partition, &r.key, now));
        let (mark, mark_style) = if s.marked.contains_key(&(r.partition, r.key.clone())) {
            ("●", t.marked())
        } else if changed {
            ("~", t.warn())
        } else {
            (" ", t.marked())
        };
        let mut cells = vec![
            Cell::from(Span::styled(mark, mark_style)),
            Cell::from(truncate(&kf.render(&r.key), key_w)),
        ];
        if s.all {
            cells.push(Cell::from(r.partition.to_string()));
        }
        cells.push(Cell::from(Span::styled(fmt::size(r.value.len()), t.dim())));
        cells.push(Cell::from(preview(&r.value, vf, val_w)));
        let mut row = TableRow::new(cells);
        if abs == s.cursor {
            row = row.style(t.selected());
        } else if changed {
            row = row.style(t.warn());
        }
        rows.push(row);
    }
    let empty = rows.is_empty();
    let mut widths = vec![Constraint::Length(1), Constraint::Length(key_w as u16)];
    let mut header = vec!["", "key"];
    if s.all {
        widths.push(Constraint::Length(part_w as u16));
        header.push("p");
    }
    widths.push(Constraint::Length(size_w as u16));
    widths.push(Constraint::Min(4));
    header.push("size");
    header.push("value");
    let block =
        super::pane(Line::from(title), &t, focused).title_bottom(Line::styled(footer, t.dim()));
    if empty {
        let msg = if s.loading.is_some() {
            "  loading…"
        } else if !s.at_end() {
            "  (not loaded: the scan failed)"
        } else {
            "  (no keys in this range)"
        };
        f.render_widget(
            Paragraph::new(vec![Line::raw(""), Line::styled(msg, t.dim())]).block(block),
            area,
        );
        return;
    }
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(t.title()))
        .column_spacing(1)
        .block(block);
    f.render_widget(table, area);
}
