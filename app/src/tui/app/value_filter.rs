//! The `|` filter: a jq expression (compiled with jaq, see
//! [`ValueFilter`]) over the values of the shown range, after the server-side
//! range or prefix narrowing. It runs page by page in the background
//! ([`Request::Filter`]); the status line shows keys scanned and matches as it
//! goes, Esc cancels, and a bad expression is a status-line error with the
//! parser's message. The matches (at most [`MAX_MATCHES`]) replace the rows
//! until Esc brings the range back.

use std::sync::Arc;

use crate::client::{Error, ScanRange, ValueFilter};

use super::super::backend::{Request, Row};
use super::super::scan::{MAX_PAGES, PAGE_SIZE, ScanView, Source};
use super::{App, Focus};

/// Matches kept at most: the paging window's row budget.
pub const MAX_MATCHES: usize = MAX_PAGES * PAGE_SIZE;

/// What a running filter works on, to show its matches over.
#[derive(Clone, Debug)]
pub(crate) struct FilterRun {
    pub id: u64,
    pub expr: String,
    pub range: ScanRange,
    pub prefix: Option<Vec<u8>>,
    /// Keys scanned and matches so far.
    pub progress: Option<(u64, u64)>,
}

impl App {
    /// Submitting the `|` prompt: compiles, then starts the filter.
    pub(super) fn start_value_filter(&mut self, expr: &str) {
        if expr.is_empty() {
            return self.clear_value_filter();
        }
        let filter = match ValueFilter::new(expr) {
            Ok(f) => Arc::new(f),
            Err(e) => return self.error(e.to_string()),
        };
        let Some(s) = &self.scan else {
            return self.info("open a topic first");
        };
        // Over the range the view scans (a shown filter's, when one is shown).
        let (range, prefix) = match &self.filtering {
            Some(run) if s.value_filter.is_some() => (run.range.clone(), run.prefix.clone()),
            _ => (s.range.clone(), s.prefix.clone()),
        };
        let req = Request::Filter {
            topic: s.topic.clone(),
            partitions: s.partitions.clone(),
            range: range.clone(),
            filter,
            max: MAX_MATCHES,
        };
        if let Some(run) = self.filtering.take() {
            self.cancel(run.id);
        }
        self.stop_follow();
        let id = self.request(req);
        self.filtering = Some(FilterRun {
            id,
            expr: expr.to_owned(),
            range,
            prefix,
            progress: None,
        });
        self.message = None;
    }

    pub(super) fn on_filter_progress(&mut self, scanned: u64, matched: u64) {
        if let Some(run) = &mut self.filtering {
            run.progress = Some((scanned, matched));
        }
    }

    /// What the running filter has done, for the status line's spinner.
    pub fn filter_progress(&self) -> Option<String> {
        let run = self.filtering.as_ref()?;
        if !self.inflight.contains_key(&run.id) {
            return None;
        }
        Some(match run.progress {
            Some((scanned, matched)) => format!("| {scanned} keys scanned, {matched} matches"),
            None => "| filtering".to_owned(),
        })
    }

    pub(super) fn on_filtered(&mut self, result: Result<Vec<Row>, Error>) {
        let Some(run) = self.filtering.clone() else {
            return;
        };
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                self.filtering = None;
                return self.failed("filter", &e);
            }
        };
        let Some((topic, partitions, all)) = self
            .scan
            .as_ref()
            .map(|s| (s.topic.clone(), s.partitions.clone(), s.all))
        else {
            return;
        };
        let n = rows.len();
        let generation = self.next_generation();
        self.cancel_pages();
        let mut v = ScanView::with_rows(topic, partitions, all, rows, generation);
        v.range = run.range.clone();
        v.prefix = run.prefix.clone();
        v.value_filter = Some(run.expr.clone());
        self.scan = Some(v);
        self.focus = Focus::Scan;
        self.value_scroll = 0;
        let capped = if n >= MAX_MATCHES {
            format!(" (the first {MAX_MATCHES})")
        } else {
            String::new()
        };
        self.info(format!("filter {}: {n} matches{capped}", run.expr));
    }

    /// Another topic or range: a running filter is cancelled, a shown one forgotten.
    pub(super) fn drop_value_filter(&mut self) {
        if let Some(run) = self.filtering.take() {
            self.cancel(run.id);
        }
    }

    /// Esc on the matches (or an empty `|`): the range again, unfiltered.
    pub(super) fn clear_value_filter(&mut self) {
        let shown = self
            .scan
            .as_ref()
            .is_some_and(|s| s.value_filter.is_some() && s.source == Source::Keys);
        let Some(run) = self.filtering.take() else {
            return self.info("no value filter");
        };
        self.cancel(run.id);
        if shown {
            self.set_range(run.range, run.prefix);
        }
        self.info("value filter cleared");
    }
}
