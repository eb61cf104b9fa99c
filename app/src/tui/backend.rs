//! Network work for the TUI. Every request runs in its own tokio task over the
//! shared [`Client`] and reports back over a channel; the UI loop never awaits
//! the network. Each task can be aborted (Esc cancels).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(feature = "dev")]
use tokio::sync::mpsc;

use crate::client::{
    Client, ConsumedBytes, Error, Lookup, Precondition, ScanRange, WriteRequest, key_after,
};

/// One row of the scan table: a key of one partition with its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub partition: i32,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// A topic as the topics pane shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRow {
    pub name: String,
    /// Partition count, when known.
    pub partitions: Option<i32>,
    /// Whether the topic has `redpanda.kvstore` enabled, when known.
    pub kvstore: Option<bool>,
}

/// One version of a key, from the topic log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    pub offset: i64,
    pub timestamp: Option<i64>,
    /// `None` for a tombstone (delete).
    pub value: Option<Vec<u8>>,
}

/// What a key's history found.
#[derive(Clone, Debug)]
pub struct History {
    pub versions: Vec<Version>,
    /// Records read from the log to find them.
    pub scanned: u64,
    /// True when the scan stopped at the record cap before the log end.
    pub truncated: bool,
}

/// Why a batch get was made, so the reply goes to the right place.
#[derive(Clone, Debug)]
pub enum GetPurpose {
    /// `:get K...` results for the table.
    Lookup,
    /// The current value after a 409, for the conflict view.
    Conflict(Box<super::app::Pending>),
}

/// Why a write was made.
#[derive(Clone, Debug)]
pub enum WritePurpose {
    /// A put or delete from the review screen; on 409 the conflict view opens.
    Reviewed(Box<super::app::Pending>),
    /// A (batch) delete of these keys.
    Delete { count: usize },
}

/// A unit of network work.
#[derive(Clone, Debug)]
pub enum Request {
    Ready,
    Topics,
    Page {
        generation: u64,
        page: usize,
        topic: String,
        partitions: Vec<i32>,
        range: ScanRange,
        limit: usize,
    },
    Get {
        topic: String,
        /// Partition of each key.
        keys: Vec<(i32, Vec<u8>)>,
        purpose: GetPurpose,
    },
    Write {
        topic: String,
        partition: i32,
        request: WriteRequest,
        purpose: WritePurpose,
    },
    History {
        topic: String,
        partition: i32,
        key: Vec<u8>,
    },
    Export {
        topic: String,
        partitions: Vec<i32>,
        range: ScanRange,
        path: PathBuf,
    },
}

impl Request {
    /// A short label for the status line while it runs.
    pub fn label(&self) -> &'static str {
        match self {
            Request::Ready => "connecting",
            Request::Topics => "listing topics",
            Request::Page { .. } => "scanning",
            Request::Get { .. } => "reading",
            Request::Write { .. } => "writing",
            Request::History { .. } => "reading the log",
            Request::Export { .. } => "exporting",
        }
    }
}

/// A page of the scan table.
#[derive(Clone, Debug)]
pub struct Page {
    pub rows: Vec<Row>,
    /// False once every partition is exhausted.
    pub more: bool,
}

/// A finished request.
#[derive(Debug)]
pub enum Reply {
    Ready(Result<(), Error>),
    Topics(Result<Vec<TopicRow>, Error>),
    Page {
        generation: u64,
        page: usize,
        result: Result<Page, Error>,
    },
    Got {
        purpose: GetPurpose,
        result: Result<Vec<(i32, Lookup)>, Error>,
    },
    Written {
        purpose: WritePurpose,
        result: Result<(), Error>,
    },
    History {
        key: Vec<u8>,
        result: Result<History, Error>,
    },
    Exported {
        result: Result<(PathBuf, usize), String>,
    },
    /// The embedded dev broker is serving (or failed to start).
    DevBroker(Result<SocketAddr, String>),
}

/// A finished request with the id it was spawned under.
#[derive(Debug)]
pub struct Response {
    pub id: u64,
    pub reply: Reply,
}

/// Records scanned at most for one key's history.
pub const HISTORY_RECORD_CAP: u64 = 5_000_000;
/// Versions kept at most (the newest).
pub const HISTORY_VERSION_CAP: usize = 1000;

