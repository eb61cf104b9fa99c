//! `--filter EXPR` (jq expressions run by jaq) on `rpkv kv scan` and
//! `rpkv kv watch`: results equal a reference computed here with serde_json
//! over 10k JSON values in the dev broker; non-JSON values never match; a bad
//! expression exits 1 with the parser's message.

use rpkv_e2e::cli::Rpkv;
use rpkv_e2e::{Broker, Kv, b64};
use serde_json::{Value, json};

const N: usize = 10_000;
const CITIES: [&str; 5] = ["Oslo", "Lima", "Pune", "Kyiv", "Nice"];
const TAGS: [&str; 4] = ["admin", "dev", "ops", "qa"];

fn value(i: usize) -> Value {
    let mut v = json!({
        "id": i,
        "age": i % 90,
        "name": format!("user{i}"),
        "active": i.is_multiple_of(3),
        "tags": (0..i % 4).map(|t| TAGS[(i + t) % 4]).collect::<Vec<_>>(),
        "address": {"city": CITIES[i % 5], "geo": {"zone": i % 7}},
    });
    if i.is_multiple_of(11) {
        v.as_object_mut().unwrap().remove("address");
    }
    v
}

fn key(i: usize) -> String {
    format!("k{i:05}")
}

/// 10k JSON values over two partitions, plus values that are not JSON.
async fn load(b: &Broker) -> Vec<(String, Value)> {
    let kv = Kv::new(b.url());
    let all: Vec<(String, Value)> = (0..N).map(|i| (key(i), value(i))).collect();
    for p in 0..2 {
        let mine: Vec<&(String, Value)> = all.iter().skip(p).step_by(2).collect();
        for chunk in mine.chunks(1000) {
            let puts: Vec<Value> = chunk
                .iter()
                .map(|(k, v)| json!({"key": b64(k), "value": b64(v.to_string())}))
                .collect();
            let r = kv
                .call("f", p as i32, "write", &json!({"puts": puts}))
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{:?}", r.body);
        }
    }
    let junk = json!({"puts": [
        {"key": b64("x-text"), "value": b64("age > 30, admin")},
        {"key": b64("x-bytes"), "value": b64([0xffu8, 0xfe, b'{'])},
        {"key": b64("x-half"), "value": b64("{\"age\": 99")},
        {"key": b64("x-empty"), "value": ""},
    ]});
    let r = kv.call("f", 0, "write", &junk).await.unwrap();
    assert_eq!(r.status, 200, "{:?}", r.body);
    all
}

fn truthy(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false))
}

fn scan_keys(r: &Rpkv, expr: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["kv", "scan", "f", "--filter", expr, "--format", "json"];
    args.extend_from_slice(extra);
    if !extra.contains(&"--limit") {
        args.extend(["--limit", "100000"]);
    }
    let run = r.run(&args).ok();
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn scan_filters_equal_a_reference_over_10k_values() {
    let b = Broker::start(&["--topic", "f:2"]).unwrap();
    let r = Rpkv::new(&b);
    let all = load(&b).await;
    type Reference = fn(&Value) -> bool;
    let cases: [(&str, Reference); 6] = [
        (".age > 30", |v| v["age"].as_u64().unwrap() > 30),
        ("select(.active)", |v| v["active"] == true),
        (".address.city == \"Oslo\"", |v| {
            v["address"]["city"] == "Oslo"
        }),
        (".address.geo.zone", |v| {
            truthy(&v["address"]["geo"]["zone"])
        }),
        ("any(.tags[]; . == \"admin\")", |v| {
            v["tags"].as_array().unwrap().iter().any(|t| t == "admin")
        }),
        (".age < 20 and (.tags | length) >= 2", |v| {
            v["age"].as_u64().unwrap() < 20 && v["tags"].as_array().unwrap().len() >= 2
        }),
    ];
    for (expr, reference) in cases {
        let want: Vec<String> = all
            .iter()
            .filter(|(_, v)| reference(v))
            .map(|(k, _)| k.clone())
            .collect();
        assert!(
            !want.is_empty() && want.len() < N,
            "{expr}: a selective case"
        );
        assert_eq!(scan_keys(&r, expr, &[]), want, "{expr}");
    }
    // Every JSON value yields true; the values that are not JSON never match.
    let keys = scan_keys(&r, "true", &[]);
    assert_eq!(keys.len(), N);
    assert!(keys.iter().all(|k| !k.starts_with("x-")));
    // After the server-side narrowing, one partition, and --limit counting matches.
    let want: Vec<String> = all
        .iter()
        .filter(|(k, v)| k.starts_with("k01") && v["age"].as_u64().unwrap() > 80)
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(scan_keys(&r, ".age > 80", &["--prefix", "k01"]), want);
    let want_p1: Vec<String> = (0..N)
        .filter(|i| i % 2 == 1 && value(*i)["active"] == true)
        .map(key)
        .take(5)
        .collect();
    assert_eq!(
        scan_keys(&r, ".active", &["-p", "1", "--limit", "5"]),
        want_p1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_expressions_exit_1_with_the_parsers_message() {
    let b = Broker::start(&["--topic", "f:2"]).unwrap();
    let r = Rpkv::new(&b);
    let err = r.run(&["kv", "scan", "f", "--filter", ".age >"]).fails(1);
    assert!(
        err.starts_with("rpkv: bad filter \".age >\": expected term"),
        "{err}"
    );
    let err = r
        .run(&[
            "kv",
            "watch",
            "f",
            "--filter",
            "nosuch(1)",
            "--duration",
            "5s",
        ])
        .fails(1);
    assert!(err.contains("undefined filter nosuch"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_prints_only_matching_puts() {
    let b = Broker::start(&["--topic", "f:2"]).unwrap();
    let r = Rpkv::new(&b);
    let all = load(&b).await;
    let want: Vec<String> = all
        .iter()
        .filter(|(_, v)| v["address"]["city"] == "Lima" && v["age"].as_u64().unwrap() > 85)
        .map(|(k, _)| k.clone())
        .collect();
    let count = want.len().to_string();
    let run = r.run(&[
        "kv",
        "watch",
        "f",
        "--from-beginning",
        "--filter",
        ".address.city == \"Lima\" and .age > 85",
        "--count",
        &count,
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{run:?}");
    let mut got: Vec<String> = run
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["key"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    got.sort();
    assert_eq!(got, want);
}
