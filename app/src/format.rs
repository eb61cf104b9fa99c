//! How keys and values are written and shown, in the CLI and the TUI alike:
//! utf8, hex, base64; one-line escaping; and aligned text tables like rpk's.

use rpkv_wire::b64;

/// The encoding of a key or value given on the command line or printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ByteFormat {
    /// Text as is (non-UTF-8 bytes print as U+FFFD).
    #[default]
    Utf8,
    /// Lowercase hex digits.
    Hex,
    /// Standard base64 (URL-safe and unpadded accepted on input).
    Base64,
}

impl ByteFormat {
    /// Decodes typed text (a command-line argument, a TUI prompt) into bytes.
    /// Whitespace inside hex and base64 is ignored (`00 ff`, wrapped base64).
    pub fn parse(self, text: &str) -> Result<Vec<u8>, String> {
        let compact = || -> String { text.chars().filter(|c| !c.is_whitespace()).collect() };
        match self {
            ByteFormat::Utf8 => Ok(text.as_bytes().to_vec()),
            ByteFormat::Hex => {
                hex::decode(compact()).map_err(|e| format!("{text:?} is not hex: {e}"))
            }
            ByteFormat::Base64 => {
                b64::decode(&compact()).map_err(|e| format!("{text:?} is not base64: {e}"))
            }
        }
    }

    /// Encodes bytes for printing; utf8 replaces invalid bytes with U+FFFD and
    /// keeps control characters (JSON output escapes them itself).
    pub fn render(self, bytes: &[u8]) -> String {
        match self {
            ByteFormat::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            ByteFormat::Hex => hex::encode(bytes),
            ByteFormat::Base64 => b64::encode(bytes),
        }
    }

    /// Encodes bytes for one line of a screen or table: as [`Self::render`],
    /// but utf8 escapes control characters and invalid bytes ([`escape_utf8`]).
    pub fn render_line(self, bytes: &[u8]) -> String {
        match self {
            ByteFormat::Utf8 => escape_utf8(bytes),
            other => other.render(bytes),
        }
    }

    /// The name, as `--key-format` takes it.
    pub fn name(self) -> &'static str {
        match self {
            ByteFormat::Utf8 => "utf8",
            ByteFormat::Hex => "hex",
            ByteFormat::Base64 => "base64",
        }
    }
}

/// UTF-8 on one line: `\n`, `\t`, `\r` and other control characters
/// (`\u{1b}`) escaped, invalid bytes as `\xff`.
pub fn escape_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Output of a command: an aligned table for people, or one JSON document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

/// A text table: upper-case headers, columns separated by at least two spaces,
/// padded to the widest cell (by characters); the last column is not padded.
#[derive(Clone, Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I, S>(headers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Renders the table, one line per row, each ending in a newline.
    pub fn render(&self) -> String {
        let cols = self
            .rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.headers.len()))
            .max()
            .unwrap_or(0);
        let mut widths = vec![0usize; cols];
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(display_width(cell));
            }
        }
        let mut out = String::new();
        for row in std::iter::once(&self.headers).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                let cell = one_line(cell);
                line.push_str(&cell);
                if i + 1 < row.len() {
                    let pad = widths[i] - display_width(&cell) + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Cells stay on one line: control characters are escaped.
fn one_line(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_owned();
    }
    escape_utf8(cell.as_bytes())
}

fn display_width(cell: &str) -> usize {
    one_line(cell).chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let bytes = [0u8, 0xff, b'a'];
        for f in [ByteFormat::Hex, ByteFormat::Base64] {
            assert_eq!(f.parse(&f.render(&bytes)).unwrap(), bytes);
        }
        assert_eq!(ByteFormat::Hex.render(b"foo"), "666f6f");
        assert_eq!(ByteFormat::Base64.render(b"foo"), "Zm9v");
        assert_eq!(ByteFormat::Utf8.parse("foo").unwrap(), b"foo");
        assert!(ByteFormat::Hex.parse("xyz").is_err());
        assert!(ByteFormat::Base64.parse("!!").is_err());
        assert_eq!(ByteFormat::Utf8.render(&[0xff]), "\u{fffd}");
        // Typed hex and base64 may hold spaces and line breaks.
        assert_eq!(ByteFormat::Hex.parse("00 ff\n62").unwrap(), [0, 0xff, 0x62]);
        assert_eq!(
            ByteFormat::Base64.parse("AP9i\naW4=").unwrap(),
            b"\0\xffbin"
        );
        let err = ByteFormat::Hex.parse("zz").unwrap_err();
        assert!(err.contains("\"zz\" is not hex"), "{err}");
    }

    #[test]
    fn lines_escape_control_characters_and_invalid_bytes() {
        assert_eq!(escape_utf8(b"a\nb\t\x1b\xff"), "a\\nb\\t\\u{1b}\\xff");
        assert_eq!(ByteFormat::Utf8.render_line(b"x\ny"), "x\\ny");
        assert_eq!(ByteFormat::Hex.render_line(b"x\ny"), "780a79");
        assert_eq!(ByteFormat::Base64.name(), "base64");
    }

    #[test]
    fn tables_are_aligned() {
        let mut t = Table::new(["KEY", "VALUE", "PARTITION"]);
        t.row(["foo", "bar", "0"]);
        t.row(["hello", "wörld", "12"]);
        t.row(["a\nb", "", "1"]);
        assert_eq!(
            t.render(),
            "KEY    VALUE  PARTITION\n\
             foo    bar    0\n\
             hello  wörld  12\n\
             a\\nb          1\n"
        );
    }
}
