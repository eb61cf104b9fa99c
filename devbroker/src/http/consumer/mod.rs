//! The HTTP Proxy's consumer API (Confluent REST v2 / pandaproxy shapes):
//! consumer instances that are real members of Kafka consumer groups, in the
//! same coordinator Kafka clients use, so a group may mix both.
//!
//! - this file: [`Consumers`], every instance by group and name, its limits,
//!   and the routes;
//! - [`instance`]: one instance and the task that keeps it a group member;
//! - [`handlers`]: create, subscribe, assignments, delete;
//! - [`fetch`]: records, offsets (commit and read);
//! - [`body`]: request and response bodies, error codes.

pub mod body;
mod fetch;
mod handlers;
pub mod instance;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;
use crate::kafka::groups::GroupCoordinator;
use instance::Instance;

/// Limits of the consumer API.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// An instance that serves no request for this long leaves its group and
    /// is deleted (pandaproxy's `consumer_instance_timeout_ms`).
    pub idle_timeout: Duration,
    /// Instances the broker holds at most; creating one more is refused (429).
    pub max_instances: usize,
}

/// pandaproxy's `consumer_instance_timeout_ms` default.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Instances at most, across groups (each is a task and a group member).
pub const DEFAULT_MAX_INSTANCES: usize = 1_000;

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_instances: DEFAULT_MAX_INSTANCES,
        }
    }
}

/// The consumer instances, shared by the handlers.
#[derive(Clone)]
pub struct Consumers {
    inner: Arc<Inner>,
}

struct Inner {
    coordinator: Arc<GroupCoordinator>,
    cfg: ConsumerConfig,
    instances: Mutex<HashMap<(String, String), Arc<Instance>>>,
    /// Names of instances created without one.
    counter: AtomicU64,
}

impl Consumers {
    /// Instances in the groups of `coordinator` (the one the Kafka listener
    /// serves, so HTTP and Kafka members share groups).
    pub fn new(coordinator: Arc<GroupCoordinator>, cfg: ConsumerConfig) -> Self {
        Consumers {
            inner: Arc::new(Inner {
                coordinator,
                cfg,
                instances: Mutex::new(HashMap::new()),
                counter: AtomicU64::new(0),
            }),
        }
    }

    pub fn coordinator(&self) -> &Arc<GroupCoordinator> {
        &self.inner.coordinator
    }

    pub fn config(&self) -> &ConsumerConfig {
        &self.inner.cfg
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(String, String), Arc<Instance>>> {
        // Every change is one insert or remove: a poisoned map is consistent.
        self.inner
            .instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The instance, touched (its idle time starts again).
    pub fn get(&self, group: &str, name: &str) -> Option<Arc<Instance>> {
        let i = self
            .lock()
            .get(&(group.to_string(), name.to_string()))
            .cloned()?;
        i.touch();
        Some(i)
    }

    /// A name for an instance created without one.
    fn fresh_name(&self) -> String {
        let n = self.inner.counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("rest-consumer-{n}")
    }

    /// Adds an instance unless its name is taken or the limit is reached.
    fn insert(&self, inst: Arc<Instance>) -> Result<(), InsertError> {
        let mut map = self.lock();
        let key = (inst.group.clone(), inst.name.clone());
        if map.contains_key(&key) {
            return Err(InsertError::Exists);
        }
        if map.len() >= self.inner.cfg.max_instances {
            return Err(InsertError::Full);
        }
        map.insert(key, inst);
        Ok(())
    }

    /// Removes the instance `inst` (not another one created since under
    /// the same name).
    fn remove(&self, inst: &Arc<Instance>) -> bool {
        let mut map = self.lock();
        let key = (inst.group.clone(), inst.name.clone());
        if map.get(&key).is_some_and(|i| Arc::ptr_eq(i, inst)) {
            map.remove(&key);
            true
        } else {
            false
        }
    }

    /// Instances held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

enum InsertError {
    Exists,
    Full,
}

/// The consumer API's routes.
pub fn routes() -> Router<AppState> {
    let instance = "/consumers/{group}/instances/{instance}";
    Router::new()
        .route("/consumers/{group}", post(handlers::create))
        .route(instance, axum::routing::delete(handlers::delete))
        .route(
            &format!("{instance}/subscription"),
            post(handlers::subscribe)
                .get(handlers::subscription)
                .delete(handlers::unsubscribe),
        )
        .route(
            &format!("{instance}/assignments"),
            get(handlers::assignments),
        )
        .route(&format!("{instance}/records"), get(fetch::records))
        .route(
            &format!("{instance}/offsets"),
            post(fetch::commit).get(fetch::committed_offsets),
        )
}
