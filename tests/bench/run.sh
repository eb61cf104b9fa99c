#!/usr/bin/env bash
# The side-by-side benchmark: the dev broker vs etcd (Debian's etcd-server, its v3
# JSON gateway) vs a no-op axum server returning the same bytes (the HTTP ceiling).
#
#   tests/bench/run.sh           full run: 10k and 1M keys, then 10M keys (dev broker batch gets)
#   tests/bench/run.sh --quick   100k keys, short runs (about 3 minutes)
#
# Extra arguments go to `loadgen suite` (see `target/release/loadgen suite --help`),
# e.g. --big-keys 3000000, --workloads batch-get, --systems devbroker,noop.
# Writes tests/bench/results.md and prints it; the last line is `RATIOS ...`.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v etcd >/dev/null 2>&1; then
  echo "installing Debian's etcd-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi

cargo build --release -p devbroker -p rpkv-e2e --bins

exec target/release/loadgen suite --out tests/bench/results.md "$@"
