//! When the broker fails: down at start (and the dev-broker offer), 503,
//! read-only profiles, going away and coming back, hung writes; and secrets
//! never shown or logged.
use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};

use super::super::popups::Popup;
use super::*;

#[tokio::test]
async fn tui_errors_broker_down_and_offer() {
    // Nothing listens on port 1.
    let config = ClientConfig {
        http_url: "http://127.0.0.1:1".into(),
        brokers: vec!["127.0.0.1:1".into()],
        timeout: Duration::from_secs(2),
        read_attempts: 1,
        ..ClientConfig::default()
    };
    let mut h = Harness::new(config.clone()).await;
    snap!("tui_error_broker_down", h);
    // The UI keeps working: help opens, quit works.
    h.chars("?").await;
    assert!(matches!(h.app.popup(), Some(Popup::Help(_))));
    // With no profile or flag, it offers the embedded dev broker.
    let mut h2 = Harness::with(config, |s| {
        s.explicit_target = false;
        s.dev_data_dir = Some("/home/user/.local/share/rpkv/devbroker".into());
    })
    .await;
    snap!("tui_dev_broker_offer", h2);
    h2.chars("y").await;
    assert_eq!(h2.effects, vec![Effect::StartDevBroker]);
}

#[tokio::test]
async fn tui_errors_503_and_read_only() {
    let (broker, mut h) = demo().await;
    // A partition that does not exist: the broker answers 503.
    let ghost = super::super::backend::TopicRow {
        name: "demo".into(),
        partitions: Some(1),
        kvstore: Some(true),
    };
    h.app.open_topic(&ghost, Some(7));
    h.settle().await;
    snap!("tui_error_503", h);
    // Esc cancels a running request; the UI stays usable.
    h.app.command("topic demo");
    assert!(h.app.busy());
    h.app
        .on_key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE));
    assert!(!h.app.busy());
    h.settle().await;
    assert!(h.status().contains("cancelled"), "{}", h.status());
    // A read-only profile refuses writes with a message.
    let mut config = broker.config();
    config.read_only = true;
    config.profile = Some("prod".into());
    let mut ro = Harness::new(config).await;
    ro.command("topic demo").await;
    ro.chars("e").await;
    assert!(ro.status().contains("read-only"), "{}", ro.status());
    ro.chars("d").await;
    assert!(ro.app.popup().is_none());
    snap!("tui_read_only", ro);
    broker.stop().await;
}

#[tokio::test]
async fn tui_broker_goes_away_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let broker = Broker::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), &data, &["demo:3"]).await;
    let addr = broker.addr;
    seed(&broker.client(), "demo", 3).await;
    let records = log_records(&broker.client(), "demo", 3).await;
    let mut h = Harness::new(broker.config()).await;
    h.command("topic demo").await;
    assert_demo_rows_shown(&h);
    assert!(h.status().contains("● connected"), "{}", h.status());

    broker.stop().await;
    // Refresh: the topics and the scan fail; what was shown stays.
    h.chars("r").await;
    let status = h.status();
    assert!(status.contains(&format!("http://{addr}")), "{status}");
    assert!(
        status.contains("✗ unreachable: connection refused · r retries"),
        "{status}"
    );
    assert!(status.contains("· r retries │ topics failed"), "{status}");
    assert_demo_rows_shown(&h);
    assert!(
        h.screen().contains("stale: not refreshed"),
        "{}",
        h.screen()
    );
    assert_eq!(h.app.topics().len(), 1, "the topic list is kept");
    snap!("tui_broker_gone", h);
    // Everything else that needs the broker fails the same way, and nothing
    // panics or clears the table: open a value, move, history, :get, page down.
    h.key(KeyCode::Enter).await;
    h.key(KeyCode::Esc).await;
    h.chars("j").await;
    h.chars("h").await;
    assert!(h.app.popup().is_none());
    assert!(h.status().contains("history failed"), "{}", h.status());
    h.command("get counter").await;
    assert!(h.status().contains("get failed"), "{}", h.status());
    h.key(KeyCode::PageDown).await;
    assert!(h.status().contains("scan failed"), "{}", h.status());
    assert_demo_rows_shown(&h);

    // The broker comes back on the same address with the same data.
    let broker = Broker::start_on(addr, &data, &["demo:3"]).await;
    assert_eq!(broker.addr, addr);
    h.chars("r").await;
    let status = h.status();
    assert!(status.contains("● connected"), "{status}");
    assert!(!status.contains("unreachable"), "{status}");
    assert!(!status.contains("failed"), "{status}");
    assert_demo_rows_shown(&h);
    assert!(!h.screen().contains("stale"), "{}", h.screen());
    // Nothing was written while the broker was away, nor after.
    assert_eq!(log_records(&broker.client(), "demo", 3).await, records);
    broker.stop().await;
}

