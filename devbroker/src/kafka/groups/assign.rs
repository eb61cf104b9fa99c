//! The consumer protocol's embedded bodies (subscription, assignment) and the
//! client-side assignors `range` and `roundrobin`, for members the broker
//! runs itself (the HTTP Proxy's consumer instances). Kafka clients assign
//! partitions in their leader; an HTTP instance has no client behind it that
//! could, so when it leads the group the broker assigns for it, exactly as
//! Kafka's `RangeAssignor` and `RoundRobinAssignor` do, and when a Kafka
//! client leads, that client assigns and the instance takes what it is given.
//!
//! Written here because no crate implements Kafka's assignors; the wire
//! encoding itself is kafka-protocol's.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedTopic;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::JoinedMember;
use super::group::subscription_topics;

/// The assignors an HTTP member offers, in its order of preference (the
/// order kafka-python and the Java client use too).
pub const ASSIGNORS: [&str; 2] = ["range", "roundrobin"];

/// A subscription to `topics`, as version 0 (which every client reads).
pub fn encode_subscription(topics: &[String]) -> Bytes {
    let mut s = ConsumerProtocolSubscription::default();
    s.topics = topics
        .iter()
        .map(|t| StrBytes::from_string(t.clone()))
        .collect();
    encode_versioned(|buf| s.encode(buf, 0))
}

/// An assignment of partitions by topic, as version 0.
pub fn encode_assignment(parts: &BTreeMap<String, Vec<i32>>) -> Bytes {
    let mut a = ConsumerProtocolAssignment::default();
    a.assigned_partitions = parts
        .iter()
        .map(|(t, ps)| {
            let mut tp = AssignedTopic::default();
            tp.topic = TopicName(StrBytes::from_string(t.clone()));
            tp.partitions = ps.clone();
            tp
        })
        .collect();
    encode_versioned(|buf| a.encode(buf, 0))
}

fn encode_versioned(f: impl FnOnce(&mut BytesMut) -> anyhow::Result<()>) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    // Encoding a well-formed message into memory does not fail; an empty
    // body reads as "nothing" on the other side.
    if f(&mut buf).is_err() {
        return Bytes::new();
    }
    buf.freeze()
}

/// The partitions of an assignment, sorted; `None` if it does not parse. An
/// empty body (a member given nothing) is an empty assignment.
pub fn decode_assignment(bytes: &[u8]) -> Option<BTreeSet<(String, i32)>> {
    if bytes.is_empty() {
        return Some(BTreeSet::new());
    }
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.len() < 2 {
        return None;
    }
    // Later versions only append fields, so read them as the newest we know.
    let version = buf.get_i16().clamp(0, 3);
    // kafka-protocol sizes vectors from wire counts; the broker's allocator
    // guard turns a hostile count into a panic, caught here.
    let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ConsumerProtocolAssignment::decode(&mut buf, version)
    }));
    let a = decoded.ok()?.ok()?;
    Some(
        a.assigned_partitions
            .iter()
            .flat_map(|t| t.partitions.iter().map(|p| (t.topic.0.to_string(), *p)))
            .collect(),
    )
}

/// Assigns with `protocol` (`range` or `roundrobin`; anything else is
/// assigned as `range`) the partitions of the topics the members subscribe
/// to; `partitions(topic)` is how many a topic has (`None`: it does not
/// exist, nothing to assign). Returns every member's assignment.
pub fn assign(
    protocol: &str,
    members: &[JoinedMember],
    partitions: impl Fn(&str) -> Option<i32>,
) -> Vec<(String, Bytes)> {
    let subs: BTreeMap<String, BTreeSet<String>> = members
        .iter()
        .map(|m| {
            let topics = subscription_topics(&m.metadata).unwrap_or_default();
            (m.member_id.clone(), topics.into_iter().collect())
        })
        .collect();
    let mut out: BTreeMap<String, BTreeMap<String, Vec<i32>>> =
        subs.keys().map(|m| (m.clone(), BTreeMap::new())).collect();
    let topics: BTreeSet<&String> = subs.values().flatten().collect();
    let counts: Vec<(&String, i32)> = topics
        .into_iter()
        .filter_map(|t| partitions(t).map(|n| (t, n.max(0))))
        .collect();
    if protocol == "roundrobin" {
        let ids: Vec<&String> = subs.keys().collect();
        let mut next = 0usize;
        for (topic, n) in &counts {
            for p in 0..*n {
                // The next member, circularly, that subscribes to the topic.
                for _ in 0..ids.len() {
                    let id = ids[next % ids.len()];
                    next += 1;
                    if subs[id].contains(*topic) {
                        push(&mut out, id, topic, p);
                        break;
                    }
                }
            }
        }
    } else {
        for (topic, n) in &counts {
            let ids: Vec<&String> = subs
                .iter()
                .filter(|(_, ts)| ts.contains(*topic))
                .map(|(id, _)| id)
                .collect();
            let m = ids.len() as i32;
            let (per, extra) = (n / m, n % m);
            for (i, id) in ids.iter().enumerate() {
                let i = i as i32;
                let start = per * i + i.min(extra);
                let len = per + i32::from(i < extra);
                for p in start..start + len {
                    push(&mut out, id, topic, p);
                }
            }
        }
    }
    out.into_iter()
        .map(|(id, parts)| (id, encode_assignment(&parts)))
        .collect()
}

