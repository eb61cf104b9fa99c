//! Follow mode's edits of the loaded window: one change of one key applied in
//! place, under the paging rules of [`super`].
//!
//! - A change lands only in the loaded page whose key range holds its key
//!   (`[start of page p, start of page p+1)`); a change anywhere else (before
//!   or after the window, another partition, outside the range or prefix)
//!   changes nothing, so the window never grows from changes it does not show.
//!   A page seen before but not loaded learns its new row count when it is
//!   fetched again, as after any write.
//! - An insert or a delete shifts the absolute indices after it, and the
//!   cursor and the viewport when they are after it, so both stay on their
//!   row. When the cursor's own row is deleted it moves to the next one.
//! - A page that grew past [`REFETCH_LIMIT`] rows is split in two where the
//!   key changes after [`PAGE_SIZE`] rows; when the window then holds more
//!   than [`MAX_PAGES`] pages, the one at the end far from the cursor goes.

use crate::client::key_after;

use super::super::backend::Row;
use super::{MAX_PAGES, PAGE_SIZE, REFETCH_LIMIT, ScanView, Source};

/// What a change did to the window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Not in the loaded window (or not in this view): nothing changed.
    Outside,
    /// A shown row's value changed.
    Updated,
    /// A new row.
    Inserted,
    /// A shown row went.
    Removed,
}

impl ScanView {
    /// True when `key` of `partition` belongs in this view (partition, range
    /// and prefix), loaded or not.
    pub fn covers(&self, partition: i32, key: &[u8]) -> bool {
        self.source == Source::Scan
            && self.partitions.contains(&partition)
            && self.range.start.as_deref().is_none_or(|s| key >= s)
            && self.range.end.as_deref().is_none_or(|e| key < e)
            && self.prefix.as_deref().is_none_or(|p| key.starts_with(p))
    }

    /// The absolute index of the loaded row of `key` in `partition`.
    pub fn position(&self, partition: i32, key: &[u8]) -> Option<usize> {
        self.find(key, partition).filter(|&i| {
            self.row(i)
                .is_some_and(|r| r.key == key && r.partition == partition)
        })
    }

    /// Applies a put (`value` is `Some`) or a delete of `key` in `partition`.
    pub fn apply_change(&mut self, partition: i32, key: &[u8], value: Option<&[u8]>) -> Applied {
        if !self.covers(partition, key) || self.pages.is_empty() {
            return Applied::Outside;
        }
        let Some(i) = self.loaded_page_for(key) else {
            return Applied::Outside;
        };
        let p = self.first_page + i;
        let rows = &mut self.pages[i];
        let found =
            rows.binary_search_by(|r| (r.key.as_slice(), r.partition).cmp(&(key, partition)));
        let abs = self.page_offsets[p] + found.unwrap_or_else(|x| x);
        let applied = match (found, value) {
            (Ok(at), Some(v)) => {
                rows[at].value = v.to_vec();
                return Applied::Updated;
            }
            (Err(_), None) => return Applied::Outside,
            (Err(at), Some(v)) => {
                rows.insert(
                    at,
                    Row {
                        partition,
                        key: key.to_vec(),
                        value: v.to_vec(),
                    },
                );
                for o in &mut self.page_offsets[p + 1..] {
                    *o += 1;
                }
                if self.cursor >= abs {
                    self.cursor += 1;
                }
                if self.offset > abs {
                    self.offset += 1;
                }
                Applied::Inserted
            }
            (Ok(at), None) => {
                rows.remove(at);
                self.marked.remove(&(partition, key.to_vec()));
                for o in &mut self.page_offsets[p + 1..] {
                    *o = o.saturating_sub(1);
                }
                if self.cursor > abs {
                    self.cursor -= 1;
                }
                if self.offset > abs {
                    self.offset -= 1;
                }
                Applied::Removed
            }
        };
        if self.pages[i].len() > REFETCH_LIMIT {
            self.split_loaded(i);
        }
        let l = self.loaded();
        if !l.is_empty() {
            self.cursor = self.cursor.clamp(l.start, l.end - 1);
        }
        applied
    }

    /// The index in `pages` of the loaded page whose key range holds `key`.
    fn loaded_page_for(&self, key: &[u8]) -> Option<usize> {
        (0..self.pages.len()).find(|&i| {
            let p = self.first_page + i;
            let after_start = match self.page_starts.get(p) {
                Some(Some(s)) => key >= s.as_slice(),
                Some(None) => true,
                None => false,
            };
            // The next page's start, if a next page is known; else the last
            // loaded page runs to the range end (when nothing follows it) or
            // to its last row (when more rows follow that are not known yet).
            let before_end = match self.page_starts.get(p + 1) {
                Some(Some(e)) => key < e.as_slice(),
                Some(None) => true,
                None if !self.more => true,
                None => self.pages[i]
                    .last()
                    .is_some_and(|r| key <= r.key.as_slice()),
            };
            after_start && before_end
        })
    }

    /// Splits the loaded page `i` (grown past [`REFETCH_LIMIT`]) after
    /// [`PAGE_SIZE`] rows, where the key changes, and keeps the window at
    /// [`MAX_PAGES`] pages.
    fn split_loaded(&mut self, i: usize) {
        let p = self.first_page + i;
        let rows = &self.pages[i];
        let last = rows[PAGE_SIZE - 1].key.clone();
        let cut = PAGE_SIZE
            + rows[PAGE_SIZE..]
                .iter()
                .take_while(|r| r.key == last)
                .count();
        if cut >= rows.len() {
            return;
        }
        let tail = self.pages[i].split_off(cut);
        self.page_starts.insert(p + 1, Some(key_after(&last)));
        self.page_offsets.insert(p + 1, self.page_offsets[p] + cut);
        self.pages.insert(i + 1, tail);
        if self.reload_page > p {
            self.reload_page += 1;
        }
        if self.pages.len() > MAX_PAGES {
            let l = self.loaded();
            if self.cursor - l.start < l.end - self.cursor {
                self.pages.pop_back();
            } else {
                self.pages.pop_front();
                self.first_page += 1;
            }
        }
    }
}
