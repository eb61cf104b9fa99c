//! Offset expiry (Kafka's `offsets.retention.minutes`): which committed
//! offsets of a group are past retention.
//!
//! Kafka's rule: offsets of a group with members never expire. Once a
//! consumer group (one that ran the consumer protocol) is Empty, all its
//! offsets expire together when retention has passed since the later of the
//! moment it became Empty and its last commit. A group that never ran the
//! protocol (standalone commits, e.g. `assign()` consumers) has each offset
//! expire on its own, retention after its commit.
//!
//! Group membership is not kept across restarts: after one, every group is
//! Empty without a protocol, so its offsets expire one by one, retention after
//! their commit; a consumer that rejoins makes its group non-Empty again.

use super::offsets::{CommittedOffset, TopicPartition};

/// What the coordinator knows of a group, for expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupView {
    /// Not Empty: offsets stay.
    Active,
    /// Empty; `consumer` if it ran the consumer protocol (its protocol type
    /// is known), with when it became Empty in wall-clock ms, if known.
    Empty {
        consumer: bool,
        empty_since_ms: Option<i64>,
    },
}

/// What expires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expired {
    Nothing,
    /// Every offset of the group.
    All,
    Some(Vec<TopicPartition>),
}

/// The offsets of one group that are past `retention_ms` at `now_ms`.
pub fn expired(
    view: GroupView,
    offsets: &[(TopicPartition, CommittedOffset)],
    now_ms: i64,
    retention_ms: i64,
) -> Expired {
    let GroupView::Empty {
        consumer,
        empty_since_ms,
    } = view
    else {
        return Expired::Nothing;
    };
    if offsets.is_empty() {
        return Expired::Nothing;
    }
    let past = |since: i64| now_ms.saturating_sub(since) >= retention_ms;
    if consumer {
        let last_commit = offsets.iter().map(|(_, c)| c.commit_ms).max();
        let since = last_commit.max(empty_since_ms).unwrap_or(now_ms);
        return if past(since) {
            Expired::All
        } else {
            Expired::Nothing
        };
    }
    let gone: Vec<TopicPartition> = offsets
        .iter()
        .filter(|(_, c)| past(c.commit_ms))
        .map(|(tp, _)| tp.clone())
        .collect();
    if gone.is_empty() {
        Expired::Nothing
    } else if gone.len() == offsets.len() {
        Expired::All
    } else {
        Expired::Some(gone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> CommittedOffset {
        CommittedOffset {
            offset: 1,
            leader_epoch: -1,
            metadata: String::new(),
            commit_ms: ms,
            topic_id: 1,
        }
    }

    #[test]
    fn rules() {
        let a = TopicPartition::new("t", 0);
        let b = TopicPartition::new("t", 1);
        let offs = vec![(a.clone(), at(1_000)), (b.clone(), at(5_000))];
        let empty = |consumer, since| GroupView::Empty {
            consumer,
            empty_since_ms: since,
        };
        // A group with members keeps everything.
        assert_eq!(
            expired(GroupView::Active, &offs, 1_000_000, 10),
            Expired::Nothing
        );
        // A consumer group: all at once, from the later of empty-since and the last commit.
        assert_eq!(
            expired(empty(true, Some(8_000)), &offs, 17_999, 10_000),
            Expired::Nothing
        );
        assert_eq!(
            expired(empty(true, Some(8_000)), &offs, 18_000, 10_000),
            Expired::All
        );
        assert_eq!(
            expired(empty(true, None), &offs, 15_000, 10_000),
            Expired::All
        );
        // Standalone: one by one, from each commit.
        assert_eq!(
            expired(empty(false, Some(0)), &offs, 11_000, 10_000),
            Expired::Some(vec![a])
        );
        assert_eq!(
            expired(empty(false, Some(0)), &offs, 15_000, 10_000),
            Expired::All
        );
        assert_eq!(
            expired(empty(false, Some(0)), &offs, 10_999, 10_000),
            Expired::Nothing
        );
    }
}
