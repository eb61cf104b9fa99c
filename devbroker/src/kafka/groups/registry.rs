//! Every group of the broker, the limits on them, the metrics they feed and
//! the timer's view (what is due next).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;

use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::GroupConfig;
use super::expiry::GroupView;
use super::group::{Group, GroupState};
use crate::metrics::Metrics;

/// The groups, keyed by group id.
pub struct Registry {
    pub(super) groups: HashMap<String, Group>,
    pub(super) cfg: GroupConfig,
    metrics: Arc<Metrics>,
    /// Member ids are `<client or instance id>-<nonce><counter>`: unique for
    /// this broker's life, and unlike those of an earlier run.
    nonce: u64,
    counter: u64,
    /// When the timer task looks next; a change due earlier wakes it.
    next_wake: Option<Instant>,
    wake: bool,
    /// Groups refused for the group limit (for the log).
    refused: u64,
}

/// What the metrics count of a group, before and after a change.
#[derive(Clone, Copy)]
struct Counted {
    state: Option<GroupState>,
    members: usize,
    rebalances: u64,
}

impl Counted {
    fn of(g: Option<&Group>) -> Self {
        Counted {
            state: g.map(|g| g.state),
            members: g.map_or(0, |g| g.members.len()),
            rebalances: g.map_or(0, |g| g.rebalances),
        }
    }
}

impl Registry {
    pub fn new(cfg: GroupConfig, metrics: Arc<Metrics>) -> Self {
        Registry {
            groups: HashMap::new(),
            cfg,
            metrics,
            nonce: RandomState::new().hash_one(std::process::id()),
            counter: 0,
            next_wake: None,
            wake: false,
            refused: 0,
        }
    }

    pub fn get(&self, id: &str) -> Option<&Group> {
        self.groups.get(id)
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// A fresh member id.
    pub fn new_member_id(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}-{:016x}{:016x}", self.nonce, self.counter)
    }

    /// Creates an Empty group, unless the broker holds `max_groups` already.
    pub fn create(&mut self, id: &str, now: Instant) -> Result<(), ResponseError> {
        if self.groups.contains_key(id) {
            return Ok(());
        }
        if self.groups.len() >= self.cfg.max_groups {
            self.refused += 1;
            tracing::warn!(
                group = id,
                max_groups = self.cfg.max_groups,
                refused_total = self.refused,
                "Kafka group refused: the broker holds its maximum number of groups; delete unused groups (DeleteGroups) or raise the limit"
            );
            return Err(ResponseError::CoordinatorNotAvailable);
        }
        self.groups.insert(id.to_string(), Group::new(id, now));
        self.count(Counted::of(None), Counted::of(self.groups.get(id)));
        Ok(())
    }

    /// Changes one group, keeping the metrics and the timer up to date.
    pub fn update<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut Group, &GroupConfig) -> T,
    ) -> Option<T> {
        let g = self.groups.get_mut(id)?;
        let before = Counted::of(Some(g));
        let out = f(g, &self.cfg);
        let after = Counted::of(Some(g));
        let due = g.next_deadline();
        self.count(before, after);
        if let Some(due) = due
            && self.next_wake.is_none_or(|w| due < w)
        {
            self.next_wake = Some(due);
            self.wake = true;
        }
        Some(out)
    }

    /// Drops a group (it is Dead).
    pub fn remove(&mut self, id: &str) -> Option<Group> {
        let mut g = self.groups.remove(id)?;
        self.count(Counted::of(Some(&g)), Counted::of(None));
        g.state = GroupState::Dead;
        Some(g)
    }

    /// Whether something got due earlier than the timer planned (once).
    pub fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake)
    }

    /// Does what is due at `now` in every group; returns when to look next.
    pub fn tick(&mut self, now: Instant) -> Option<Instant> {
        let due: Vec<String> = self
            .groups
            .values()
            .filter(|g| g.next_deadline().is_some_and(|d| d <= now))
            .map(|g| g.id.clone())
            .collect();
        for id in due {
            self.update(&id, |g, cfg| g.expire(now, cfg));
        }
        self.next_wake = self.groups.values().filter_map(Group::next_deadline).min();
        self.wake = false;
        self.next_wake
    }

    /// Drops groups that have been Empty since `before`, with no member id
    /// handed out and no committed offset (Kafka cleans those up too).
    pub fn sweep(&mut self, before: Instant, has_offsets: impl Fn(&str) -> bool) -> usize {
        let idle: Vec<String> = self
            .groups
            .values()
            .filter(|g| {
                g.state == GroupState::Empty
                    && g.pending.is_empty()
                    && g.empty_since.is_some_and(|t| t <= before)
                    && !has_offsets(&g.id)
            })
            .map(|g| g.id.clone())
            .collect();
        for id in &idle {
            self.remove(id);
        }
        idle.len()
    }

    /// What offset expiry needs of group `id` (unknown: Empty, standalone).
    pub fn expiry_view(&self, id: &str, now: Instant, now_ms: i64) -> GroupView {
        let Some(g) = self.groups.get(id) else {
            return GroupView::Empty {
                consumer: false,
                empty_since_ms: None,
            };
        };
        if g.state != GroupState::Empty {
            return GroupView::Active;
        }
        GroupView::Empty {
            consumer: g.protocol_type.is_some(),
            empty_since_ms: g.empty_since.map(|t| {
                now_ms.saturating_sub(now.saturating_duration_since(t).as_millis() as i64)
            }),
        }
    }

    fn count(&self, before: Counted, after: Counted) {
        let m = &self.metrics.groups;
        if before.state != after.state {
            if let Some(s) = before.state {
                m.groups.with_label_values(&[s.name()]).dec();
            }
            if let Some(s) = after.state {
                m.groups.with_label_values(&[s.name()]).inc();
            }
        }
        let delta = after.members as i64 - before.members as i64;
        if delta != 0 {
            m.members.add(delta);
        }
        if after.rebalances > before.rebalances {
            m.rebalances.inc_by(after.rebalances - before.rebalances);
        }
    }
}
