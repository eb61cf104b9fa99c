//! Durability of the redo log and the checkpoint: a power loss that wrote
//! back any subset of the LMDB pages, recycled redo segments, a torn last
//! record. Every answered write comes back, exactly; nothing stale does.

use std::sync::Arc;

use super::tests::{open, open_with_options, put};
use super::{Store, StoreOptions};
use crate::config::TopicSpec;
use crate::metrics::Metrics;
use crate::wire::kvstore::{Delete, Put, WriteRequest};

fn store_at(dir: &std::path::Path) -> Store {
    let opts = StoreOptions {
        map_size: 1 << 30,
        metrics: Arc::new(Metrics::new()),
        ..Default::default()
    };
    Store::open(dir, opts).unwrap()
}

fn write_batch(puts: &[(String, &str)], deletes: &[String]) -> WriteRequest {
    WriteRequest {
        puts: puts
            .iter()
            .map(|(k, v)| Put {
                key: k.clone().into_bytes(),
                value: v.as_bytes().to_vec(),
                precondition: None,
            })
            .collect(),
        deletes: deletes
            .iter()
            .map(|k| Delete {
                key: k.clone().into_bytes(),
                precondition: None,
            })
            .collect(),
    }
}

/// Copies the `checkpoint` file and the redo segments of a store's dir; returns
/// the segments' names in order.
fn copy_redo_log(from: &std::path::Path, to: &std::path::Path) -> Vec<String> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(from).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name == "checkpoint" || name.starts_with("wal-") {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
        if name.starts_with("wal-") {
            segments.push(name);
        }
    }
    segments.sort();
    segments
}

/// Whether a page of the LMDB file was written back before a power loss.
type PageFate = Box<dyn Fn(usize) -> bool>;

/// A power loss after a checkpoint: the OS wrote back any subset of the LMDB
/// pages changed since (the meta pages included), but the redo log is whole.
/// Every answered write must come back, exactly, whatever the subset.
#[test]
fn a_power_loss_after_a_checkpoint_loses_no_answered_write() {
    let (dir, store, rt) = open();
    let key = |i: usize| format!("k{i:03}");
    let first: Vec<(String, &str)> = (0..200).map(|i| (key(i), "one")).collect();
    rt.block_on(store.kv_write("t", 0, write_batch(&first, &[])))
        .unwrap();
    rt.block_on(store.checkpoint()).unwrap();
    let data = dir.path().join("data.mdb");
    let at_checkpoint = std::fs::read(&data).unwrap();

    // Answered writes after the checkpoint: one per request, so many groups.
    for i in 0..100 {
        rt.block_on(store.kv_write("t", 0, write_batch(&[(key(i), "two")], &[])))
            .unwrap();
    }
    let gone: Vec<String> = (100..150).map(key).collect();
    rt.block_on(store.kv_write("t", 0, write_batch(&[], &gone)))
        .unwrap();
    let spec: TopicSpec = "u:2".parse().unwrap();
    rt.block_on(store.create_topic("u", 2, spec.config))
        .unwrap();
    rt.block_on(store.kv_write("u", 1, put("hello", "world")))
        .unwrap();
    // A held transaction reaches data.mdb only when it is committed, and a
    // read commits it at once (storage::visibility).
    store.kv_get("u", 1, &[b"hello".to_vec()]).unwrap();
    let now = std::fs::read(&data).unwrap();
    let page = 4096;
    assert!(
        at_checkpoint[..2 * page] != now[..2 * page],
        "LMDB's meta pages moved on since the checkpoint"
    );

    // What the disk may hold: each changed page old or new, seeded.
    let pages = now.len().div_ceil(page);
    let variants: Vec<(&str, PageFate)> = vec![
        ("nothing written back", Box::new(|_| false)),
        ("everything written back", Box::new(|_| true)),
        ("only the meta pages written back", Box::new(|p| p < 2)),
        ("all but the meta pages", Box::new(|p| p >= 2)),
        ("random 1", Box::new(|p| (p * 2654435761) % 7 < 3)),
        ("random 2", Box::new(|p| (p * 40503 + 17) % 5 < 2)),
    ];
    for (name, new_page) in variants {
        let crashed = tempfile::tempdir().unwrap();
        let mut disk = Vec::with_capacity(now.len());
        for p in 0..pages {
            let range = p * page..((p + 1) * page).min(now.len());
            let old = at_checkpoint.get(range.clone());
            match (new_page(p), old) {
                (false, Some(old)) => disk.extend_from_slice(old),
                // A page the file did not have at the checkpoint: zeros if lost.
                (false, None) => disk.extend(std::iter::repeat_n(0u8, range.len())),
                (true, _) => disk.extend_from_slice(&now[range]),
            }
        }
        std::fs::write(crashed.path().join("data.mdb"), &disk).unwrap();
        copy_redo_log(dir.path(), crashed.path());

        let back = store_at(crashed.path());
        let keys: Vec<Vec<u8>> = (0..200).map(|i| key(i).into_bytes()).collect();
        let got = back.kv_get("t", 0, &keys).unwrap();
        for (i, v) in got.iter().enumerate() {
            let want: Option<&[u8]> = match i {
                0..100 => Some(b"two"),
                100..150 => None,
                _ => Some(b"one"),
            };
            assert_eq!(v.as_deref(), want, "{name}: key {i}");
        }
        assert_eq!(
            back.partition_state("t", 0).unwrap().next_offset,
            200 + 100 + 50,
            "{name}: the log of t"
        );
        let u = back.kv_get("u", 1, &[b"hello".to_vec()]).unwrap();
        assert_eq!(u[0].as_deref(), Some(&b"world"[..]), "{name}: topic u");
        // Writable, and a clean close leaves nothing to replay.
        rt.block_on(back.kv_write("t", 0, put("after", "crash")))
            .unwrap();
        rt.block_on(back.close()).unwrap();
        drop(back);
        let again = store_at(crashed.path());
        let after = again.kv_get("t", 0, &[b"after".to_vec()]).unwrap();
        assert_eq!(after[0].as_deref(), Some(&b"crash"[..]), "{name}");
        rt.block_on(again.close()).unwrap();
    }
}

