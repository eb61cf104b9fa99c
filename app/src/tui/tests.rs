//! TUI tests: every screen and popup rendered with ratatui's `TestBackend`
//! and compared with insta snapshots, driven by key events against a real
//! in-process dev broker (`devbroker::server::run` on a temp dir, port 0).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, oneshot};

use super::app::{App, Overlay};
use super::backend::Response;
use super::components;
use super::theme::Theme;
use crate::client::{Client, ClientConfig, Precondition, partition_for_key};

const W: u16 = 110;
const H: u16 = 32;

struct Broker {
    url: String,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Broker {
    /// A broker on a free port with its data in a temp dir removed on drop.
    async fn start(topics: &[&str]) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut b = Broker::start_on(any_port, &dir.path().join("data"), topics).await;
        b._dir = Some(dir);
        b
    }

    /// A broker on `addr` (port 0: a free one) over `data_dir`, which outlives
    /// it: start it again on the same address and data dir after [`Broker::stop`].
    async fn start_on(addr: SocketAddr, data_dir: &Path, topics: &[&str]) -> Broker {
        let mut args = devbroker::server::ServeArgs::ephemeral(data_dir.to_owned());
        args.http_addr = addr;
        for t in topics {
            args.topics.push(t.parse().expect("topic spec"));
        }
        Broker::start_args(args).await
    }

    async fn start_args(args: devbroker::server::ServeArgs) -> Broker {
        let (stop, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.await;
            };
            devbroker::server::spawn(args, shutdown, move |l| {
                let _ = ready_tx.send(l.http_addr);
            })
            .await
            .expect("broker task")
            .expect("broker runs");
        });
        let addr = ready_rx.await.expect("broker ready");
        Broker {
            url: format!("http://{addr}"),
            addr,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
        }
    }

    fn config(&self) -> ClientConfig {
        ClientConfig {
            http_url: self.url.clone(),
            // Port 1 refuses: topics come from the HTTP Proxy, never from a
            // Kafka listener that happens to run on this machine.
            brokers: vec!["127.0.0.1:1".into()],
            timeout: Duration::from_secs(10),
            read_attempts: 1,
            ..ClientConfig::default()
        }
    }

    fn client(&self) -> Client {
        Client::new(self.config()).expect("client")
    }

    /// Shuts the broker down and waits until its port refuses connections.
    async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(self.addr).await.is_ok() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} still accepts connections after shutdown",
                self.addr
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The demo data: JSON, text, a counter, binary, spread by Kafka's partitioner.
const DEMO: &[(&str, &[u8])] = &[
    (
        "user:1",
        br#"{"name":"Ada","email":"ada@example.com","plan":"pro","tags":["admin","beta"]}"#,
    ),
    (
        "user:2",
        br#"{"name":"Linus","email":"linus@example.com","plan":"free"}"#,
    ),
    (
        "user:3",
        br#"{"name":"Grace","email":"grace@example.com","plan":"pro"}"#,
    ),
    (
        "config/flags",
        br#"{"darkMode":true,"limit":42,"ratio":0.5,"owner":null}"#,
    ),
    ("counter", b"7"),
    ("note", b"hello world\nsecond line of a plain text note"),
    (
        "blob",
        &[
            0, 1, 2, 3, 0xfe, 0xff, b'r', b'p', b'k', b'v', 10, 13, 0x80, 0x7f, 1, 2, 3, 4, 5, 6,
            7, 8, 9,
        ],
    ),
];

async fn seed(client: &Client, topic: &str, partitions: i32) {
    for (k, v) in DEMO {
        let p = partition_for_key(k.as_bytes(), partitions);
        client
            .put(
                topic,
                p,
                k.as_bytes().to_vec(),
                v.to_vec(),
                Some(Precondition::if_exists(false)),
            )
            .await
            .expect("seed put");
    }
}

struct Harness {
    app: App,
    rx: mpsc::UnboundedReceiver<Response>,
    term: Terminal<TestBackend>,
}

