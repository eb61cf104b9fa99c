//! Network work for the TUI. Every request runs in its own tokio task over the
//! shared [`Client`] and reports back over a channel; the UI loop never awaits
//! the network. Each task can be aborted (Esc cancels).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "dev")]
use tokio::sync::mpsc;

use crate::client::{
    Client, Error, Located, Lookup, Precondition, ScanRange, ValueFilter, WatchEvent, WatchOptions,
    WriteRequest,
};

// The TUI's names for the library's types (the operations are the library's).
pub use crate::client::{
    HISTORY_RECORD_CAP, HISTORY_VERSION_CAP, KeyHistory as History, KeyVersion as Version,
    MergedPage as Page, PartitionEntry as Row, TopicListing as TopicRow,
    cas_precondition as precondition_for,
};

/// How long the topics pane waits for Kafka before asking the HTTP Proxy.
const KAFKA_WAIT: Duration = Duration::from_secs(5);

/// Why a batch get was made, so the reply goes to the right place.
#[derive(Clone, Debug)]
pub enum GetPurpose {
    /// `:get K...` results for the table.
    Lookup,
    /// The current value after a 409, for the conflict view.
    Conflict(Box<super::app::Pending>),
}

/// Why keys are looked up in every partition of a merged view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocatePurpose {
    /// `:get K...`: every copy, for the table.
    Lookup,
    /// `n`: where the new key goes (or that it exists already).
    NewKey,
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
    /// Where keys live, asking every partition ([`Client::locate`]).
    Locate {
        topic: String,
        /// Every partition of the topic.
        partitions: Vec<i32>,
        keys: Vec<Vec<u8>>,
        purpose: LocatePurpose,
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
    /// The groups view's work (see `super::groups`).
    Groups(super::groups::GroupsRequest),
    /// Follow mode: a watch of these partitions and range from now on. It
    /// replies many times ([`Reply::Follow`]) until it is cancelled.
    Follow {
        topic: String,
        partitions: Vec<i32>,
        range: ScanRange,
    },
    /// The `|` filter: the first `max` entries of the range whose value
    /// matches, read page by page; replies [`Reply::FilterProgress`] after
    /// each page, then [`Reply::Filtered`].
    Filter {
        topic: String,
        partitions: Vec<i32>,
        range: ScanRange,
        filter: Arc<ValueFilter>,
        max: usize,
    },
}

impl Request {
    /// A short label for the status line while it runs.
    pub fn label(&self) -> &'static str {
        match self {
            Request::Ready => "connecting",
            Request::Topics => "listing topics",
            Request::Page { .. } => "scanning",
            Request::Get { .. } | Request::Locate { .. } => "reading",
            Request::Write { .. } => "writing",
            Request::History { .. } => "reading the log",
            Request::Export { .. } => "exporting",
            Request::Groups(g) => g.label(),
            Request::Follow { .. } => "following",
            Request::Filter { .. } => "filtering",
        }
    }
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
    Located {
        purpose: LocatePurpose,
        result: Result<Vec<Located>, Error>,
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
    Groups(super::groups::GroupsReply),
    /// One event of follow mode's watch; an `Err` ends it.
    Follow(Result<WatchEvent, Error>),
    /// The `|` filter read another page.
    FilterProgress {
        scanned: u64,
        matched: u64,
    },
    /// The `|` filter's matches.
    Filtered(Result<Vec<Row>, Error>),
}

impl Reply {
    /// True for replies of a request that keeps replying (follow mode):
    /// its task runs on after one.
    pub fn is_stream(&self) -> bool {
        matches!(self, Reply::Follow(Ok(_)) | Reply::FilterProgress { .. })
    }
}

