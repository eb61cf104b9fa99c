//! kvstore calls: batch get, atomic write, scan (one page, or paged).

use rpkv_wire::kvstore::{
    Delete, Entry, GetRequest, GetResponse, Precondition, Put, ScanRequest, ScanResponse,
    WriteRequest, WriteResponse,
};
use rpkv_wire::{MAX_KEY_BYTES, MAX_SCAN_LIMIT};

use super::Client;
use super::error::{Error, Result};
use super::http::Idempotent;

/// One key's result of a batch get: `value` is `None` when the key is missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// A key range and page size for a scan. `start` is inclusive, `end` exclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanRange {
    pub start: Option<Vec<u8>>,
    pub end: Option<Vec<u8>>,
}

/// Checks an `ifMatches` hash: 64 hex digits (SHA-256); returns it lowercased.
pub fn validate_sha256_hex(hash: &str) -> Result<String> {
    if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(hash.to_ascii_lowercase())
    } else {
        Err(Error::InvalidInput(format!(
            "--if-matches wants the hex SHA-256 of the current value (64 hex digits), got {hash:?}"
        )))
    }
}

/// Builds a write of puts and deletes that all share one optional precondition.
pub fn write_request(
    puts: Vec<(Vec<u8>, Vec<u8>)>,
    deletes: Vec<Vec<u8>>,
    precondition: Option<Precondition>,
) -> WriteRequest {
    WriteRequest {
        puts: puts
            .into_iter()
            .map(|(key, value)| Put {
                key,
                value,
                precondition: precondition.clone(),
            })
            .collect(),
        deletes: deletes
            .into_iter()
            .map(|key| Delete {
                key,
                precondition: precondition.clone(),
            })
            .collect(),
    }
}

/// The key that sorts right after `key` (for paging: next start = last key + 0x00).
pub fn key_after(key: &[u8]) -> Vec<u8> {
    let mut next = Vec::with_capacity(key.len() + 1);
    next.extend_from_slice(key);
    next.push(0);
    next
}

