//! Opening a topic and keeping its scan fed: App asks for the page the
//! cursor needs (see the paging rules in [`super::super::scan`]), reloads
//! after writes, and restarts for a new range or prefix filter.

use crate::client::ScanRange;

use super::super::backend::{Request, TopicRow};
use super::super::fmt::prefix_successor;
use super::super::scan::{ScanView, Source};
use super::{App, Focus};

impl App {
    pub(super) fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Opens a topic: one partition, or all partitions merged by key.
    pub fn open_topic(&mut self, topic: &TopicRow, partition: Option<i32>) {
        if topic.kvstore == Some(false) {
            self.error(format!(
                "{} is not a kvstore topic (redpanda.kvstore is off): nothing to scan",
                topic.name
            ));
            return;
        }
        let n = topic.partitions.unwrap_or(1).max(1);
        let (partitions, all) = match partition {
            Some(p) => (vec![p], false),
            None if n == 1 => (vec![0], false),
            None => ((0..n).collect(), true),
        };
        if let Some(i) = self.topics.iter().position(|t| t.name == topic.name) {
            self.topic_cursor = i;
        }
        self.partition_cursor = partition.map_or(0, |p| p as usize + 1);
        let generation = self.next_generation();
        self.cancel_pages();
        self.stop_follow();
        self.drop_value_filter();
        self.scan = Some(ScanView::new(
            topic.name.clone(),
            partitions,
            all,
            ScanRange::default(),
            generation,
        ));
        self.focus = Focus::Scan;
        self.value_scroll = 0;
        self.fetch_pages();
    }

    /// Asks for the page the cursor needs, if any.
    pub(super) fn fetch_pages(&mut self) {
        let Some(s) = &mut self.scan else { return };
        let Some((want, range, limit)) = s.wanted() else {
            return;
        };
        s.loading = Some(want);
        let req = Request::Page {
            generation: s.generation,
            page: want.page(),
            topic: s.topic.clone(),
            partitions: s.partitions.clone(),
            range,
            limit,
        };
        let id = self.request(req);
        self.page_requests.insert(id, want);
        self.follow_page_sent(id);
    }

    pub(super) fn after_cursor_move(&mut self) {
        let h = self.table_height;
        if let Some(s) = &mut self.scan {
            s.scroll_into_view(h);
        }
        self.fetch_pages();
    }

    pub(super) fn refresh(&mut self) {
        self.request(Request::Topics);
        self.reload_scan();
        self.info("refreshing");
    }

    pub(super) fn reload_scan(&mut self) {
        let generation = self.next_generation();
        self.cancel_pages();
        if let Some(s) = &mut self.scan {
            if s.source == Source::Keys {
                return;
            }
            s.reload(generation);
        }
        self.fetch_pages();
    }

    /// Shows the keys from `start` to `end` (each `None`: open).
    pub(super) fn set_range(&mut self, range: ScanRange, prefix: Option<Vec<u8>>) {
        let generation = self.next_generation();
        self.cancel_pages();
        self.drop_value_filter();
        let Some(s) = &mut self.scan else { return };
        s.source = Source::Scan;
        s.value_filter = None;
        s.range = range;
        s.prefix = prefix;
        s.restart(generation);
        self.focus = Focus::Scan;
        self.value_scroll = 0;
        self.refollow();
        self.fetch_pages();
    }

    pub(super) fn set_filter(&mut self, prefix: Vec<u8>) {
        if prefix.is_empty() {
            self.set_range(ScanRange::default(), None);
        } else {
            let range = ScanRange {
                start: Some(prefix.clone()),
                end: prefix_successor(&prefix),
            };
            self.set_range(range, Some(prefix));
        }
    }
}
