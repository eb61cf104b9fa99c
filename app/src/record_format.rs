//! rpk-style record formats for `topic produce -f` and `topic consume -f`:
//! `%k` key, `%v` value, `%t` topic, `%p` partition, `%o` offset, `%T` timestamp
//! (ms), `%K`/`%V` key/value length, `%%` a percent sign; `\n`, `\t`, `\r`, `\\`
//! escapes. Everything else is literal.

/// One piece of a format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    Literal(Vec<u8>),
    Key,
    Value,
    Topic,
    Partition,
    Offset,
    Timestamp,
    KeyLen,
    ValueLen,
}

/// A parsed format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordFormat {
    tokens: Vec<Token>,
}

/// What a format can print about a record.
pub struct RecordFields<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
}

/// A record parsed from input by a format.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParsedRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub partition: Option<i32>,
}

impl RecordFormat {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut tokens = Vec::new();
        let mut lit = Vec::new();
        let mut chars = spec.chars().peekable();
        let flush = |lit: &mut Vec<u8>, tokens: &mut Vec<Token>| {
            if !lit.is_empty() {
                tokens.push(Token::Literal(std::mem::take(lit)));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let t = match chars.next() {
                        Some('k') => Token::Key,
                        Some('v') => Token::Value,
                        Some('t') => Token::Topic,
                        Some('p') => Token::Partition,
                        Some('o') => Token::Offset,
                        Some('T') => Token::Timestamp,
                        Some('K') => Token::KeyLen,
                        Some('V') => Token::ValueLen,
                        Some('%') => {
                            lit.push(b'%');
                            continue;
                        }
                        other => {
                            return Err(format!(
                                "unknown directive %{} in format {spec:?} (known: %k %v %t %p %o %T %K %V %%)",
                                other.map(String::from).unwrap_or_default()
                            ));
                        }
                    };
                    flush(&mut lit, &mut tokens);
                    tokens.push(t);
                }
                '\\' => match chars.next() {
                    Some('n') => lit.push(b'\n'),
                    Some('t') => lit.push(b'\t'),
                    Some('r') => lit.push(b'\r'),
                    Some('\\') => lit.push(b'\\'),
                    Some(other) => {
                        lit.push(b'\\');
                        let mut buf = [0u8; 4];
                        lit.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                    None => lit.push(b'\\'),
                },
                c => {
                    let mut buf = [0u8; 4];
                    lit.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        flush(&mut lit, &mut tokens);
        if tokens.is_empty() {
            return Err("empty format".to_owned());
        }
        Ok(RecordFormat { tokens })
    }

    /// The literal that ends every record, if the format ends with one (`\n` in
    /// `%k %v\n`): input can be cut after it without splitting a record.
    pub fn terminator(&self) -> Option<&[u8]> {
        match self.tokens.last() {
            Some(Token::Literal(l)) => Some(l),
            _ => None,
        }
    }

    /// Writes one record.
    pub fn render(&self, r: &RecordFields<'_>, out: &mut Vec<u8>) {
        for t in &self.tokens {
            match t {
                Token::Literal(l) => out.extend_from_slice(l),
                Token::Key => out.extend_from_slice(r.key.unwrap_or_default()),
                Token::Value => out.extend_from_slice(r.value.unwrap_or_default()),
                Token::Topic => out.extend_from_slice(r.topic.as_bytes()),
                Token::Partition => out.extend_from_slice(r.partition.to_string().as_bytes()),
                Token::Offset => out.extend_from_slice(r.offset.to_string().as_bytes()),
                Token::Timestamp => {
                    out.extend_from_slice(r.timestamp.unwrap_or(-1).to_string().as_bytes())
                }
                Token::KeyLen => {
                    out.extend_from_slice(r.key.map_or(0, <[u8]>::len).to_string().as_bytes())
                }
                Token::ValueLen => {
                    out.extend_from_slice(r.value.map_or(0, <[u8]>::len).to_string().as_bytes())
                }
            }
        }
    }

    /// Splits `input` into records. A field runs until the literal that follows
    /// it in the format; the last field of the last record may end at end of input.
    pub fn parse_records(&self, input: &[u8]) -> Result<Vec<ParsedRecord>, String> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let mut rec = ParsedRecord::default();
            for (i, t) in self.tokens.iter().enumerate() {
                match t {
                    Token::Literal(l) => {
                        if input[pos..].starts_with(l) {
                            pos += l.len();
                        } else if pos >= input.len() && i + 1 == self.tokens.len() {
                            // The final delimiter may be missing at end of input.
                        } else {
                            return Err(format!(
                                "input at byte {pos} does not match {:?} of the format",
                                String::from_utf8_lossy(l)
                            ));
                        }
                    }
                    field => {
                        let end = match self.tokens.get(i + 1) {
                            Some(Token::Literal(next)) => {
                                find(&input[pos..], next).map_or(input.len(), |n| pos + n)
                            }
                            Some(_) => {
                                return Err("two directives in a row need a literal between them to read input".to_owned());
                            }
                            None => input.len(),
                        };
                        let bytes = input[pos..end].to_vec();
                        pos = end;
                        match field {
                            Token::Key => rec.key = Some(bytes),
                            Token::Value => rec.value = Some(bytes),
                            Token::Partition => {
                                let text = String::from_utf8_lossy(&bytes);
                                rec.partition =
                                    Some(text.trim().parse().map_err(|_| {
                                        format!("partition {text:?} is not a number")
                                    })?);
                            }
                            _ => {} // read and ignored (topic, offset, ...)
                        }
                    }
                }
            }
            out.push(rec);
        }
        Ok(out)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_lines() {
        let f = RecordFormat::parse("%k %v\\n").unwrap();
        let recs = f.parse_records(b"foo bar\nhello world\nfoo qux").unwrap();
        let kv: Vec<(Vec<u8>, Vec<u8>)> = recs
            .into_iter()
            .map(|r| (r.key.unwrap(), r.value.unwrap()))
            .collect();
        assert_eq!(
            kv,
            vec![
                (b"foo".to_vec(), b"bar".to_vec()),
                (b"hello".to_vec(), b"world".to_vec()),
                (b"foo".to_vec(), b"qux".to_vec())
            ]
        );
    }

    #[test]
    fn value_may_contain_the_key_separator() {
        let f = RecordFormat::parse("%k %v\n").unwrap();
        let r = f.parse_records(b"k a b c\n").unwrap();
        assert_eq!(r[0].value.as_deref(), Some(&b"a b c"[..]));
    }

    #[test]
    fn renders_records() {
        let f = RecordFormat::parse("%t/%p@%o %k=%v (%K,%V) 100%%\\n").unwrap();
        let mut out = Vec::new();
        f.render(
            &RecordFields {
                topic: "t",
                partition: 2,
                offset: 7,
                timestamp: None,
                key: Some(b"k"),
                value: Some(b"vv"),
            },
            &mut out,
        );
        assert_eq!(out, b"t/2@7 k=vv (1,2) 100%\n");
        assert!(RecordFormat::parse("%x").is_err());
        assert_eq!(f.terminator(), Some(&b") 100%\n"[..]));
        assert_eq!(RecordFormat::parse("%k=%v").unwrap().terminator(), None);
    }
}
