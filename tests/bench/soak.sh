#!/usr/bin/env bash
# Soak benchmark (not a test): a release devbroker under ~10 minutes of mixed
# load (puts, CAS increments, 100-key batch gets, 1000-entry scans, produce),
# printing p50/p99 per operation and the broker's resident memory (VmRSS) every
# interval. p99 and RSS should stay flat.
#
# usage: tests/bench/soak.sh [DURATION_SECS=600] [INTERVAL_SECS=30] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/../.."
duration=${1:-600}
interval=${2:-30}
conns=${3:-16}
cargo build --release -p devbroker -p rpkv-e2e --bins
data=$(mktemp -d)
out=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data" "$out"' EXIT
# Retention keeps the log (and so the disk) bounded over the run.
RUST_LOG=warn target/release/devbroker serve --data-dir "$data" \
  --http-addr 127.0.0.1:0 --kafka-addr 127.0.0.1:0 \
  --topic soak:1:retention.ms=120000 --topic soak-log:1:retention.ms=120000,redpanda.kvstore=none \
  --retention-check-ms 5000 >"$out" &
pid=$!
for _ in $(seq 100); do grep -q "devbroker: ready" "$out" && break; sleep 0.1; done
url="http://$(sed -n 's/^devbroker: http listening on //p' "$out")"
echo "soak: broker pid $pid at $url; ${duration}s, ${interval}s intervals, $conns connections; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
target/release/soak "$url" "$pid" "$duration" "$interval" "$conns"
echo "data dir: $(du -sh "$data" | cut -f1)"