impl Harness {
    async fn new(config: ClientConfig) -> Harness {
        let client = Client::new(config).expect("client");
        let (tx, rx) = mpsc::unbounded_channel();
        let mut app = App::new(client, tx);
        app.theme = Theme::colored();
        app.export_dir = std::env::temp_dir();
        app.start();
        let mut h = Harness {
            app,
            rx,
            term: Terminal::new(TestBackend::new(W, H)).expect("terminal"),
        };
        h.settle().await;
        h
    }

    /// Draws, then handles replies until no request is running.
    async fn settle(&mut self) {
        self.draw();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.app.busy() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(resp)) => {
                    self.app.on_response(resp);
                    self.draw();
                }
                _ => panic!("requests still running after 20 s"),
            }
        }
        self.draw();
    }

    fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| components::draw(f, app)).expect("draw");
    }

    async fn key(&mut self, code: KeyCode) {
        self.key_mod(code, KeyModifiers::NONE).await;
    }

    async fn key_mod(&mut self, code: KeyCode, m: KeyModifiers) {
        self.app.on_event(Event::Key(KeyEvent::new(code, m)));
        self.settle().await;
    }

    async fn chars(&mut self, s: &str) {
        for c in s.chars() {
            self.app.on_event(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
        self.settle().await;
    }

    async fn command(&mut self, cmd: &str) {
        self.chars(":").await;
        self.chars(cmd).await;
        self.key(KeyCode::Enter).await;
    }

    fn screen(&self) -> String {
        let buf = self.term.backend().buffer();
        let mut out = String::new();
        for y in 0..buf.area.height {
            let mut line = String::new();
            for x in 0..buf.area.width {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn status(&self) -> String {
        self.screen()
            .lines()
            .nth(H as usize - 2)
            .unwrap_or_default()
            .to_owned()
    }
}

macro_rules! snap {
    ($name:expr, $h:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[time]"),
                (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            ],
            prepend_module_to_snapshot => false,
            snapshot_path => "snapshots",
        }, {
            insta::assert_snapshot!($name, $h.screen());
        });
    };
}

async fn demo() -> (Broker, Harness) {
    let broker = Broker::start(&["demo:3", "plain:1:redpanda.kvstore=none", "single:1"]).await;
    seed(&broker.client(), "demo", 3).await;
    let h = Harness::new(broker.config()).await;
    (broker, h)
}

#[tokio::test]
async fn tui_topics_and_scan_screens() {
    let (broker, mut h) = demo().await;
    snap!("tui_topics", h);
    h.key(KeyCode::Enter).await;
    snap!("tui_scan_all_partitions", h);
    // Partition 1 only, from the partitions pane.
    h.key(KeyCode::Tab).await; // scan -> value
    h.key(KeyCode::Tab).await; // value -> topics
    h.key(KeyCode::Tab).await; // topics -> partitions
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Enter).await;
    snap!("tui_scan_partition_1", h);
    // The plain topic refuses a scan with a message.
    h.command("topic plain").await;
    assert!(h.status().contains("not a kvstore topic"), "{}", h.status());
    broker.stop().await;
}

#[tokio::test]
async fn tui_value_view_formats() {
    let (broker, mut h) = demo().await;
    h.command("topic demo").await;
    h.chars("/user:1").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_json", h);
    h.chars("V").await;
    snap!("tui_value_utf8", h);
    h.chars("V").await;
    snap!("tui_value_hex", h);
    h.chars("V").await;
    snap!("tui_value_base64", h);
    h.chars("V").await; // back to auto
    h.chars("/note").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_text", h);
    h.chars("/blob").await;
    h.key(KeyCode::Enter).await;
    snap!("tui_value_binary", h);
    h.chars("K").await; // keys as hex
    h.key(KeyCode::Esc).await; // clears the filter
    snap!("tui_keys_hex", h);
    broker.stop().await;
}

#[tokio::test]
async fn tui_help_and_command_line() {
    let (broker, mut h) = demo().await;
    h.chars("?").await;
    snap!("tui_help", h);
    h.key(KeyCode::Esc).await;
    h.chars(":topic demo").await;
    snap!("tui_command_line", h);
    h.key(KeyCode::Enter).await;
    h.command("get counter user:2 nope").await;
    snap!("tui_get_results", h);
    h.command("scan config user:2").await;
    snap!("tui_scan_range", h);
    h.app.profiles = vec!["local".into(), "prod".into()];
    h.command("ctx").await;
    assert!(
        h.status().contains("profiles: local, prod"),
        "{}",
        h.status()
    );
    h.command("ctx prod").await;
    assert_eq!(
        std::mem::take(&mut h.app.effects),
        vec![super::app::Effect::SwitchProfile("prod".into())]
    );
    h.command("bogus").await;
    assert!(h.status().contains("unknown command"), "{}", h.status());
    h.command("q").await;
    assert!(h.app.quit);
    broker.stop().await;
}

#[tokio::test]
async fn tui_inline_edit_review_and_write() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"counter", 3);
    h.command("topic demo").await;
    h.chars("/counter").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    snap!("tui_edit_inline", h);
    h.key(KeyCode::End).await;
    h.key(KeyCode::Backspace).await;
    h.chars("8").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    snap!("tui_edit_review", h);
    h.chars("y").await;
    snap!("tui_edit_written", h);
    assert_eq!(
        client.get("demo", p, b"counter").await.unwrap(),
        Some(b"8".to_vec())
    );
    broker.stop().await;
}