/// Does one request over `client` (in a task of `super::runner::Runner`).
pub(super) async fn run(client: Client, req: Request) -> Reply {
    match req {
        Request::Ready => Reply::Ready(client.ready().await),
        Request::Topics => Reply::Topics(topics(&client).await),
        Request::Page {
            generation,
            page,
            topic,
            partitions,
            range,
            limit,
        } => Reply::Page {
            generation,
            page,
            result: scan_merged(&client, &topic, &partitions, &range, limit).await,
        },
        Request::Get {
            topic,
            keys,
            purpose,
        } => Reply::Got {
            purpose,
            result: get_many(&client, &topic, keys).await,
        },
        Request::Write {
            topic,
            partition,
            request,
            purpose,
        } => Reply::Written {
            purpose,
            result: client.write(&topic, partition, &request).await,
        },
        Request::History {
            topic,
            partition,
            key,
        } => {
            let result = history(&client, &topic, partition, &key).await;
            Reply::History { key, result }
        }
        Request::Export {
            topic,
            partitions,
            range,
            path,
        } => Reply::Exported {
            result: export(&client, &topic, &partitions, &range, path).await,
        },
    }
}

/// Topics with partition counts and the kvstore flag: from Kafka metadata
/// when the Kafka listener answers, else from the HTTP Proxy (probing
/// partitions with the records endpoint and kvstore with a one-key scan).
pub async fn topics(client: &Client) -> Result<Vec<TopicRow>, Error> {
    match tokio::time::timeout(Duration::from_secs(5), client.list_topics()).await {
        Ok(Ok(list)) => {
            let mut out = Vec::with_capacity(list.len());
            for t in list.into_iter().filter(|t| !t.internal) {
                let kvstore = client.is_kvstore_topic(&t.name).await.ok();
                let partitions = i32::try_from(t.partitions.len()).ok();
                out.push(TopicRow {
                    name: t.name,
                    partitions,
                    kvstore,
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(out);
        }
        Ok(Err(e)) => tracing::debug!(error = %e, "Kafka metadata failed; using the HTTP Proxy"),
        Err(_) => tracing::debug!("Kafka metadata timed out; using the HTTP Proxy"),
    }
    let mut names = client.http_topics().await?;
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let kvstore = match client.scan_page(&name, 0, &ScanRange::default(), 1).await {
            Ok(_) => Some(true),
            Err(Error::Http { status: 400, .. }) => Some(false),
            Err(_) => None,
        };
        let mut n = 0;
        while n < 1024 {
            match client.fetch_records(&name, n, 0, 0, 1).await {
                Ok(_) => n += 1,
                Err(_) => break,
            }
        }
        out.push(TopicRow {
            name,
            partitions: (n > 0).then_some(n),
            kvstore,
        });
    }
    Ok(out)
}

/// One page over several partitions merged by key: each partition is scanned
/// from the same start; the first `limit` rows in (key, partition) order are
/// kept, plus any other partitions' rows with the same last key, so the next
/// page can start right after that key.
pub async fn scan_merged(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    range: &ScanRange,
    limit: usize,
) -> Result<Page, Error> {
    let lim = i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000);
    let scans = partitions
        .iter()
        .map(|p| async move { (*p, client.scan_page(topic, *p, range, lim).await) });
    let results = futures::future::join_all(scans).await;
    let mut rows = Vec::new();
    let mut any_full = false;
    for (p, r) in results {
        let entries = r?;
        any_full |= entries.len() >= limit;
        rows.extend(entries.into_iter().map(|e| Row {
            partition: p,
            key: e.key,
            value: e.value,
        }));
    }
    rows.sort_by(|a, b| a.key.cmp(&b.key).then(a.partition.cmp(&b.partition)));
    let total = rows.len();
    if rows.len() > limit {
        let last = rows[limit - 1].key.clone();
        let keep = rows.iter().take_while(|r| r.key <= last).count();
        rows.truncate(keep);
    }
    let more = any_full || rows.len() < total;
    Ok(Page { rows, more })
}

async fn get_many(
    client: &Client,
    topic: &str,
    keys: Vec<(i32, Vec<u8>)>,
) -> Result<Vec<(i32, Lookup)>, Error> {
    let mut out = Vec::with_capacity(keys.len());
    for (p, k) in keys {
        let mut r = client.batch_get(topic, p, vec![k.clone()]).await?;
        let lookup = r.pop().unwrap_or(Lookup {
            key: k,
            value: None,
        });
        out.push((p, lookup));
    }
    Ok(out)
}

/// Every version of `key` in the partition's log, oldest first.
pub async fn history(
    client: &Client,
    topic: &str,
    partition: i32,
    key: &[u8],
) -> Result<History, Error> {
    let mut offset = 0i64;
    let mut versions: Vec<Version> = Vec::new();
    let mut scanned = 0u64;
    loop {
        let batch: Vec<ConsumedBytes> = client
            .fetch_records(topic, partition, offset, 0, 4 << 20)
            .await?;
        let Some(last) = batch.last() else {
            return Ok(History {
                versions,
                scanned,
                truncated: false,
            });
        };
        offset = last.offset + 1;
        scanned += batch.len() as u64;
        for r in batch {
            if r.key.as_deref() == Some(key) {
                versions.push(Version {
                    offset: r.offset,
                    timestamp: r.timestamp,
                    value: r.value,
                });
                if versions.len() > HISTORY_VERSION_CAP {
                    versions.remove(0);
                }
            }
        }
        if scanned >= HISTORY_RECORD_CAP {
            return Ok(History {
                versions,
                scanned,
                truncated: true,
            });
        }
    }
}

/// Writes every entry of the range, all partitions merged by key, as JSONL
/// (`{"partition":P,"key":B64,"value":B64}` per line), paging by 1000.
async fn export(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    range: &ScanRange,
    path: PathBuf,
) -> Result<(PathBuf, usize), String> {
    let file = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let mut page_range = range.clone();
    let mut n = 0usize;
    loop {
        let page = scan_merged(client, topic, partitions, &page_range, 1000)
            .await
            .map_err(|e| e.to_string())?;
        for r in &page.rows {
            let line = serde_json::json!({
                "partition": r.partition,
                "key": rpkv_wire::b64::encode(&r.key),
                "value": rpkv_wire::b64::encode(&r.value),
            });
            writeln!(out, "{line}").map_err(|e| format!("{}: {e}", path.display()))?;
            n += 1;
        }
        match (page.more, page.rows.last()) {
            (true, Some(last)) => page_range.start = Some(key_after(&last.key)),
            _ => break,
        }
    }
    out.flush()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, n))
}

