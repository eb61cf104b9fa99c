//! The consumer API through the real router, a real store and a running
//! group coordinator: status codes, error bodies, formats, commits, and the
//! harness `consumer_groups.rs` shares.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;

use super::*;
use crate::http::consumer::{ConsumerConfig, Consumers};
use crate::kafka::groups::{GroupConfig, GroupCoordinator, StoreOffsets};
use crate::storage::Record;

pub(super) const V2: &str = "application/vnd.kafka.v2+json";
const BINARY: &str = "application/vnd.kafka.binary.v2+json";
const JSON: &str = "application/vnd.kafka.json.v2+json";

pub(super) struct Group {
    pub(super) h: Harness,
    pub(super) coordinator: Arc<GroupCoordinator>,
    _stop: tokio::sync::watch::Sender<bool>,
}

pub(super) async fn consumers(cfg: ConsumerConfig) -> Group {
    let h = harness().await;
    for (t, n) in [("orders", 3), ("events", 1)] {
        h.store
            .create_topic(t, n, Default::default())
            .await
            .unwrap();
    }
    let coordinator = Arc::new(GroupCoordinator::new(
        GroupConfig::default(),
        Arc::new(StoreOffsets::new(h.store.clone())),
        h.store.metrics().clone(),
    ));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    tokio::spawn(
        coordinator
            .clone()
            .run_timer(h.store.clone(), stopping.clone()),
    );
    let state = AppState::new(h.store.clone())
        .with_stopping(stopping)
        .with_consumers(Consumers::new(coordinator.clone(), cfg));
    let h = Harness {
        app: router(state, crate::defaults::MAX_REQUEST_BYTES),
        ..h
    };
    Group {
        h,
        coordinator,
        _stop: stop,
    }
}

pub(super) async fn default_group() -> Group {
    consumers(ConsumerConfig::default()).await
}

impl Group {
    pub(super) async fn call(
        &self,
        method: Method,
        path: &str,
        ct: Option<&str>,
        body: &str,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, "proxy.test:8082");
        if let Some(ct) = ct {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        self.h
            .send(req.body(Body::from(body.to_string())).unwrap())
            .await
    }

    pub(super) async fn create(&self, group: &str, body: Value) -> Resp {
        self.call(
            Method::POST,
            &format!("/consumers/{group}"),
            Some(V2),
            &body.to_string(),
        )
        .await
    }

    pub(super) async fn subscribe(&self, group: &str, name: &str, topics: &[&str]) {
        let r = self
            .call(
                Method::POST,
                &format!("/consumers/{group}/instances/{name}/subscription"),
                Some(V2),
                &json!({ "topics": topics }).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.bytes);
    }

    pub(super) async fn fetch(
        &self,
        group: &str,
        name: &str,
        accept: &str,
        timeout_ms: u64,
    ) -> Resp {
        self.h
            .get_path(
                &format!("/consumers/{group}/instances/{name}/records?timeout={timeout_ms}"),
                Some(accept),
            )
            .await
    }

    /// Fetches until `n` records came (each fetch long-polls 1 s).
    pub(super) async fn fetch_n(
        &self,
        group: &str,
        name: &str,
        accept: &str,
        n: usize,
    ) -> Vec<Value> {
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while got.len() < n {
            assert!(
                Instant::now() < deadline,
                "only {} of {n} records: {got:?}",
                got.len()
            );
            let r = self.fetch(group, name, accept, 1000).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
            assert_eq!(r.content_type, accept);
            got.extend(r.json().as_array().unwrap().iter().cloned());
        }
        got
    }

