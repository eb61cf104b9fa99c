#!/usr/bin/env bash
# Consumer-group benchmark of the dev broker, with real clients:
#   (a) consume throughput through a group: `kcat -G` reads RECORDS records of
#       a 3-partition topic from the start to the end (records/s, wall clock
#       from start to exit, the join included);
#   (b) rebalance time when a third kafka-python member joins a stable group
#       of two on a 3-partition topic: from the third's subscribe to every
#       member holding one partition (median and max of REBALANCES runs);
#   (c) offset commit latency: a kafka-python group member committing one
#       partition COMMITS times (each durable before it is answered), and an
#       HTTP Proxy consumer instance doing the same over HTTP (p50/p99).
# Builds the release broker (or uses $DEVBROKER), runs it on free ports in a
# temp dir, cleans up, prints a table.
#
#   tests/bench/groups.sh
#   RECORDS=1000 COMMITS=50 REBALANCES=1 tests/bench/groups.sh   # a smoke run
#
# Env: RECORDS (1000000), COMMITS (2000), REBALANCES (5), DEVBROKER (a binary
# to use instead of building target/release/devbroker).
set -euo pipefail
cd "$(dirname "$0")/../.."
records=${RECORDS:-1000000}
commits=${COMMITS:-2000}
rebalances=${REBALANCES:-5}
for tool in kcat python3 curl; do
  command -v "$tool" >/dev/null || { echo "$tool is missing; run tests/install-deps.sh" >&2; exit 1; }
done
python3 -c 'import kafka' 2>/dev/null || { echo "kafka-python is missing; run tests/install-deps.sh" >&2; exit 1; }
bin=${DEVBROKER:-}
if [ -z "$bin" ]; then
  cargo build --release -p devbroker >&2
  bin=target/release/devbroker
fi

work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$bin" serve --data-dir "$work/data" --http-addr 127.0.0.1:0 --kafka-addr 127.0.0.1:0 \
  --topic bench:3:redpanda.kvstore=none --topic rebalance:3:redpanda.kvstore=none \
  --topic commits:1:redpanda.kvstore=none >"$work/out" 2>"$work/log" &
pid=$!
for _ in $(seq 200); do grep -q "devbroker: ready" "$work/out" && break; sleep 0.1; done
grep -q "devbroker: ready" "$work/out" || { echo "the broker did not start: $(cat "$work/log")" >&2; exit 1; }
http=$(awk '/http listening on/ {print $NF}' "$work/out")
kafka=$(awk '/kafka listening on/ {print $NF}' "$work/out")

# (a) produce, then consume through a group.
seq 1 "$records" | kcat -b "$kafka" -P -t bench -X linger.ms=20 -X batch.num.messages=10000 \
  -X queue.buffering.max.messages=1000000
start=$(date +%s.%N)
consumed=$(kcat -b "$kafka" -G "bench-$$" -X auto.offset.reset=earliest -e -q -f '\n' bench 2>/dev/null | wc -l)
end=$(date +%s.%N)
[ "$consumed" -eq "$records" ] || { echo "kcat -G read $consumed of $records records" >&2; exit 1; }
consume_rate=$(awk -v n="$records" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / (b - a) }')
consume_secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')

# (b) and (c) with kafka-python and the HTTP consumer API.
python3 - "$kafka" "$http" "$rebalances" "$commits" >"$work/py" <<'EOF'
import json, statistics, sys, threading, time, urllib.request
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

kafka, http, rebalances, commits = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

def member(group, topic, ready, stop, owned):
    c = KafkaConsumer(bootstrap_servers=kafka, group_id=group, enable_auto_commit=False,
                      session_timeout_ms=6000, heartbeat_interval_ms=500,
                      max_poll_interval_ms=10000)
    c.subscribe([topic])
    ready.set()
    while not stop.is_set():
        c.poll(timeout_ms=50)
        owned[threading.current_thread().name] = sorted(tp.partition for tp in c.assignment())
    c.close()

def rebalance(run):
    group, stop, owned = "rebalance-%d" % run, threading.Event(), {}
    threads = []
    def start(name):
        ready = threading.Event()
        t = threading.Thread(target=member, name=name, args=(group, "rebalance", ready, stop, owned))
        t.start()
        threads.append(t)
        ready.wait()
    start("m1"); start("m2")
    deadline = time.time() + 60
    while not (len(owned.get("m1", [])) + len(owned.get("m2", [])) == 3
               and owned.get("m1") and owned.get("m2")):
        if time.time() > deadline: raise SystemExit("the group of two never settled")
        time.sleep(0.01)
    t0 = time.perf_counter()
    start("m3")
    while not all(len(owned.get(m, [])) == 1 for m in ("m1", "m2", "m3")):
        if time.time() > deadline + 60: raise SystemExit("the third member never got a partition")
        time.sleep(0.005)
    took = time.perf_counter() - t0
    stop.set()
    for t in threads: t.join()
    return took

def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

times = [rebalance(i) for i in range(rebalances)]

c = KafkaConsumer(bootstrap_servers=kafka, group_id="commits-kafka", enable_auto_commit=False)
c.subscribe(["commits"])
while not c.assignment():
    c.poll(timeout_ms=100)
tp = TopicPartition("commits", 0)
lat = []
for i in range(commits):
    t0 = time.perf_counter()
    c.commit({tp: OffsetAndMetadata(i, "", -1)})
    lat.append(time.perf_counter() - t0)
c.close()

def call(method, path, body=None):
    req = urllib.request.Request("http://%s%s" % (http, path), method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/vnd.kafka.v2+json"})
    with urllib.request.urlopen(req) as r:
        return r.read()

call("POST", "/consumers/commits-http", {"name": "bench"})
base = "/consumers/commits-http/instances/bench"
call("POST", base + "/subscription", {"topics": ["commits"]})
deadline = time.time() + 60
while not json.loads(call("GET", base + "/assignments"))["partitions"]:
    if time.time() > deadline: raise SystemExit("the HTTP instance never got its partition")
    time.sleep(0.05)
hlat = []
for i in range(commits):
    body = {"offsets": [{"topic": "commits", "partition": 0, "offset": i}]}
    t0 = time.perf_counter()
    call("POST", base + "/offsets", body)
    hlat.append(time.perf_counter() - t0)
call("DELETE", base)

ms = lambda s: "%.2f" % (s * 1000)
print("rebalance_median_ms", ms(statistics.median(times)))
print("rebalance_max_ms", ms(max(times)))
print("commit_p50_ms", ms(pct(lat, 50)))
print("commit_p99_ms", ms(pct(lat, 99)))
print("http_commit_p50_ms", ms(pct(hlat, 50)))
print("http_commit_p99_ms", ms(pct(hlat, 99)))
EOF
val() { awk -v k="$1" '$1 == k {print $2}' "$work/py"; }

echo "| measurement | result |"
echo "|---|---|"
echo "| consume through a group, kcat -G, $records records, 3 partitions | $consume_rate records/s ($consume_secs s) |"
echo "| rebalance, a third kafka-python member joins a group of two ($rebalances runs) | median $(val rebalance_median_ms) ms, max $(val rebalance_max_ms) ms |"
echo "| offset commit, kafka-python, $commits commits | p50 $(val commit_p50_ms) ms, p99 $(val commit_p99_ms) ms |"
echo "| offset commit, HTTP consumer instance, $commits commits | p50 $(val http_commit_p50_ms) ms, p99 $(val http_commit_p99_ms) ms |"
