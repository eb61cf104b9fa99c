#!/usr/bin/env bash
# Interleaved A/B of dev broker binaries on one workload: for each round, each
# binary serves the same preloaded data dir while `loadgen` drives it at 16 and
# 64 connections; prints throughput, p99 and the broker's CPU time per request
# (utime+stime from /proc/PID/stat over the requests served), which is far
# steadier than throughput on a shared VM, plus the steal time of the run.
#
#   cargo build --release -p devbroker -p rpkv-e2e --bins
#   cp target/release/devbroker /tmp/devbroker-new   # and an old build as /tmp/devbroker-old
#   tests/bench/ab.sh /tmp/devbroker-old /tmp/devbroker-new
#
# Env: WORKLOAD (puts, batch-get, scan, cas; default batch-get), ROUNDS (3),
# KEYS (100000), DURATION (5 s per connection level).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 DEVBROKER_BIN..." >&2; exit 2; }
workload=${WORKLOAD:-batch-get}
rounds=${ROUNDS:-3}
keys=${KEYS:-100000}
duration=${DURATION:-5}
loadgen=target/release/loadgen
[ -x "$loadgen" ] || cargo build --release -p rpkv-e2e --bin loadgen
data=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$data" "$data.log" "$data.md"' EXIT
port=$((20000 + RANDOM % 20000))

start() {
  # A build with the redo log leaves a checkpoint that an older build would not
  # keep up to date; every run here ends cleanly (LMDB synced), so drop it.
  rm -f "$data/checkpoint" "$data"/wal-*.log
  "$1" serve --data-dir "$data" --http-addr "127.0.0.1:$port" --kafka-addr 127.0.0.1:0 \
    --topic bench:1 >"$data.log" 2>&1 &
  pid=$!
  for _ in $(seq 100); do grep -q "devbroker: ready" "$data.log" && return; sleep 0.1; done
  echo "$1 did not start: $(cat "$data.log")" >&2; exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# Preload once (with the first binary), then every run reuses the keys.
start "$1"
"$loadgen" suite --devbroker-addr "127.0.0.1:$port" --systems devbroker --workloads "$workload" \
  --levels "$keys" --big-keys 0 --warmup 0.1 --duration 0.1 --out "$data.md" >/dev/null 2>&1
stop
for round in $(seq "$rounds"); do
  for bin in "$@"; do
    start "$bin"
    steal0=$(awk '/^cpu /{print $9}' /proc/stat)
    cpu0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    rows=$("$loadgen" suite --devbroker-addr "127.0.0.1:$port" --preloaded "$keys" \
      --systems devbroker --workloads "$workload" --levels "$keys" --big-keys 0 \
      --warmup 0.2 --duration "$duration" --out "$data.md" 2>/dev/null | grep '^| devbroker')
    cpu1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    steal1=$(awk '/^cpu /{print $9}' /proc/stat)
    stop
    echo "$rows" | awk -F'|' -v b="$(basename "$bin")" -v r="$round" -v d="$duration" \
      -v cpu=$((cpu1 - cpu0)) -v steal=$((steal1 - steal0)) -v hz="$(getconf CLK_TCK)" '
      { line = line sprintf("c%d %d/s p99 %sms; ", $5, $6, $8 + 0); ops += $6 * (d + 0.2) }
      END { printf "%-20s r%d %s cpu %.0f us/request, steal %.2f s\n", b, r, line, cpu / hz * 1e6 / ops, steal / hz }'
  done
done
