//! The value view: key, size, SHA-256, then the value as pretty JSON, wrapped
//! text, a hex dump or base64. Large values show their first 256 KiB.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::super::app::{App, Focus};
use super::super::fmt::{self, Kind, ValueFormat};

const SHOWN_BYTES: usize = 256 * 1024;

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let focused = super::focused(app, Focus::Value);
    let row = app.scan().and_then(|s| s.current());
    let Some(row) = row else {
        let p = Paragraph::new("").block(super::pane(" Value ", t, focused));
        f.render_widget(p, area);
        return;
    };
    let kind = match app.value_format() {
        ValueFormat::Auto => match fmt::classify(&row.value) {
            Kind::Json => "json",
            Kind::Text => "text",
            Kind::Binary => "binary",
        },
        other => other.name(),
    };
    let hash = crate::client::sha256_hex(&row.value);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("key ", t.dim()),
            Span::styled(app.key_format().render(&row.key), t.title()),
            Span::styled(format!("  partition {}", row.partition), t.dim()),
        ]),
        Line::from(vec![
            Span::styled("size ", t.dim()),
            Span::raw(format!(
                "{} ({} bytes) · {kind}",
                fmt::size(row.value.len()),
                row.value.len()
            )),
        ]),
        Line::from(vec![Span::styled("sha256 ", t.dim()), Span::raw(hash)]),
        Line::raw(""),
    ];
    let inner_w = area.width.saturating_sub(2) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let shown = &row.value[..row.value.len().min(SHOWN_BYTES)];
    let vf = app.value_format();
    let body = if vf == ValueFormat::Hex
        || (vf == ValueFormat::Auto && fmt::classify(&row.value) == Kind::Binary)
    {
        // Only the visible part of a hex dump is built.
        let start = app.value_scroll() * 16;
        let take = inner_h * 16;
        let slice = row
            .value
            .get(start..(start + take).min(row.value.len()))
            .unwrap_or(&[]);
        let mut l = fmt::hex_dump(slice, t);
        for (i, line) in l.iter_mut().enumerate() {
            if let Some(first) = line.spans.first_mut() {
                first.content = format!("{:08x}  ", start + i * 16).into();
            }
        }
        l
    } else {
        let all = fmt::value_lines(shown, vf, inner_w, t);
        all.into_iter().skip(app.value_scroll()).collect()
    };
    if row.value.len() > SHOWN_BYTES && vf != ValueFormat::Hex {
        lines.push(Line::styled(
            format!("(first {} shown)", fmt::size(SHOWN_BYTES)),
            t.warn(),
        ));
    }
    lines.extend(body.into_iter().take(inner_h));
    let title = format!(" Value · {} ", vf.name());
    let p = Paragraph::new(lines)
        .block(super::pane(title, t, focused))
        .wrap(Wrap { trim: false });
    f.render_widget(p, area);
}
