//! Fencing: which broker owns a tier prefix.
//!
//! Starting, a broker lists `owner/`: the latest `owner/{epoch}.json` names the
//! broker that claimed the prefix last, and `owner/{epoch}.released` says it shut
//! down cleanly. A broker whose id (kept in `<data-dir>/tier-broker-id`) differs
//! refuses to start while the latest claim is not released, or while the prefix
//! holds another broker's data and its own data dir is not empty; with
//! `--tier-takeover` it claims anyway. It claims epoch + 1 with a conditional
//! put. A running broker watches `owner/`: once a newer epoch appears it is
//! fenced, which sets the store's write fence (the one gate of every write).

use std::sync::Arc;

use object_store::ObjectStore;
use object_store::path::Path;

use super::ids::random_id;
use super::layout::{self, OwnerRecord};
use super::{Result, Tier, TierError, TierOptions, bucket};
use crate::storage::now_ms;

pub(super) struct Claim {
    pub broker_id: String,
    pub epoch: u64,
}

const ID_FILE: &str = "tier-broker-id";

fn broker_id(opts: &TierOptions) -> Result<String> {
    let path = opts.data_dir.join(ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => {
            let id = random_id();
            std::fs::write(&path, format!("{id}\n"))
                .map_err(|e| TierError::Other(format!("cannot write {}: {e}", path.display())))?;
            Ok(id)
        }
    }
}

fn describe(o: &OwnerRecord) -> String {
    format!(
        "broker {} (pid {} on {}, data dir {}, claimed at epoch {} at {} ms since the epoch)",
        o.broker_id, o.pid, o.host, o.data_dir, o.epoch, o.started_ms
    )
}

/// Epochs of the claims and of the releases under `owner/`.
async fn scan(os: &Arc<dyn ObjectStore>, root: &Path) -> Result<(Vec<u64>, Vec<u64>)> {
    let dir = layout::join(root, &layout::owner_dir());
    let metas = bucket::list_objects(os, &dir).await?;
    let (mut claims, mut released) = (Vec::new(), Vec::new());
    for m in metas {
        let Some(name) = m.location.filename() else {
            continue;
        };
        if let Some(e) = name.strip_suffix(".json").and_then(|e| e.parse().ok()) {
            claims.push(e);
        } else if let Some(e) = name.strip_suffix(".released").and_then(|e| e.parse().ok()) {
            released.push(e);
        }
    }
    claims.sort_unstable();
    Ok((claims, released))
}

