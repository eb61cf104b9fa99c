//! ScanView's paging rules (see the `scan` module doc), against an in-memory
//! key range that answers each page request as the broker's scan would, and
//! that changes between fetches.

use std::collections::BTreeMap;

use super::super::backend::{Page, Row};
use super::super::scan::{MAX_PAGES, PAGE_SIZE, REFETCH_LIMIT, ScanView};
use crate::client::ScanRange;

/// One partition's keys.
pub(super) type Db = BTreeMap<Vec<u8>, Vec<u8>>;

pub(super) fn k(i: usize) -> Vec<u8> {
    format!("key-{i:06}").into_bytes()
}

fn db(n: usize) -> Db {
    (0..n).map(|i| (k(i), b"v".to_vec())).collect()
}

/// What a scan of `range` answers: the first `limit` keys, and `more` when
/// it returned as many as asked (as the broker's scan does).
pub(super) fn serve(db: &Db, range: &ScanRange, limit: usize) -> Page {
    let rows: Vec<Row> = db
        .iter()
        .filter(|(key, _)| range.start.as_ref().is_none_or(|s| *key >= s))
        .filter(|(key, _)| range.end.as_ref().is_none_or(|e| *key < e))
        .take(limit)
        .map(|(key, value)| Row {
            partition: 0,
            key: key.clone(),
            value: value.clone(),
        })
        .collect();
    let more = rows.len() >= limit;
    Page { rows, more }
}

/// Fetches every page the view asks for, as the app does after each move.
pub(super) fn pump(v: &mut ScanView, db: &Db) {
    while let Some((want, range, limit)) = v.wanted() {
        v.loading = Some(want);
        let page = serve(db, &range, limit);
        v.accept(want, page);
        v.scroll_into_view(20);
        assert!(
            v.rows_in_memory() <= MAX_PAGES * REFETCH_LIMIT,
            "{} rows in memory",
            v.rows_in_memory()
        );
    }
}

fn key_at(v: &ScanView) -> Vec<u8> {
    v.current().expect("a row under the cursor").key.clone()
}

/// Moves by `step` until the cursor stops; returns the keys passed, the first
/// included.
fn walk(v: &mut ScanView, db: &Db, step: isize, limit: usize) -> Vec<Vec<u8>> {
    pump(v, db);
    let mut seen = vec![key_at(v)];
    while seen.len() < limit {
        let before = v.cursor;
        v.move_by(step);
        v.scroll_into_view(20);
        pump(v, db);
        if v.cursor == before {
            break;
        }
        seen.push(key_at(v));
    }
    seen
}

fn view() -> ScanView {
    ScanView::new("t".into(), vec![0], false, ScanRange::default(), 1)
}

fn strictly_increasing(keys: &[Vec<u8>]) -> bool {
    keys.windows(2).all(|w| w[0] < w[1])
}

