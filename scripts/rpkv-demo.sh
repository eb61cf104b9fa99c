#!/usr/bin/env bash
# Replays the seed's kvstore demo (assets/seed/kvstore-demo-README.md) with rpkv
# against the bundled dev broker: create a kvstore topic, produce three records,
# consume them, get a key, scan the topic.
#
# usage: scripts/rpkv-demo.sh            (builds rpkv if needed)
#   RPKV=path/to/rpkv        use this binary
#   HTTP_ADDR / KAFKA_ADDR   where the dev broker listens (default: free ports)
set -euo pipefail
cd "$(dirname "$0")/.."

RPKV=${RPKV:-target/debug/rpkv}
if [[ ! -x $RPKV ]]; then
  cargo build -q -p rpkv
fi
HTTP_ADDR=${HTTP_ADDR:-127.0.0.1:0}
KAFKA_ADDR=${KAFKA_ADDR:-127.0.0.1:0}

work=$(mktemp -d)
"$RPKV" dev --data-dir "$work/data" --http-addr "$HTTP_ADDR" --kafka-addr "$KAFKA_ADDR" \
  >"$work/dev.out" 2>"$work/dev.log" &
dev=$!
cleanup() {
  kill -TERM "$dev" 2>/dev/null || true
  wait "$dev" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

for _ in $(seq 1 300); do
  grep -q '^devbroker: ready$' "$work/dev.out" && break
  kill -0 "$dev" 2>/dev/null || { cat "$work/dev.log" >&2; exit 1; }
  sleep 0.1
done
grep -q '^devbroker: ready$' "$work/dev.out" || { echo "dev broker did not start" >&2; exit 1; }
RPKV_HTTP_URL="http://$(sed -n 's/^devbroker: http listening on //p' "$work/dev.out")"
RPKV_BROKERS="$(sed -n 's/^devbroker: kafka listening on //p' "$work/dev.out")"
export RPKV_HTTP_URL RPKV_BROKERS

step() {
  echo
  echo "\$ $*"
}

step rpkv topic create example-topic -c redpanda.kvstore=cloud
"$RPKV" topic create example-topic -c redpanda.kvstore=cloud

step "printf 'foo bar\\nhello world\\nfoo qux\\n' | rpkv topic produce example-topic -f '%k %v\\n'"
printf 'foo bar\nhello world\nfoo qux\n' | "$RPKV" topic produce example-topic -f '%k %v\n'

step rpkv topic consume example-topic -n 3 -f "'%k %v\\n'"
"$RPKV" topic consume example-topic -n 3 -f '%k %v\n'

step rpkv kv get example-topic foo
"$RPKV" kv get example-topic foo

step rpkv kv scan example-topic
"$RPKV" kv scan example-topic
