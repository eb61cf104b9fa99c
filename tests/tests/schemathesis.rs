//! schemathesis (PyPI, installed by tests/install-deps.sh) against the OpenAPI
//! document in assets/ and a real broker: a bounded number of generated cases
//! per operation, valid and invalid, with every check schemathesis has. No 5xx
//! (except the documented "no leader" 503 for an unknown topic or partition, see
//! tests/schemathesis/hooks.py) and no answer the document does not describe.
//!
//! `SCHEMATHESIS_MAX_EXAMPLES` and `SCHEMATHESIS_SEED` change the run.

use std::path::Path;
use std::process::Command;

use rpkv_e2e::Broker;

#[test]
fn schemathesis_finds_no_server_error_and_no_schema_violation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // `python3 -m schemathesis.cli` rather than `st`: pip's script dir may be off PATH.
    let st = || {
        let mut c = Command::new("python3");
        c.args(["-m", "schemathesis.cli"]);
        c
    };
    let version = st().arg("--version").output();
    assert!(
        matches!(&version, Ok(o) if o.status.success()),
        "schemathesis is missing; run tests/install-deps.sh"
    );
    let b = Broker::start(&[
        "--topic",
        "kv:2",
        "--topic",
        "plain:1:redpanda.kvstore=none",
    ])
    .unwrap();
    // The consumer instance most consumer-API cases are steered to (hooks.py).
    let client = rpkv_e2e::http_client();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for (path, body) in [
            (
                "/consumers/fuzz",
                r#"{"name":"fuzz","auto.offset.reset":"earliest"}"#,
            ),
            (
                "/consumers/fuzz/instances/fuzz/subscription",
                r#"{"topics":["plain"]}"#,
            ),
        ] {
            let r = client
                .post(format!("{}{path}", b.url()))
                .header("Content-Type", "application/vnd.kafka.v2+json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
        }
    });
    let max_examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "50".into());
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| "20261125".into());
    let out = st()
        .current_dir(root.join("tests/schemathesis"))
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", root.join("tests/schemathesis"))
        .env("NO_COLOR", "1")
        .args(["run", "--no-color"])
        .arg(root.join("assets/openapi.yaml"))
        .args(["--base-url", &b.url()])
        .args(["--checks", "all", "--exclude-checks", "not_a_server_error"])
        .args(["--data-generation-method", "all"])
        .args(["--hypothesis-max-examples", &max_examples])
        .args(["--hypothesis-seed", &seed])
        .args(["--hypothesis-deadline", "none"])
        // No example database: every run is the same seeded run.
        .args(["--hypothesis-database", "none"])
        .args(["--request-timeout", "10000"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "schemathesis failed (seed {seed}); see the report above"
    );
    // It really ran: every operation, and the custom check saw cases.
    assert!(stdout.contains("18 passed"), "not all 18 operations passed");
    let line = stdout
        .lines()
        .find(|l| l.contains("no_server_error_except_no_leader"))
        .unwrap_or_default();
    let cases: u64 = line
        .split_whitespace()
        .find_map(|w| w.parse().ok())
        .unwrap_or(0);
    assert!(cases >= 100, "schemathesis ran only {cases} cases: {line}");
    eprintln!(
        "schemathesis: {cases} cases checked, seed {seed}, {max_examples} max examples per operation and method"
    );
}
