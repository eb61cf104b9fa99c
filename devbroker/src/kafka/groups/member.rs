//! A group member and the answers a held JoinGroup or SyncGroup waits for.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// A member as the leader sees it in its JoinGroup response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub metadata: Bytes,
}

/// The outcome of a JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinResult {
    pub error: Option<ResponseError>,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Filled for the leader only.
    pub members: Vec<JoinedMember>,
    pub skip_assignment: bool,
}

impl JoinResult {
    pub fn error(e: ResponseError, member_id: impl Into<String>) -> Self {
        JoinResult {
            error: Some(e),
            generation: -1,
            protocol_type: None,
            protocol_name: None,
            leader: String::new(),
            member_id: member_id.into(),
            members: Vec::new(),
            skip_assignment: false,
        }
    }
}

/// The outcome of a SyncGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncResult {
    pub error: Option<ResponseError>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignment: Bytes,
}

impl SyncResult {
    pub fn error(e: ResponseError) -> Self {
        SyncResult {
            error: Some(e),
            protocol_type: None,
            protocol_name: None,
            assignment: Bytes::new(),
        }
    }
}

/// An answer now, or one to wait for (a held JoinGroup or SyncGroup).
#[derive(Debug)]
pub enum Pending<T> {
    Ready(T),
    Wait(oneshot::Receiver<T>),
}

/// One member of a group.
#[derive(Debug)]
pub struct Member {
    pub id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// Protocol names and metadata, in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    pub join_waiter: Option<oneshot::Sender<JoinResult>>,
    pub sync_waiter: Option<oneshot::Sender<SyncResult>>,
    /// The session ends here unless a heartbeat (or join, sync, commit) comes.
    pub deadline: Instant,
}

impl Member {
    pub fn awaiting_join(&self) -> bool {
        self.join_waiter.is_some()
    }

    /// The member's metadata for `protocol`.
    pub fn metadata(&self, protocol: &str) -> Bytes {
        self.protocols
            .iter()
            .find(|(n, _)| n == protocol)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    }

    /// A member waiting in JoinGroup or SyncGroup cannot heartbeat on that
    /// connection, so its session does not run out then (as in Kafka).
    pub fn expired(&self, now: Instant) -> bool {
        self.join_waiter.is_none() && self.sync_waiter.is_none() && now >= self.deadline
    }

    pub fn touch(&mut self, now: Instant) {
        self.deadline = now + self.session_timeout;
    }

    /// Answers a held JoinGroup, if any.
    pub fn answer_join(&mut self, r: JoinResult) {
        if let Some(tx) = self.join_waiter.take() {
            let _ = tx.send(r);
        }
    }

    /// Answers a held SyncGroup, if any.
    pub fn answer_sync(&mut self, r: SyncResult) {
        if let Some(tx) = self.sync_waiter.take() {
            let _ = tx.send(r);
        }
    }
}
