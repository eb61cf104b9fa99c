//! The group coordinator: Kafka's classic consumer-group protocol, with this
//! broker (node 0) coordinating every group.
//!
//! - this file: [`GroupCoordinator`], what the handlers call: it holds the
//!   registry behind a lock (never across an await), waits for held JoinGroup
//!   and SyncGroup answers, writes offsets, and runs the timer task;
//! - [`group`]: one group's state machine (Empty, PreparingRebalance,
//!   CompletingRebalance, Stable; Dead once deleted);
//! - [`member`]: a member, and the answers held requests wait for;
//! - [`membership`]: JoinGroup, SyncGroup, Heartbeat, LeaveGroup;
//! - [`admin`]: commit checks, ListGroups, DescribeGroups, DeleteGroups,
//!   OffsetDelete;
//! - [`registry`]: all groups, limits, metrics, what is due next;
//! - [`offsets`]: committed offsets behind [`OffsetStore`]; the broker keeps
//!   them durable in its storage ([`StoreOffsets`], in [`durable`]), tests
//!   also use [`MemoryOffsetStore`];
//! - [`expiry`]: which offsets are past `offsets.retention.minutes`;
//! - [`assign`]: the consumer protocol's bodies and the `range` and
//!   `roundrobin` assignors, for members the broker runs (HTTP consumers);
//! - [`lag`]: consumer lag per group and partition, for `/metrics`.
//!
//! A held JoinGroup or SyncGroup waits on a oneshot channel, so only that
//! connection waits; clients heartbeat on their coordinator connection after
//! the join, or on another one.

pub mod admin;
pub mod assign;
#[cfg(test)]
mod coordinator_tests;
pub mod durable;
#[cfg(test)]
mod durable_tests;
pub mod expiry;
pub mod group;
pub mod lag;
pub mod member;
pub mod membership;
pub mod offsets;
pub mod registry;
#[cfg(test)]
mod requests_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod wire_tests;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::metrics::Metrics;
pub use admin::{GroupDescription, ListedGroup, MemberDescription};
pub use durable::StoreOffsets;
pub use group::{GroupState, JoinResult, JoinedMember, Pending, SyncResult};
pub use membership::{JoinParams, Leaving, SyncParams};
pub use offsets::{CommittedOffset, MemoryOffsetStore, OffsetStore, TopicPartition};
use registry::Registry;

/// Limits and timings of the coordinator.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// Kafka's `group.initial.rebalance.delay.ms` (3 s there): how long the
    /// first join phase of an empty group waits for more members, extended
    /// by as much for each newcomer, up to the rebalance timeout. The default
    /// here is short ([`DEFAULT_INITIAL_REBALANCE_DELAY`]).
    pub initial_rebalance_delay: Duration,
    /// Kafka's `group.min.session.timeout.ms` / `group.max.session.timeout.ms`.
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
    /// Kafka's `group.max.size`: members (and member ids handed out) per group.
    pub max_group_size: usize,
    /// Groups this broker holds at most; a JoinGroup or standalone
    /// OffsetCommit that would create one more gets COORDINATOR_NOT_AVAILABLE
    /// (and a warning in the log).
    pub max_groups: usize,
    /// Kafka's `offset.metadata.max.bytes`.
    pub max_offset_metadata_bytes: usize,
    /// Kafka's `offsets.retention.minutes`: how long committed offsets of an
    /// Empty group stay (see [`expiry`]).
    pub offsets_retention: Duration,
}

/// A dev broker usually serves one application starting one or a few
/// consumers at a time, and a single consumer should get its partitions at
/// once: 3 s (Kafka's default) would make every first poll wait. 200 ms
/// still lets consumers started together (a test, a `docker compose up`)
/// land in one generation instead of a rebalance each.
pub const DEFAULT_INITIAL_REBALANCE_DELAY: Duration = Duration::from_millis(200);

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            initial_rebalance_delay: DEFAULT_INITIAL_REBALANCE_DELAY,
            min_session_timeout: Duration::from_millis(6_000),
            max_session_timeout: Duration::from_millis(1_800_000),
            max_group_size: 1_000,
            max_groups: 10_000,
            max_offset_metadata_bytes: 4_096,
            offsets_retention: Duration::from_secs(crate::defaults::OFFSETS_RETENTION_MINUTES * 60),
        }
    }
}

