//! The `rpkv` binary.

use rpkv::client::{ClientConfig, parse_brokers};

fn main() -> std::process::ExitCode {
    // TUI entry point (issue #6): `rpkv` with no subcommand opens the TUI.
    let mut config = ClientConfig::default();
    let mut explicit = false;
    let mut topic = None;
    if let Ok(url) = std::env::var("RPKV_HTTP_URL") {
        config.http_url = url;
        explicit = true;
    }
    if let Ok(b) = std::env::var("RPKV_BROKERS") {
        config.brokers = parse_brokers(&b);
    }
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--http-url", Some(v)) => {
                config.http_url = v;
                explicit = true;
            }
            ("--brokers", Some(v)) => config.brokers = parse_brokers(&v),
            ("--topic", Some(v)) => topic = Some(v),
            _ => {
                eprintln!("usage: rpkv [--http-url URL] [--brokers HOST:PORT,...] [--topic NAME]");
                return std::process::ExitCode::from(2);
            }
        }
    }
    rpkv::tui::main_with(rpkv::tui::Options {
        config,
        explicit_target: explicit,
        profiles: Vec::new(),
        resolve_profile: None,
        dev_data_dir: rpkv::tui::default_dev_data_dir(),
        keys_file: None,
        topic,
    })
}
