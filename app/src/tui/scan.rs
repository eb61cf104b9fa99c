//! The scan table's data: a bounded window of pages over a key range that may
//! hold millions of keys, fetched on demand while the cursor moves.
//!
//! Paging rules:
//! - **A new page starts right after the last key of the page before it**
//!   (`key_after(last)`); the first page starts at the range start. In the
//!   merged view a page keeps every partition's rows of its last key, so no
//!   key is split across pages. The start key and the first row's absolute
//!   index of every page seen are remembered.
//! - **Bounded window**: at most [`MAX_PAGES`] pages are kept; moving past
//!   either end drops pages at the other. A page is fetched when the cursor
//!   comes within half a page of the loaded edge.
//! - **A page seen before is fetched again over its own key range**, from its
//!   start up to (not including) the next page's start, with room for
//!   [`REFETCH_LIMIT`] rows. So rows inserted or deleted meanwhile show up or
//!   go, and no row repeats or is skipped at a page boundary: a row that
//!   existed at both fetches is in exactly one page. When the page's row
//!   count changed, the absolute indices after it shift, and so do the
//!   cursor and the viewport, which stay on the row they were on. If more
//!   rows than a refetch holds landed in the range, the page splits: after
//!   the window, what is known ends after the rows that came (the next page
//!   starts after their last key); before the window, a new page is put
//!   between those rows and the window, and fetched next.
//! - **Refresh** ([`ScanView::reload`], after a write or `r`) fetches the page
//!   holding the cursor again; the rows shown stay until it arrives (and stay,
//!   marked stale, when it fails). Then the window is that page alone, what
//!   was known after it is forgotten, and the cursor stays on its key, or
//!   the next one when its key was deleted.

mod live;

use std::collections::{BTreeMap, VecDeque};

use crate::client::{ScanRange, key_after};

use super::backend::{Page, Row};

pub use live::Applied;

/// Rows per page (one scan request per partition).
pub const PAGE_SIZE: usize = 100;
/// Pages kept in memory at most.
pub const MAX_PAGES: usize = 6;
/// Rows a page seen before may come back with (its range may have grown).
pub const REFETCH_LIMIT: usize = 2 * PAGE_SIZE;

/// Where the rows come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A range scan, paged.
    Scan,
    /// The results of `:get K...` (no paging).
    Keys,
}

/// A direction to load a page in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    Next(usize),
    Prev(usize),
}

impl Want {
    /// The page index.
    pub fn page(self) -> usize {
        match self {
            Want::Next(p) | Want::Prev(p) => p,
        }
    }
}

/// The table's state for one topic view.
#[derive(Clone, Debug)]
pub struct ScanView {
    pub topic: String,
    /// Partitions merged in this view (one, or all).
    pub partitions: Vec<i32>,
    pub all: bool,
    pub range: ScanRange,
    /// The `/` prefix, when filtering.
    pub prefix: Option<Vec<u8>>,
    pub source: Source,
    /// Start key of page i (index 0 = the range start).
    page_starts: Vec<Option<Vec<u8>>>,
    /// Absolute index of the first row of page i; one more entry than pages known.
    page_offsets: Vec<usize>,
    /// Whether a page after the last known one exists (None = not asked yet).
    more: bool,
    /// Loaded pages, contiguous from `first_page`.
    pages: VecDeque<Vec<Row>>,
    first_page: usize,
    /// The page being fetched, if any.
    pub loading: Option<Want>,
    /// Absolute row index of the cursor.
    pub cursor: usize,
    /// Absolute row index of the first visible row.
    pub offset: usize,
    /// Rows marked for a batch delete: (partition, key) -> SHA-256 of the value read.
    pub marked: BTreeMap<(i32, Vec<u8>), String>,
    /// Bumped whenever the rows are thrown away, to ignore stale pages.
    pub generation: u64,
    /// Set by [`ScanView::reload`] until the first fresh page arrives: the old
    /// rows stay on screen meanwhile, and stay when the reload fails (the
    /// broker went away), until a later reload succeeds.
    pub stale: bool,
    /// The page a reload fetches (the one holding the cursor).
    reload_page: usize,
    /// The `|` jq expression whose matches are shown (then the rows are fixed).
    pub value_filter: Option<String>,
}