/// How often the timer drops idle empty groups and offsets of deleted topics.
const SWEEP_INTERVAL: Duration = Duration::from_secs(30);

/// The group coordinator shared by every connection.
pub struct GroupCoordinator {
    registry: Mutex<Registry>,
    offsets: Arc<dyn OffsetStore>,
    metrics: Arc<Metrics>,
    wake: Notify,
}

impl GroupCoordinator {
    pub fn new(cfg: GroupConfig, offsets: Arc<dyn OffsetStore>, metrics: Arc<Metrics>) -> Self {
        let mut registry = Registry::new(cfg, metrics.clone());
        let now = Instant::now();
        // Groups that have committed offsets exist (Empty) from the start.
        for g in offsets.groups() {
            let _ = registry.create(&g, now);
        }
        GroupCoordinator {
            registry: Mutex::new(registry),
            offsets,
            metrics,
            wake: Notify::new(),
        }
    }

    /// An in-memory coordinator with the default limits.
    pub fn in_memory(metrics: Arc<Metrics>) -> Self {
        Self::new(
            GroupConfig::default(),
            Arc::new(MemoryOffsetStore::default()),
            metrics,
        )
    }

    pub fn config(&self) -> GroupConfig {
        self.lock().cfg.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Registry> {
        // Registry changes do not panic half-way in ways that matter more than
        // refusing every later request would; keep serving.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the registry and wakes the timer if something got due earlier.
    fn with<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        let mut r = self.lock();
        let out = f(&mut r);
        if r.take_wake() {
            self.wake.notify_one();
        }
        out
    }

    pub fn join(&self, p: JoinParams) -> Pending<JoinResult> {
        self.with(|r| r.join(Instant::now(), p))
    }

    pub fn sync(&self, p: SyncParams) -> Pending<SyncResult> {
        self.with(|r| r.sync(Instant::now(), p))
    }

    pub fn heartbeat(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
    ) -> Result<(), ResponseError> {
        self.with(|r| r.heartbeat(Instant::now(), group_id, generation, member_id, instance_id))
    }

    pub fn leave(&self, group_id: &str, leaving: &[Leaving]) -> Vec<Result<(), ResponseError>> {
        self.with(|r| r.leave(Instant::now(), group_id, leaving))
    }

    /// OffsetCommit: checks the member, then writes (and waits until the
    /// store has the offsets). One error for the whole request, if any.
    pub async fn commit(
        &self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        instance_id: Option<&str>,
        offsets: Vec<(TopicPartition, CommittedOffset)>,
    ) -> Result<(), ResponseError> {
        self.with(|r| {
            r.validate_commit(Instant::now(), group_id, generation, member_id, instance_id)
        })?;
        if offsets.is_empty() {
            return Ok(());
        }
        let n = offsets.len() as u64;
        self.offsets.commit(group_id, offsets).await.map_err(|e| {
            tracing::warn!(group = group_id, error = %e, "offset commit failed");
            ResponseError::CoordinatorNotAvailable
        })?;
        self.metrics.groups.offset_commits.inc_by(n);
        // The sweep may have dropped the (then offset-less) group meanwhile.
        self.with(|r| r.create(group_id, Instant::now())).or(Ok(()))
    }

    /// The committed offset of one partition.
    pub fn committed(&self, group_id: &str, tp: &TopicPartition) -> Option<CommittedOffset> {
        self.offsets.fetch(group_id, tp)
    }

    /// Every committed offset of a group.
    pub fn committed_all(&self, group_id: &str) -> Vec<(TopicPartition, CommittedOffset)> {
        self.offsets.fetch_group(group_id)
    }

    pub fn list(&self, states: &[String]) -> Vec<ListedGroup> {
        self.lock().list(states)
    }

    pub fn describe(&self, group_id: &str) -> Option<GroupDescription> {
        self.lock().describe(group_id)
    }

    /// DeleteGroups of one group, with its offsets.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), ResponseError> {
        self.with(|r| r.delete(group_id))?;
        self.offsets.delete_group(group_id).await.map_err(|e| {
            tracing::warn!(group = group_id, error = %e, "deleting the group's offsets failed");
            ResponseError::CoordinatorNotAvailable
        })
    }