#[test]
fn tui_scan_pages_follow_the_last_key_in_a_bounded_window() {
    let data = db(1234);
    let mut v = view();
    pump(&mut v, &data);
    assert_eq!(v.rows_in_memory(), PAGE_SIZE, "one page at first");
    let down = walk(&mut v, &data, 1, usize::MAX);
    let all: Vec<Vec<u8>> = data.keys().cloned().collect();
    assert_eq!(down, all, "every key once, in order");
    assert!(v.at_end());
    assert_eq!(v.known_rows(), 1234);
    assert!(v.rows_in_memory() <= MAX_PAGES * PAGE_SIZE);
    assert!(v.loaded().start > 0, "the first pages were dropped");
    // Back to the top: dropped pages are fetched again.
    let up = walk(&mut v, &data, -1, usize::MAX);
    assert_eq!(up, all.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(v.cursor, 0);
}

/// Walks down to row `at`, changes `data` with `change`, then walks back up
/// and down again: no row repeats, and every key that existed before and
/// after the change is passed both ways.
fn survives_change(at: usize, change: impl FnOnce(&mut Db)) -> (ScanView, Db) {
    let mut data = db(1500);
    let mut v = view();
    let first = walk(&mut v, &data, 1, at + 1);
    assert_eq!(first.len(), at + 1);
    let before = data.clone();
    change(&mut data);
    let survivors: Vec<Vec<u8>> = before
        .keys()
        .filter(|key| data.contains_key(*key))
        .cloned()
        .collect();
    let mut up = walk(&mut v, &data, -1, usize::MAX);
    assert_eq!(v.cursor, 0);
    up.reverse();
    assert!(strictly_increasing(&up), "a row repeated walking up");
    let down = walk(&mut v, &data, 1, usize::MAX);
    assert!(strictly_increasing(&down), "a row repeated walking down");
    // Walking up passes the rows up to where the walk down stopped; walking
    // down passes them all.
    for (walked, upto) in [(&up, k(at)), (&down, k(usize::MAX >> 1))] {
        let missing: Vec<_> = survivors
            .iter()
            .filter(|s| **s <= upto && walked.binary_search(s).is_err())
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .take(5)
            .collect();
        assert!(
            missing.is_empty(),
            "skipped rows that existed all along: {missing:?}"
        );
    }
    (v, data)
}

#[test]
fn tui_scan_rows_inserted_between_fetches_neither_repeat_nor_skip() {
    let (v, data) = survives_change(900, |d| {
        // Into dropped pages behind the window, and ahead of it.
        for i in [5usize, 150, 151, 299, 1100, 1499] {
            for j in 0..7 {
                d.insert(format!("key-{i:06}-{j}").into_bytes(), b"new".to_vec());
            }
        }
    });
    // What is fetched after the change is shown too.
    assert_eq!(v.known_rows(), data.len());
}

#[test]
fn tui_scan_rows_deleted_between_fetches_neither_repeat_nor_skip() {
    let (v, data) = survives_change(900, |d| {
        for i in (0..400).step_by(3).chain(1000..1100) {
            d.remove(&k(i));
        }
    });
    assert_eq!(v.known_rows(), data.len());
}

#[test]
fn tui_scan_more_inserted_than_a_refetch_holds_skips_nothing() {
    survives_change(900, |d| {
        // Far more than REFETCH_LIMIT rows into the range of page 1.
        for j in 0..(3 * REFETCH_LIMIT) {
            d.insert(format!("key-000150-{j:05}").into_bytes(), b"new".to_vec());
        }
    });
}

#[test]
fn tui_scan_refetch_keeps_the_cursor_on_its_row() {
    for inserted in [40, 3 * REFETCH_LIMIT] {
        let mut data = db(1500);
        let mut v = view();
        walk(&mut v, &data, 1, 800);
        // Up to the first loaded row, without fetching the page before.
        while v.cursor > v.loaded().start {
            v.move_by(-1);
        }
        let (on, at) = (key_at(&v), v.cursor);
        // Rows land in the page before the window, and one goes.
        let before = at - PAGE_SIZE / 2;
        for j in 0..inserted {
            data.insert(
                format!("key-{before:06}-{j:05}").into_bytes(),
                b"new".to_vec(),
            );
        }
        data.remove(&k(before - 1));
        pump(&mut v, &data);
        assert_eq!(key_at(&v), on, "the cursor's row stays under it");
        assert_eq!(
            v.cursor,
            at + inserted - 1,
            "its index moved with the rows before it"
        );
        let mut up = walk(&mut v, &data, -1, usize::MAX);
        up.reverse();
        assert_eq!(
            up,
            data.range(..=on.clone())
                .map(|(k, _)| k.clone())
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn tui_scan_refresh_keeps_the_cursor_on_its_key() {
    let mut data = db(1000);
    let mut v = view();
    walk(&mut v, &data, 1, 451);
    let on = key_at(&v);
    assert_eq!(on, k(450));
    data.insert(b"key-000449-new".to_vec(), b"new".to_vec());
    data.remove(&k(440));
    v.reload(2);
    // The old rows stay on screen until the fresh page arrives.
    assert!(v.stale);
    assert_eq!(key_at(&v), on);
    pump(&mut v, &data);
    assert!(!v.stale);
    assert_eq!(key_at(&v), on, "still on its key");
    // Its key deleted: the next key.
    data.remove(&k(450));
    v.reload(3);
    pump(&mut v, &data);
    assert_eq!(key_at(&v), k(451));
    // From here the walk is still sound both ways.
    let mut up = walk(&mut v, &data, -1, usize::MAX);
    up.reverse();
    assert!(strictly_increasing(&up));
    assert_eq!(up.first(), Some(&k(0)));
    let down = walk(&mut v, &data, 1, usize::MAX);
    assert_eq!(down, data.keys().cloned().collect::<Vec<_>>());
}

#[test]
fn tui_scan_failed_refresh_keeps_the_rows() {
    let data = db(300);
    let mut v = view();
    walk(&mut v, &data, 1, 120);
    let (rows, on) = (v.rows_in_memory(), key_at(&v));
    v.reload(2);
    // The fetch fails: the app clears `loading` and keeps the view.
    let (want, _, _) = v.wanted().expect("the reload asks for a page");
    v.loading = Some(want);
    v.loading = None;
    assert!(v.stale);
    assert_eq!((v.rows_in_memory(), key_at(&v)), (rows, on));
}
