//! How keys and values are written on the command line and printed: utf8, hex,
//! base64; and aligned text tables like rpk's.

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
    /// Decodes a command-line argument into bytes.
    pub fn parse(self, text: &str) -> Result<Vec<u8>, String> {
        match self {
            ByteFormat::Utf8 => Ok(text.as_bytes().to_vec()),
            ByteFormat::Hex => hex::decode(text).map_err(|e| format!("{text:?} is not hex: {e}")),
            ByteFormat::Base64 => {
                b64::decode(text).map_err(|e| format!("{text:?} is not base64: {e}"))
            }
        }
    }

    /// Encodes bytes for printing.
    pub fn render(self, bytes: &[u8]) -> String {
        match self {
            ByteFormat::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            ByteFormat::Hex => hex::encode(bytes),
            ByteFormat::Base64 => b64::encode(bytes),
        }
    }
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
    cell.chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\t' => "\\t".to_owned(),
            '\r' => "\\r".to_owned(),
            c if c.is_control() => format!("\\u{{{:x}}}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
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