impl ScanView {
    pub fn new(
        topic: String,
        partitions: Vec<i32>,
        all: bool,
        range: ScanRange,
        generation: u64,
    ) -> Self {
        ScanView {
            topic,
            partitions,
            all,
            page_starts: vec![range.start.clone()],
            page_offsets: vec![0],
            range,
            prefix: None,
            source: Source::Scan,
            more: true,
            pages: VecDeque::new(),
            first_page: 0,
            loading: None,
            cursor: 0,
            offset: 0,
            marked: BTreeMap::new(),
            generation,
            stale: false,
            reload_page: 0,
            value_filter: None,
        }
    }

    /// A view of fixed rows (`:get`).
    pub fn with_rows(
        topic: String,
        partitions: Vec<i32>,
        all: bool,
        rows: Vec<Row>,
        generation: u64,
    ) -> Self {
        let mut v = ScanView::new(topic, partitions, all, ScanRange::default(), generation);
        v.source = Source::Keys;
        v.more = false;
        v.page_offsets.push(rows.len());
        v.pages.push_back(rows);
        v
    }

    /// Forgets every row and starts again at the range start.
    pub fn restart(&mut self, generation: u64) {
        self.page_starts = vec![self.range.start.clone()];
        self.page_offsets = vec![0];
        self.more = true;
        self.pages.clear();
        self.first_page = 0;
        self.loading = None;
        self.cursor = 0;
        self.offset = 0;
        self.marked.clear();
        self.generation = generation;
        self.stale = false;
        self.reload_page = 0;
    }

    /// Fetches the page holding the cursor again, keeping the position
    /// (after a write, or `r`). The rows shown stay until the fresh page
    /// replaces them (see [`ScanView::accept`]), so a failed reload clears
    /// nothing.
    pub fn reload(&mut self, generation: u64) {
        if self.source == Source::Keys {
            return;
        }
        self.loading = None;
        self.generation = generation;
        if self.pages.is_empty() {
            self.forget_from(self.first_page);
        } else {
            self.reload_page = self.page_of(self.cursor);
            self.stale = true;
        }
    }

    /// The loaded page holding absolute row `abs` (the last one past the end).
    fn page_of(&self, abs: usize) -> usize {
        let mut end = self.loaded().start;
        for (i, p) in self.pages.iter().enumerate() {
            end += p.len();
            if abs < end {
                return self.first_page + i;
            }
        }
        (self.first_page + self.pages.len()).saturating_sub(1)
    }

    /// Unloads every page and forgets what was known from page `p` on, but
    /// its start: the window starts again at `p`.
    fn forget_from(&mut self, p: usize) {
        self.page_starts.truncate(p + 1);
        self.page_offsets.truncate(p + 1);
        self.pages.clear();
        self.first_page = p;
        self.more = true;
        self.stale = false;
    }

    /// The partition of a one-partition view; `None` for the merged view,
    /// where a key's partition is looked up ([`crate::client::Client::locate`]).
    pub fn fixed_partition(&self) -> Option<i32> {
        if self.all {
            None
        } else {
            self.partitions.first().copied()
        }
    }

    /// The first loaded row at or after `(key, partition)` (rows are sorted
    /// by key, then partition).
    fn find(&self, key: &[u8], partition: i32) -> Option<usize> {
        let l = self.loaded();
        l.clone().find(|&i| {
            self.row(i)
                .is_some_and(|r| (r.key.as_slice(), r.partition) >= (key, partition))
        })
    }

    /// Rows known so far (loaded or seen).
    pub fn known_rows(&self) -> usize {
        *self.page_offsets.last().unwrap_or(&0)
    }

    /// Absolute index range of the loaded rows.
    pub fn loaded(&self) -> std::ops::Range<usize> {
        let start = self.page_offsets.get(self.first_page).copied().unwrap_or(0);
        let len: usize = self.pages.iter().map(Vec::len).sum();
        start..start + len
    }

