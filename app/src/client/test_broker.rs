//! The client's tests run against a real dev broker in this process: HTTP
//! and Kafka listeners on free loopback ports, data in a temp dir. [`spawn`]
//! is the part any test of the crate can use with its own `ServeArgs`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;

use super::{Client, ClientConfig};

pub(crate) struct TestBroker {
    /// A client of both listeners.
    pub client: Client,
    pub http_url: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A dev broker task serving until `stop` fires (or is dropped).
pub(crate) struct Spawned {
    pub http_addr: SocketAddr,
    pub kafka_addr: Option<SocketAddr>,
    pub stop: oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts `devbroker::server::spawn` with `args` and waits until it serves.
pub(crate) async fn spawn(args: devbroker::server::ServeArgs) -> Spawned {
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = oneshot::channel();
    let task = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stop_rx.await;
        };
        devbroker::server::spawn(args, shutdown, move |l| {
            let _ = ready_tx.send((l.http_addr, l.kafka_addr));
        })
        .await
        .expect("broker task")
        .expect("broker runs");
    });
    let (http_addr, kafka_addr) = ready_rx.await.expect("broker ready");
    Spawned {
        http_addr,
        kafka_addr,
        stop,
        task,
    }
}

impl TestBroker {
    /// A broker with `topics` (`name:partitions`, kvstore topics).
    pub async fn start(topics: &[&str]) -> TestBroker {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = devbroker::server::ServeArgs::ephemeral(dir.path().join("data"));
        for t in topics {
            args.topics.push(t.parse().expect("topic spec"));
        }
        let s = spawn(args).await;
        let kafka_addr = s.kafka_addr.expect("a Kafka listener");
        let http_url = format!("http://{}", s.http_addr);
        let client = Client::new(ClientConfig {
            http_url: http_url.clone(),
            brokers: vec![kafka_addr.to_string()],
            timeout: Duration::from_secs(10),
            read_attempts: 1,
            ..ClientConfig::default()
        })
        .expect("client");
        TestBroker {
            client,
            http_url,
            stop: Some(s.stop),
            task: Some(s.task),
            _dir: dir,
        }
    }

    /// A client of the HTTP listener only: its Kafka address (port 1) refuses.
    pub fn http_only_client(&self) -> Client {
        Client::new(ClientConfig {
            http_url: self.http_url.clone(),
            brokers: vec!["127.0.0.1:1".into()],
            timeout: Duration::from_secs(10),
            read_attempts: 1,
            ..ClientConfig::default()
        })
        .expect("client")
    }

    /// Shuts the broker down and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
        }
    }
}
