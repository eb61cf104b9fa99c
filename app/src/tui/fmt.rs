//! How bytes are shown on screen: the key and value format choices (their
//! parsing and one-line rendering are [`crate::format::ByteFormat`]'s), JSON
//! pretty-printing with highlighting, text wrapping, hex dumps, sizes.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

use super::theme::Theme;
use crate::format::ByteFormat;

pub use crate::client::prefix_successor;
pub use crate::format::escape_utf8;

/// How keys are shown in the table and typed in commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    Utf8,
    Hex,
    Base64,
}

impl KeyFormat {
    pub fn next(self) -> Self {
        match self {
            KeyFormat::Utf8 => KeyFormat::Hex,
            KeyFormat::Hex => KeyFormat::Base64,
            KeyFormat::Base64 => KeyFormat::Utf8,
        }
    }
    pub fn name(self) -> &'static str {
        self.bytes().name()
    }
    /// The library's byte format of this choice.
    pub fn bytes(self) -> ByteFormat {
        match self {
            KeyFormat::Utf8 => ByteFormat::Utf8,
            KeyFormat::Hex => ByteFormat::Hex,
            KeyFormat::Base64 => ByteFormat::Base64,
        }
    }
    /// One-line rendering of bytes.
    pub fn render(self, bytes: &[u8]) -> String {
        self.bytes().render_line(bytes)
    }
    /// Parses typed text back to bytes (whitespace in hex and base64 ignored).
    pub fn parse(self, text: &str) -> Result<Vec<u8>, String> {
        self.bytes().parse(text)
    }
}

/// How the value view shows a value. `Auto` picks JSON, text or a hex dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueFormat {
    Auto,
    Utf8,
    Hex,
    Base64,
}

impl ValueFormat {
    pub fn next(self) -> Self {
        match self {
            ValueFormat::Auto => ValueFormat::Utf8,
            ValueFormat::Utf8 => ValueFormat::Hex,
            ValueFormat::Hex => ValueFormat::Base64,
            ValueFormat::Base64 => ValueFormat::Auto,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            ValueFormat::Auto => "auto",
            ValueFormat::Utf8 => "utf8",
            ValueFormat::Hex => "hex",
            ValueFormat::Base64 => "base64",
        }
    }
    /// The format a value is edited in: text when it is UTF-8 (and not asked
    /// otherwise), else hex.
    pub fn edit_format(self, value: &[u8]) -> KeyFormat {
        match self {
            ValueFormat::Hex => KeyFormat::Hex,
            ValueFormat::Base64 => KeyFormat::Base64,
            _ if std::str::from_utf8(value).is_ok() => KeyFormat::Utf8,
            _ => KeyFormat::Hex,
        }
    }
}

/// What `Auto` decided a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Json,
    Text,
    Binary,
}

pub fn classify(value: &[u8]) -> Kind {
    match std::str::from_utf8(value) {
        Ok(s) => {
            let t = s.trim_start();
            if (t.starts_with('{') || t.starts_with('['))
                && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
            {
                Kind::Json
            } else if s
                .chars()
                .all(|c| !c.is_control() || c == '\n' || c == '\t' || c == '\r')
            {
                Kind::Text
            } else {
                Kind::Binary
            }
        }
        Err(_) => Kind::Binary,
    }
}

/// A human size: `12 B`, `3.4 KiB`.
pub fn size(n: usize) -> String {
    if n < 1024 {
        format!("{n} B")
    } else if n < 1024 * 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", n as f64 / (1024.0 * 1024.0))
    }
}

/// The lines of a value in the given format, wrapped to `width` columns.
pub fn value_lines(
    value: &[u8],
    fmt: ValueFormat,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let width = width.max(8);
    match fmt {
        ValueFormat::Auto => match classify(value) {
            Kind::Json => json_lines(value, width, theme),
            Kind::Text => wrap_text(&String::from_utf8_lossy(value), width),
            Kind::Binary => hex_dump(value, theme),
        },
        ValueFormat::Utf8 => wrap_text(&String::from_utf8_lossy(value), width),
        ValueFormat::Hex => hex_dump(value, theme),
        ValueFormat::Base64 => wrap_text(&ByteFormat::Base64.render(value), width),
    }
}

/// Text split on newlines and wrapped at `width` display columns.
pub fn wrap_text(text: &str, width: usize) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    for raw in text.split('\n') {
        let mut line = String::new();
        let mut w = 0;
        for c in raw.chars() {
            let c = if c == '\t' { ' ' } else { c };
            let cw = c.width().unwrap_or(0);
            if w + cw > width {
                out.push(Line::from(std::mem::take(&mut line)));
                w = 0;
            }
            line.push(c);
            w += cw;
        }
        out.push(Line::from(line));
    }
    out
}