#[tokio::test]
async fn tui_conflict_view_cancel_and_overwrite() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"user:2", 3);
    h.command("topic demo").await;
    h.chars("/user:2").await;
    h.key(KeyCode::Enter).await;
    h.chars("e").await;
    h.key_mod(KeyCode::Char('a'), KeyModifiers::CONTROL).await; // line start
    h.key_mod(KeyCode::Char('k'), KeyModifiers::CONTROL).await; // delete to end
    h.chars(r#"{"name":"Linus","plan":"pro"}"#).await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    assert!(matches!(h.app.overlay, Overlay::Review(_)));
    // Another writer changes the key before we confirm.
    client
        .put(
            "demo",
            p,
            b"user:2".to_vec(),
            br#"{"name":"Linus","plan":"team"}"#.to_vec(),
            None,
        )
        .await
        .unwrap();
    h.chars("y").await;
    snap!("tui_conflict", h);
    h.key(KeyCode::Esc).await;
    assert_eq!(
        client.get("demo", p, b"user:2").await.unwrap(),
        Some(br#"{"name":"Linus","plan":"team"}"#.to_vec())
    );
    // Again, and this time overwrite against the new hash.
    h.chars("e").await;
    h.key_mod(KeyCode::Char('a'), KeyModifiers::CONTROL).await;
    h.key_mod(KeyCode::Char('k'), KeyModifiers::CONTROL).await;
    h.chars("mine").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    client
        .put("demo", p, b"user:2".to_vec(), b"theirs".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    assert!(matches!(h.app.overlay, Overlay::Conflict { .. }));
    h.chars("o").await;
    assert_eq!(
        client.get("demo", p, b"user:2").await.unwrap(),
        Some(b"mine".to_vec())
    );
    // Reload and re-edit starts from the stored value.
    h.chars("e").await;
    h.key(KeyCode::End).await;
    h.chars("!").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    client
        .put("demo", p, b"user:2".to_vec(), b"again".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    h.chars("r").await;
    snap!("tui_conflict_reedit", h);
    broker.stop().await;
}

#[tokio::test]
async fn tui_history_and_restore() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    let p = partition_for_key(b"counter", 3);
    for v in ["8", "9"] {
        client
            .put("demo", p, b"counter".to_vec(), v.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    client
        .delete("demo", p, vec![b"counter".to_vec()], None)
        .await
        .unwrap();
    client
        .put("demo", p, b"counter".to_vec(), b"10".to_vec(), None)
        .await
        .unwrap();
    h.command("topic demo").await;
    h.chars("/counter").await;
    h.key(KeyCode::Enter).await;
    h.chars("h").await;
    snap!("tui_history", h);
    // Newest first: 10, tombstone, 9, 8, 7. Restore "8".
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Down).await;
    h.key(KeyCode::Enter).await;
    snap!("tui_history_restore_review", h);
    h.chars("y").await;
    assert_eq!(
        client.get("demo", p, b"counter").await.unwrap(),
        Some(b"8".to_vec())
    );
    broker.stop().await;
}

#[tokio::test]
async fn tui_new_key_delete_and_batch_delete() {
    let (broker, mut h) = demo().await;
    let client = broker.client();
    h.command("topic single").await;
    h.chars("n").await;
    h.chars("alpha").await;
    snap!("tui_new_key_prompt", h);
    h.key(KeyCode::Enter).await;
    h.chars("first value").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    snap!("tui_new_key_review", h);
    h.chars("y").await;
    assert_eq!(
        client.get("single", 0, b"alpha").await.unwrap(),
        Some(b"first value".to_vec())
    );
    // A second "new" of the same key fails its ifExists:false precondition.
    h.chars("n").await;
    h.chars("alpha").await;
    h.key(KeyCode::Enter).await;
    h.chars("second").await;
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    h.chars("y").await;
    assert!(matches!(h.app.overlay, Overlay::Conflict { .. }));
    h.key(KeyCode::Esc).await;
    assert_eq!(
        client.get("single", 0, b"alpha").await.unwrap(),
        Some(b"first value".to_vec())
    );
    for k in ["beta", "gamma", "delta"] {
        client
            .put(
                "single",
                0,
                k.as_bytes().to_vec(),
                k.as_bytes().to_vec(),
                None,
            )
            .await
            .unwrap();
    }
    h.chars("r").await;
    // Delete "alpha" (the first row) with confirmation.
    h.chars("g").await;
    h.chars("d").await;
    snap!("tui_delete_confirm", h);
    h.chars("y").await;
    assert_eq!(client.get("single", 0, b"alpha").await.unwrap(), None);
    // Select beta and delta, delete both in one write.
    h.chars("g").await;
    h.chars(" ").await; // beta
    h.chars("j").await; // skip delta? rows: beta, delta, gamma
    h.chars(" ").await;
    h.chars("D").await;
    snap!("tui_batch_delete_confirm", h);
    h.chars("y").await;
    assert_eq!(client.get("single", 0, b"beta").await.unwrap(), None);
    assert_eq!(client.get("single", 0, b"gamma").await.unwrap(), None);
    assert_eq!(
        client.get("single", 0, b"delta").await.unwrap(),
        Some(b"delta".to_vec())
    );
    snap!("tui_after_batch_delete", h);
    broker.stop().await;
}

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
    assert!(matches!(h.app.overlay, Overlay::Help { .. }));
    // With no profile or flag, it offers the embedded dev broker.
    let client = Client::new(config).unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let mut app = App::new(client, tx);
    app.theme = Theme::colored();
    app.explicit_target = false;
    app.dev_data_dir = Some("/home/user/.local/share/rpkv/devbroker".into());
    app.start();
    let mut h2 = Harness {
        app,
        rx,
        term: Terminal::new(TestBackend::new(W, H)).unwrap(),
    };
    h2.settle().await;
    snap!("tui_dev_broker_offer", h2);
    h2.chars("y").await;
    assert_eq!(h2.app.effects, vec![super::app::Effect::StartDevBroker]);
}

#[tokio::test]
async fn tui_errors_503_and_read_only() {
    let (broker, mut h) = demo().await;
    // A partition that does not exist: the broker answers 503.
    let ghost = super::backend::TopicRow {
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
    ro.app.profile = Some("prod".into());
    ro.command("topic demo").await;
    ro.chars("e").await;
    assert!(ro.status().contains("read-only"), "{}", ro.status());
    ro.chars("d").await;
    assert!(matches!(ro.app.overlay, Overlay::None));
    snap!("tui_read_only", ro);
    broker.stop().await;
}

#[tokio::test]
async fn tui_paging_keeps_memory_bounded() {
    let broker = Broker::start(&["big:1"]).await;
    let client = broker.client();
    let mut puts = Vec::new();
    for i in 0..2500u32 {
        puts.push((
            format!("key-{i:06}").into_bytes(),
            format!("value {i}").into_bytes(),
        ));
    }
    for chunk in puts.chunks(500) {
        let req = crate::client::write_request(chunk.to_vec(), vec![], None);
        client.write("big", 0, &req).await.unwrap();
    }
    let mut h = Harness::new(broker.config()).await;
    h.command("topic big").await;
    let max_rows = super::scan::MAX_PAGES * super::scan::PAGE_SIZE;
    let mut seen = 0;
    loop {
        h.key(KeyCode::PageDown).await;
        let s = h.app.scan.as_ref().unwrap();
        assert!(
            s.rows_in_memory() <= max_rows,
            "{} rows in memory",
            s.rows_in_memory()
        );
        if s.cursor == seen {
            break;
        }
        seen = s.cursor;
    }
    let s = h.app.scan.as_ref().unwrap();
    assert_eq!(s.cursor, 2499);
    assert_eq!(s.current().unwrap().key, b"key-002499");
    assert!(s.at_end());
    snap!("tui_scan_bottom", h);
    // And back to the top, re-fetching pages that were dropped.
    loop {
        h.key(KeyCode::PageUp).await;
        let s = h.app.scan.as_ref().unwrap();
        assert!(s.rows_in_memory() <= max_rows);
        if s.cursor == 0 {
            break;
        }
    }
    assert_eq!(
        h.app.scan.as_ref().unwrap().current().unwrap().key,
        b"key-000000"
    );
    // Export writes the whole range.
    let dir = tempfile::tempdir().unwrap();
    h.app.export_dir = dir.path().to_owned();
    h.chars("x").await;
    let text = std::fs::read_to_string(dir.path().join("big-p0.jsonl")).unwrap();
    assert_eq!(text.lines().count(), 2500);
    assert!(h.status().contains("exported 2500 keys"), "{}", h.status());
    broker.stop().await;
}

#[tokio::test]
async fn tui_mouse_and_no_color() {
    let (broker, mut h) = demo().await;
    // Click the first topic: it opens.
    let a = h.app.areas.topics;
    h.app.on_event(Event::Mouse(MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: a.x + 3,
        row: a.y + 1,
        modifiers: KeyModifiers::NONE,
    }));
    h.settle().await;
    assert!(h.app.scan.is_some());
    // Wheel over the table moves the cursor.
    let s = h.app.areas.scan;
    h.app.on_event(Event::Mouse(MouseEvent {
        kind: MouseEventKind::ScrollDown,
        column: s.x + 5,
        row: s.y + 3,
        modifiers: KeyModifiers::NONE,
    }));
    h.settle().await;
    assert_eq!(h.app.scan.as_ref().unwrap().cursor, 3);
    // NO_COLOR: no cell has a colour.
    h.app.theme = Theme { color: false };
    h.draw();
    let buf = h.term.backend().buffer();
    assert!(
        buf.content
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    broker.stop().await;
}

/// Records in every partition's log (to see that nothing was written).
async fn log_records(client: &Client, topic: &str, partitions: i32) -> usize {
    let mut n = 0;
    for p in 0..partitions {
        n += client
            .fetch_records(topic, p, 0, 0, 1 << 20)
            .await
            .expect("fetch records")
            .len();
    }
    n
}

fn assert_demo_rows_shown(h: &Harness) {
    let screen = h.screen();
    for (k, _) in DEMO {
        assert!(screen.contains(k), "row {k} not shown:\n{screen}");
    }
    let s = h.app.scan.as_ref().expect("scan view");
    assert_eq!(s.rows_in_memory(), DEMO.len());
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
    assert_eq!(h.app.topics.len(), 1, "the topic list is kept");
    snap!("tui_broker_gone", h);
    // Everything else that needs the broker fails the same way, and nothing
    // panics or clears the table: open a value, move, history, :get, page down.
    h.key(KeyCode::Enter).await;
    h.key(KeyCode::Esc).await;
    h.chars("j").await;
    h.chars("h").await;
    assert!(matches!(h.app.overlay, Overlay::None));
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
    assert!(matches!(h.app.overlay, Overlay::Review(_)));
    broker.stop().await;
    h.chars("y").await;
    let Overlay::Review(p) = &h.app.overlay else {
        panic!("the review is gone:\n{}", h.screen());
    };
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
    assert!(matches!(h.app.overlay, Overlay::Review(_)));
    // Back: the same review writes, with its precondition.
    let broker = Broker::start_on(addr, &data, &["demo:3"]).await;
    let client = broker.client();
    h.chars("y").await;
    assert!(matches!(h.app.overlay, Overlay::None));
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
    let Overlay::Review(p) = &h.app.overlay else {
        panic!("the review is gone:\n{}", h.screen());
    };
    assert_eq!(p.new.as_deref(), Some(&b"edited offline"[..]));
    // `e` goes back to the editor with the edited text.
    h.chars("e").await;
    let Overlay::Editor { area, .. } = &h.app.overlay else {
        panic!("no editor:\n{}", h.screen());
    };
    assert_eq!(area.lines().join("\n"), "edited offline");
    h.key_mod(KeyCode::Char('s'), KeyModifiers::CONTROL).await;
    let broker = Broker::start_on(addr, &data, &["demo:3"]).await;
    let client = broker.client();
    let p = partition_for_key(b"user:2", 3);
    client
        .put("demo", p, b"user:2".to_vec(), b"theirs".to_vec(), None)
        .await
        .unwrap();
    h.chars("y").await;
    let Overlay::Conflict { pending, current } = &h.app.overlay else {
        panic!("no conflict view:\n{}", h.screen());
    };
    assert_eq!(current.as_deref(), Some(&b"theirs"[..]));
    assert_eq!(pending.new.as_deref(), Some(&b"edited offline"[..]));
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
    let (tx, _rx) = mpsc::unbounded_channel();
    let mut app = App::new(Client::new(config).unwrap(), tx);
    app.overlay = Overlay::Review(super::app::Pending {
        topic: "demo".into(),
        partition: 0,
        key: b"k".to_vec(),
        base: Some(b"old".to_vec()),
        new: Some(b"new".to_vec()),
        origin: super::app::Origin::Edit,
        edit_format: super::fmt::KeyFormat::Utf8,
    });
    let key = |c| Event::Key(KeyEvent::new(c, KeyModifiers::NONE));
    app.on_event(key(KeyCode::Char('y')));
    assert!(app.busy());
    assert!(matches!(app.overlay, Overlay::None));
    // Another edit waits for the write.
    app.on_event(key(KeyCode::Char('e')));
    assert!(matches!(app.overlay, Overlay::None));
    assert!(
        app.message
            .as_ref()
            .is_some_and(|(_, m)| m.contains("write is in flight"))
    );
    // Esc cancels the hung write and goes back to its review.
    app.on_event(key(KeyCode::Esc));
    assert!(!app.busy());
    let Overlay::Review(p) = &app.overlay else {
        panic!("the review is gone");
    };
    assert_eq!(p.new.as_deref(), Some(&b"new"[..]));
    assert!(
        app.review_error
            .as_deref()
            .is_some_and(|e| e.contains("write cancelled")),
        "{:?}",
        app.review_error
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
    args.basic_auth = Some("alice:right-pw-3141".parse().unwrap());
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
    h.app.profile = Some("prod".into());
    h.app.profiles = vec!["local".into(), "prod".into()];
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
    h.app.set_client(
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
    assert!(format!("{:?}", h.app.client()).contains("***"));
    assert!(!format!("{:?}", h.app.client()).contains("right-pw-3141"));
}