#[tokio::test]
async fn tui_edit_survives_broker_going_away() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let broker = Broker::start_on(any, &data, &["demo:3"]).await;
    let addr = broker.addr;
    seed(&broker.client(), "demo", 3).await;
    let mut h = Harness::new(broker.config()).await;
    h.command("topic demo").await;

    // 1. The broker goes away while the change is under review.
    h.chars("/counter").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    h.key(KeyCode::End).await;
    h.key(KeyCode::Backspace).await;
    h.chars("8").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    assert!(matches!(h.app.popup(), Some(Popup::Review(_))));
    broker.stop().await;
    h.chars("y").await;
    let Some(Popup::Review(r)) = h.app.popup() else {
        panic!("the review is gone:\n{}", h.screen());
    };
    let p = r.pending();
    assert_eq!(p.new.as_deref(), Some(&b"8"[..]));
    assert_eq!(p.base.as_deref(), Some(&b"7"[..]));
    assert!(
        h.screen()
            .contains("write failed: broker unreachable; nothing written")
    );
    assert!(h.status().contains("✗ unreachable"), "{}", h.status());
    snap!("tui_review_write_failed", h);
    // Again while it is still away: same, nothing lost.
    h.chars("y").await;
    assert!(matches!(h.app.popup(), Some(Popup::Review(_))));
    // Back: the same review writes, with its precondition.
    let broker = Broker::start_on(addr, &data, &["demo:3"]).await;
    let client = broker.client();
    h.chars("y").await;
    assert!(h.app.popup().is_none());
    assert!(h.status().contains("wrote counter"), "{}", h.status());
    let p = partition_for_key(b"counter", 3);
    assert_eq!(
        client.get("demo", p, b"counter").await.unwrap(),
        Some(b"8".to_vec())
    );

    // 2. The broker goes away while the inline editor is open; meanwhile
    // another writer changes the key: the retried write still asks ifMatches
    // the value read, so it gets 409 and the conflict view.
    h.chars("/user:2").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    broker.stop().await;
    h.key_mod(KeyCode::Char('a'), KeyModifiers::CONTROL).await;
    h.key_mod(KeyCode::Char('k'), KeyModifiers::CONTROL).await;
    h.chars("edited offline").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    h.chars("y").await;
    let Some(Popup::Review(r)) = h.app.popup() else {
        panic!("the review is gone:\n{}", h.screen());
    };
    let p = r.pending();
    assert_eq!(p.new.as_deref(), Some(&b"edited offline"[..]));
    // `e` goes back to the editor with the edited text.
    h.chars("e").await;
    let Some(Popup::Editor(e)) = h.app.popup() else {
        panic!("no editor:\n{}", h.screen());
    };
    assert_eq!(e.text(), "edited offline");
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    let broker = Broker::start_on(addr, &data, &["demo:3"]).await;
    let client = broker.client();
    let p = partition_for_key(b"user:2", 3);
    client
        .put("demo", p, b"user:2".to_vec(), b"theirs".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    let Some(Popup::Conflict(c)) = h.app.popup() else {
        panic!("no conflict view:\n{}", h.screen());
    };
    assert_eq!(c.current(), Some(&b"theirs"[..]));
    assert_eq!(c.pending().new.as_deref(), Some(&b"edited offline"[..]));
    h.key(KeyCode::Esc).await;
    assert_eq!(
        client.get("demo", p, b"user:2").await.unwrap(),
        Some(b"theirs".to_vec())
    );
    broker.stop().await;
}

