//! Where a key lives, and where a write of it goes: the one resolver of the
//! CLI's `-p -1`, import's partitioner target and the TUI's merged view.
//!
//! Producers place keys with different partitioners (murmur2 in the Java
//! client, CRC-32 in librdkafka, FNV-1a in Sarama), so no single hash tells
//! where a key written by someone else is. [`Client::locate`] asks every
//! partition (one batch get per partition, in parallel); a write then goes
//! where the key already lives ([`Located::write_partition`]), and only a new
//! key is placed by a [`Partitioner`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use rpkv_wire::kvstore::{Delete, WriteRequest};
use rpkv_wire::partitioner::{crc32_partition, fnv1a_partition, partition_for_key};
use serde::{Deserialize, Serialize};

use super::Client;
use super::error::Error;
use super::kvstore::cas_precondition;
use super::scan::PartitionError;

/// How a producer maps a key to a partition.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Partitioner {
    /// murmur2 of the key, positive, modulo the count: the Java client's
    /// default, kafka-python, franz-go, librdkafka's `murmur2(_random)`.
    #[default]
    Murmur2,
    /// CRC-32 of the key modulo the count: librdkafka's default
    /// `consistent_random` and `consistent` (kcat, confluent-kafka-*).
    Crc32,
    /// FNV-1a (32-bit, made positive) modulo the count: Sarama's default,
    /// librdkafka's `fnv1a(_random)`.
    Fnv1a,
}

/// What [`Partitioner::from_str`] accepts, for messages and help.
pub const PARTITIONER_NAMES: &str = "murmur2, crc32, fnv1a (or librdkafka's names: murmur2_random, \
consistent, consistent_random, fnv1a_random)";

/// A name that is not a partitioner a key can be resolved with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct UnknownPartitioner(String);

impl Partitioner {
    /// Every partitioner, in the order they are shown.
    pub const ALL: [Partitioner; 3] =
        [Partitioner::Murmur2, Partitioner::Crc32, Partitioner::Fnv1a];

    /// The canonical name (what `FromStr` and the profile file take).
    pub fn name(self) -> &'static str {
        match self {
            Partitioner::Murmur2 => "murmur2",
            Partitioner::Crc32 => "crc32",
            Partitioner::Fnv1a => "fnv1a",
        }
    }

    /// The clients that use it by default, for people choosing one.
    pub fn used_by(self) -> &'static str {
        match self {
            Partitioner::Murmur2 => {
                "Java client, kafka-python, franz-go; librdkafka murmur2_random"
            }
            Partitioner::Crc32 => {
                "librdkafka default (kcat, confluent-kafka-python/go/dotnet, node-rdkafka, rdkafka-rust)"
            }
            Partitioner::Fnv1a => "Sarama; librdkafka fnv1a_random",
        }
    }

    /// The partition this partitioner picks for `key` among `partitions`.
    pub fn partition_for(self, key: &[u8], partitions: i32) -> i32 {
        match self {
            Partitioner::Murmur2 => partition_for_key(key, partitions),
            Partitioner::Crc32 => crc32_partition(key, partitions),
            Partitioner::Fnv1a => fnv1a_partition(key, partitions),
        }
    }
}

impl fmt::Display for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Partitioner {
    type Err = UnknownPartitioner;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // A key's partition under librdkafka's `*_random` variants is the
        // plain hash: only key-less records are placed at random.
        match s.trim().to_ascii_lowercase().as_str() {
            "murmur2" | "murmur2_random" => Ok(Partitioner::Murmur2),
            "crc32" | "consistent" | "consistent_random" => Ok(Partitioner::Crc32),
            "fnv1a" | "fnv1a_random" => Ok(Partitioner::Fnv1a),
            "random" => Err(UnknownPartitioner(
                "the random partitioner puts each record in any partition, so no partition can be \
                 computed for a key; name the partitioner of the producers that write keys: \
                 murmur2, crc32 or fnv1a"
                    .to_owned(),
            )),
            other => Err(UnknownPartitioner(format!(
                "unknown partitioner {other:?}: expected {PARTITIONER_NAMES}"
            ))),
        }
    }
}

impl TryFrom<String> for Partitioner {
    type Error = UnknownPartitioner;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Partitioner> for String {
    fn from(p: Partitioner) -> String {
        p.name().to_owned()
    }
}

/// One partition's copy of a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyCopy {
    pub partition: i32,
    pub value: Vec<u8>,
}