/// A classic hex dump: offset, 16 bytes in hex, the printable ASCII.
pub fn hex_dump(value: &[u8], theme: &Theme) -> Vec<Line<'static>> {
    value
        .chunks(16)
        .enumerate()
        .map(|(i, chunk)| {
            let mut hex = String::with_capacity(50);
            for (j, b) in chunk.iter().enumerate() {
                if j == 8 {
                    hex.push(' ');
                }
                hex.push_str(&format!("{b:02x} "));
            }
            let ascii: String = chunk
                .iter()
                .map(|b| {
                    if b.is_ascii_graphic() || *b == b' ' {
                        char::from(*b)
                    } else {
                        '.'
                    }
                })
                .collect();
            Line::from(vec![
                Span::styled(format!("{:08x}  ", i * 16), theme.dim()),
                Span::raw(format!("{hex:<49}")),
                Span::styled(format!("|{ascii}|"), theme.dim()),
            ])
        })
        .collect()
}

/// JSON re-indented (keeping the document's key order and number spelling)
/// with keys, strings, numbers and literals highlighted.
pub fn json_lines(value: &[u8], width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let text = String::from_utf8_lossy(value);
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut indent = 0usize;
    let mut chars = text.chars().peekable();
    let newline = |lines: &mut Vec<Line<'static>>, cur: &mut Vec<Span<'static>>, indent: usize| {
        lines.push(Line::from(std::mem::take(cur)));
        if indent > 0 {
            cur.push(Span::raw("  ".repeat(indent)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\n' | '\r' | '\t' => {}
            '{' | '[' => {
                let close = if c == '{' { '}' } else { ']' };
                // Empty object/array stays on one line.
                while chars.peek().is_some_and(|n| n.is_whitespace()) {
                    chars.next();
                }
                if chars.peek() == Some(&close) {
                    chars.next();
                    cur.push(Span::raw(format!("{c}{close}")));
                } else {
                    cur.push(Span::raw(c.to_string()));
                    indent += 1;
                    newline(&mut lines, &mut cur, indent);
                }
            }
            '}' | ']' => {
                indent = indent.saturating_sub(1);
                newline(&mut lines, &mut cur, indent);
                cur.push(Span::raw(c.to_string()));
            }
            ',' => {
                cur.push(Span::raw(","));
                newline(&mut lines, &mut cur, indent);
            }
            ':' => cur.push(Span::raw(": ")),
            '"' => {
                let mut s = String::from('"');
                let mut escaped = false;
                for n in chars.by_ref() {
                    s.push(n);
                    if escaped {
                        escaped = false;
                    } else if n == '\\' {
                        escaped = true;
                    } else if n == '"' {
                        break;
                    }
                }
                let mut look = chars.clone();
                while look.peek().is_some_and(|n| n.is_whitespace()) {
                    look.next();
                }
                let style = if look.peek() == Some(&':') {
                    theme.json_key()
                } else {
                    theme.json_string()
                };
                cur.push(Span::styled(s, style));
            }
            _ => {
                let mut s = String::from(c);
                while let Some(n) = chars.peek() {
                    if matches!(n, ',' | '}' | ']' | ' ' | '\n' | '\r' | '\t') {
                        break;
                    }
                    s.push(*n);
                    chars.next();
                }
                let style = if c == '-' || c.is_ascii_digit() {
                    theme.json_number()
                } else {
                    theme.json_literal()
                };
                cur.push(Span::styled(s, style));
            }
        }
    }
    if !cur.is_empty() {
        lines.push(Line::from(cur));
    }
    // Wrap lines wider than the view (long strings) without losing styles.
    let mut out = Vec::with_capacity(lines.len());
    for line in lines {
        if line.width() <= width {
            out.push(line);
            continue;
        }
        let mut piece: Vec<Span<'static>> = Vec::new();
        let mut w = 0;
        for span in line.spans {
            let mut buf = String::new();
            for ch in span.content.chars() {
                let cw = ch.width().unwrap_or(0);
                if w + cw > width {
                    if !buf.is_empty() {
                        piece.push(Span::styled(std::mem::take(&mut buf), span.style));
                    }
                    out.push(Line::from(std::mem::take(&mut piece)));
                    w = 0;
                }
                buf.push(ch);
                w += cw;
            }
            if !buf.is_empty() {
                piece.push(Span::styled(buf, span.style));
            }
        }
        out.push(Line::from(piece));
    }
    out
}

/// Milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn timestamp(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tui_timestamps_are_utc() {
        assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(timestamp(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn tui_json_keeps_order_and_indents() {
        let t = Theme::colored();
        let lines: Vec<String> = json_lines(br#"{"b":1,"a":[true,null],"e":{}}"#, 80, &t)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert_eq!(
            lines,
            vec![
                "{",
                "  \"b\": 1,",
                "  \"a\": [",
                "    true,",
                "    null",
                "  ],",
                "  \"e\": {}",
                "}"
            ]
        );
    }

    #[test]
    fn tui_classifies_values() {
        assert_eq!(classify(br#"{"a":1}"#), Kind::Json);
        assert_eq!(classify(b"hello"), Kind::Text);
        assert_eq!(classify(b"\x00\x01\xff"), Kind::Binary);
        assert_eq!(escape_utf8(b"a\nb\xff"), "a\\nb\\xff");
    }
}