/// The precondition a write of a key read as `base` needs: `ifMatches` its
/// hash, or `ifExists:false` when the key did not exist.
pub fn precondition_for(base: Option<&[u8]>) -> Precondition {
    match base {
        Some(v) => Precondition::if_matches(crate::client::sha256_hex(v)),
        None => Precondition::if_exists(false),
    }
}

/// The embedded dev broker: serves until the returned sender fires (or is dropped).
#[cfg(feature = "dev")]
pub fn spawn_dev_broker(
    data_dir: PathBuf,
    http_addr: SocketAddr,
    demo_topic: &str,
    tx: mpsc::UnboundedSender<Response>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut args = devbroker::server::ServeArgs::ephemeral(data_dir);
    args.http_addr = http_addr;
    if let Ok(spec) = format!("{demo_topic}:3").parse() {
        args.topics.push(spec);
    }
    let ready_tx = tx.clone();
    let handle = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        let result = devbroker::server::spawn(args, shutdown, move |l| {
            let _ = ready_tx.send(Response {
                id: 0,
                reply: Reply::DevBroker(Ok(l.http_addr)),
            });
        })
        .await;
        let result = match result {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("embedded dev broker task failed: {e}")),
        };
        if let Err(e) = result {
            tracing::error!(error = %e, "embedded dev broker failed");
            let _ = tx.send(Response {
                id: 0,
                reply: Reply::DevBroker(Err(e)),
            });
        }
    });
    (stop_tx, handle)
}

/// Writes a few demo keys into `topic` (each with `ifExists:false`, so a
/// second start changes nothing).
pub async fn seed_demo(client: &Client, topic: &str) -> Result<(), Error> {
    let n = client.partition_count(topic).await.unwrap_or(3);
    for (k, v) in DEMO_KEYS {
        let p = crate::client::partition_for_key(k.as_bytes(), n);
        match client
            .put(
                topic,
                p,
                k.as_bytes().to_vec(),
                v.as_bytes().to_vec(),
                Some(Precondition::if_exists(false)),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if e.is_precondition_failed() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The demo data of the embedded broker.
pub const DEMO_KEYS: &[(&str, &str)] = &[
    (
        "user:1",
        r#"{"name":"Ada","email":"ada@example.com","plan":"pro"}"#,
    ),
    (
        "user:2",
        r#"{"name":"Linus","email":"linus@example.com","plan":"free"}"#,
    ),
    ("session:abc", "logged-in"),
    (
        "config/feature-flags",
        r#"{"darkMode":true,"beta":["search","tui"],"limit":42}"#,
    ),
    ("counter", "7"),
];
