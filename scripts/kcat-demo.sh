#!/usr/bin/env bash
# The seed's kvstore demo with kcat in place of rpk, against the dev broker (or
# a Redpanda with kvstore):
#   devbroker serve --topic example-topic      # a kvstore topic (redpanda.kvstore=cloud)
#   scripts/kcat-demo.sh
# Produces "foo bar / hello world / foo qux" as key-value records, consumes
# them, then reads the topic's key-value view over HTTP: foo=qux, hello=world.
#
# Environment: KAFKA_BROKERS (127.0.0.1:19092), HTTP_URL (http://127.0.0.1:18082),
# TOPIC (example-topic). Needs kcat, curl and jq. kcat cannot create topics: if
# the topic is missing it is created with kafka-python when available.
set -euo pipefail

BROKERS="${KAFKA_BROKERS:-127.0.0.1:19092}"
HTTP="${HTTP_URL:-http://127.0.0.1:18082}"
TOPIC="${TOPIC:-example-topic}"

for tool in kcat curl jq; do
  command -v "$tool" >/dev/null || { echo "kcat-demo: $tool is not installed" >&2; exit 1; }
done

topic_error() {
  kcat -b "$BROKERS" -L -t "$TOPIC" -J |
    jq -r --arg t "$TOPIC" '.topics[] | select(.topic == $t) | .error // empty'
}

if [[ -n "$(topic_error)" ]]; then
  echo "# topic $TOPIC is missing; creating it with redpanda.kvstore=cloud (kafka-python)"
  python3 - "$BROKERS" "$TOPIC" <<'PY'
import sys
from kafka.admin import KafkaAdminClient, NewTopic
admin = KafkaAdminClient(bootstrap_servers=sys.argv[1])
admin.create_topics([NewTopic(sys.argv[2], 1, 1, topic_configs={"redpanda.kvstore": "cloud"})])
admin.close()
PY
fi

echo "# produce (like: rpk topic produce $TOPIC -f '%k %v\\n')"
printf 'foo bar\nhello world\nfoo qux\n' | kcat -b "$BROKERS" -P -t "$TOPIC" -K' '

echo "# consume (like: rpk topic consume $TOPIC)"
kcat -b "$BROKERS" -C -t "$TOPIC" -e -o beginning -q -f '%k %s (partition %p, offset %o)\n'

partitions=$(kcat -b "$BROKERS" -L -t "$TOPIC" -J |
  jq --arg t "$TOPIC" '.topics[] | select(.topic == $t) | .partitions | length')

echo "# key-value view (POST /kvstore/$TOPIC/partition/N/scan)"
for ((p = 0; p < partitions; p++)); do
  curl -sf -X POST "$HTTP/kvstore/$TOPIC/partition/$p/scan" \
    -H 'Content-Type: application/json' -d '{"limit": 1000}' |
    jq -r '.entries[]? | "\(.key | @base64d)=\(.value | @base64d)"'
done

echo "# batch_get foo (POST /kvstore/$TOPIC/partition/N/batch_get)"
for ((p = 0; p < partitions; p++)); do
  curl -sf -X POST "$HTTP/kvstore/$TOPIC/partition/$p/batch_get" \
    -H 'Content-Type: application/json' -d "{\"keys\": [\"$(printf foo | base64)\"]}" |
    jq -r --arg p "$p" '.results[] | select(.value) | "partition \($p): \(.key | @base64d)=\(.value | @base64d)"'
done
