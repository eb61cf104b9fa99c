//! rpkv never prints a password: not in `profile list` (text or JSON), not in
//! `--help` (even with the password and a URL holding one in the
//! environment), not in errors (401, connection refused, a broken profile
//! file), not in its logs on stderr at trace level.

use rpkv_e2e::Broker;
use rpkv_e2e::cli::{Rpkv, Run};

const RIGHT: &str = "right-pw-1618";
const WRONG: &str = "wrong-pw-2236";

#[track_caller]
fn assert_no_password(run: &Run, what: &str) {
    for secret in [RIGHT, WRONG] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{what}: {secret} printed: {run:?}"
        );
    }
}

#[test]
fn passwords_are_never_printed() {
    let b = Broker::start(&["--topic", "t", "--basic-auth", &format!("alice:{RIGHT}")]).unwrap();
    let port = b.http_addr.port();
    let url = format!("http://alice:{RIGHT}@127.0.0.1:{port}");
    // RPKV_HTTP_URL holds the password too; logs at trace level on stderr.
    let r = Rpkv::with_urls(&url, "127.0.0.1:1")
        .env("RPKV_PASSWORD", RIGHT)
        .env("DEVBROKER_BASIC_AUTH", &format!("alice:{RIGHT}"))
        .env("RUST_LOG", "trace");

    let run = r.run(&[
        "profile",
        "create",
        "ci",
        "--http-url",
        &url,
        "--user",
        "alice",
        "--save-password",
        "--use",
    ]);
    assert_no_password(&run.ok(), "profile create");
    let saved = std::fs::read_to_string(r.config_file()).unwrap();
    assert!(saved.contains(RIGHT), "the password is saved: {saved}");

    let run = r.run(&["profile", "list"]).ok();
    assert_no_password(&run, "profile list");
    assert!(
        run.stdout
            .contains(&format!("http://alice:***@127.0.0.1:{port}")),
        "{run:?}"
    );
    let run = r.run(&["profile", "list", "--format", "json"]).ok();
    assert_no_password(&run, "profile list --format json");
    let json = run.json();
    assert_eq!(
        json[0]["http_url"],
        format!("http://alice:***@127.0.0.1:{port}")
    );
    assert_eq!(json[0]["password_saved"], true);

    for help in [
        &["--help"][..],
        &["kv", "get", "--help"][..],
        &["profile", "create", "--help"][..],
        &["dev", "--help"][..],
    ] {
        let run = r.run(help).ok();
        assert_no_password(&run, &help.join(" "));
        assert!(run.stdout.contains("Usage"), "{run:?}");
    }

    // The saved profile authenticates, with everything logged at trace level.
    let run = r.run(&["kv", "put", "t", "k", "v", "-p", "0"]).ok();
    assert_no_password(&run, "kv put");
    assert!(!run.stderr.is_empty(), "nothing logged at trace level");

    // A wrong password: 401, one line, the password not in it.
    let bad = Rpkv::with_urls(&format!("http://127.0.0.1:{port}"), "127.0.0.1:1");
    let run = bad.run(&[
        "--user",
        "alice",
        "--password",
        WRONG,
        "kv",
        "get",
        "t",
        "k",
        "-p",
        "0",
    ]);
    assert_no_password(&run, "kv get with a wrong password");
    assert!(run.fails(1).contains("401"));

    // Nothing listening: the error names the URL, with the password masked.
    let down = Rpkv::with_urls(&format!("http://alice:{WRONG}@127.0.0.1:1"), "127.0.0.1:1");
    let run = down.run(&["kv", "get", "t", "k", "-p", "0"]);
    assert_no_password(&run, "kv get, connection refused");
    let line = run.fails(1);
    assert!(line.contains("http://alice:***@127.0.0.1:1/"), "{line}");

    // A broken profile file: the error says where, without quoting the line.
    std::fs::write(
        r.config_file(),
        format!("current = \"ci\"\n[profiles.ci]\nuser = \"alice\"\npassword = \"{RIGHT}\n"),
    )
    .unwrap();
    let run = r.run(&["profile", "list"]);
    assert_no_password(&run, "broken profile file");
    assert_eq!(run.code, 1, "{run:?}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("rpkv: "))
        .unwrap_or_default();
    assert!(line.contains("rpkv.toml: line 4"), "{run:?}");
}