/// Checkpoints recycle retired redo segments (the same files come back under
/// new numbers, old records still in them), and a crash copy taken at any
/// point replays exactly the answered writes: nothing lost, nothing stale.
#[test]
fn recycled_redo_segments_replay_only_their_new_records() {
    use std::os::unix::fs::MetadataExt;
    let (dir, store, rt) = open();
    let mut inodes = std::collections::BTreeSet::new();
    let mut seqs = std::collections::BTreeSet::new();
    let mut model = std::collections::BTreeMap::new();
    let mut writes = 0u64;
    for round in 0..12 {
        // Fewer writes each round, so every recycled segment holds more old
        // records than new ones.
        for i in 0..(40 - 3 * round) {
            let (k, v) = (format!("k{:02}", i % 25), format!("r{round}-{i}"));
            rt.block_on(store.kv_write("t", 0, put(&k, &v))).unwrap();
            model.insert(k, v);
            writes += 1;
        }
        let at_checkpoint = if round == 11 {
            None
        } else {
            rt.block_on(store.checkpoint()).unwrap();
            Some(std::fs::read(dir.path().join("data.mdb")).unwrap())
        };
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            if name.starts_with("wal-") {
                inodes.insert(entry.metadata().unwrap().ino());
                seqs.insert(name);
            }
        }
        // A crash now: LMDB's file as the checkpoint left it (nothing written
        // back since), with the redo log as it is.
        let crashed = tempfile::tempdir().unwrap();
        let data =
            at_checkpoint.unwrap_or_else(|| std::fs::read(dir.path().join("data.mdb")).unwrap());
        std::fs::write(crashed.path().join("data.mdb"), data).unwrap();
        copy_redo_log(dir.path(), crashed.path());
        let back = store_at(crashed.path());
        let keys: Vec<Vec<u8>> = model.keys().map(|k| k.clone().into_bytes()).collect();
        let got = back.kv_get("t", 0, &keys).unwrap();
        for ((k, want), v) in model.iter().zip(&got) {
            assert_eq!(
                v.as_deref(),
                Some(want.as_bytes()),
                "round {round}: key {k}"
            );
        }
        assert_eq!(
            back.partition_state("t", 0).unwrap().next_offset,
            writes,
            "round {round}: the log of t"
        );
        rt.block_on(back.close()).unwrap();
    }
    assert!(seqs.len() >= 12, "segments advance: {seqs:?}");
    assert!(
        inodes.len() <= 4,
        "{} files served {} segments: retired segments are recycled",
        inodes.len(),
        seqs.len()
    );
    rt.block_on(store.close()).unwrap();
}

