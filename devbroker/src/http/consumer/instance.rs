//! One consumer instance and the task that keeps it a member of its group.
//!
//! The task speaks to the broker's own [`GroupCoordinator`], as a Kafka
//! client would over the wire: JoinGroup (offering `range` and
//! `roundrobin`), SyncGroup (with the assignment it computes itself when the
//! coordinator made it the leader, see [`crate::kafka::groups::assign`]),
//! then a Heartbeat every [`HEARTBEAT`] until the group rebalances (it
//! rejoins), its subscription changes (it rejoins with the new topics), it is
//! deleted or unsubscribed (it leaves), it stays idle past the idle timeout
//! (it leaves and is removed) or the broker stops. Its partitions are
//! dropped before every rejoin, so it never reads a partition another member
//! may have been given.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::ResponseError;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::kafka::groups::assign::{ASSIGNORS, assign, decode_assignment, encode_subscription};
use crate::kafka::groups::{
    GroupCoordinator, JoinParams, JoinResult, Leaving, Pending, SyncParams, SyncResult,
};
use crate::storage::Store;
use crate::wire::proxy::EmbeddedFormat;

/// How often a member heartbeats (pandaproxy's `consumer_heartbeat_interval_ms`).
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// The member's Kafka session (pandaproxy's `consumer_session_timeout_ms`):
/// only a broker that stops running the task lets it lapse.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a rebalance waits for the members to rejoin, at least.
pub const REBALANCE_TIMEOUT: Duration = Duration::from_secs(10);
/// Pause before retrying after the coordinator refused a join or sync,
/// doubled on each refusal in a row up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_millis(200);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Where an instance without a committed offset starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    Earliest,
    Latest,
}

/// The partitions a member holds in one generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    /// -1 while the instance is not a member of a stable generation.
    pub generation: i32,
    pub member_id: String,
    pub partitions: BTreeSet<(String, i32)>,
}

/// The next offset to read of each partition.
pub type Positions = BTreeMap<(String, i32), u64>;

/// A consumer instance.
pub struct Instance {
    pub group: String,
    pub name: String,
    pub format: EmbeddedFormat,
    pub reset: Reset,
    pub auto_commit: bool,
    /// The default long-poll time of a fetch (`consumer.request.timeout.ms`).
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    /// The topics subscribed to (empty: none).
    pub subscription: watch::Sender<Vec<String>>,
    pub assignment: watch::Sender<Assignment>,
    /// Next offset to read (and to commit) per partition, for the generation
    /// in `.0`.
    pub positions: tokio::sync::Mutex<(i32, Positions)>,
    last_used: Mutex<Instant>,
    /// Turns true when the instance is deleted.
    pub deleted: watch::Sender<bool>,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        group: String,
        name: String,
        format: EmbeddedFormat,
        reset: Reset,
        auto_commit: bool,
        request_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        Instance {
            group,
            name,
            format,
            reset,
            auto_commit,
            request_timeout,
            idle_timeout,
            subscription: watch::channel(Vec::new()).0,
            assignment: watch::channel(Assignment {
                generation: -1,
                ..Default::default()
            })
            .0,
            positions: tokio::sync::Mutex::new((-1, BTreeMap::new())),
            last_used: Mutex::new(Instant::now()),
            deleted: watch::channel(false).0,
        }
    }

    /// A request used the instance: its idle time starts again.
    pub fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_until(&self) -> Instant {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) + self.idle_timeout
    }

    /// Completes when the instance is deleted or has been idle too long
    /// (`true` for idle).
    async fn done(&self) -> bool {
        let mut deleted = self.deleted.subscribe();
        loop {
            let until = self.idle_until();
            if Instant::now() >= until {
                return true;
            }
            tokio::select! {
                ok = async { deleted.wait_for(|d| *d).await.is_ok() } => {
                    if ok {
                        return false;
                    }
                    // The sender lives as long as the instance: cannot happen.
                    std::future::pending::<()>().await;
                }
                _ = tokio::time::sleep_until(until) => {}
            }
        }
    }

    fn set_assignment(&self, a: Assignment) {
        self.assignment.send_replace(a);
    }

    fn unassigned(&self, member_id: &str) {
        self.set_assignment(Assignment {
            generation: -1,
            member_id: member_id.to_string(),
            partitions: BTreeSet::new(),
        });
    }
}

