//! What `rpkv group seek --to`, `--to-file` and `offset-delete --topic`
//! take, parsed as rpk parses them.

use super::SeekTo;
use crate::client::Error;

impl SeekTo {
    /// `start`, `end`, or a Unix timestamp in seconds (up to 10 digits),
    /// milliseconds (up to 13) or nanoseconds (more), as `rpk group seek --to`.
    pub fn parse(s: &str) -> Result<SeekTo, Error> {
        match s {
            "start" => return Ok(SeekTo::Start),
            "end" => return Ok(SeekTo::End),
            _ => {}
        }
        let n: i64 = s
            .parse()
            .ok()
            .filter(|n| *n >= 0 && s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "--to {s:?}: expected start, end, or a Unix timestamp (seconds, milliseconds or nanoseconds)"
                ))
            })?;
        Ok(SeekTo::Timestamp(match s.len() {
            0..=10 => n.saturating_mul(1000),
            11..=13 => n,
            _ => n / 1_000_000,
        }))
    }

    /// Parses a seek file as `rpk group seek --to-file` reads it: one
    /// `topic partition offset` per line, whitespace separated; blank lines
    /// are skipped.
    pub fn parse_file(text: &str) -> Result<SeekTo, Error> {
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.is_empty() {
                continue;
            }
            let bad = || {
                Error::InvalidInput(format!(
                    "line {}: {line:?}: expected `topic partition offset`",
                    i + 1
                ))
            };
            let [topic, partition, offset] = fields[..] else {
                return Err(bad());
            };
            let partition: i32 = partition.parse().ok().filter(|p| *p >= 0).ok_or_else(bad)?;
            let offset: i64 = offset.parse().ok().filter(|o| *o >= 0).ok_or_else(bad)?;
            out.push((topic.to_owned(), partition, offset));
        }
        if out.is_empty() {
            return Err(Error::InvalidInput(
                "the seek file has no `topic partition offset` lines".into(),
            ));
        }
        Ok(SeekTo::Offsets(out))
    }
}

/// Parses `--topic T` or `--topic T:P,P` as `rpk group offset-delete` does.
pub fn parse_topic_partitions(s: &str) -> Result<(String, Option<Vec<i32>>), Error> {
    let bad = || Error::InvalidInput(format!("--topic {s:?}: expected TOPIC or TOPIC:P,P,..."));
    match s.rsplit_once(':') {
        None if !s.is_empty() => Ok((s.to_owned(), None)),
        None => Err(bad()),
        Some((t, parts)) => {
            if t.is_empty() {
                return Err(bad());
            }
            let parts = parts
                .split(',')
                .map(|p| p.trim().parse::<i32>().ok().filter(|p| *p >= 0))
                .collect::<Option<Vec<i32>>>()
                .ok_or_else(bad)?;
            Ok((t.to_owned(), Some(parts)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seek_targets_parse_like_rpk() {
        assert_eq!(SeekTo::parse("start").unwrap(), SeekTo::Start);
        assert_eq!(SeekTo::parse("end").unwrap(), SeekTo::End);
        assert_eq!(
            SeekTo::parse("1700000000").unwrap(),
            SeekTo::Timestamp(1_700_000_000_000)
        );
        assert_eq!(
            SeekTo::parse("1700000000123").unwrap(),
            SeekTo::Timestamp(1_700_000_000_123)
        );
        assert_eq!(
            SeekTo::parse("1700000000123456789").unwrap(),
            SeekTo::Timestamp(1_700_000_000_123)
        );
        for bad in ["", "-1", "soon", "1.5"] {
            assert!(SeekTo::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn seek_files_parse_like_rpk() {
        assert_eq!(
            SeekTo::parse_file("orders 0 5\n\n  orders  1 7 \nlogs 0 0\n").unwrap(),
            SeekTo::Offsets(vec![
                ("orders".into(), 0, 5),
                ("orders".into(), 1, 7),
                ("logs".into(), 0, 0)
            ])
        );
        let e = SeekTo::parse_file("orders 0\n").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        assert!(SeekTo::parse_file("orders x 1").is_err());
        assert!(SeekTo::parse_file("\n").is_err());
    }

    #[test]
    fn offset_delete_topics_parse_like_rpk() {
        assert_eq!(parse_topic_partitions("t").unwrap(), ("t".into(), None));
        assert_eq!(
            parse_topic_partitions("t:0,2").unwrap(),
            ("t".into(), Some(vec![0, 2]))
        );
        assert!(parse_topic_partitions("t:").is_err());
        assert!(parse_topic_partitions(":1").is_err());
        assert!(parse_topic_partitions("").is_err());
    }
}