    /// OffsetDelete: per-partition results, or one error for the group.
    pub async fn delete_offsets(
        &self,
        group_id: &str,
        tps: &[TopicPartition],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        let checked = self.lock().offset_delete_check(group_id, tps)?;
        let go: Vec<TopicPartition> = tps
            .iter()
            .zip(&checked)
            .filter(|(_, r)| r.is_ok())
            .map(|(tp, _)| tp.clone())
            .collect();
        self.offsets.delete(group_id, &go).await.map_err(|e| {
            tracing::warn!(group = group_id, error = %e, "deleting offsets failed");
            ResponseError::CoordinatorNotAvailable
        })?;
        Ok(checked)
    }

    /// Drops every group's offsets of a deleted topic. Stale offsets are also
    /// ignored on fetch (their topic id no longer matches) and dropped by the
    /// timer's sweep, so a delete path that does not call this is still safe.
    pub async fn forget_topic(&self, topic: &str) {
        if let Err(e) = self.offsets.retain_live(&|t, _| t != topic).await {
            tracing::warn!(topic, error = %e, "dropping offsets of a deleted topic failed");
        }
    }

    /// Drops offsets whose topic is gone (or was created again) and groups
    /// that stayed Empty with no offsets for a sweep interval.
    pub async fn sweep(&self, store: &crate::storage::Store) {
        let live = |topic: &str, id: u32| store.topic(topic).is_some_and(|m| m.id == id);
        if let Err(e) = self.offsets.retain_live(&live).await {
            tracing::warn!(error = %e, "dropping offsets of deleted topics failed");
        }
        self.expire_offsets(crate::storage::now_ms()).await;
        let before = Instant::now().checked_sub(SWEEP_INTERVAL);
        if let Some(before) = before {
            let dropped = self.with(|r| r.sweep(before, |g| self.offsets.has_offsets(g)));
            if dropped > 0 {
                tracing::debug!(dropped, "idle empty groups dropped");
            }
        }
    }

    /// Deletes the committed offsets past retention at `now_ms` (see
    /// [`expiry`]); returns how many groups lost offsets.
    pub async fn expire_offsets(&self, now_ms: i64) -> usize {
        let retention_ms = self.lock().cfg.offsets_retention.as_millis() as i64;
        let mut touched = 0;
        for group in self.offsets.groups() {
            let view = self.lock().expiry_view(&group, Instant::now(), now_ms);
            let offsets = self.offsets.fetch_group(&group);
            let done = match expiry::expired(view, &offsets, now_ms, retention_ms) {
                expiry::Expired::Nothing => continue,
                expiry::Expired::All => self.offsets.delete_group(&group).await,
                expiry::Expired::Some(tps) => self.offsets.delete(&group, &tps).await,
            };
            match done {
                Ok(()) => {
                    touched += 1;
                    tracing::info!(group = %group, "committed offsets expired (offsets retention)");
                }
                Err(e) => tracing::warn!(group = %group, error = %e, "expiring offsets failed"),
            }
        }
        touched
    }

    /// Groups held now.
    pub fn group_count(&self) -> usize {
        self.lock().len()
    }

    /// The timer task: session expiry, the end of join phases, the sweep.
    /// Ends when `shutdown` turns true.
    pub async fn run_timer(
        self: Arc<Self>,
        store: crate::storage::Store,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut next_sweep = Instant::now() + SWEEP_INTERVAL;
        loop {
            let now = Instant::now();
            let next = self.lock().tick(now);
            if now >= next_sweep {
                self.sweep(&store).await;
                next_sweep = now + SWEEP_INTERVAL;
            }
            let until = next.map_or(next_sweep, |n| n.min(next_sweep));
            tokio::select! {
                _ = crate::kafka::stopped(&mut shutdown) => break,
                _ = tokio::time::sleep_until(until) => {}
                _ = self.wake.notified() => {}
            }
        }
        tracing::debug!("group coordinator timer stopped");
    }
}

/// Waits for a held answer, or gives `on_stop` when the broker stops first
/// (and `on_drop` if the group dropped the waiter without answering).
pub async fn wait_for<T>(
    pending: Pending<T>,
    shutdown: &watch::Receiver<bool>,
    on_stop: impl FnOnce() -> T,
    on_drop: impl FnOnce() -> T,
) -> T {
    match pending {
        Pending::Ready(t) => t,
        Pending::Wait(rx) => {
            let mut stop = shutdown.clone();
            tokio::select! {
                biased;
                r = rx => r.unwrap_or_else(|_| on_drop()),
                _ = crate::kafka::stopped(&mut stop) => on_stop(),
            }
        }
    }
}
