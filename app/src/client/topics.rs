//! Topic overviews: partition counts and the kvstore flag of every topic, from
//! one Kafka Metadata call and one DescribeConfigs for all topics; for the
//! TUI, the HTTP Proxy when the Kafka listener does not answer.

use std::time::Duration;

use super::Client;
use super::error::{Error, Result};
use super::kafka::{ConfigEntry, TopicInfo, is_kvstore};
use super::kvstore::ScanRange;

/// A row of `rpkv topic list`: counts and the kvstore flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSummary {
    pub name: String,
    pub partitions: usize,
    pub replicas: usize,
    /// `redpanda.kvstore` is set (to anything but none/false); false when the
    /// broker did not say.
    pub kvstore: bool,
}

/// A topic as the TUI's topics pane lists it; what the source could not
/// tell is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicListing {
    pub name: String,
    /// Partition count, when known.
    pub partitions: Option<i32>,
    /// Whether the topic has `redpanda.kvstore` enabled, when known.
    pub kvstore: Option<bool>,
}

/// Partitions probed at most per topic when only the HTTP Proxy answers.
const PROBED_PARTITIONS: i32 = 1024;

/// The kvstore flag of `topic` in a batched DescribeConfigs answer.
fn kvstore_flag(configs: &[(String, Result<Vec<ConfigEntry>>)], topic: &str) -> Option<bool> {
    configs
        .iter()
        .find(|(n, _)| n == topic)
        .and_then(|(_, c)| c.as_ref().ok())
        .map(|c| is_kvstore(c))
}

impl Client {
    /// Topics and their configs: one Metadata call, one DescribeConfigs.
    async fn topics_with_configs(
        &self,
    ) -> Result<(Vec<TopicInfo>, Vec<(String, Result<Vec<ConfigEntry>>)>)> {
        let topics = self.list_topics().await?;
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let configs = self.topics_configs(&names).await?;
        Ok((topics, configs))
    }

    /// Every topic with its partition and replica counts and whether it is a
    /// kvstore topic (Metadata plus one DescribeConfigs), sorted by name.
    pub async fn topic_summaries(&self) -> Result<Vec<TopicSummary>> {
        let (topics, configs) = self.topics_with_configs().await?;
        Ok(topics
            .into_iter()
            .map(|t| TopicSummary {
                partitions: t.partitions.len(),
                replicas: t.replication(),
                kvstore: kvstore_flag(&configs, &t.name).unwrap_or(false),
                name: t.name,
            })
            .collect())
    }

    /// The topics that are not internal, sorted by name, with partition
    /// counts and kvstore flags: from Kafka (Metadata plus one
    /// DescribeConfigs) when it answers within `kafka_wait`, else from the
    /// HTTP Proxy, probing partitions with the records endpoint and the
    /// kvstore flag with a one-key scan of partition 0.
    pub async fn topic_listing(&self, kafka_wait: Duration) -> Result<Vec<TopicListing>> {
        match tokio::time::timeout(kafka_wait, self.list_topics()).await {
            Ok(Ok(list)) => {
                let list: Vec<TopicInfo> = list.into_iter().filter(|t| !t.internal).collect();
                let names: Vec<String> = list.iter().map(|t| t.name.clone()).collect();
                let configs =
                    match tokio::time::timeout(kafka_wait, self.topics_configs(&names)).await {
                        Ok(Ok(c)) => c,
                        Ok(Err(e)) => {
                            tracing::debug!(error = %e, "DescribeConfigs failed");
                            Vec::new()
                        }
                        Err(_) => {
                            tracing::debug!("DescribeConfigs timed out");
                            Vec::new()
                        }
                    };
                return Ok(list
                    .into_iter()
                    .map(|t| TopicListing {
                        partitions: i32::try_from(t.partitions.len()).ok(),
                        kvstore: kvstore_flag(&configs, &t.name),
                        name: t.name,
                    })
                    .collect());
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "Kafka metadata failed; using the HTTP Proxy")
            }
            Err(_) => tracing::debug!("Kafka metadata timed out; using the HTTP Proxy"),
        }
        self.probe_topics().await
    }

    /// [`Client::topic_listing`] from the HTTP Proxy alone.
    async fn probe_topics(&self) -> Result<Vec<TopicListing>> {
        let mut names = self.http_topics().await?;
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let kvstore = match self.scan_page(&name, 0, &ScanRange::default(), 1).await {
                Ok(_) => Some(true),
                Err(Error::Http { status: 400, .. }) => Some(false),
                Err(_) => None,
            };
            let mut n = 0;
            while n < PROBED_PARTITIONS {
                match self.fetch_records(&name, n, 0, 0, 1).await {
                    Ok(_) => n += 1,
                    Err(_) => break,
                }
            }
            out.push(TopicListing {
                name,
                partitions: (n > 0).then_some(n),
                kvstore,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_broker::TestBroker;
    use super::*;

    #[tokio::test]
    async fn listings_agree_over_kafka_and_over_the_http_proxy() {
        let b = TestBroker::start(&["kv:3", "plain:2:redpanda.kvstore=none", "a-kv:1"]).await;
        let expected = vec![
            TopicListing {
                name: "a-kv".into(),
                partitions: Some(1),
                kvstore: Some(true),
            },
            TopicListing {
                name: "kv".into(),
                partitions: Some(3),
                kvstore: Some(true),
            },
            TopicListing {
                name: "plain".into(),
                partitions: Some(2),
                kvstore: Some(false),
            },
        ];
        let wait = Duration::from_secs(5);
        assert_eq!(b.client.topic_listing(wait).await.unwrap(), expected);
        // Kafka refuses: the same from the HTTP Proxy.
        let http_only = b.http_only_client();
        assert_eq!(http_only.topic_listing(wait).await.unwrap(), expected);
        // The CLI's summaries (Kafka only) tell the same and the replicas.
        let summaries = b.client.topic_summaries().await.unwrap();
        let flags: Vec<(String, usize, usize, bool)> = summaries
            .into_iter()
            .map(|s| (s.name, s.partitions, s.replicas, s.kvstore))
            .collect();
        assert_eq!(
            flags,
            vec![
                ("a-kv".into(), 1, 1, true),
                ("kv".into(), 3, 1, true),
                ("plain".into(), 2, 1, false)
            ]
        );
        assert!(http_only.topic_summaries().await.is_err());
        b.stop().await;
    }
}