async fn get_json<T: serde::de::DeserializeOwned>(
    os: &Arc<dyn ObjectStore>,
    path: &Path,
) -> Result<T> {
    use object_store::ObjectStoreExt;
    let err = |source| TierError::Store {
        op: "get",
        path: path.to_string(),
        source,
    };
    let bytes = os
        .get(path)
        .await
        .map_err(err)?
        .bytes()
        .await
        .map_err(err)?;
    serde_json::from_slice(&bytes).map_err(|e| TierError::Corrupt {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

pub(super) async fn claim(
    os: &Arc<dyn ObjectStore>,
    root: &Path,
    opts: &TierOptions,
    store_empty: bool,
) -> Result<Claim> {
    use object_store::{PutMode, PutOptions, PutPayload};
    let broker_id = broker_id(opts)?;
    let (claims, released) = scan(os, root).await?;
    let latest = claims.last().copied();
    let mut epoch = 1;
    if let Some(e) = latest {
        epoch = e + 1;
        let prev: OwnerRecord = get_json(os, &layout::join(root, &layout::owner_key(e))).await?;
        let is_released = released.contains(&e);
        if prev.broker_id != broker_id && !opts.takeover {
            if !is_released {
                return Err(TierError::Owned(format!(
                    "tier prefix {} is in use by {}: it is still running or did not shut down cleanly. \
                     Stop it, point this broker at another prefix, or start with --tier-takeover to fence it",
                    opts.url,
                    describe(&prev)
                )));
            }
            if !store_empty {
                let has_topics = os
                    .list_with_delimiter(Some(&layout::join(root, &layout::topics_dir())))
                    .await
                    .map(|r| !r.common_prefixes.is_empty())
                    .unwrap_or(true);
                if has_topics {
                    return Err(TierError::Owned(format!(
                        "tier prefix {} holds the data of {}, and this data dir ({}) holds other data; \
                         start on an empty data dir to restore from the prefix, use another prefix, \
                         or start with --tier-takeover to replace it",
                        opts.url,
                        describe(&prev),
                        opts.data_dir.display()
                    )));
                }
            }
        }
        if prev.broker_id != broker_id && !is_released {
            tracing::warn!(previous = %describe(&prev), "tier: taking over the prefix (--tier-takeover); the previous owner is fenced");
        }
    }
    let record = OwnerRecord {
        format: layout::FORMAT,
        epoch,
        broker_id: broker_id.clone(),
        put_id: random_id(),
        host: std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
        pid: std::process::id(),
        data_dir: std::path::absolute(&opts.data_dir)
            .unwrap_or_else(|_| opts.data_dir.clone())
            .display()
            .to_string(),
        started_ms: now_ms(),
    };
    let path = layout::join(root, &layout::owner_key(epoch));
    let bytes = serde_json::to_vec_pretty(&record).map_err(|e| TierError::Other(e.to_string()))?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let res = os
            .put_opts(
                &path,
                PutPayload::from(bytes.clone()),
                PutOptions::from(PutMode::Create),
            )
            .await;
        match res {
            Ok(_) => break,
            Err(object_store::Error::AlreadyExists { .. }) => {
                let theirs: OwnerRecord = get_json(os, &path).await?;
                if theirs.put_id == record.put_id {
                    // Our own earlier attempt went through.
                    break;
                }
                return Err(TierError::Owned(format!(
                    "{} claimed tier prefix {} at the same time; refusing to start",
                    describe(&theirs),
                    opts.url
                )));
            }
            Err(source) if attempt < 5 => {
                tracing::warn!(error = %source, attempt, "tier: claiming the prefix failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 << attempt)).await;
            }
            Err(source) => {
                return Err(TierError::Store {
                    op: "conditional put",
                    path: path.to_string(),
                    source,
                });
            }
        }
    }
    Ok(Claim { broker_id, epoch })
}

/// Marks the claim released (clean shutdown).
pub(super) async fn release(tier: &Tier) {
    let key = layout::released_key(tier.epoch());
    match tier.put_create(&key, Vec::new()).await {
        Ok(_) => tracing::info!(epoch = tier.epoch(), "tier: prefix released"),
        Err(e) => tracing::warn!(error = %e, "tier: cannot mark the prefix released"),
    }
}

/// Fences this broker once a newer claim appears.
pub(super) async fn watch(tier: Tier) {
    let mut stop = tier.stopping();
    let every = (tier.opts().poll_interval * 5).max(std::time::Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        if *stop.borrow() || tier.fenced().is_some() {
            return;
        }
        let newest = match tier.list(&layout::owner_dir()).await {
            Ok(keys) => keys
                .iter()
                .filter_map(|k| {
                    Path::from(k.as_str())
                        .filename()?
                        .strip_suffix(".json")?
                        .parse::<u64>()
                        .ok()
                })
                .max(),
            Err(e) => {
                tracing::debug!(error = %e, "tier: cannot list owner claims");
                continue;
            }
        };
        if let Some(e) = newest.filter(|e| *e > tier.epoch()) {
            let who = match tier.get(&layout::owner_key(e)).await {
                Ok(b) => serde_json::from_slice::<OwnerRecord>(&b)
                    .map(|o| describe(&o))
                    .unwrap_or_else(|_| format!("epoch {e}")),
                Err(_) => format!("epoch {e}"),
            };
            tier.set_fenced(format!(
                "{who} took over tier prefix {}; this broker's epoch is {}",
                tier.url(),
                tier.epoch()
            ));
            return;
        }
    }
}

impl Tier {
    /// `Some(reason)` once another broker took over the prefix.
    pub fn fenced(&self) -> Option<String> {
        self.db().fence().reason().map(str::to_string)
    }

    /// Fences this broker: the store's write fence refuses every write from
    /// now on (see `storage::fence`), and the tier stops uploading.
    pub(super) fn set_fenced(&self, reason: String) {
        if self.db().fence().set(reason.clone()) {
            tracing::error!(reason = %reason, "tier: this broker is fenced; it stops uploading and refuses writes");
            self.inner.metrics.tier.fenced.set(1);
        }
    }
}
