//! docker-compose.yml cannot run here (no Docker engine): this parses it and
//! checks its services, ports and the tiering wiring.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_yaml_ng::Value;

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Sequence(items) => items.iter().map(text).collect::<Vec<_>>().join(" "),
        other => serde_yaml_ng::to_string(other).unwrap_or_default(),
    }
}

fn ports(service: &Value) -> Vec<String> {
    service["ports"]
        .as_sequence()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn tier_docker_compose_has_the_services_ports_and_tiering() {
    let yaml = std::fs::read_to_string(repo_file("docker-compose.yml"))
        .expect("docker-compose.yml at the repo root");
    let doc: Value = serde_yaml_ng::from_str(&yaml).expect("valid YAML");
    let services = &doc["services"];
    for name in ["redpanda-0", "minio", "console", "devbroker"] {
        assert!(services.get(name).is_some(), "service {name} missing");
    }

    // The seed's ports: Kafka 19092, HTTP Proxy 18082, Console 8081, MinIO console 9001.
    let rp = &services["redpanda-0"];
    let rp_ports = ports(rp);
    for p in ["19092:19092", "18082:18082"] {
        assert!(
            rp_ports.contains(&p.to_string()),
            "redpanda-0 ports {rp_ports:?} lack {p}"
        );
    }
    assert!(ports(&services["console"]).contains(&"8081:8080".to_string()));
    assert!(ports(&services["minio"]).contains(&"9001:9001".to_string()));
    assert!(text(&services["minio"]["command"]).contains("--console-address \":9001\""));
    assert_eq!(
        services["minio"]["environment"]["MINIO_ROOT_USER"].as_str(),
        Some("minio")
    );
    assert_eq!(
        services["minio"]["environment"]["MINIO_ROOT_PASSWORD"].as_str(),
        Some("minio123")
    );

    // Redpanda tiers to MinIO.
    let cmd = text(&rp["command"]);
    for needle in [
        "redpanda.cloud_storage_enabled=true",
        "redpanda.cloud_storage_api_endpoint=minio",
        "redpanda.cloud_storage_api_endpoint_port=9000",
        "redpanda.cloud_storage_access_key=minio",
        "redpanda.cloud_storage_secret_key=minio123",
        "advertise-kafka-addr internal://redpanda-0:9092,external://localhost:19092",
        "advertise-pandaproxy-addr internal://redpanda-0:8082,external://localhost:18082",
    ] {
        assert!(
            cmd.contains(needle),
            "redpanda-0 command lacks {needle}: {cmd}"
        );
    }
    assert!(
        text(&services["console"]["environment"]["CONSOLE_CONFIG_FILE"])
            .contains("redpanda-0:9092")
    );

    // The dev broker is built from the repo's Dockerfile and tiers to the same MinIO.
    let db = &services["devbroker"];
    assert_eq!(db["build"]["dockerfile"].as_str(), Some("Dockerfile"));
    let dockerfile =
        std::fs::read_to_string(repo_file("Dockerfile")).expect("Dockerfile at the repo root");
    assert!(
        dockerfile.contains("-p devbroker"),
        "the Dockerfile builds devbroker"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"devbroker\"]"));
    let env = &db["environment"];
    assert_eq!(env["AWS_ENDPOINT_URL"].as_str(), Some("http://minio:9000"));
    assert_eq!(env["AWS_ACCESS_KEY_ID"].as_str(), Some("minio"));
    assert_eq!(env["AWS_SECRET_ACCESS_KEY"].as_str(), Some("minio123"));
    assert_eq!(env["AWS_ALLOW_HTTP"].as_str(), Some("true"));
    let db_cmd = text(&db["command"]);
    assert!(db_cmd.contains("--tier=s3://devbroker/"), "{db_cmd}");
    assert!(
        text(&services["minio-setup"]["entrypoint"]).contains("local/devbroker"),
        "the devbroker bucket is created"
    );
    for flag in ["--http-addr=0.0.0.0:8082", "--kafka-addr=0.0.0.0:9092"] {
        assert!(db_cmd.contains(flag), "{db_cmd}");
    }
    assert!(ports(db).contains(&"28082:8082".to_string()));

    // No two services publish the same host port.
    let mut seen = BTreeSet::new();
    for (name, svc) in services.as_mapping().unwrap() {
        for p in ports(svc) {
            let host = p.split(':').next().unwrap().to_string();
            assert!(
                seen.insert(host.clone()),
                "host port {host} published twice (by {name:?})"
            );
        }
    }
}
