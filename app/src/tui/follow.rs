//! Follow mode's state: the watch feeding the scan view (its request id), the
//! last changes for the changes popup, the change count of the footer, and
//! the rows marked for a moment after their value changed.
//!
//! Bounded: at most [`CHANGES_KEPT`] changes are kept, and a row is marked
//! only while it is in the loaded window, for [`FLASH`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::client::Change;

/// Changes the popup lists (the newest last).
pub const CHANGES_KEPT: usize = 200;
/// How long a changed row stays marked.
pub const FLASH: Duration = Duration::from_secs(2);

/// One change as the popup lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub change: Change,
    /// Whether it changed a row of the loaded window.
    pub shown: bool,
    pub at: Instant,
}

/// A follow mode in progress.
#[derive(Clone, Debug)]
pub struct Follow {
    /// The watch's request id (its replies carry it).
    pub id: u64,
    /// Partitions whose start offset is known.
    pub started: usize,
    /// Changes seen since follow mode started.
    pub count: u64,
    /// The last [`CHANGES_KEPT`] changes, oldest first.
    pub recent: VecDeque<Seen>,
    /// Rows marked since their value changed: (partition, key) -> when.
    flashes: HashMap<(i32, Vec<u8>), Instant>,
    /// The watch is retrying: why (shown in the footer).
    pub retrying: Option<String>,
    /// Page requests sent while following: id -> when.
    pub page_sent: BTreeMap<u64, Instant>,
}

impl Follow {
    pub fn new(id: u64) -> Self {
        Follow {
            id,
            started: 0,
            count: 0,
            recent: VecDeque::new(),
            flashes: HashMap::new(),
            retrying: None,
            page_sent: BTreeMap::new(),
        }
    }

    /// Records a change; `shown` when it changed a row of the window (then a
    /// put marks the row).
    pub fn record(&mut self, change: Change, shown: bool, now: Instant) {
        self.count += 1;
        let id = (change.partition, change.key.clone());
        if shown && change.value.is_some() {
            self.flashes.insert(id, now);
        } else {
            self.flashes.remove(&id);
        }
        self.recent.push_back(Seen {
            change,
            shown,
            at: now,
        });
        while self.recent.len() > CHANGES_KEPT {
            self.recent.pop_front();
        }
    }

    /// Whether the row is marked at `now`.
    pub fn flashing(&self, partition: i32, key: &[u8], now: Instant) -> bool {
        self.flashes
            .get(&(partition, key.to_vec()))
            .is_some_and(|t| now.duration_since(*t) < FLASH)
    }

    /// True while some row is marked.
    pub fn marking(&self) -> bool {
        !self.flashes.is_empty()
    }

    /// Forgets marks older than [`FLASH`]; true while some remain (the loop
    /// keeps ticking to take them off).
    pub fn prune(&mut self, now: Instant) -> bool {
        self.flashes.retain(|_, t| now.duration_since(*t) < FLASH);
        !self.flashes.is_empty()
    }

    /// Changes received since `since` (re-applied over a page that was being
    /// fetched while they came, so the page does not undo them).
    pub fn since(&self, since: Instant) -> impl Iterator<Item = &Change> {
        self.recent
            .iter()
            .filter(move |s| s.at >= since)
            .map(|s| &s.change)
    }
}