/// What the member task needs besides its instance.
pub struct MemberCtx {
    pub coordinator: Arc<GroupCoordinator>,
    pub store: Store,
    pub stopping: watch::Receiver<bool>,
    /// Called once the instance expired (removes it from the registry).
    pub on_idle: Box<dyn FnOnce() + Send + Sync>,
}

enum Step<T> {
    Got(T),
    /// Deleted, idle or the broker stops: the task ends.
    End {
        idle: bool,
    },
}

/// Waits for a held coordinator answer, or for the instance or broker to end.
async fn held<T>(
    inst: &Instance,
    ctx: &MemberCtx,
    p: Pending<T>,
    on_drop: impl FnOnce() -> T,
) -> Step<T> {
    let rx = match p {
        Pending::Ready(t) => return Step::Got(t),
        Pending::Wait(rx) => rx,
    };
    let mut stopping = ctx.stopping.clone();
    tokio::select! {
        r = rx => match r {
            Ok(t) => Step::Got(t),
            // The group dropped the waiter: the membership is lost.
            Err(_) => Step::Got(on_drop()),
        },
        idle = inst.done() => Step::End { idle },
        _ = crate::kafka::stopped(&mut stopping) => Step::End { idle: false },
    }
}

/// Runs the instance's membership until it ends (see the module docs).
pub async fn run(inst: Arc<Instance>, ctx: MemberCtx) {
    let mut member_id = String::new();
    // Refusals in a row (for the backoff).
    let mut refused = 0u32;
    let mut subs = inst.subscription.subscribe();
    let idle = 'outer: loop {
        let topics = subs.borrow_and_update().clone();
        if topics.is_empty() {
            leave(&inst, &ctx, &mut member_id);
            let mut stopping = ctx.stopping.clone();
            tokio::select! {
                _ = subs.changed() => continue,
                idle = inst.done() => break idle,
                _ = crate::kafka::stopped(&mut stopping) => break false,
            }
        }
        inst.unassigned(&member_id);
        let join = ctx
            .coordinator
            .join(join_params(&inst, &member_id, &topics));
        let r: JoinResult = match held(&inst, &ctx, join, || {
            JoinResult::error(ResponseError::UnknownMemberId, "")
        })
        .await
        {
            Step::Got(r) => r,
            Step::End { idle } => break idle,
        };
        match r.error {
            None => member_id = r.member_id.clone(),
            Some(ResponseError::MemberIdRequired) => {
                member_id = r.member_id;
                continue;
            }
            Some(e) => {
                if lost(e) {
                    member_id.clear();
                }
                if let Some(idle) = retry_wait(&inst, &ctx, e, &mut refused).await {
                    break idle;
                }
                continue;
            }
        }
        let assignments = if r.leader == member_id {
            let protocol = r.protocol_name.clone().unwrap_or_default();
            assign(&protocol, &r.members, |t| {
                ctx.store.topic(t).map(|m| m.partitions)
            })
        } else {
            Vec::new()
        };
        let sync = ctx.coordinator.sync(SyncParams {
            group_id: inst.group.clone(),
            generation: r.generation,
            member_id: member_id.clone(),
            instance_id: None,
            protocol_type: r.protocol_type.clone(),
            protocol_name: r.protocol_name.clone(),
            assignments,
        });
        let s: SyncResult = match held(&inst, &ctx, sync, || {
            SyncResult::error(ResponseError::UnknownMemberId)
        })
        .await
        {
            Step::Got(s) => s,
            Step::End { idle } => break idle,
        };
        if let Some(e) = s.error {
            if lost(e) {
                member_id.clear();
            }
            if let Some(idle) = retry_wait(&inst, &ctx, e, &mut refused).await {
                break idle;
            }
            continue;
        }
        let partitions = decode_assignment(&s.assignment).unwrap_or_else(|| {
            tracing::warn!(group = %inst.group, instance = %inst.name, "assignment from the group leader does not parse; consuming nothing");
            BTreeSet::new()
        });
        tracing::debug!(group = %inst.group, instance = %inst.name, generation = r.generation, ?partitions, "HTTP consumer assigned");
        refused = 0;
        inst.set_assignment(Assignment {
            generation: r.generation,
            member_id: member_id.clone(),
            partitions,
        });
        // Heartbeats until something asks for a rejoin.
        loop {
            let mut stopping = ctx.stopping.clone();
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = subs.changed() => continue 'outer,
                idle = inst.done() => break 'outer idle,
                _ = crate::kafka::stopped(&mut stopping) => break 'outer false,
            }
            match ctx
                .coordinator
                .heartbeat(&inst.group, r.generation, &member_id, None)
            {
                Ok(()) => {}
                Err(ResponseError::RebalanceInProgress) => continue 'outer,
                Err(e) => {
                    tracing::debug!(group = %inst.group, instance = %inst.name, error = ?e, "HTTP consumer lost its membership; joining again");
                    member_id.clear();
                    continue 'outer;
                }
            }
        }
    };
    inst.unassigned("");
    if *ctx.stopping.borrow() {
        return;
    }
    leave(&inst, &ctx, &mut member_id);
    if idle {
        tracing::info!(group = %inst.group, instance = %inst.name, idle_timeout_ms = inst.idle_timeout.as_millis() as u64, "HTTP consumer instance idle too long; removed");
        (ctx.on_idle)();
    }
}

