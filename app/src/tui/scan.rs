//! The scan table's data: a bounded window of pages over a key range that may
//! hold millions of keys. Pages are fetched on demand (the next page starts
//! right after the last key); only [`MAX_PAGES`] pages are kept, and the start
//! key of every page seen is remembered so scrolling back re-fetches it.

use std::collections::{BTreeMap, VecDeque};

use crate::client::{ScanRange, key_after};

use super::backend::{Page, Row};

/// Rows per page (one scan request per partition).
pub const PAGE_SIZE: usize = 100;
/// Pages kept in memory at most.
pub const MAX_PAGES: usize = 6;

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
    }

    /// Fetches the first loaded page again, keeping the position (after a
    /// write, or `r`). The rows shown stay until the fresh page replaces them
    /// (see [`ScanView::accept`]), so a failed reload clears nothing.
    pub fn reload(&mut self, generation: u64) {
        if self.source == Source::Keys {
            return;
        }
        self.loading = None;
        self.generation = generation;
        if self.pages.is_empty() {
            self.forget_after_first_page();
        } else {
            self.stale = true;
        }
    }

    /// Forgets every page from the first loaded one on.
    fn forget_after_first_page(&mut self) {
        self.page_starts.truncate(self.first_page + 1);
        self.page_offsets.truncate(self.first_page + 1);
        self.pages.clear();
        self.more = true;
        self.stale = false;
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

    /// Which page to fetch next, given the cursor (none while one is loading).
    pub fn wanted(&self) -> Option<(Want, ScanRange)> {
        if self.source == Source::Keys || self.loading.is_some() {
            return None;
        }
        let loaded = self.loaded();
        let last_page = self.first_page + self.pages.len();
        if self.pages.is_empty() || self.stale {
            let start = self.page_starts.get(self.first_page).cloned()?;
            return Some((Want::Next(self.first_page), self.range_from(start)));
        }
        let margin = PAGE_SIZE / 2;
        if self.cursor + margin >= loaded.end && !self.at_end() {
            let start = self.page_starts.get(last_page).cloned()?;
            return Some((Want::Next(last_page), self.range_from(start)));
        }
        if self.first_page > 0 && self.cursor < loaded.start + margin {
            let p = self.first_page - 1;
            let start = self.page_starts.get(p).cloned()?;
            return Some((Want::Prev(p), self.range_from(start)));
        }
        None
    }

    fn range_from(&self, start: Option<Vec<u8>>) -> ScanRange {
        ScanRange {
            start,
            end: self.range.end.clone(),
        }
    }

    /// Takes a fetched page.
    pub fn accept(&mut self, want: Want, page: Page) {
        self.loading = None;
        match want {
            Want::Next(p) => {
                if self.stale && p == self.first_page {
                    // The reload's first page: now the old rows go.
                    self.forget_after_first_page();
                }
                if p != self.first_page + self.pages.len() {
                    return;
                }
                let n = page.rows.len();
                if p + 1 >= self.page_offsets.len() {
                    let base = self.page_offsets[p];
                    self.page_offsets.push(base + n);
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
                self.pages.push_back(page.rows);
                while self.pages.len() > MAX_PAGES {
                    self.pages.pop_front();
                    self.first_page += 1;
                }
            }
            Want::Prev(p) => {
                if p + 1 != self.first_page {
                    return;
                }
                let mut rows = page.rows;
                let expect = self.page_offsets[p + 1] - self.page_offsets[p];
                rows.truncate(expect);
                self.pages.push_front(rows);
                self.first_page = p;
                while self.pages.len() > MAX_PAGES {
                    self.pages.pop_back();
                }
            }
        }
        let l = self.loaded();
        if !l.is_empty() {
            self.cursor = self.cursor.clamp(l.start, l.end - 1);
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