fn push(out: &mut BTreeMap<String, BTreeMap<String, Vec<i32>>>, id: &str, topic: &str, p: i32) {
    if let Some(m) = out.get_mut(id) {
        m.entry(topic.to_string()).or_default().push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, topics: &[&str]) -> JoinedMember {
        JoinedMember {
            member_id: id.into(),
            instance_id: None,
            metadata: encode_subscription(
                &topics.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            ),
        }
    }

    fn decoded(out: &[(String, Bytes)]) -> BTreeMap<String, BTreeSet<(String, i32)>> {
        out.iter()
            .map(|(id, b)| (id.clone(), decode_assignment(b).unwrap()))
            .collect()
    }

    fn tps(list: &[(&str, i32)]) -> BTreeSet<(String, i32)> {
        list.iter().map(|(t, p)| (t.to_string(), *p)).collect()
    }

    #[test]
    fn range_splits_each_topic_in_member_order_with_extras_first() {
        let ms = [member("a", &["t", "u"]), member("b", &["t", "u"])];
        let counts = |t: &str| match t {
            "t" => Some(3),
            "u" => Some(1),
            _ => None,
        };
        let got = decoded(&assign("range", &ms, counts));
        assert_eq!(got["a"], tps(&[("t", 0), ("t", 1), ("u", 0)]));
        assert_eq!(got["b"], tps(&[("t", 2)]));
    }

    #[test]
    fn roundrobin_deals_partitions_in_turn_to_subscribers_only() {
        let ms = [member("a", &["t"]), member("b", &["t", "u"])];
        let counts = |t: &str| if t == "t" { Some(3) } else { Some(2) };
        let got = decoded(&assign("roundrobin", &ms, counts));
        assert_eq!(got["a"], tps(&[("t", 0), ("t", 2)]));
        assert_eq!(got["b"], tps(&[("t", 1), ("u", 0), ("u", 1)]));
    }

    #[test]
    fn unknown_topics_and_extra_members_get_nothing() {
        let ms = [
            member("a", &["t", "gone"]),
            member("b", &["t"]),
            member("c", &["t"]),
        ];
        let got = decoded(&assign("range", &ms, |t| (t == "t").then_some(2)));
        assert_eq!(got["a"], tps(&[("t", 0)]));
        assert_eq!(got["b"], tps(&[("t", 1)]));
        assert!(got["c"].is_empty());
        // Every partition once, whatever the protocol.
        for protocol in ASSIGNORS {
            let got = decoded(&assign(protocol, &ms, |t| (t == "t").then_some(7)));
            let all: Vec<_> = got.values().flatten().collect();
            let unique: BTreeSet<_> = all.iter().collect();
            assert_eq!((all.len(), unique.len()), (7, 7), "{protocol}");
        }
    }

    #[test]
    fn assignments_round_trip_and_garbage_is_refused() {
        let mut parts = BTreeMap::new();
        parts.insert("t".to_string(), vec![0, 2]);
        assert_eq!(
            decode_assignment(&encode_assignment(&parts)).unwrap(),
            tps(&[("t", 0), ("t", 2)])
        );
        assert_eq!(decode_assignment(&[]).unwrap(), BTreeSet::new());
        assert_eq!(decode_assignment(&[0, 0, 0xff, 0xff, 0xff]), None);
        assert_eq!(
            subscription_topics(&encode_subscription(&["x".into()])).unwrap(),
            vec!["x".to_string()]
        );
    }
}
