//! TUI tests. Most drive [`App`] with key events against a real in-process
//! dev broker (`devbroker::server::run` on a temp dir, port 0), render every
//! screen and popup with ratatui's `TestBackend` and compare insta snapshots
//! (in `../snapshots`). [`app_unit`] and [`scan_view`] need no broker: keys
//! in, requests out, replies built by hand.

mod app_unit;
mod broker;
mod editing;
mod follow;
mod follow_window;
mod groups;
mod paging;
mod scan_view;
mod screens;
mod value_filter;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::sync::{mpsc, oneshot};

use super::app::{App, Effect, Setup};
use super::backend::Response;
use super::components;
use super::runner::Runner;
use super::theme::Theme;
use crate::client::{Client, ClientConfig, Precondition, partition_for_key};

pub(super) const W: u16 = 110;
pub(super) const H: u16 = 32;

pub(super) struct Broker {
    url: String,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Broker {
    /// A broker on a free port with its data in a temp dir removed on drop.
    pub async fn start(topics: &[&str]) -> Broker {
        let dir = tempfile::tempdir().expect("temp dir");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let mut b = Broker::start_on(any_port, &dir.path().join("data"), topics).await;
        b._dir = Some(dir);
        b
    }

    /// A broker on `addr` (port 0: a free one) over `data_dir`, which outlives
    /// it: start it again on the same address and data dir after [`Broker::stop`].
    pub async fn start_on(addr: SocketAddr, data_dir: &Path, topics: &[&str]) -> Broker {
        let mut args = devbroker::server::ServeArgs::ephemeral(data_dir.to_owned());
        args.http_addr = addr;
        for t in topics {
            args.topics.push(t.parse().expect("topic spec"));
        }
        Broker::start_args(args).await
    }

    pub async fn start_args(args: devbroker::server::ServeArgs) -> Broker {
        let spawned = crate::client::test_broker::spawn(args).await;
        let addr = spawned.http_addr;
        Broker {
            url: format!("http://{addr}"),
            addr,
            stop: Some(spawned.stop),
            task: Some(spawned.task),
            _dir: None,
        }
    }

    pub fn config(&self) -> ClientConfig {
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

    pub fn client(&self) -> Client {
        Client::new(self.config()).expect("client")
    }

    /// Shuts the broker down and waits until its port refuses connections.
    pub async fn stop(mut self) {
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
pub(super) const DEMO: &[(&str, &[u8])] = &[
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

pub(super) async fn seed(client: &Client, topic: &str, partitions: i32) {
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

pub(super) struct Harness {
    pub app: App,
    pub runner: Runner,
    rx: mpsc::UnboundedReceiver<Response>,
    pub term: Terminal<TestBackend>,
    /// Effects App asked for (the harness does not perform them).
    pub effects: Vec<Effect>,
}

impl Harness {
    /// A harness whose client reaches `b` over HTTP and Kafka (10 s
    /// timeouts, no read retries).
    pub async fn for_broker(b: &crate::client::test_broker::TestBroker) -> Harness {
        Harness::new(ClientConfig {
            http_url: b.http_url.clone(),
            brokers: b.client.brokers().to_vec(),
            timeout: Duration::from_secs(10),
            read_attempts: 1,
            ..ClientConfig::default()
        })
        .await
    }

    pub async fn new(config: ClientConfig) -> Harness {
        Harness::with(config, |_| {}).await
    }

    /// A harness whose App starts from `config`'s setup as `tweak` changes it.
    pub async fn with(config: ClientConfig, tweak: impl FnOnce(&mut Setup)) -> Harness {
        let client = Client::new(config.clone()).expect("client");
        let (tx, rx) = mpsc::unbounded_channel();
        let mut setup = Setup::new(client.http_url());
        setup.read_only = client.is_read_only();
        setup.profile = config.profile.clone();
        setup.theme = Theme::colored();
        setup.export_dir = std::env::temp_dir();
        tweak(&mut setup);
        let mut app = App::new(setup);
        app.start();
        let mut h = Harness {
            app,
            runner: Runner::new(client, tx),
            rx,
            term: Terminal::new(TestBackend::new(W, H)).expect("terminal"),
            effects: Vec::new(),
        };
        h.settle().await;
        h
    }

    /// Runs what App asked for (as the event loop does), keeping effects.
    pub fn perform(&mut self) {
        while self.app.has_output() {
            let effects = self.runner.perform(self.app.take_output());
            self.effects.extend(effects);
        }
    }

    /// Switches to another broker, as a profile switch does.
    pub fn switch(&mut self, client: Client, profile: Option<String>) {
        let (url, ro) = (client.http_url().to_owned(), client.is_read_only());
        self.runner.set_client(client);
        self.app.set_target(url, ro, profile);
    }

    /// Draws, then handles replies until no request is running.
    pub async fn settle(&mut self) {
        self.perform();
        self.draw();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while self.app.busy() {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(resp)) => {
                    self.runner.received(&resp);
                    self.app.on_response(resp);
                    self.perform();
                    self.draw();
                }
                _ => panic!("requests still running after 20 s"),
            }
        }
        self.draw();
    }

    pub fn draw(&mut self) {
        let app = &mut self.app;
        self.term.draw(|f| components::draw(f, app)).expect("draw");
    }

    pub async fn key(&mut self, code: KeyCode) {
        self.key_mod(code, KeyModifiers::NONE).await;
    }

    pub async fn key_mod(&mut self, code: KeyCode, m: KeyModifiers) {
        self.app.on_event(Event::Key(KeyEvent::new(code, m)));
        self.settle().await;
    }

    pub async fn chars(&mut self, s: &str) {
        for c in s.chars() {
            self.app.on_event(Event::Key(KeyEvent::new(
                KeyCode::Char(c),
                KeyModifiers::NONE,
            )));
        }
        self.settle().await;
    }

    pub async fn command(&mut self, cmd: &str) {
        self.chars(":").await;
        self.chars(cmd).await;
        self.key(KeyCode::Enter).await;
    }

    pub fn screen(&self) -> String {
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

    pub fn status(&self) -> String {
        self.screen()
            .lines()
            .nth(H as usize - 2)
            .unwrap_or_default()
            .to_owned()
    }
}

/// Compares the screen with `snapshots/NAME.snap`.
macro_rules! snap {
    ($name:expr, $h:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "[time]"),
                (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            ],
            prepend_module_to_snapshot => false,
            snapshot_path => "../snapshots",
        }, {
            insta::assert_snapshot!($name, $h.screen());
        });
    };
}
pub(super) use snap;

pub(super) async fn demo() -> (Broker, Harness) {
    let broker = Broker::start(&["demo:3", "plain:1:redpanda.kvstore=none", "single:1"]).await;
    seed(&broker.client(), "demo", 3).await;
    let h = Harness::new(broker.config()).await;
    (broker, h)
}

/// Records in every partition's log (to see that nothing was written).
pub(super) async fn log_records(client: &Client, topic: &str, partitions: i32) -> usize {
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

pub(super) fn assert_demo_rows_shown(h: &Harness) {
    let screen = h.screen();
    for (k, _) in DEMO {
        assert!(screen.contains(k), "row {k} not shown:\n{screen}");
    }
    let s = h.app.scan().expect("scan view");
    assert_eq!(s.rows_in_memory(), DEMO.len());
}
