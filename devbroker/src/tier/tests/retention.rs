//! Retention stops at the upload floors.

use std::collections::HashMap;
use std::sync::Arc;

use super::{put, store};
use crate::storage::now_ms;

#[tokio::test]
async fn retention_never_trims_at_or_above_the_upload_floor() {
    let dir = tempfile::tempdir().unwrap();
    let store = store(dir.path()).await;
    put(&store, 10).await;
    // Without floors (no tier), local targets do not apply.
    store.maintain(now_ms()).await.unwrap();
    assert_eq!(store.partition_state("t", 0).unwrap().log_start, 0);
    // A partition the tier does not know yet has floor 0: nothing goes.
    store
        .maintain_tiered(now_ms(), Arc::new(HashMap::new()))
        .await
        .unwrap();
    assert_eq!(store.partition_state("t", 0).unwrap().log_start, 0);
    // Floor 6: local retention (target 0 bytes) trims offsets 0..6 only, and the
    // view keeps their keys (the bucket has the records).
    let floors = HashMap::from([(("t".to_string(), 0), 6u64)]);
    store
        .maintain_tiered(now_ms(), Arc::new(floors))
        .await
        .unwrap();
    let state = store.partition_state("t", 0).unwrap();
    assert_eq!(
        (state.log_start, state.next_offset, state.log_records),
        (6, 10, 4)
    );
    let got = store
        .kv_get("t", 0, &[b"k0".to_vec(), b"k9".to_vec()])
        .unwrap();
    assert!(
        got.iter().all(Option::is_some),
        "local retention keeps the view"
    );
}