#[tokio::test]
async fn tui_cancelled_write_goes_back_to_review() {
    // A broker that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let config = ClientConfig {
        http_url: format!("http://{addr}"),
        brokers: vec!["127.0.0.1:1".into()],
        timeout: Duration::from_secs(60),
        read_attempts: 1,
        ..ClientConfig::default()
    };
    let client = Client::new(config).unwrap();
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut runner = Runner::new(client.clone(), tx);
    let mut app = App::new(Setup::new(client.http_url()));
    app.show(Popup::Review(super::super::popups::ReviewPopup::new(
        super::super::app::Pending {
            topic: "demo".into(),
            partition: 0,
            key: b"k".to_vec(),
            base: Some(b"old".to_vec()),
            new: Some(b"new".to_vec()),
            origin: super::super::app::Origin::Edit,
            edit_format: super::super::fmt::KeyFormat::Utf8,
        },
    )));
    let key = |c| Event::Key(KeyEvent::new(c, KeyModifiers::NONE));
    app.on_event(key(KeyCode::Char('y')));
    assert!(runner.perform(app.take_output()).is_empty());
    assert!(app.busy());
    assert_eq!(runner.running(), 1, "the write runs");
    assert!(app.popup().is_none());
    // Another edit waits for the write.
    app.on_event(key(KeyCode::Char('e')));
    assert!(app.popup().is_none());
    assert!(
        app.message()
            .is_some_and(|(_, m)| m.contains("write is in flight"))
    );
    // Esc cancels the hung write (its task is aborted) and goes back to its review.
    app.on_event(key(KeyCode::Esc));
    runner.perform(app.take_output());
    assert!(!app.busy());
    assert_eq!(runner.running(), 0, "the write was aborted");
    let Some(Popup::Review(r)) = app.popup() else {
        panic!("the review is gone");
    };
    assert_eq!(r.pending().new.as_deref(), Some(&b"new"[..]));
    assert!(
        r.error().is_some_and(|e| e.contains("write cancelled")),
        "{:?}",
        r.error()
    );
    hold.abort();
}

/// A sink for tracing events, to read what would go to the TUI's log file.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn tui_never_shows_or_logs_passwords() {
    // Everything the TUI and the client log, at every level, on this thread
    // (the runtime is single-threaded: the background requests run here too).
    let logs = LogBuffer::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let dir = tempfile::tempdir().unwrap();
    let mut args = devbroker::server::ServeArgs::ephemeral(dir.path().join("data"));
    args.topics.push("demo:3".parse().unwrap());
    args.basic_auth = vec!["alice:right-pw-3141".parse().unwrap()];
    let broker = Broker::start_args(args).await;
    let port = broker.addr.port();
    // The password both in the URL and apart, as a profile may have them.
    let config = ClientConfig {
        http_url: format!("http://alice:right-pw-3141@127.0.0.1:{port}"),
        user: Some("alice".into()),
        password: Some("right-pw-3141".into()),
        profile: Some("prod".into()),
        ..broker.config()
    };
    seed(&Client::new(config.clone()).unwrap(), "demo", 3).await;
    let mut h = Harness::new(config.clone()).await;
    h.app.set_profiles(vec!["local".into(), "prod".into()]);
    let mut screens = Vec::new();
    h.draw();
    screens.push(h.screen());
    assert!(
        h.status()
            .contains(&format!("http://alice:***@127.0.0.1:{port}")),
        "{}",
        h.status()
    );
    h.command("ctx").await;
    screens.push(h.screen());
    assert!(
        h.status().contains("profiles: local, prod"),
        "{}",
        h.status()
    );
    h.chars("?").await;
    screens.push(h.screen());
    h.key(KeyCode::Esc).await;
    h.command("topic demo").await;
    screens.push(h.screen());
    assert_demo_rows_shown(&h);
    // A wrong password: 401, and the wrong one is not shown either.
    let wrong = ClientConfig {
        http_url: format!("http://alice:wrong-pw-2718@127.0.0.1:{port}"),
        password: Some("wrong-pw-2718".into()),
        ..config.clone()
    };
    let mut w = Harness::new(wrong).await;
    screens.push(w.screen());
    assert!(w.status().contains("401"), "{}", w.status());
    w.command("ctx").await;
    screens.push(w.screen());
    // The broker goes away: the connection error names the URL, masked.
    broker.stop().await;
    h.chars("r").await;
    screens.push(h.screen());
    assert!(h.status().contains("unreachable"), "{}", h.status());
    // A profile switch that fails says why without the password.
    h.switch(
        Client::new(ClientConfig {
            http_url: format!("http://alice:right-pw-3141@127.0.0.1:{port}"),
            ..config.clone()
        })
        .unwrap(),
        Some("prod".into()),
    );
    h.settle().await;
    screens.push(h.screen());
    let logs = logs.text();
    assert!(logs.contains("status line"), "nothing logged? {logs}");
    for secret in ["right-pw-3141", "wrong-pw-2718"] {
        for s in &screens {
            assert!(!s.contains(secret), "{secret} on screen:\n{s}");
        }
        assert!(!logs.contains(secret), "{secret} in the log:\n{logs}");
    }
    assert!(format!("{:?}", h.runner.client()).contains("***"));
    assert!(!format!("{:?}", h.runner.client()).contains("right-pw-3141"));
}