/// Where one key lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    pub key: Vec<u8>,
    /// Every partition holding the key, in partition order (usually zero or one).
    pub copies: Vec<KeyCopy>,
    /// The partition the partitioner picks for the key (where a new key goes).
    pub home: i32,
}

/// A write that cannot choose: the key lives in several partitions.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "key {} is in partitions {} of topic {topic:?}",
    shown_key(key),
    and_list(partitions)
)]
pub struct SeveralPartitions {
    pub topic: String,
    pub key: Vec<u8>,
    pub partitions: Vec<i32>,
}

/// What [`Client::locate`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    #[error("topic {topic:?}: looking up the partition count")]
    PartitionCount {
        topic: String,
        #[source]
        source: Error,
    },
    #[error(transparent)]
    Read(#[from] PartitionError),
}

impl Located {
    /// The partitions holding the key.
    pub fn partitions(&self) -> Vec<i32> {
        self.copies.iter().map(|c| c.partition).collect()
    }

    /// The value of the key when exactly one partition holds it.
    pub fn single(&self) -> Option<&KeyCopy> {
        match self.copies.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// Where a write of the key goes: the partition that holds it, or the
    /// partitioner's choice when none does; refused when several hold it.
    pub fn write_partition(&self, topic: &str) -> Result<i32, SeveralPartitions> {
        match self.copies.as_slice() {
            [] => Ok(self.home),
            [one] => Ok(one.partition),
            _ => Err(SeveralPartitions {
                topic: topic.to_owned(),
                key: self.key.clone(),
                partitions: self.partitions(),
            }),
        }
    }
}

/// Deletes of every copy of the located keys, one write per partition, each
/// delete guarded by the value read (`ifMatches` its SHA-256): a write that
/// came in since makes the partition's write fail with a 409 and delete
/// nothing there. Keys found nowhere are left out.
pub fn guarded_deletes(located: &[Located]) -> BTreeMap<i32, WriteRequest> {
    let mut writes: BTreeMap<i32, WriteRequest> = BTreeMap::new();
    for l in located {
        for c in &l.copies {
            writes.entry(c.partition).or_default().deletes.push(Delete {
                key: l.key.clone(),
                precondition: Some(cas_precondition(Some(&c.value))),
            });
        }
    }
    writes
}

/// A key for messages: its text when it is printable UTF-8, else hex.
pub fn shown_key(key: &[u8]) -> String {
    match std::str::from_utf8(key) {
        Ok(s) if !s.chars().any(char::is_control) => format!("{s:?}"),
        _ => format!("0x{}", hex::encode(key)),
    }
}

/// `0`, `0 and 2`, `0, 1 and 2`.
pub fn and_list(items: &[i32]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => {
            let rest: Vec<String> = rest.iter().map(i32::to_string).collect();
            format!("{} and {last}", rest.join(", "))
        }
    }
}

impl Client {
    /// The partitioner new keys are placed with (from the profile or flag;
    /// murmur2 by default).
    pub fn partitioner(&self) -> Partitioner {
        self.partitioner
    }

    /// Asks every partition of `topic` where each of `keys` lives: one batch
    /// get per partition (in batches of 1000 keys), all partitions in
    /// parallel. One [`Located`] per key, in the order of `keys`; `home` is
    /// `partitioner`'s choice.
    pub async fn locate(
        &self,
        topic: &str,
        keys: &[Vec<u8>],
        partitioner: Partitioner,
    ) -> Result<Vec<Located>, LocateError> {
        let n = self.cached_partition_count(topic).await.map_err(|source| {
            LocateError::PartitionCount {
                topic: topic.to_owned(),
                source,
            }
        })?;
        let partitions: Vec<i32> = (0..n).collect();
        self.locate_in(topic, &partitions, keys, partitioner)
            .await
            .map_err(LocateError::Read)
    }

