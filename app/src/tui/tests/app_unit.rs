//! App without a broker: keys in, requests and effects out, replies built by
//! hand and fed back in. Nothing here opens a socket or needs a runtime.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::super::app::{App, Effect, Out, Pending, Setup};
use super::super::backend::{
    GetPurpose, LocatePurpose, Page, Reply, Request, Response, Row, TopicRow, WritePurpose,
};
use super::super::keymap::Keymap;
use super::super::popups::Popup;
use super::super::scan::PAGE_SIZE;
use crate::client::{Error, Lookup, Precondition, ScanRange, sha256_hex};

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn press(app: &mut App, keys: &str) {
    for c in keys.chars() {
        app.on_key(key(KeyCode::Char(c)));
    }
}

fn requests(out: Vec<Out>) -> Vec<(u64, Request)> {
    out.into_iter()
        .filter_map(|o| match o {
            Out::Request(id, r) => Some((id, r)),
            _ => None,
        })
        .collect()
}

fn cancels(out: &[Out]) -> Vec<u64> {
    out.iter()
        .filter_map(|o| match o {
            Out::Cancel(id) => Some(*id),
            _ => None,
        })
        .collect()
}

fn topic(name: &str, partitions: i32) -> TopicRow {
    TopicRow {
        name: name.into(),
        partitions: Some(partitions),
        kvstore: Some(true),
    }
}

fn row(partition: i32, k: &str, v: &str) -> Row {
    Row {
        partition,
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    }
}

/// An App that started, got its readiness and `topics`, and answered nothing else.
fn started(setup: Setup, topics: Vec<TopicRow>) -> App {
    let mut app = App::new(setup);
    app.start();
    let out = requests(app.take_output());
    assert!(matches!(out[0], (1, Request::Ready)), "{out:?}");
    assert!(matches!(out[1], (2, Request::Topics)), "{out:?}");
    app.on_response(Response {
        id: 1,
        reply: Reply::Ready(Ok(())),
    });
    app.on_response(Response {
        id: 2,
        reply: Reply::Topics(Ok(topics)),
    });
    assert!(!app.busy());
    app
}

/// Opens the first topic; returns the page request's id and generation.
fn open_first(app: &mut App) -> (u64, u64) {
    app.on_key(key(KeyCode::Enter));
    match requests(app.take_output()).as_slice() {
        [(id, Request::Page { generation, .. })] => (*id, *generation),
        other => panic!("expected one page request, got {other:?}"),
    }
}

fn page_reply(id: u64, generation: u64, rows: Vec<Row>) -> Response {
    Response {
        id,
        reply: Reply::Page {
            generation,
            page: 0,
            result: Ok(Page { rows, more: false }),
        },
    }
}

#[test]
fn tui_app_opening_a_topic_asks_for_its_first_page() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 3)]);
    app.on_key(key(KeyCode::Enter));
    let out = requests(app.take_output());
    let [
        (
            id,
            Request::Page {
                page,
                topic,
                partitions,
                range,
                limit,
                ..
            },
        ),
    ] = out.as_slice()
    else {
        panic!("expected one page request, got {out:?}");
    };
    assert_eq!(*id, 3, "ids continue after the start's two");
    assert_eq!((topic.as_str(), *page, *limit), ("demo", 0, PAGE_SIZE));
    assert_eq!(partitions, &vec![0, 1, 2], "all partitions merged");
    assert_eq!(range, &ScanRange::default());
    assert!(app.busy());
    assert_eq!(app.busy_label(), Some("scanning"));
}

