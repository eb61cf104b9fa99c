//! The groups view (in place of the panes): the consumer groups with state,
//! members and total lag; Enter opens one group's partitions with the
//! committed offset, log end and lag, refreshed in the background.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use super::super::app::App;
use super::super::groups::{GroupsView, REFRESH};
use super::super::theme::Theme;
use crate::client::GroupDescription;

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn state_style(t: &Theme, state: &str) -> ratatui::style::Style {
    match state {
        "Stable" => t.ok(),
        "Empty" => t.dim(),
        _ => t.warn(),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, g: &GroupsView) {
    let t = app.theme();
    match &g.detail {
        Some(d) => detail(f, area, t, g, d),
        None => list(f, area, t, g),
    }
}

fn list(f: &mut Frame, area: Rect, t: &Theme, g: &GroupsView) {
    let title = match &g.topic {
        Some(topic) => format!(" Consumer groups of {topic} ({}) ", g.groups.len()),
        None => format!(" Consumer groups ({}) ", g.groups.len()),
    };
    let block = super::pane(Line::styled(title, t.title()), t, true);
    if g.groups.is_empty() {
        let text = if g.loaded {
            "  No consumer groups. Consumers that commit offsets show up here."
        } else {
            "  Listing groups…"
        };
        let p = Paragraph::new(vec![Line::raw(""), Line::styled(text, t.dim())]).block(block);
        f.render_widget(p, area);
        return;
    }
    let rows: Vec<Row> = g
        .groups
        .iter()
        .map(|d| {
            let topics: Vec<&str> = d.topics().into_iter().collect();
            Row::new(vec![
                Cell::from(d.name.clone()),
                Cell::from(Span::styled(d.state.clone(), state_style(t, &d.state))),
                Cell::from(d.members.len().to_string()),
                Cell::from(d.total_lag.to_string()),
                Cell::from(Span::styled(topics.join(", "), t.dim())),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(16),
            Constraint::Length(20),
            Constraint::Length(8),
            Constraint::Length(10),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(["GROUP", "STATE", "MEMBERS", "TOTAL LAG", "TOPICS"]).style(t.title()))
    .block(block)
    .row_highlight_style(t.selected())
    .highlight_symbol("▸");
    let mut state = TableState::default().with_selected(Some(g.cursor));
    f.render_stateful_widget(table, area, &mut state);
}

fn detail(f: &mut Frame, area: Rect, t: &Theme, g: &GroupsView, d: &GroupDescription) {
    let block = super::pane(
        Line::styled(format!(" Group {} ", d.name), t.title()),
        t,
        true,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [head, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(1)]).areas(inner);
    let mut first = vec![
        Span::raw(" state "),
        Span::styled(d.state.clone(), state_style(t, &d.state)),
        Span::raw(format!("   members {}", d.members.len())),
        Span::raw("   total lag "),
        Span::styled(d.total_lag.to_string(), t.title()),
        Span::raw(format!("   coordinator {}", d.coordinator)),
    ];
    if !d.protocol.is_empty() {
        first.push(Span::raw(format!("   balancer {}", d.protocol)));
    }
    let second = match &g.stale {
        Some(e) => Line::styled(
            format!(" refresh failed, showing older data: {e}"),
            t.error(),
        ),
        None => Line::styled(format!(" refreshed every {} s", REFRESH.as_secs()), t.dim()),
    };
    f.render_widget(Paragraph::new(vec![Line::from(first), second]), head);
    if d.partitions.is_empty() {
        f.render_widget(
            Paragraph::new(Line::styled(
                "  The group has no committed offsets.",
                t.dim(),
            )),
            body,
        );
        return;
    }
    let rows: Vec<Row> = d
        .partitions
        .iter()
        .map(|p| {
            let lag = Cell::from(Span::styled(
                opt(p.lag),
                if p.lag.unwrap_or(0) > 0 {
                    t.warn()
                } else {
                    t.ok()
                },
            ));
            Row::new(vec![
                Cell::from(p.topic.clone()),
                Cell::from(p.partition.to_string()),
                Cell::from(opt(p.current_offset)),
                Cell::from(opt(p.log_end_offset)),
                lag,
                Cell::from(p.client_id.clone().unwrap_or_default()),
                Cell::from(Span::styled(p.host.clone().unwrap_or_default(), t.dim())),
            ])
        })
        .collect();
    let table = Table::new(
        rows,
        [
            Constraint::Min(12),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(10),
            Constraint::Length(8),
            Constraint::Min(10),
            Constraint::Min(10),
        ],
    )
    .header(
        Row::new([
            "TOPIC",
            "PARTITION",
            "COMMITTED",
            "LOG END",
            "LAG",
            "CLIENT",
            "HOST",
        ])
        .style(t.title()),
    )
    .row_highlight_style(t.selected())
    .highlight_symbol("▸");
    let mut state = TableState::default().with_selected(Some(g.detail_cursor));
    f.render_stateful_widget(table, body, &mut state);
}