/// Errors after which the member id is no longer valid.
fn lost(e: ResponseError) -> bool {
    matches!(
        e,
        ResponseError::UnknownMemberId
            | ResponseError::IllegalGeneration
            | ResponseError::FencedInstanceId
    )
}

/// Waits before the next attempt; `Some(idle)` when the instance ended
/// (deleted, or idle: `true`) or the broker stops (`false`).
async fn retry_wait(
    inst: &Instance,
    ctx: &MemberCtx,
    e: ResponseError,
    refused: &mut u32,
) -> Option<bool> {
    let pause = if matches!(e, ResponseError::RebalanceInProgress) || lost(e) {
        Duration::ZERO
    } else {
        let pause = RETRY.saturating_mul(1 << (*refused).min(5)).min(MAX_RETRY);
        *refused += 1;
        tracing::warn!(group = %inst.group, instance = %inst.name, error = ?e, retry_ms = pause.as_millis() as u64, "HTTP consumer cannot join its group; retrying");
        pause
    };
    let mut stopping = ctx.stopping.clone();
    tokio::select! {
        biased;
        idle = inst.done() => Some(idle),
        _ = crate::kafka::stopped(&mut stopping) => Some(false),
        _ = tokio::time::sleep(pause) => None,
    }
}

fn join_params(inst: &Instance, member_id: &str, topics: &[String]) -> JoinParams {
    let meta = encode_subscription(topics);
    JoinParams {
        group_id: inst.group.clone(),
        member_id: member_id.to_string(),
        instance_id: None,
        client_id: format!("rest-{}", inst.name),
        client_host: "http-proxy".into(),
        session_timeout: SESSION_TIMEOUT,
        rebalance_timeout: REBALANCE_TIMEOUT,
        protocol_type: "consumer".into(),
        protocols: ASSIGNORS
            .iter()
            .map(|p| (p.to_string(), meta.clone()))
            .collect(),
        // The id comes first, so a member deleted mid-join can leave.
        require_known_member_id: true,
        supports_skip_assignment: false,
    }
}

fn leave(inst: &Instance, ctx: &MemberCtx, member_id: &mut String) {
    if member_id.is_empty() {
        return;
    }
    let r = ctx.coordinator.leave(
        &inst.group,
        &[Leaving {
            member_id: member_id.clone(),
            instance_id: None,
        }],
    );
    tracing::debug!(group = %inst.group, instance = %inst.name, result = ?r, "HTTP consumer left its group");
    member_id.clear();
    inst.unassigned("");
}
