//! The OpenAPI document against the router.

use axum::http::StatusCode;
use serde_json::Value;

use super::*;

/// The OpenAPI document in assets/ lists exactly the routes the router serves.
#[tokio::test]
async fn openapi_document_matches_the_router() {
    let h = harness().await;
    let doc: Value =
        serde_yaml_ng::from_str(include_str!("../../../../assets/openapi.yaml")).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            documented.push(format!("{} {path}", method.to_uppercase()));
            let concrete = path
                .replace("{topic}", "kv")
                .replace("{partition}", "0")
                .replace("{group}", "g")
                .replace("{instance}", "i");
            let concrete = if concrete.ends_with("/records") {
                format!("{concrete}?offset=0")
            } else {
                concrete
            };
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .header(header::CONTENT_TYPE, "application/vnd.kafka.binary.v2+json")
                .body(Body::from(if method == "post" {
                    r#"{"records":[]}"#
                } else {
                    ""
                }))
                .unwrap();
            let r = h.send(req).await;
            // A consumer endpoint answers 404 for an unknown instance (40403),
            // not the fallback's 404.
            let unknown_instance =
                r.status == StatusCode::NOT_FOUND && r.json()["error_code"] == 40403;
            assert!(
                unknown_instance
                    || r.status != StatusCode::NOT_FOUND
                        && r.status != StatusCode::METHOD_NOT_ALLOWED,
                "documented {method} {path} is not served: {}",
                r.status
            );
            // Every answer is one the document lists for that operation.
            let code = r.status.as_u16().to_string();
            assert!(
                item[method.as_str()]["responses"].get(&code).is_some(),
                "{method} {path} answered {code}, which the document does not list"
            );
        }
    }
    documented.sort();
    let served = [
        "DELETE /consumers/{group}/instances/{instance}",
        "DELETE /consumers/{group}/instances/{instance}/subscription",
        "GET /brokers",
        "GET /consumers/{group}/instances/{instance}/assignments",
        "GET /consumers/{group}/instances/{instance}/offsets",
        "GET /consumers/{group}/instances/{instance}/records",
        "GET /consumers/{group}/instances/{instance}/subscription",
        "GET /metrics",
        "GET /status/ready",
        "GET /topics",
        "GET /topics/{topic}/partitions/{partition}/records",
        "POST /consumers/{group}",
        "POST /consumers/{group}/instances/{instance}/offsets",
        "POST /consumers/{group}/instances/{instance}/subscription",
        "POST /kvstore/{topic}/partition/{partition}/batch_get",
        "POST /kvstore/{topic}/partition/{partition}/scan",
        "POST /kvstore/{topic}/partition/{partition}/write",
        "POST /topics/{topic}",
    ];
    assert_eq!(documented, served);
}