    pub(super) async fn assignment(&self, group: &str, name: &str) -> BTreeSet<(String, i64)> {
        let r = self
            .h
            .get_path(
                &format!("/consumers/{group}/instances/{name}/assignments"),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["topic"].as_str().unwrap().to_string(),
                    p["partition"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    pub(super) async fn committed(&self, group: &str, name: &str, partitions: Value) -> Vec<Value> {
        let r = self
            .call(
                Method::GET,
                &format!("/consumers/{group}/instances/{name}/offsets"),
                Some(V2),
                &json!({ "partitions": partitions }).to_string(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        r.json()["offsets"].as_array().unwrap().clone()
    }

    pub(super) async fn produce(&self, topic: &str, partition: i32, values: &[&str]) {
        let records = values
            .iter()
            .map(|v| Record::new(0, Some(b"1".to_vec()), Some(v.as_bytes().to_vec())))
            .collect();
        self.h
            .store
            .append(topic, partition, records)
            .await
            .unwrap();
    }

    pub(super) async fn metrics(&self) -> String {
        let r = self.h.get_path("/metrics", None).await;
        String::from_utf8(r.bytes).unwrap()
    }
}

pub(super) fn assert_code(r: &Resp, status: StatusCode, code: i64) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.bytes));
    assert_eq!(r.json()["error_code"], json!(code), "{}", r.json());
    assert!(r.json()["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test]
async fn create_answers_the_instance_and_refuses_duplicates_and_bad_configs() {
    let g = default_group().await;
    let r = g
        .create(
            "g1",
            json!({"name": "c1", "format": "binary", "auto.offset.reset": "earliest"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, V2);
    assert_eq!(
        r.json(),
        json!({"instance_id": "c1", "base_uri": "http://proxy.test:8082/consumers/g1/instances/c1"})
    );
    // The same name in the same group: 409 / 40902; in another group it is fine.
    assert_code(
        &g.create("g1", json!({"name": "c1"})).await,
        StatusCode::CONFLICT,
        40902,
    );
    assert_eq!(
        g.create("g2", json!({"name": "c1"})).await.status,
        StatusCode::OK
    );
    // No name: one is made up. Strings for numbers and flags, as Confluent's clients send.
    let r = g
        .create(
            "g1",
            json!({"format": "json", "auto.commit.enable": "false", "fetch.min.bytes": "1", "consumer.request.timeout.ms": "500"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json()["instance_id"]
            .as_str()
            .unwrap()
            .starts_with("rest-consumer-")
    );
    for bad in [
        json!({"format": "avro"}),
        json!({"auto.offset.reset": "middle"}),
        json!({"auto.commit.enable": "maybe"}),
        json!({"consumer.request.timeout.ms": -1}),
    ] {
        assert_code(
            &g.create("g1", bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            42204,
        );
    }
    assert_code(
        &g.create("g1", json!({"name": "a/b"})).await,
        StatusCode::BAD_REQUEST,
        400,
    );
    // Settings it does not know are ignored, as Confluent's proxy does.
    assert_eq!(
        g.create("g1", json!({"name": "x", "extra": 1}))
            .await
            .status,
        StatusCode::OK
    );
    let r = g
        .call(Method::POST, "/consumers/g1", Some("text/plain"), "{}")
        .await;
    assert_code(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, 415);
    let r = g
        .call(Method::POST, "/consumers/g1", Some(V2), "{nope")
        .await;
    assert_code(&r, StatusCode::BAD_REQUEST, 400);
}

#[tokio::test]
async fn unknown_instances_are_404_40403_on_every_endpoint() {
    let g = default_group().await;
    let base = "/consumers/g/instances/ghost";
    for (method, path, body) in [
        (Method::DELETE, base.to_string(), ""),
        (
            Method::POST,
            format!("{base}/subscription"),
            r#"{"topics":["orders"]}"#,
        ),
        (Method::GET, format!("{base}/subscription"), ""),
        (Method::DELETE, format!("{base}/subscription"), ""),
        (Method::GET, format!("{base}/assignments"), ""),
        (Method::GET, format!("{base}/records"), ""),
        (Method::POST, format!("{base}/offsets"), ""),
        (
            Method::GET,
            format!("{base}/offsets"),
            r#"{"partitions":[]}"#,
        ),
    ] {
        let r = g.call(method.clone(), &path, Some(V2), body).await;
        assert_code(&r, StatusCode::NOT_FOUND, 40403);
        let _ = method;
    }
}

#[tokio::test]
async fn binary_flow_fetches_commits_reads_offsets_and_deletes() {
    let g = default_group().await;
    g.produce("events", 0, &["a", "b", "c"]).await;
    let r = g
        .create(
            "flow",
            json!({"name": "c", "auto.offset.reset": "earliest"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    g.subscribe("flow", "c", &["events"]).await;
    let sub =
        g.h.get_path("/consumers/flow/instances/c/subscription", None)
            .await;
    assert_eq!(sub.json(), json!({"topics": ["events"]}));
    let got = g.fetch_n("flow", "c", BINARY, 3).await;
    assert_eq!(
        got[0],
        json!({"topic": "events", "key": b64(b"1"), "value": b64(b"a"), "partition": 0, "offset": 0, "timestamp": 0})
    );
    let offsets: Vec<i64> = got.iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, [0, 1, 2]);
    assert_eq!(
        g.assignment("flow", "c").await,
        BTreeSet::from([("events".to_string(), 0)])
    );
    let parts = json!([{"topic": "events", "partition": 0}]);
    assert_eq!(
        g.committed("flow", "c", parts.clone()).await[0]["offset"],
        json!(-1)
    );
    // No body: commit everything fetched (the next offset to read).
    let r = g
        .call(
            Method::POST,
            "/consumers/flow/instances/c/offsets",
            None,
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.bytes);
    assert_eq!(
        g.committed("flow", "c", parts.clone()).await,
        [json!({"topic": "events", "partition": 0, "offset": 3, "metadata": ""})]
    );
    // Explicit offsets, and what Kafka clients see.
    let r = g
        .call(
            Method::POST,
            "/consumers/flow/instances/c/offsets",
            Some(V2),
            r#"{"offsets":[{"topic":"events","partition":0,"offset":2,"metadata":"m"}]}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let c = g
        .coordinator
        .committed(
            "flow",
            &crate::kafka::groups::TopicPartition::new("events", 0),
        )
        .unwrap();
    assert_eq!((c.offset, c.metadata.as_str()), (2, "m"));
    // A partition that does not exist: 404 / 40401, nothing committed.
    let r = g
        .call(
            Method::POST,
            "/consumers/flow/instances/c/offsets",
            Some(V2),
            r#"{"offsets":[{"topic":"events","partition":9,"offset":1}]}"#,
        )
        .await;
    assert_code(&r, StatusCode::NOT_FOUND, 40401);
    // New records arrive in a waiting fetch; the position moved past the old ones.
    let poll = {
        let app = g.h.app.clone();
        tokio::spawn(async move {
            let req = Request::get("/consumers/flow/instances/c/records?timeout=5000")
                .header(header::ACCEPT, BINARY)
                .body(Body::empty())
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            to_bytes(resp.into_body(), usize::MAX).await.unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    g.produce("events", 0, &["d"]).await;
    let got: Value = serde_json::from_slice(&poll.await.unwrap()).unwrap();
    assert_eq!(got[0]["offset"], json!(3));
    assert_eq!(got[0]["value"], json!(b64(b"d")));
    // An empty fetch waits for its timeout.
    let started = Instant::now();
    let r = g.fetch("flow", "c", BINARY, 300).await;
    assert_eq!(r.json(), json!([]));
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Delete: 204, then 404; the group has no members left.
    let r = g
        .call(Method::DELETE, "/consumers/flow/instances/c", None, "")
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = g.fetch("flow", "c", BINARY, 0).await;
    assert_code(&r, StatusCode::NOT_FOUND, 40403);
    wait_until(|| async {
        g.coordinator
            .describe("flow")
            .is_some_and(|d| d.members.is_empty())
    })
    .await;
}

#[tokio::test]
async fn json_format_embeds_values_and_refuses_another_accept() {
    let g = default_group().await;
    g.produce("events", 0, &[r#"{"n":1}"#]).await;
    g.create(
        "j",
        json!({"name": "c", "format": "json", "auto.offset.reset": "earliest"}),
    )
    .await;
    g.subscribe("j", "c", &["events"]).await;
    let r = g.fetch("j", "c", BINARY, 0).await;
    assert_code(&r, StatusCode::NOT_ACCEPTABLE, 40601);
    let got = g.fetch_n("j", "c", JSON, 1).await;
    assert_eq!(got[0]["value"], json!({"n": 1}));
    assert_eq!(got[0]["key"], json!(1));
    // A record that is not JSON fails the fetch (406) and is not skipped.
    g.produce("events", 0, &["not json"]).await;
    let r = g.fetch("j", "c", JSON, 1000).await;
    assert_code(&r, StatusCode::NOT_ACCEPTABLE, 406);
    let r = g.fetch("j", "c", JSON, 0).await;
    assert_code(&r, StatusCode::NOT_ACCEPTABLE, 406);
    // auto.offset.reset=latest skips what is there.
    g.create("j2", json!({"name": "c"})).await;
    g.subscribe("j2", "c", &["events"]).await;
    let r = g.fetch("j2", "c", BINARY, 1500).await;
    assert_eq!(r.json(), json!([]));
    g.produce("events", 0, &["new"]).await;
    let got = g.fetch_n("j2", "c", BINARY, 1).await;
    assert_eq!(got[0]["offset"], json!(2));
}

pub(super) async fn wait_until<F, Fut>(f: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "condition not met in 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What an existing instance answers is what the OpenAPI document lists.
#[tokio::test]
async fn answers_of_a_live_instance_are_documented() {
    let g = default_group().await;
    let doc: Value =
        serde_yaml_ng::from_str(include_str!("../../../../assets/openapi.yaml")).unwrap();
    g.produce("events", 0, &["x"]).await;
    let inst = "/consumers/{group}/instances/{instance}";
    let cases: Vec<(Method, String, Option<&str>, &str)> = vec![
        (
            Method::POST,
            "/consumers/{group}".into(),
            Some(V2),
            r#"{"name":"i","auto.offset.reset":"earliest"}"#,
        ),
        (
            Method::POST,
            "/consumers/{group}".into(),
            Some(V2),
            r#"{"name":"i"}"#,
        ),
        (
            Method::POST,
            "/consumers/{group}".into(),
            Some(V2),
            r#"{"format":"avro"}"#,
        ),
        (
            Method::GET,
            format!("{inst}/offsets"),
            Some(V2),
            r#"{"partitions":[{"topic":"events","partition":0}]}"#,
        ),
        (
            Method::POST,
            format!("{inst}/offsets"),
            Some(V2),
            r#"{"offsets":[{"topic":"events","partition":0,"offset":1}]}"#,
        ),
        (
            Method::POST,
            format!("{inst}/subscription"),
            Some(V2),
            r#"{"topics":["events"]}"#,
        ),
        (
            Method::POST,
            format!("{inst}/subscription"),
            Some(V2),
            r#"{"topics":[]}"#,
        ),
        (Method::GET, format!("{inst}/subscription"), None, ""),
        (
            Method::GET,
            format!("{inst}/records?timeout=2000"),
            None,
            "",
        ),
        (Method::GET, format!("{inst}/assignments"), None, ""),
        (Method::POST, format!("{inst}/offsets"), None, ""),
        (
            Method::POST,
            format!("{inst}/offsets"),
            Some(V2),
            r#"{"offsets":[{"topic":"nope","partition":0,"offset":1}]}"#,
        ),
        (Method::DELETE, format!("{inst}/subscription"), None, ""),
        (Method::DELETE, inst.to_string(), None, ""),
    ];
    for (method, template, ct, body) in cases {
        let path = template
            .replace("{group}", "doc")
            .replace("{instance}", "i");
        let r = g.call(method.clone(), &path, ct, body).await;
        let key = template.split('?').next().unwrap();
        let op = &doc["paths"][key][method.as_str().to_lowercase()];
        assert!(op.is_object(), "{method} {key} is not documented");
        let code = r.status.as_u16().to_string();
        assert!(
            op["responses"].get(&code).is_some(),
            "{method} {path} answered {code}, which the document does not list"
        );
        let content = &op["responses"][&code]["content"];
        if r.status.is_success() && !r.bytes.is_empty() {
            assert!(
                content.get(&r.content_type).is_some(),
                "{method} {path}: {} is not a documented content type",
                r.content_type
            );
        }
    }
}