#[test]
fn tui_app_commands_ask_for_what_they_say() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 3)]);
    app.command("topic demo 2");
    let out = requests(app.take_output());
    assert!(
        matches!(out.as_slice(), [(_, Request::Page { partitions, .. })] if partitions == &vec![2]),
        "{out:?}"
    );
    app.command("get a b");
    let out = requests(app.take_output());
    let [(_, Request::Get { keys, purpose, .. })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert!(matches!(purpose, GetPurpose::Lookup));
    assert_eq!(keys, &vec![(2, b"a".to_vec()), (2, b"b".to_vec())]);
    app.command("topic demo");
    app.take_output();
    // The merged view asks every partition where the keys live.
    app.command("get a");
    let out = requests(app.take_output());
    let [(_, Request::Locate { keys, purpose, .. })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(keys, &vec![b"a".to_vec()]);
    assert_eq!(purpose, &LocatePurpose::Lookup);
    app.command("scan b d");
    let out = requests(app.take_output());
    let [(_, Request::Page { range, .. })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(range.start.as_deref(), Some(&b"b"[..]));
    assert_eq!(range.end.as_deref(), Some(&b"d"[..]));
    app.command("ctx prod");
    assert!(matches!(
        app.take_output().as_slice(),
        [Out::Effect(Effect::SwitchProfile(p))] if p == "prod"
    ));
    app.command("nope");
    assert!(
        app.message()
            .is_some_and(|(_, m)| m.contains("unknown command"))
    );
    app.command("q");
    assert!(app.should_quit());
}

/// Opens `demo` (one partition) showing `counter = 7`, and edits it to 8.
fn edit_counter(app: &mut App) {
    let (id, generation) = open_first(app);
    app.on_response(page_reply(id, generation, vec![row(0, "counter", "7")]));
    press(app, "e");
    assert!(matches!(app.popup(), Some(Popup::Editor(_))));
    app.on_key(key(KeyCode::End));
    app.on_key(key(KeyCode::Backspace));
    press(app, "8");
    app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let Some(Popup::Review(r)) = app.popup() else {
        panic!("no review");
    };
    assert_eq!(r.pending().new.as_deref(), Some(&b"8"[..]));
}

/// Confirms the review with `keys`; returns the write's id.
fn confirm_write(app: &mut App, keys: &str) -> u64 {
    press(app, keys);
    let out = requests(app.take_output());
    let [
        (
            id,
            Request::Write {
                request, purpose, ..
            },
        ),
    ] = out.as_slice()
    else {
        panic!("expected one write, got {out:?}");
    };
    assert!(matches!(purpose, WritePurpose::Reviewed(_)));
    assert_eq!(request.puts.len(), 1);
    let put = &request.puts[0];
    assert_eq!(
        (put.key.as_slice(), put.value.as_slice()),
        (&b"counter"[..], &b"8"[..])
    );
    assert_eq!(
        put.precondition,
        Some(Precondition::if_matches(sha256_hex(b"7"))),
        "ifMatches the value read"
    );
    *id
}

/// The write `id` of the review of `pending` succeeded.
fn written(app: &mut App, id: u64, pending: Pending) {
    app.on_response(Response {
        id,
        reply: Reply::Written {
            purpose: WritePurpose::Reviewed(Box::new(pending)),
            result: Ok(()),
        },
    });
}

fn reviewed(app: &App) -> Pending {
    match app.popup() {
        Some(Popup::Review(r)) => r.pending().clone(),
        _ => panic!("no review"),
    }
}

#[test]
fn tui_app_edit_then_confirm_writes_if_matches_the_value_read() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 1)]);
    edit_counter(&mut app);
    let pending = reviewed(&app);
    let id = confirm_write(&mut app, "y");
    assert!(app.popup().is_none());
    // Another edit waits while the write runs.
    press(&mut app, "e");
    assert!(app.popup().is_none());
    assert!(app.take_output().is_empty());
    // It succeeds: the scan reloads, the status line says what was written.
    written(&mut app, id, pending);
    let out = requests(app.take_output());
    assert!(
        matches!(out.as_slice(), [(_, Request::Page { .. })]),
        "{out:?}"
    );
    assert!(
        app.message()
            .is_some_and(|(_, m)| m.starts_with("wrote counter"))
    );
}

#[test]
fn tui_app_409_reads_the_stored_value_and_opens_the_conflict_popup() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 1)]);
    edit_counter(&mut app);
    let pending = reviewed(&app);
    let id = confirm_write(&mut app, "y");
    app.on_response(Response {
        id,
        reply: Reply::Written {
            purpose: WritePurpose::Reviewed(Box::new(pending.clone())),
            result: Err(Error::PreconditionFailed {
                message: "hash mismatch".into(),
            }),
        },
    });
    assert!(app.message().is_some_and(|(_, m)| m.starts_with("409")));
    let out = requests(app.take_output());
    let [(get_id, Request::Get { keys, purpose, .. })] = out.as_slice() else {
        panic!("expected a get of the stored value, got {out:?}");
    };
    assert_eq!(keys, &vec![(0, b"counter".to_vec())]);
    let GetPurpose::Conflict(p) = purpose else {
        panic!("{purpose:?}");
    };
    app.on_response(Response {
        id: *get_id,
        reply: Reply::Got {
            purpose: GetPurpose::Conflict(p.clone()),
            result: Ok(vec![(
                0,
                Lookup {
                    key: b"counter".to_vec(),
                    value: Some(b"9".to_vec()),
                },
            )]),
        },
    });
    let Some(Popup::Conflict(c)) = app.popup() else {
        panic!("no conflict popup");
    };
    assert_eq!(c.current(), Some(&b"9"[..]));
    assert_eq!(c.pending(), &pending);
    // Overwrite: the same edit, now ifMatches the stored value.
    press(&mut app, "o");
    let out = requests(app.take_output());
    let [(_, Request::Write { request, .. })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(
        request.puts[0].precondition,
        Some(Precondition::if_matches(sha256_hex(b"9")))
    );
}

#[test]
fn tui_app_esc_cancels_the_requests_in_flight() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 1)]);
    let (page_id, generation) = open_first(&mut app);
    press(&mut app, "r"); // a refresh: topics, and the page again
    let more = requests(app.take_output());
    assert!(!more.is_empty());
    let mut ids: Vec<u64> = more.iter().map(|(id, _)| *id).collect();
    app.on_key(key(KeyCode::Esc));
    let out = app.take_output();
    let mut cancelled = cancels(&out);
    cancelled.sort();
    // The first page request was replaced by the refresh's, and cancelled then.
    ids.sort();
    assert_eq!(cancelled, ids, "every request still in flight is cancelled");
    assert!(!app.busy());
    assert!(app.message().is_some_and(|(_, m)| m == "cancelled"));
    // A reply that arrives anyway is ignored.
    app.on_response(page_reply(page_id, generation, vec![row(0, "k", "v")]));
    assert_eq!(app.scan().map(|s| s.rows_in_memory()), Some(0));
}

