#!/usr/bin/env bash
# The write-latency tail run: durable single-key puts (256-byte values, 100k
# preloaded keys) at 1 and 16 connections, dev broker and etcd interleaved,
# three rounds of 60 s per row; p50, p99, p99.9 and max per row, then one
# VERDICT line per round and level (dev broker p99 and p99.9 at or below
# etcd's, max under 50 ms). About 9 minutes. Run it on an idle machine.
#
#   tests/bench/tail.sh                          # the full run
#   tests/bench/tail.sh --rounds 1 --duration 10 # a quick look
#   tests/bench/tail.sh --devbroker-arg=--checkpoint-interval-ms=250
#   tests/bench/tail.sh --variant "writeback=--checkpoint-writeback-ms=20"   # A/B, interleaved
#   DEVBROKER_BIN=/tmp/devbroker-old tests/bench/tail.sh   # another build
#
# Writes tests/bench/tail-results.md unless --out says otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v etcd >/dev/null 2>&1; then
  echo "installing Debian's etcd-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi

cargo build --release -p devbroker -p rpkv-e2e --bins

exec target/release/loadgen tail --out tests/bench/tail-results.md "$@"
