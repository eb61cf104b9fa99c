//! The rpkv TUI (ratatui + crossterm): browse topics and partitions, scan,
//! view and edit values with compare-and-swap, resolve conflicts, read a key's
//! history, in a terminal that never blocks.
//!
//! Shape (after ratatui's component template and gitui): terminal input is
//! read by [`event::EventTask`] into a channel; [`app::App`] is plain state
//! updated from input and replies, and says what to do next as
//! [`app::Out`] values (requests with ids, cancellations, effects); the loop
//! here performs them: [`runner::Runner`] runs requests in tokio tasks
//! ([`backend`]) that reply over another channel, and the loop does the
//! effects that need the terminal. [`components`] draw the panes and
//! [`popups`] the popups. The loop redraws only when something changed, or
//! on a spinner tick while a request runs.

pub mod action;
pub mod app;
pub mod backend;
pub mod components;
pub mod event;
pub mod fmt;
pub mod follow;
pub mod groups;
pub mod keymap;
pub mod popups;
pub mod runner;
pub mod scan;
pub mod theme;

#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use tokio::sync::mpsc;

use crate::client::{Client, ClientConfig};
use app::{App, Effect, Level, Setup};
use runner::Runner;

/// The demo topic of the embedded dev broker.
pub const DEMO_TOPIC: &str = "demo";

/// Resolves a profile name to a client config (for `:ctx NAME`).
pub type ProfileResolver = Box<dyn Fn(&str) -> anyhow::Result<ClientConfig> + Send>;

/// How to start the TUI.
pub struct Options {
    pub config: ClientConfig,
    /// True when flags, environment or a profile chose the broker: then no
    /// offer to start the embedded one.
    pub explicit_target: bool,
    /// Profile names, for `:ctx`.
    pub profiles: Vec<String>,
    pub resolve_profile: Option<ProfileResolver>,
    /// Data dir of the embedded dev broker.
    pub dev_data_dir: PathBuf,
    /// File with a `[keys]` table (default `$XDG_CONFIG_HOME/rpkv/tui.toml`).
    pub keys_file: Option<PathBuf>,
    /// Topic to open at start.
    pub topic: Option<String>,
}

pub use crate::paths::{log_file as log_path, tui_keys_file as default_keys_file, xdg_dir};

/// Sends tracing to the log file. Returns false when a subscriber was
/// already installed (then nothing changes).
fn init_logging() -> bool {
    let path = log_path();
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    else {
        return false;
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("RPKV_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init()
        .is_ok()
}

type Term = Terminal<CrosstermBackend<std::io::Stdout>>;

fn enter_terminal() -> anyhow::Result<Term> {
    enable_raw_mode().context("entering raw mode")?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)
        .context("entering the alternate screen")?;
    let term =
        Terminal::new(CrosstermBackend::new(std::io::stdout())).context("opening the terminal")?;
    Ok(term)
}

/// Gives the terminal back: cooked mode, main screen, no mouse capture.
pub fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        tracing::error!(%info, "panic");
        previous(info);
    }));
}

/// Runs the TUI until the user quits. Needs a tokio runtime.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    init_logging();
    let shown_url = crate::client::redact_url(&opts.config.http_url);
    tracing::info!(http_url = %shown_url, "starting the TUI");
    let keymap = match opts.keys_file.clone().or_else(default_keys_file) {
        Some(path) => match std::fs::read_to_string(&path) {
            Ok(text) => keymap::Keymap::from_toml(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
            Err(_) => keymap::Keymap::default(),
        },
        None => keymap::Keymap::default(),
    };
    let client = Client::new(opts.config.clone()).context("setting up the client")?;
    let (tx, mut replies) = mpsc::unbounded_channel();
    let mut runner = Runner::new(client.clone(), tx);
    let mut setup = Setup::new(client.http_url());
    setup.read_only = client.is_read_only();
    setup.keymap = keymap;
    setup.profile = opts.config.profile.clone();
    setup.profiles = opts.profiles.clone();
    setup.explicit_target = opts.explicit_target;
    setup.dev_data_dir = Some(opts.dev_data_dir.clone());
    setup.open_on_start = opts.topic.clone();
    if let Ok(dir) = std::env::current_dir() {
        setup.export_dir = dir;
    }
    let mut app = App::new(setup);
    app.start();

    install_panic_hook();
    let mut term = enter_terminal()?;
    let result = event_loop(&mut term, &mut app, &mut runner, &mut replies, &opts).await;
    restore_terminal();
    result
}

