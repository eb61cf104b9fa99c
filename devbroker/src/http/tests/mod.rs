//! Router-level tests: every status code and edge of the HTTP API, through the
//! real router and a real store in a temporary directory.

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use prost::Message;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{AppState, router};
use crate::config::TopicSpec;
use crate::storage::{Store, StoreOptions};
use crate::wire::b64::encode as b64;
use crate::wire::kvstore as pb;
use crate::wire::sha256_hex;

struct Harness {
    app: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    for spec in [
        "kv:2",
        "plain:1:redpanda.kvstore=none",
        "small:1:max.message.bytes=200",
    ] {
        let s: TopicSpec = spec.parse().unwrap();
        store
            .create_topic(&s.name, s.partitions, s.config)
            .await
            .unwrap();
    }
    Harness {
        app: router(
            AppState::new(store.clone()),
            crate::defaults::MAX_REQUEST_BYTES,
        ),
        store,
        _dir: dir,
    }
}

struct Resp {
    status: StatusCode,
    content_type: String,
    bytes: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.bytes))
        })
    }
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Resp {
            status,
            content_type,
            bytes,
        }
    }

    async fn post_raw(&self, path: &str, content_type: &str, body: impl Into<Body>) -> Resp {
        self.send(
            Request::post(path)
                .header(header::CONTENT_TYPE, content_type)
                .body(body.into())
                .unwrap(),
        )
        .await
    }

    async fn kv(&self, topic: &str, p: i32, op: &str, body: Value) -> Resp {
        self.post_raw(
            &format!("/kvstore/{topic}/partition/{p}/{op}"),
            "application/json",
            body.to_string(),
        )
        .await
    }

    async fn put(&self, key: &[u8], value: &[u8]) {
        let r = self
            .kv(
                "kv",
                0,
                "write",
                json!({"puts":[{"key": b64(key), "value": b64(value)}]}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    }

    async fn scan(&self, body: Value) -> Vec<(Vec<u8>, Vec<u8>)> {
        let r = self.kv("kv", 0, "scan", body).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
        r.json()["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    crate::wire::b64::decode(e["key"].as_str().unwrap()).unwrap(),
                    crate::wire::b64::decode(e["value"].as_str().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    async fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        let r = self
            .kv("kv", 0, "batch_get", json!({"keys":[b64(key)]}))
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.json()["results"][0]["value"]
            .as_str()
            .map(|v| crate::wire::b64::decode(v).unwrap())
    }

    async fn get_path(&self, path: &str, accept: Option<&str>) -> Resp {
        let mut req = Request::get(path);
        if let Some(a) = accept {
            req = req.header(header::ACCEPT, a);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }
}

fn assert_error(r: &Resp, status: StatusCode, needle: &str) {
    assert_eq!(r.status, status, "{:?}", String::from_utf8_lossy(&r.bytes));
    let body = r.json();
    assert_eq!(body["error_code"], json!(status.as_u16()), "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.to_lowercase().contains(&needle.to_lowercase()),
        "message {message:?} should mention {needle:?}"
    );
}

mod consumer;
mod consumer_groups;
mod fencing;
mod kvstore;
mod openapi;
mod proxy;