#[test]
fn tui_app_esc_on_a_write_cancels_it_and_reopens_the_review() {
    let mut app = started(Setup::new("http://kv"), vec![topic("demo", 1)]);
    edit_counter(&mut app);
    let id = confirm_write(&mut app, "y");
    app.on_key(key(KeyCode::Esc));
    assert_eq!(cancels(&app.take_output()), vec![id]);
    let Some(Popup::Review(r)) = app.popup() else {
        panic!("the review is gone");
    };
    assert!(r.error().is_some_and(|e| e.contains("write cancelled")));
    // Writing again asks again, with the same precondition.
    confirm_write(&mut app, "y");
}

#[test]
fn tui_app_remapped_popup_keys_work() {
    let mut setup = Setup::new("http://kv");
    setup.keymap = Keymap::from_toml(
        "[keys]\nreview_write = \"w\"\nreview_cancel = \"x\"\nconfirm_yes = \"Y\"\nconflict_reload = \"R\"\n",
    )
    .unwrap();
    let mut app = started(setup, vec![topic("demo", 1)]);
    edit_counter(&mut app);
    // `y` no longer writes in the review; `w` does.
    press(&mut app, "y");
    assert!(matches!(app.popup(), Some(Popup::Review(_))));
    assert!(app.take_output().is_empty());
    let pending = reviewed(&app);
    let id = confirm_write(&mut app, "w");
    written(&mut app, id, pending);
    app.take_output();
    // Delete: `y` no longer confirms, `Y` does.
    press(&mut app, "d");
    assert!(matches!(app.popup(), Some(Popup::Confirm(_))));
    press(&mut app, "y");
    assert!(matches!(app.popup(), Some(Popup::Confirm(_))));
    press(&mut app, "Y");
    assert!(app.popup().is_none());
    let out = requests(app.take_output());
    let [(_, Request::Write { request, .. })] = out.as_slice() else {
        panic!("{out:?}");
    };
    assert_eq!(request.deletes.len(), 1);
    // The review's hint shows the remapped key.
    edit_counter_again(&mut app);
    let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(110, 32)).unwrap();
    term.draw(|f| super::super::components::draw(f, &mut app))
        .unwrap();
    let screen: String = term
        .backend()
        .buffer()
        .content
        .iter()
        .map(|c| c.symbol())
        .collect();
    assert!(screen.contains("w write"), "{screen}");
    assert!(screen.contains("x cancel"), "{screen}");
    press(&mut app, "x");
    assert!(app.popup().is_none());
}

/// Edits the row under the cursor again (whatever its value) to reach a review.
fn edit_counter_again(app: &mut App) {
    press(app, "e");
    press(app, "!");
    app.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert!(matches!(app.popup(), Some(Popup::Review(_))));
}

#[test]
fn tui_app_ignores_replies_from_before_a_profile_switch() {
    let mut app = started(Setup::new("http://one"), vec![topic("demo", 1)]);
    let (old_page, generation) = open_first(&mut app);
    app.set_target("http://two".into(), false, Some("two".into()));
    let out = app.take_output();
    assert_eq!(cancels(&out), vec![old_page]);
    let fresh = requests(out);
    assert!(
        fresh.iter().all(|(id, _)| *id > old_page),
        "ids never restart"
    );
    // The old broker's topics reply, under an id the new one never used.
    app.on_response(Response {
        id: old_page,
        reply: Reply::Topics(Ok(vec![topic("stale", 1)])),
    });
    assert!(app.topics().is_empty());
    // Nor is a page of the old scan taken.
    app.on_response(page_reply(old_page, generation, vec![row(0, "k", "v")]));
    assert!(app.scan().is_none());
    assert_eq!(app.http_url(), "http://two");
    assert_eq!(app.profile(), Some("two"));
}

#[test]
fn tui_app_offers_the_dev_broker_when_nothing_answers() {
    let mut setup = Setup::new("http://127.0.0.1:1");
    setup.explicit_target = false;
    let mut app = App::new(setup);
    app.start();
    app.take_output();
    app.on_response(Response {
        id: 1,
        reply: Reply::Ready(Err(Error::Connect {
            url: "http://127.0.0.1:1".into(),
            detail: "connection refused".into(),
        })),
    });
    if cfg!(feature = "dev") {
        assert!(matches!(app.popup(), Some(Popup::DevOffer(_))));
        press(&mut app, "y");
        assert!(matches!(
            app.take_output().as_slice(),
            [Out::Effect(Effect::StartDevBroker)]
        ));
    } else {
        assert!(app.popup().is_none());
    }
}