#[cfg(feature = "dev")]
struct DevBroker {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

/// Points App and the runner at another broker.
fn switch_client(app: &mut App, runner: &mut Runner, client: Client, profile: Option<String>) {
    let (url, read_only) = (client.http_url().to_owned(), client.is_read_only());
    runner.set_client(client);
    app.set_target(url, read_only, profile);
}

async fn event_loop(
    term: &mut Term,
    app: &mut App,
    runner: &mut Runner,
    replies: &mut mpsc::UnboundedReceiver<backend::Response>,
    opts: &Options,
) -> anyhow::Result<()> {
    let (ev_tx, mut events) = mpsc::unbounded_channel();
    let mut input = event::EventTask::start(ev_tx);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    #[cfg(feature = "dev")]
    let mut dev: Option<DevBroker> = None;
    let mut dirty = true;
    loop {
        // What App asked for: requests and cancellations go to the runner,
        // effects are done here (and may ask for more).
        while app.has_output() {
            for effect in runner.perform(app.take_output()) {
                dirty = true;
                match effect {
                    Effect::Copy(bytes) => osc52(&bytes),
                    Effect::ExternalEdit(text) => {
                        input.pause();
                        restore_terminal();
                        let result = external_edit(&text).await;
                        *term = enter_terminal()?;
                        term.clear().context("clearing the terminal")?;
                        input.resume();
                        app.external_done(result);
                    }
                    #[cfg(not(feature = "dev"))]
                    Effect::StartDevBroker => {}
                    #[cfg(feature = "dev")]
                    Effect::StartDevBroker => {
                        if dev.is_none() {
                            let addr: SocketAddr = app
                                .http_url()
                                .trim_start_matches("http://")
                                .trim_end_matches('/')
                                .parse()
                                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 18082)));
                            let (stop, task) = backend::spawn_dev_broker(
                                opts.dev_data_dir.clone(),
                                addr,
                                DEMO_TOPIC,
                                runner.sender(),
                            );
                            dev = Some(DevBroker { stop, task });
                        }
                    }
                    Effect::SwitchProfile(name) => match &opts.resolve_profile {
                        Some(resolve) => {
                            match resolve(&name).and_then(|c| Client::new(c).map_err(Into::into)) {
                                Ok(client) => switch_client(app, runner, client, Some(name)),
                                Err(e) => {
                                    app.notify(Level::Error, format!("profile {name}: {e:#}"))
                                }
                            }
                        }
                        None => app.notify(Level::Error, "no profiles available"),
                    },
                }
            }
        }
        if app.should_quit() {
            break;
        }
        if dirty {
            term.draw(|f| components::draw(f, app)).context("drawing")?;
        }
        let busy = app.busy() || app.animating();
        dirty = tokio::select! {
            Some(ev) = events.recv() => app.on_event(ev),
            Some(resp) = replies.recv() => {
                runner.received(&resp);
                let addr = match &resp.reply {
                    backend::Reply::DevBroker(Ok(a)) => Some(*a),
                    _ => None,
                };
                app.on_response(resp);
                if let Some(addr) = addr {
                    connect_dev(app, runner, addr, opts);
                }
                true
            }
            _ = tick.tick(), if busy => {
                app.tick();
                true
            }
        };
    }
    drop(input);
    #[cfg(feature = "dev")]
    if let Some(d) = dev {
        let _ = d.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), d.task).await;
    }
    Ok(())
}