    /// Rows kept in memory.
    pub fn rows_in_memory(&self) -> usize {
        self.pages.iter().map(Vec::len).sum()
    }

    /// True when no page after the loaded ones exists.
    pub fn at_end(&self) -> bool {
        !self.more && self.first_page + self.pages.len() >= self.page_offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.pages.iter().all(Vec::is_empty) && self.at_end()
    }

    /// The row at an absolute index, if loaded.
    pub fn row(&self, abs: usize) -> Option<&Row> {
        let loaded = self.loaded();
        if !loaded.contains(&abs) {
            return None;
        }
        let mut i = abs - loaded.start;
        for p in &self.pages {
            if i < p.len() {
                return p.get(i);
            }
            i -= p.len();
        }
        None
    }

    pub fn current(&self) -> Option<&Row> {
        self.row(self.cursor)
    }

    /// Moves the cursor by `delta` within the loaded rows.
    pub fn move_by(&mut self, delta: isize) {
        let loaded = self.loaded();
        if loaded.is_empty() {
            return;
        }
        let target = self.cursor as isize + delta;
        let lo = loaded.start as isize;
        let hi = loaded.end as isize - 1;
        self.cursor = target.clamp(lo, hi) as usize;
    }

    pub fn to_top(&mut self) {
        if self.first_page == 0 {
            self.cursor = 0;
        } else {
            self.cursor = self.loaded().start;
        }
    }

    pub fn to_bottom(&mut self) {
        let l = self.loaded();
        if !l.is_empty() {
            self.cursor = l.end - 1;
        }
    }

    /// Which page to fetch next, given the cursor (none while one is
    /// loading): the page, its key range, and how many rows to ask for.
    pub fn wanted(&self) -> Option<(Want, ScanRange, usize)> {
        if self.source == Source::Keys || self.loading.is_some() {
            return None;
        }
        if self.stale {
            let p = self.reload_page;
            let start = self.page_starts.get(p).cloned()?;
            return Some((Want::Next(p), self.range_from(start, None), PAGE_SIZE));
        }
        if self.pages.is_empty() {
            return self.fetch(Want::Next(self.first_page));
        }
        let loaded = self.loaded();
        let margin = PAGE_SIZE / 2;
        if self.cursor + margin >= loaded.end && !self.at_end() {
            return self.fetch(Want::Next(self.first_page + self.pages.len()));
        }
        if self.first_page > 0 && self.cursor < loaded.start + margin {
            return self.fetch(Want::Prev(self.first_page - 1));
        }
        None
    }

    /// How to fetch a page: a new one from its start to the range end, one
    /// seen before over its own key range (up to the next page's start).
    fn fetch(&self, want: Want) -> Option<(Want, ScanRange, usize)> {
        let p = want.page();
        let start = self.page_starts.get(p).cloned()?;
        if self.seen(p) {
            let end = self.page_starts.get(p + 1).cloned().flatten();
            Some((want, self.range_from(start, end), REFETCH_LIMIT))
        } else {
            Some((want, self.range_from(start, None), PAGE_SIZE))
        }
    }

    /// True when page `p` was fetched before (its row count is known).
    fn seen(&self, p: usize) -> bool {
        p + 1 < self.page_offsets.len()
    }

    /// `[start, end)`, with `end` capped by the view's range end.
    fn range_from(&self, start: Option<Vec<u8>>, end: Option<Vec<u8>>) -> ScanRange {
        ScanRange {
            start,
            end: end.or_else(|| self.range.end.clone()),
        }
    }

