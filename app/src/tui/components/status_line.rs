//! The status line: profile, broker, connection state, spinner, message.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::super::action::Action;
use super::super::app::{App, Conn, Level};

const SPINNER: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let t = app.theme();
    let mut spans = vec![
        Span::styled(" rpkv ", t.selected()),
        Span::raw(" "),
        Span::styled(
            app.profile()
                .map_or("no profile".to_owned(), |p| format!("profile {p}")),
            t.title(),
        ),
    ];
    if app.read_only() {
        spans.push(Span::styled(" (read-only)", t.warn()));
    }
    spans.push(Span::styled(" │ ", t.dim()));
    spans.push(Span::raw(app.http_url().to_owned()));
    spans.push(Span::styled(" │ ", t.dim()));
    match app.conn() {
        Conn::Connecting => spans.push(Span::styled("○ connecting", t.warn())),
        Conn::Connected => spans.push(Span::styled("● connected", t.ok())),
        Conn::Down(why) => {
            let retry = app.keymap().hint(Action::Refresh);
            spans.push(Span::styled(
                format!("✗ unreachable: {why} · {retry} retries"),
                t.error(),
            ))
        }
    }
    if let Some(label) = app.busy_label() {
        // The `|` filter says how far it got instead.
        let what = app.filter_progress().unwrap_or_else(|| format!("{label}…"));
        spans.push(Span::styled(" │ ", t.dim()));
        spans.push(Span::styled(
            format!(
                "{} {what} (Esc cancels)",
                SPINNER[app.spinner() % SPINNER.len()]
            ),
            t.warn(),
        ));
    }
    if let Some((level, msg)) = app.message() {
        spans.push(Span::styled(" │ ", t.dim()));
        let style = match level {
            Level::Info => t.ok(),
            Level::Error => t.error(),
        };
        spans.push(Span::styled(msg.clone(), style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