/// The smallest key greater than every key starting with `prefix` (the end
/// of a prefix scan); `None` when there is none (empty, or all 0xff).
pub fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The precondition of a compare-and-swap write of a key that was read as
/// `base`: `ifMatches` its SHA-256, or `ifExists:false` when it was missing.
pub fn cas_precondition(base: Option<&[u8]>) -> Precondition {
    match base {
        Some(v) => Precondition::if_matches(rpkv_wire::sha256_hex(v)),
        None => Precondition::if_exists(false),
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Error::InvalidInput(format!(
            "key of {} bytes is larger than the kvstore's limit of {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(())
}

fn kv_path(topic: &str, partition: i32, op: &str) -> String {
    format!(
        "/kvstore/{}/partition/{partition}/{op}",
        super::url_segment(topic)
    )
}

impl Client {
    /// `POST .../batch_get`: one [`Lookup`] per requested key, in request order.
    pub async fn batch_get(
        &self,
        topic: &str,
        partition: i32,
        keys: Vec<Vec<u8>>,
    ) -> Result<Vec<Lookup>> {
        for k in &keys {
            check_key(k)?;
        }
        let path = kv_path(topic, partition, "batch_get");
        let reply: GetResponse = self
            .http
            .post_json(&path, &GetRequest { keys }, Idempotent::Yes)
            .await?;
        Ok(reply
            .results
            .into_iter()
            .map(|r| Lookup {
                key: r.key,
                value: r.value,
            })
            .collect())
    }

    /// Gets one key's value (`None` when missing).
    pub async fn get(&self, topic: &str, partition: i32, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut r = self.batch_get(topic, partition, vec![key.to_vec()]).await?;
        Ok(r.pop().and_then(|l| l.value))
    }

    /// `POST .../write`: applies all puts and deletes atomically. A failed
    /// precondition is [`Error::PreconditionFailed`] and nothing is applied.
    pub async fn write(&self, topic: &str, partition: i32, request: &WriteRequest) -> Result<()> {
        self.check_writable("write")?;
        for k in request
            .puts
            .iter()
            .map(|p| &p.key)
            .chain(request.deletes.iter().map(|d| &d.key))
        {
            check_key(k)?;
        }
        let path = kv_path(topic, partition, "write");
        let _: WriteResponse = self.http.post_json(&path, request, Idempotent::No).await?;
        Ok(())
    }

    /// Puts one key, optionally with a precondition.
    pub async fn put(
        &self,
        topic: &str,
        partition: i32,
        key: Vec<u8>,
        value: Vec<u8>,
        precondition: Option<Precondition>,
    ) -> Result<()> {
        let req = write_request(vec![(key, value)], vec![], precondition);
        self.write(topic, partition, &req).await
    }

    /// Deletes keys atomically, optionally each with the same precondition.
    pub async fn delete(
        &self,
        topic: &str,
        partition: i32,
        keys: Vec<Vec<u8>>,
        precondition: Option<Precondition>,
    ) -> Result<()> {
        let req = write_request(vec![], keys, precondition);
        self.write(topic, partition, &req).await
    }

    /// `POST .../scan`: one page of at most `limit` (1..=1000) entries in key order.
    pub async fn scan_page(
        &self,
        topic: &str,
        partition: i32,
        range: &ScanRange,
        limit: i32,
    ) -> Result<Vec<Entry>> {
        if !(1..=MAX_SCAN_LIMIT).contains(&limit) {
            return Err(Error::InvalidInput(format!(
                "scan limit must be 1..={MAX_SCAN_LIMIT}, got {limit}"
            )));
        }
        let req = ScanRequest {
            start_key: range.start.clone(),
            end_key: range.end.clone(),
            limit,
        };
        let path = kv_path(topic, partition, "scan");
        let reply: ScanResponse = self.http.post_json(&path, &req, Idempotent::Yes).await?;
        Ok(reply.entries)
    }

    /// Scans up to `max` entries of one partition (None = all), paging by 1000.
    pub async fn scan(
        &self,
        topic: &str,
        partition: i32,
        range: &ScanRange,
        max: Option<usize>,
    ) -> Result<Vec<Entry>> {
        let mut out: Vec<Entry> = Vec::new();
        let mut page_range = range.clone();
        loop {
            let want = match max {
                Some(m) if m <= out.len() => return Ok(out),
                Some(m) => (m - out.len()).min(MAX_SCAN_LIMIT as usize),
                None => MAX_SCAN_LIMIT as usize,
            };
            // `want` is at most 1000, so it fits an i32.
            let want_i32 = i32::try_from(want).unwrap_or(MAX_SCAN_LIMIT);
            let page = self
                .scan_page(topic, partition, &page_range, want_i32)
                .await?;
            let n = page.len();
            out.extend(page);
            if n < want {
                return Ok(out);
            }
            match out.last() {
                Some(last) => page_range.start = Some(key_after(&last.key)),
                None => return Ok(out),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_hashes_are_validated() {
        let good = "4A44DC15364204A80FE80E9039455CC1608281820FE2B24F1E5233ADE6AF1DD5";
        assert_eq!(
            validate_sha256_hex(good).unwrap(),
            good.to_ascii_lowercase()
        );
        assert!(validate_sha256_hex("abc").is_err());
        assert!(validate_sha256_hex(&"g".repeat(64)).is_err());
    }

    #[test]
    fn key_after_sorts_right_after() {
        assert_eq!(key_after(b"a"), b"a\0");
        assert!(key_after(b"a").as_slice() > b"a".as_slice());
        assert!(key_after(b"a").as_slice() < b"a\x01".as_slice());
    }

    #[test]
    fn prefix_successor_ends_a_prefix_scan() {
        assert_eq!(prefix_successor(b"user:"), Some(b"user;".to_vec()));
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
        assert_eq!(prefix_successor(b""), None);
    }

    #[test]
    fn cas_preconditions_match_the_value_read() {
        assert_eq!(
            cas_precondition(Some(b"10")),
            Precondition::if_matches(rpkv_wire::sha256_hex(b"10"))
        );
        assert_eq!(cas_precondition(None), Precondition::if_exists(false));
    }

    #[test]
    fn write_request_shares_the_precondition() {
        let req = write_request(
            vec![(b"k".to_vec(), b"v".to_vec())],
            vec![b"d".to_vec()],
            Some(Precondition::if_exists(true)),
        );
        assert_eq!(
            req.puts[0].precondition,
            Some(Precondition::if_exists(true))
        );
        assert_eq!(
            req.deletes[0].precondition,
            Some(Precondition::if_exists(true))
        );
    }
}
