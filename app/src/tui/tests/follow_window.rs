//! Follow mode's edits of the loaded window ([`ScanView::apply_change`]),
//! without a broker: the cursor stays on its key while rows come and go
//! above it, changes outside the window change nothing, and the window keeps
//! its size limits however many keys land in it.

use super::super::scan::{Applied, MAX_PAGES, REFETCH_LIMIT, ScanView};
use super::scan_view::{Db, k, pump};
use crate::client::ScanRange;

fn key_at(v: &ScanView) -> Vec<u8> {
    v.current().expect("a row under the cursor").key.clone()
}

/// Walks the cursor down to row `n`.
fn walk_to(v: &mut ScanView, db: &Db, n: usize) {
    pump(v, db);
    while v.cursor < n {
        v.move_by(1);
        v.scroll_into_view(20);
        pump(v, db);
    }
}

/// A put or delete, in the database and in the view, as follow mode does.
fn change(v: &mut ScanView, db: &mut Db, key: &[u8], value: Option<&[u8]>) -> Applied {
    match value {
        Some(val) => db.insert(key.to_vec(), val.to_vec()),
        None => db.remove(key),
    };
    v.apply_change(0, key, value)
}

/// Every key from the cursor's window up and down: each once, in order.
fn all_keys(v: &mut ScanView, db: &Db) -> Vec<Vec<u8>> {
    pump(v, db);
    while v.cursor > 0 {
        v.move_by(-1);
        v.scroll_into_view(20);
        pump(v, db);
    }
    let mut seen = vec![key_at(v)];
    loop {
        let before = v.cursor;
        v.move_by(1);
        v.scroll_into_view(20);
        pump(v, db);
        if v.cursor == before {
            break;
        }
        seen.push(key_at(v));
    }
    seen
}

#[test]
fn tui_follow_cursor_stays_on_its_key_while_rows_come_and_go_above() {
    let mut db: Db = (0..1000).map(|i| (k(i), b"v".to_vec())).collect();
    let mut v = ScanView::new("t".into(), vec![0], false, ScanRange::default(), 1);
    walk_to(&mut v, &db, 750);
    let here = key_at(&v);
    let (cursor, known) = (v.cursor, v.known_rows());
    let window = v.loaded();
    let first = v.row(window.start).expect("first loaded row").key.clone();

    // Inserts just above the cursor, in its page.
    for j in 0..5 {
        let key = format!("key-000749-{j}").into_bytes();
        assert_eq!(
            change(&mut v, &mut db, &key, Some(b"new")),
            Applied::Inserted
        );
    }
    assert_eq!(key_at(&v), here);
    assert_eq!(v.cursor, cursor + 5);
    assert_eq!(v.known_rows(), known + 5);
    // A delete above it.
    assert_eq!(change(&mut v, &mut db, &k(740), None), Applied::Removed);
    assert_eq!(key_at(&v), here);
    assert_eq!(v.cursor, cursor + 4);
    // A changed value: the row stays, with the new value.
    assert_eq!(
        change(&mut v, &mut db, &here, Some(b"changed")),
        Applied::Updated
    );
    assert_eq!(
        v.current().map(|r| r.value.as_slice()),
        Some(&b"changed"[..])
    );

    // Before the window (dropped pages) and after it: nothing loads or grows.
    let in_memory = v.rows_in_memory();
    assert!(first > k(0), "the first pages were dropped");
    for key in [k(3), k(999), b"zzz".to_vec(), b"a".to_vec()] {
        assert_eq!(
            change(&mut v, &mut db, &key, Some(b"x")),
            Applied::Outside,
            "{}",
            String::from_utf8_lossy(&key)
        );
    }
    assert_eq!(v.rows_in_memory(), in_memory);
    assert_eq!(key_at(&v), here);
    // A delete of a key nobody shows changes nothing either.
    assert_eq!(
        change(&mut v, &mut db, b"key-000750-none", None),
        Applied::Outside
    );

    // The cursor's own key deleted: it moves to the next one.
    assert_eq!(change(&mut v, &mut db, &here, None), Applied::Removed);
    assert_eq!(key_at(&v), k(751));

    // Walking the whole range: every key of the database once, in order.
    let walked = all_keys(&mut v, &db);
    let expected: Vec<Vec<u8>> = db.keys().cloned().collect();
    assert_eq!(walked.len(), expected.len());
    assert!(walked == expected, "the walk differs from the database");
}

#[test]
fn tui_follow_window_keeps_its_limits_when_many_keys_land_in_it() {
    let mut db: Db = (0..1000).map(|i| (k(i), b"v".to_vec())).collect();
    let mut v = ScanView::new("t".into(), vec![0], false, ScanRange::default(), 1);
    walk_to(&mut v, &db, 300);
    let here = key_at(&v);
    // 2000 new keys right around the cursor.
    for j in 0..2000 {
        let key = format!("key-000299-{j:05}").into_bytes();
        change(&mut v, &mut db, &key, Some(b"n"));
        assert!(
            v.rows_in_memory() <= MAX_PAGES * REFETCH_LIMIT,
            "{} rows in memory after {j} inserts",
            v.rows_in_memory()
        );
        assert_eq!(key_at(&v), here);
    }
    assert!(v.rows_in_memory() <= MAX_PAGES * REFETCH_LIMIT);
    // Some of them are shown: the rows just above the cursor.
    let above = v.row(v.cursor - 1).expect("row above").key.clone();
    assert_eq!(above, b"key-000299-01999".to_vec());
    let walked = all_keys(&mut v, &db);
    let expected: Vec<Vec<u8>> = db.keys().cloned().collect();
    assert_eq!(walked.len(), expected.len());
    assert!(walked == expected, "the walk differs from the database");
}

#[test]
fn tui_follow_changes_outside_the_view_change_nothing() {
    let db: Db = [b"user:1", b"user:2", b"user:5"]
        .iter()
        .map(|key| (key.to_vec(), b"v".to_vec()))
        .collect();
    let range = ScanRange {
        start: Some(b"user:".to_vec()),
        end: Some(b"user;".to_vec()),
    };
    let mut v = ScanView::new("t".into(), vec![0], false, range, 1);
    v.prefix = Some(b"user:".to_vec());
    pump(&mut v, &db);
    for r in 0..3 {
        assert!(v.row(r).is_some());
    }
    // Another partition, or a key outside the prefix.
    assert_eq!(v.apply_change(1, b"user:3", Some(b"x")), Applied::Outside);
    assert_eq!(v.apply_change(0, b"order:1", Some(b"x")), Applied::Outside);
    assert_eq!(v.rows_in_memory(), 3);
    // This partition, inside the prefix: shown, in order.
    assert_eq!(v.apply_change(0, b"user:3", Some(b"x")), Applied::Inserted);
    let keys: Vec<_> = (0..4)
        .filter_map(|i| v.row(i))
        .map(|r| r.key.clone())
        .collect();
    let want: Vec<Vec<u8>> = ["user:1", "user:2", "user:3", "user:5"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    assert_eq!(keys, want);
}
