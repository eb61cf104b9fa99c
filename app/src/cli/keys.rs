//! `rpkv kv get|put|delete`: with `-p N` on that partition; with `-p -1`
//! where each key lives ([`Client::locate`] asks every partition), new keys
//! placed by the partitioner.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use super::kv::{KvFlags, PreconditionFlags, WriteResult, print_writes};
use super::{PreconditionUnmet, fixed_partition, print_json, print_text};
use crate::client::{
    Client, Located, Precondition, WriteRequest, and_list, guarded_deletes, sha256_hex,
    write_request,
};
use crate::format::{OutputFormat, Table};

#[derive(Serialize)]
struct GetResult {
    key: String,
    value: Option<String>,
    found: bool,
    partition: i32,
    /// Every partition holding the key, when there is more than one.
    #[serde(skip_serializing_if = "Option::is_none")]
    partitions: Option<Vec<i32>>,
}

/// A key as messages quote it, in the user's `--key-format`.
fn quoted(common: &KvFlags, key: &[u8]) -> String {
    format!("{:?}", common.key_format.render(key))
}

/// Every partition's copy of `keys`, each key in several partitions warned
/// about on stderr.
async fn locate(
    client: &Client,
    topic: &str,
    keys: &[Vec<u8>],
    what: &'static str,
) -> Result<Vec<Located>> {
    client
        .locate(topic, keys, client.partitioner())
        .await
        .context(what)
}

pub async fn get(client: &Client, topic: &str, keys: Vec<Vec<u8>>, common: &KvFlags) -> Result<()> {
    let results: Vec<GetResult> = match fixed_partition(common.partition)? {
        Some(p) => client
            .get_many(topic, keys.into_iter().map(|k| (p, k)).collect())
            .await
            .context("get")?
            .into_iter()
            .map(|(p, l)| GetResult {
                key: common.key_format.render(&l.key),
                found: l.value.is_some(),
                value: l.value.map(|v| common.value_format.render(&v)),
                partition: p,
                partitions: None,
            })
            .collect(),
        None => {
            let mut out = Vec::new();
            for l in locate(client, topic, &keys, "get").await? {
                let key = common.key_format.render(&l.key);
                if l.copies.is_empty() {
                    out.push(GetResult {
                        key,
                        value: None,
                        found: false,
                        partition: l.home,
                        partitions: None,
                    });
                    continue;
                }
                let several = (l.copies.len() > 1).then(|| l.partitions());
                if let Some(parts) = &several {
                    eprintln!(
                        "rpkv: warning: key {} is in partitions {} of topic {topic:?} \
                         (producers with different partitioners wrote it); every copy is listed; \
                         give -p N to read or write one of them",
                        quoted(common, &l.key),
                        and_list(parts)
                    );
                }
                for c in l.copies {
                    out.push(GetResult {
                        key: key.clone(),
                        value: Some(common.value_format.render(&c.value)),
                        found: true,
                        partition: c.partition,
                        partitions: several.clone(),
                    });
                }
            }
            out
        }
    };
    match common.format {
        OutputFormat::Json => print_json(&results),
        OutputFormat::Text => {
            let mut t = Table::new(["KEY", "VALUE", "PARTITION"]);
            for r in &results {
                let value = r.value.clone().unwrap_or_else(|| "(not found)".to_owned());
                t.row([r.key.clone(), value, r.partition.to_string()]);
            }
            print_text(&t.render())
        }
    }
}

pub async fn put(
    client: &Client,
    topic: &str,
    key: Vec<u8>,
    value: Vec<u8>,
    pre: Option<Precondition>,
    common: &KvFlags,
) -> Result<()> {
    let p = match fixed_partition(common.partition)? {
        Some(p) => p,
        None => {
            let located = locate(client, topic, std::slice::from_ref(&key), "put").await?;
            match located.first().map(|l| l.write_partition(topic)) {
                Some(Ok(p)) => p,
                Some(Err(several)) => bail!(
                    "refusing to put: key {} is in partitions {} of topic {topic:?}, and writing \
                     one would leave the other copies stale; give -p N to write partition N \
                     (`rpkv kv get` lists each copy)",
                    quoted(common, &key),
                    and_list(&several.partitions)
                ),
                None => bail!("put: the key was not looked up"),
            }
        }
    };
    client
        .put(topic, p, key, value, pre)
        .await
        .with_context(|| format!("put: {}", super::kv::at(topic, p)))?;
    let result = WriteResult {
        operation: "put",
        topic,
        partition: p,
        key_count: 1,
        success: true,
    };
    print_writes(common.format, &[result], false)
}

pub async fn delete(
    client: &Client,
    topic: &str,
    keys: Vec<Vec<u8>>,
    flags: &PreconditionFlags,
    common: &KvFlags,
) -> Result<()> {
    let pre = flags.precondition();
    let writes: BTreeMap<i32, WriteRequest> = match fixed_partition(common.partition)? {
        Some(p) => BTreeMap::from([(p, write_request(vec![], keys, pre))]),
        None => {
            let located = locate(client, topic, &keys, "delete").await?;
            check_preconditions(topic, &located, flags, common)?;
            // Each copy's delete holds only if its value is still the one
            // just read: a concurrent write fails it (exit 3).
            let mut writes = guarded_deletes(&located);
            for l in located.into_iter().filter(|l| l.copies.is_empty()) {
                // Found nowhere: a delete of a missing key, as with -p N,
                // in the partition the partitioner picks.
                writes
                    .entry(l.home)
                    .or_default()
                    .deletes
                    .extend(write_request(vec![], vec![l.key], pre.clone()).deletes);
            }
            writes
        }
    };
    let mut results = Vec::new();
    for (p, req) in writes {
        let n = req.deletes.len();
        client.write(topic, p, &req).await.with_context(|| {
            let done: usize = results.iter().map(|r: &WriteResult| r.key_count).sum();
            format!(
                "delete: {} ({done} keys deleted in the partitions before it)",
                super::kv::at(topic, p)
            )
        })?;
        results.push(WriteResult {
            operation: "delete",
            topic,
            partition: p,
            key_count: n,
            success: true,
        });
    }
    print_writes(common.format, &results, true)
}

/// `--if-exists` / `--if-matches` with `-p -1`, checked against the copies
/// read before anything is deleted.
fn check_preconditions(
    topic: &str,
    located: &[Located],
    flags: &PreconditionFlags,
    common: &KvFlags,
) -> Result<()> {
    for l in located {
        let key = quoted(common, &l.key);
        let fail = |why: String| Err(PreconditionUnmet(format!("{why}; nothing deleted")).into());
        match (flags.if_exists, &flags.if_matches) {
            (Some(false), _) if !l.copies.is_empty() => {
                let parts = l.partitions();
                let s = if parts.len() > 1 { "s" } else { "" };
                return fail(format!(
                    "key {key} exists in partition{s} {} of topic {topic:?} (--if-exists false)",
                    and_list(&parts)
                ));
            }
            (Some(true), _) | (None, Some(_)) if l.copies.is_empty() => {
                return fail(format!("key {key} is in no partition of topic {topic:?}"));
            }
            (None, Some(hash)) => {
                if let Some(c) = l.copies.iter().find(|c| sha256_hex(&c.value) != *hash) {
                    return fail(format!(
                        "key {key} in partition {} of topic {topic:?} does not match --if-matches",
                        c.partition
                    ));
                }
            }
            _ => {}
        }
    }
    Ok(())
}