/// A finished request with the id it was spawned under.
#[derive(Debug)]
pub struct Response {
    pub id: u64,
    pub reply: Reply,
}

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
            result: client
                .scan_merged_page(&topic, &partitions, &range, limit)
                .await
                .map_err(|e| e.source),
        },
        Request::Get {
            topic,
            keys,
            purpose,
        } => Reply::Got {
            purpose,
            result: client.get_many(&topic, keys).await.map_err(|e| e.source),
        },
        Request::Locate {
            topic,
            partitions,
            keys,
            purpose,
        } => Reply::Located {
            purpose,
            result: client
                .locate_in(&topic, &partitions, &keys, client.partitioner())
                .await
                .map_err(|e| e.source),
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
            let result = client.key_history(&topic, partition, &key).await;
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
        Request::Groups(g) => Reply::Groups(super::groups::run(&client, g).await),
        Request::Follow { .. } => Reply::Follow(Err(Error::InvalidInput(
            "follow mode runs as a stream (see follow)".to_owned(),
        ))),
        Request::Filter {
            topic,
            partitions,
            range,
            filter,
            max,
        } => Reply::Filtered(
            client
                .scan_matching(&topic, &partitions, &range, &filter, max, |_, _| {})
                .await
                .map_err(|e| e.source),
        ),
    }
}

/// The `|` filter, with a [`Reply::FilterProgress`] to `send` after each page.
pub(super) async fn filter(
    client: Client,
    req: Request,
    send: impl Fn(Reply) -> bool,
) -> Option<Reply> {
    let Request::Filter {
        topic,
        partitions,
        range,
        filter,
        max,
    } = req
    else {
        return None;
    };
    let result = client
        .scan_matching(
            &topic,
            &partitions,
            &range,
            &filter,
            max,
            |scanned, matched| {
                send(Reply::FilterProgress { scanned, matched });
            },
        )
        .await
        .map_err(|e| e.source);
    Some(Reply::Filtered(result))
}

/// Follow mode's watch: every event of [`Client::watch`] goes to `send`
/// (which returns false once nobody listens), each after taking one of
/// `credits`; the error that ends it is the last event.
pub(super) async fn follow(
    client: Client,
    topic: String,
    partitions: Vec<i32>,
    range: ScanRange,
    credits: Arc<tokio::sync::Semaphore>,
    send: impl Fn(Reply) -> bool,
) {
    let opts = WatchOptions {
        partitions,
        range,
        ..WatchOptions::default()
    };
    let mut watch = match client.watch(&topic, opts).await {
        Ok(w) => w,
        Err(e) => {
            send(Reply::Follow(Err(e)));
            return;
        }
    };
    loop {
        match watch.next().await {
            Some(Ok(ev)) => {
                // One credit per event: the loop gives it back once it took it.
                match credits.acquire().await {
                    Ok(permit) => permit.forget(),
                    Err(_) => return,
                }
                if !send(Reply::Follow(Ok(ev))) {
                    return;
                }
            }
            Some(Err(e)) => {
                send(Reply::Follow(Err(e)));
                return;
            }
            None => {
                send(Reply::Follow(Err(Error::InvalidInput(
                    "the watch stopped".to_owned(),
                ))));
                return;
            }
        }
    }
}

/// Topics with partition counts and the kvstore flag: from Kafka when it
/// answers within 5 s, else from the HTTP Proxy ([`Client::topic_listing`]).
pub async fn topics(client: &Client) -> Result<Vec<TopicRow>, Error> {
    client.topic_listing(KAFKA_WAIT).await
}

/// Writes every entry of the range as `rpkv kv export` does (the same JSON
/// lines, partition after partition), to a new file at `path`.
async fn export(
    client: &Client,
    topic: &str,
    partitions: &[i32],
    range: &ScanRange,
    path: PathBuf,
) -> Result<(PathBuf, usize), String> {
    let file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = tokio::io::BufWriter::new(file);
    match client.export(topic, partitions, range, &mut out).await {
        Ok(n) => Ok((path, n)),
        Err(e) => Err(with_causes(&e)),
    }
}

/// An error with its causes, `a: b: c`.
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
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