    /// Takes a fetched page.
    pub fn accept(&mut self, want: Want, page: Page) {
        self.loading = None;
        let p = want.page();
        let mut anchor = None;
        match want {
            Want::Next(_) => {
                if self.stale && p == self.reload_page {
                    // The reload's page: now the old rows go; the cursor
                    // stays on its row's key.
                    anchor = self.current().map(|r| (r.key.clone(), r.partition));
                    self.forget_from(p);
                }
                if p != self.first_page + self.pages.len() {
                    return;
                }
                self.refetched(p, &page);
                self.learn(p, &page);
                self.pages.push_back(page.rows);
                while self.pages.len() > MAX_PAGES {
                    self.pages.pop_front();
                    self.first_page += 1;
                }
            }
            Want::Prev(_) => {
                if p + 1 != self.first_page {
                    return;
                }
                if self.seen(p) && page.more && !page.rows.is_empty() {
                    self.split_before_window(p, &page);
                    return;
                }
                self.refetched(p, &page);
                self.learn(p, &page);
                self.pages.push_front(page.rows);
                self.first_page = p;
                while self.pages.len() > MAX_PAGES {
                    self.pages.pop_back();
                }
            }
        }
        let l = self.loaded();
        if let Some((key, partition)) = anchor {
            self.cursor = self
                .find(&key, partition)
                .unwrap_or(l.end.saturating_sub(1));
        }
        if !l.is_empty() {
            self.cursor = self.cursor.clamp(l.start, l.end - 1);
        }
    }

    /// A page seen before came back: shifts what follows by its change in
    /// row count, or, when it overflowed (more rows in its range than it
    /// holds; only after the window), forgets what was known after it, so
    /// the next page starts after its last key.
    fn refetched(&mut self, p: usize, page: &Page) {
        if !self.seen(p) {
            return;
        }
        if page.more && !page.rows.is_empty() {
            self.page_starts.truncate(p + 1);
            self.page_offsets.truncate(p + 1);
            return;
        }
        let delta =
            page.rows.len() as isize - (self.page_offsets[p + 1] - self.page_offsets[p]) as isize;
        self.shift_from(p + 1, delta);
    }

    /// Shifts the indices from page `p` on (and the cursor and viewport when
    /// they are there) by `delta` rows.
    fn shift_from(&mut self, p: usize, delta: isize) {
        let at = self.page_offsets[p];
        for o in &mut self.page_offsets[p..] {
            *o = o.saturating_add_signed(delta);
        }
        for x in [&mut self.cursor, &mut self.offset] {
            if *x >= at {
                *x = x.saturating_add_signed(delta);
            }
        }
    }

    /// The page before the window overflowed: its range now holds more rows
    /// than one fetch. It keeps its first page's worth (cut where the key
    /// changes); a new page, empty so far, is put between it and the window,
    /// starting after the last key kept, and is fetched next. (The rows are
    /// not loaded: they do not reach the window.)
    fn split_before_window(&mut self, p: usize, page: &Page) {
        let rows = &page.rows;
        let cut = if rows.len() <= PAGE_SIZE {
            rows.len()
        } else {
            let last = &rows[PAGE_SIZE - 1].key;
            PAGE_SIZE
                + rows[PAGE_SIZE..]
                    .iter()
                    .take_while(|r| r.key == *last)
                    .count()
        };
        let Some(last) = rows.get(cut.wrapping_sub(1)) else {
            return;
        };
        let start = self.page_offsets[p] + cut;
        let delta = start as isize - self.page_offsets[p + 1] as isize;
        self.shift_from(p + 1, delta);
        self.page_starts.insert(p + 1, Some(key_after(&last.key)));
        self.page_offsets.insert(p + 1, start);
        self.first_page += 1;
    }

    /// Records a new page's row count and where the one after it starts.
    fn learn(&mut self, p: usize, page: &Page) {
        if self.seen(p) {
            return;
        }
        let base = self.page_offsets[p];
        self.page_offsets.push(base + page.rows.len());
        let next = if page.more {
            page.rows.last().map(|r| Some(key_after(&r.key)))
        } else {
            None
        };
        match next {
            Some(start) => {
                self.page_starts.push(start);
                self.more = true;
            }
            None => self.more = false,
        }
    }

    /// Keeps the cursor visible in a viewport of `height` rows.
    pub fn scroll_into_view(&mut self, height: usize) {
        let height = height.max(1);
        if self.cursor < self.offset {
            self.offset = self.cursor;
        } else if self.cursor >= self.offset + height {
            self.offset = self.cursor + 1 - height;
        }
        let l = self.loaded();
        if self.offset < l.start {
            self.offset = l.start;
        }
    }
}