fn connect_dev(app: &mut App, runner: &mut Runner, addr: SocketAddr, opts: &Options) {
    let config = ClientConfig {
        http_url: format!("http://{addr}"),
        profile: None,
        ..opts.config.clone()
    };
    match Client::new(config) {
        Ok(client) => {
            // Seed in the background; the topic list refreshes after.
            let seed = client.clone();
            let tx = runner.sender();
            tokio::spawn(async move {
                if let Err(e) = backend::seed_demo(&seed, DEMO_TOPIC).await {
                    tracing::warn!(error = %e, "seeding the demo topic failed");
                }
                let _ = tx.send(backend::Response {
                    id: 0,
                    reply: backend::Reply::Topics(backend::topics(&seed).await),
                });
            });
            switch_client(app, runner, client, Some("embedded dev broker".into()));
        }
        Err(e) => app.notify(Level::Error, e.to_string()),
    }
}

/// Copies to the terminal's clipboard with OSC 52 (works over SSH and in tmux
/// with `set -g set-clipboard on`).
fn osc52(bytes: &[u8]) {
    let seq = format!("\x1b]52;c;{}\x07", rpkv_wire::b64::encode(bytes));
    let mut out = std::io::stdout();
    let _ = out.write_all(seq.as_bytes());
    let _ = out.flush();
}

/// Edits `text` in `$VISUAL`, `$EDITOR` or `vi`, with the terminal handed over.
async fn external_edit(text: &str) -> Result<String, String> {
    let dir = tempfile_dir();
    let path = dir.join(format!("rpkv-edit-{}-{}.txt", std::process::id(), nonce()));
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|s| !s.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_owned());
    let p = path.clone();
    let status = tokio::task::spawn_blocking(move || {
        // The editor may carry arguments (`code -w`): run it through the shell.
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{editor} \"$1\""))
            .arg("rpkv-editor")
            .arg(&p)
            .status()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot run the editor: {e}"))?;
    let result = if status.success() {
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Err(format!("the editor exited with {status}; nothing changed"))
    };
    let _ = std::fs::remove_file(&path);
    result
}

fn tempfile_dir() -> PathBuf {
    std::env::temp_dir()
}

fn nonce() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Builds a runtime, runs the TUI, and maps the outcome to an exit code
/// (0, or 1 with a one-line error on stderr). The `rpkv` binary calls this
/// when no subcommand is given.
pub fn main_with(opts: Options) -> std::process::ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rpkv: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(opts)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rpkv: {}", format!("{e:#}").replace(['\n', '\r'], " "));
            std::process::ExitCode::from(1)
        }
    }
}

/// `rpkv` without a subcommand: the connection flags and profiles of the CLI,
/// then the TUI.
pub fn main_from_cli(conn: &crate::cli::ConnArgs) -> std::process::ExitCode {
    let config = match conn.client_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rpkv: {}", format!("{e:#}").replace(['\n', '\r'], " "));
            return std::process::ExitCode::from(1);
        }
    };
    let profiles = conn
        .config_path()
        .ok()
        .and_then(|p| crate::config::ConfigFile::load(&p).ok())
        .map(|f| f.profiles.into_keys().collect())
        .unwrap_or_default();
    let base = conn.clone();
    let resolve: ProfileResolver = Box::new(move |name: &str| {
        // The chosen profile wins over connection flags given at start.
        let args = crate::cli::ConnArgs {
            profile: Some(name.to_owned()),
            config: base.config.clone(),
            timeout: base.timeout,
            ..Default::default()
        };
        args.client_config()
    });
    main_with(Options {
        explicit_target: conn.http_url.is_some() || config.profile.is_some(),
        config,
        profiles,
        resolve_profile: Some(resolve),
        dev_data_dir: crate::config::default_dev_data_dir(),
        keys_file: None,
        topic: None,
    })
}

/// True when stdin and stdout are a terminal (else the TUI cannot run).
pub fn has_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}