    /// [`Client::locate`] over partitions the caller knows (`0..N` of a
    /// topic, e.g. from a listing that came without Kafka); `home` is
    /// `partitioner`'s choice among `partitions.len()`.
    pub async fn locate_in(
        &self,
        topic: &str,
        partitions: &[i32],
        keys: &[Vec<u8>],
        partitioner: Partitioner,
    ) -> Result<Vec<Located>, PartitionError> {
        let n = i32::try_from(partitions.len()).unwrap_or(i32::MAX);
        let reads = partitions.iter().map(|&p| async move {
            let values = self.partition_values(topic, p, keys).await?;
            Ok::<_, PartitionError>((p, values))
        });
        let mut located: Vec<Located> = keys
            .iter()
            .map(|k| Located {
                key: k.clone(),
                copies: Vec::new(),
                home: partitioner.partition_for(k, n),
            })
            .collect();
        // join_all keeps the order of the partitions.
        for result in futures::future::join_all(reads).await {
            let (partition, values) = result?;
            for (l, v) in located.iter_mut().zip(values) {
                if let Some(value) = v {
                    l.copies.push(KeyCopy { partition, value });
                }
            }
        }
        Ok(located)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_broker::TestBroker;
    use super::*;

    #[test]
    fn names_and_librdkafka_aliases_parse() {
        for (name, p) in [
            ("murmur2", Partitioner::Murmur2),
            ("murmur2_random", Partitioner::Murmur2),
            ("crc32", Partitioner::Crc32),
            ("consistent", Partitioner::Crc32),
            ("Consistent_Random", Partitioner::Crc32),
            ("fnv1a", Partitioner::Fnv1a),
            ("fnv1a_random", Partitioner::Fnv1a),
        ] {
            assert_eq!(name.parse::<Partitioner>(), Ok(p), "{name}");
        }
        let err = "random".parse::<Partitioner>().unwrap_err().to_string();
        assert!(
            err.contains("no partition can be computed for a key"),
            "{err}"
        );
        let err = "sticky".parse::<Partitioner>().unwrap_err().to_string();
        assert!(
            err.starts_with("unknown partitioner \"sticky\": expected murmur2"),
            "{err}"
        );
        for p in Partitioner::ALL {
            assert_eq!(p.name().parse::<Partitioner>(), Ok(p));
        }
        assert_eq!(Partitioner::default(), Partitioner::Murmur2);
    }

    #[test]
    fn each_partitioner_is_its_hash() {
        // kafka-python / Java: murmur2("foobar") = -790332482.
        assert_eq!(
            Partitioner::Murmur2.partition_for(b"foobar", 10),
            (-790332482i32 & 0x7fffffff) % 10
        );
        // zlib.crc32(b"foo") = 0x8c736521.
        assert_eq!(
            Partitioner::Crc32.partition_for(b"foo", 7),
            (0x8c73_6521u32 % 7) as i32
        );
        // librdkafka's unittest: fnv1a("kafka") = 0x0d33c4e1.
        assert_eq!(
            Partitioner::Fnv1a.partition_for(b"kafka", 7),
            0x0d33_c4e1 % 7
        );
    }

    #[test]
    fn messages_list_partitions_and_show_keys() {
        assert_eq!(and_list(&[2]), "2");
        assert_eq!(and_list(&[0, 2]), "0 and 2");
        assert_eq!(and_list(&[0, 1, 2]), "0, 1 and 2");
        assert_eq!(shown_key(b"user:1"), "\"user:1\"");
        assert_eq!(shown_key(&[0xff, 0x00]), "0xff00");
        let l = Located {
            key: b"k".to_vec(),
            copies: vec![
                KeyCopy {
                    partition: 0,
                    value: b"a".to_vec(),
                },
                KeyCopy {
                    partition: 2,
                    value: b"b".to_vec(),
                },
            ],
            home: 1,
        };
        assert_eq!(
            l.write_partition("t").unwrap_err().to_string(),
            "key \"k\" is in partitions 0 and 2 of topic \"t\""
        );
    }

    #[tokio::test]
    async fn locate_finds_every_copy_and_writes_go_where_the_key_lives() {
        let b = TestBroker::start(&["t:3"]).await;
        let c = &b.client;
        c.put("t", 2, b"one".to_vec(), b"v2".to_vec(), None)
            .await
            .unwrap();
        c.put("t", 0, b"two".to_vec(), b"a".to_vec(), None)
            .await
            .unwrap();
        c.put("t", 1, b"two".to_vec(), b"b".to_vec(), None)
            .await
            .unwrap();
        let keys = vec![b"two".to_vec(), b"none".to_vec(), b"one".to_vec()];
        let got = c
            .locate("t", &keys, Partitioner::Crc32)
            .await
            .expect("locate");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].partitions(), vec![0, 1]);
        assert_eq!(got[0].copies[1].value, b"b");
        assert!(got[0].write_partition("t").is_err());
        assert!(got[1].copies.is_empty());
        assert_eq!(got[1].home, Partitioner::Crc32.partition_for(b"none", 3));
        assert_eq!(got[1].write_partition("t"), Ok(got[1].home));
        assert_eq!(got[2].single().map(|c| c.partition), Some(2));
        assert_eq!(got[2].write_partition("t"), Ok(2));
        // Deletes guarded by the values read: a write since then fails its
        // partition's delete (409, nothing deleted there).
        let deletes = guarded_deletes(&got);
        assert_eq!(deletes.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2]);
        c.put("t", 1, b"two".to_vec(), b"changed".to_vec(), None)
            .await
            .unwrap();
        for (p, req) in &deletes {
            let r = c.write("t", *p, req).await;
            match p {
                1 => assert!(r.is_err_and(|e| e.is_precondition_failed())),
                _ => r.expect("unchanged copies are deleted"),
            }
        }
        assert_eq!(
            c.get("t", 1, b"two").await.unwrap().as_deref(),
            Some(&b"changed"[..])
        );
        assert_eq!(c.get("t", 0, b"two").await.unwrap(), None);
        assert_eq!(c.get("t", 2, b"one").await.unwrap(), None);
        // More keys than one batch get takes.
        let many: Vec<Vec<u8>> = (0..2500).map(|i| format!("k{i}").into_bytes()).collect();
        let got = c.locate("t", &many, Partitioner::Murmur2).await.unwrap();
        assert_eq!(got.len(), 2500);
        assert!(got.iter().all(|l| l.copies.is_empty()));
        // Without Kafka there is no partition count.
        let err = b
            .http_only_client()
            .locate("t", &keys, Partitioner::Murmur2)
            .await
            .unwrap_err();
        assert!(matches!(err, LocateError::PartitionCount { .. }), "{err}");
        b.stop().await;
    }

    /// Not a test: the latency of a one-key get that asks all 16 partitions
    /// ([`Client::locate`]) against one batch get of a known partition,
    /// interleaved, 500 of each, against an in-process broker. Run with
    /// `cargo test -p rpkv --release locate_latency -- --ignored --nocapture`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, not a test"]
    async fn locate_latency_on_16_partitions() {
        use std::time::{Duration, Instant};
        let b = TestBroker::start(&["wide:16"]).await;
        let c = &b.client;
        for p in 0..16 {
            let puts: Vec<(Vec<u8>, Vec<u8>)> = (0..200)
                .map(|i| (format!("k{p}-{i}").into_bytes(), vec![b'v'; 100]))
                .collect();
            let req = super::super::write_request(puts, vec![], None);
            c.write("wide", p, &req).await.unwrap();
        }
        let key = b"k7-42".to_vec();
        // Warm up (connections, the cached partition count).
        for _ in 0..50 {
            c.locate("wide", std::slice::from_ref(&key), Partitioner::Murmur2)
                .await
                .unwrap();
            c.get("wide", 7, &key).await.unwrap();
        }
        let (mut all, mut one) = (Vec::new(), Vec::new());
        for _ in 0..500 {
            let t = Instant::now();
            let l = c
                .locate("wide", std::slice::from_ref(&key), Partitioner::Murmur2)
                .await
                .unwrap();
            all.push(t.elapsed());
            assert_eq!(l[0].partitions(), vec![7]);
            let t = Instant::now();
            assert!(c.get("wide", 7, &key).await.unwrap().is_some());
            one.push(t.elapsed());
        }
        let pct = |v: &mut Vec<Duration>, q: f64| {
            v.sort();
            v[((v.len() as f64 - 1.0) * q).round() as usize]
        };
        for (name, v) in [
            ("-p -1 (16 batch gets)", &mut all),
            ("-p 7 (one batch get)", &mut one),
        ] {
            println!("{name}: p50 {:?} p99 {:?}", pct(v, 0.50), pct(v, 0.99));
        }
        b.stop().await;
    }
}