/// A crash during a redo log append leaves a torn last record: that write was
/// never answered and is dropped; everything before it comes back.
#[test]
fn a_torn_last_redo_record_is_dropped_and_the_rest_replayed() {
    let (dir, store, rt) = open();
    for i in 0..20 {
        rt.block_on(store.kv_write("t", 0, put(&format!("k{i}"), "v")))
            .unwrap();
    }
    let crashed = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("data.mdb"), crashed.path().join("data.mdb")).unwrap();
    let segments = copy_redo_log(dir.path(), crashed.path());
    // The segment holding the writes (a later, prepared one is all zeros), and
    // where its last record ends: records are [len u32][crc u32][payload].
    let mut holder = None;
    for name in &segments {
        let data = std::fs::read(crashed.path().join(name)).unwrap();
        let mut at = 0;
        while at + 8 <= data.len() && data[at..at + 8] != [0u8; 8] {
            at += 8 + u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        }
        if at > 0 {
            holder = Some((name.clone(), at));
        }
    }
    let (name, end) = holder.expect("the writes after the start's checkpoint are in the log");
    assert_ne!(
        segments.last(),
        Some(&name),
        "an empty prepared segment follows the one in use"
    );
    // Damage the last record's final bytes, as a crash mid-write would.
    let path = crashed.path().join(&name);
    let mut data = std::fs::read(&path).unwrap();
    for b in &mut data[end - 3..end] {
        *b ^= 0x5a;
    }
    std::fs::write(&path, &data).unwrap();
    let back = store_at(crashed.path());
    let keys: Vec<Vec<u8>> = (0..20).map(|i| format!("k{i}").into_bytes()).collect();
    let got = back.kv_get("t", 0, &keys).unwrap();
    assert!(got[..19].iter().all(|v| v.as_deref() == Some(&b"v"[..])));
    assert_eq!(got[19], None, "the torn write is dropped");
    assert_eq!(back.partition_state("t", 0).unwrap().next_offset, 19);
    rt.block_on(back.close()).unwrap();
}

/// Paced checkpoints (`--checkpoint-writeback-ms`, `--checkpoint-sync-duty`)
/// still make the data file durable and retire the redo log: periodic ones
/// complete under load, and a crash copy of the directory then (the data file
/// as it is, the redo log since the last checkpoint) holds every answered write.
#[test]
fn paced_checkpoints_complete_and_lose_no_answered_write() {
    let (dir, store, rt) = open_with_options(StoreOptions {
        map_size: 1 << 30,
        metrics: Arc::new(Metrics::new()),
        checkpoint_interval: std::time::Duration::from_millis(20),
        checkpoint_writeback: Some(std::time::Duration::from_millis(5)),
        checkpoint_sync_duty: 50,
        ..Default::default()
    });
    let phase = |p: &str| {
        store
            .metrics()
            .storage_latency
            .checkpoint_phase
            .with_label_values(&[p])
            .get_sample_count()
    };
    let synced = || phase("data_sync");
    let before = synced();
    let value = "v".repeat(2000);
    let mut written = 0;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Writes until three periodic checkpoints have synced (a checkpoint starts
    // between groups, so it needs writes to come due).
    while synced() < before + 3 || written < 500 {
        assert!(
            std::time::Instant::now() < deadline,
            "paced checkpoints did not complete: {} synced",
            synced() - before
        );
        let k = format!("k{written:05}");
        rt.block_on(store.kv_write("t", 0, put(&k, &value)))
            .unwrap();
        written += 1;
    }
    // No writes now, so no new checkpoint starts; let the one in flight finish
    // (its `total` is timed last) so the copy below is one moment's state.
    while phase("total") < synced() {
        assert!(
            std::time::Instant::now() < deadline,
            "a checkpoint did not finish"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let segments_now = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("wal-"))
        })
        .count();
    assert!(
        segments_now <= 3,
        "old redo segments retired: {segments_now} left"
    );

    let crashed = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join("data.mdb"), crashed.path().join("data.mdb")).unwrap();
    copy_redo_log(dir.path(), crashed.path());
    let back = store_at(crashed.path());
    let keys: Vec<Vec<u8>> = (0..written)
        .map(|i| format!("k{i:05}").into_bytes())
        .collect();
    let got = back.kv_get("t", 0, &keys).unwrap();
    for (i, v) in got.iter().enumerate() {
        assert_eq!(v.as_deref(), Some(value.as_bytes()), "key {i} of {written}");
    }
    rt.block_on(back.close()).unwrap();
    rt.block_on(store.close()).unwrap();
}
