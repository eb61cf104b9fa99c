#!/usr/bin/env bash
# Watch latency and filter throughput against a fresh dev broker on free ports.
#
#   cargo build --release -p devbroker -p rpkv
#   tests/bench/watch.sh
#
# 1. Watch latency: `rpkv kv watch --format json` runs while a writer puts keys
#    over the kvstore API at RATE writes/s (one put per request, one keep-alive
#    connection); for each key, the time from the write's HTTP answer (and
#    from its request) to its line on the watch's stdout. Prints
#    p50/p99/p99.9/max in ms.
# 2. Filter throughput: KEYS JSON values are loaded (1000 per atomic write),
#    then `rpkv kv scan --filter EXPR` over all of them, and the same scan
#    without a filter for comparison. Prints keys/s of each.
#
# Env: WRITES (10000), RATE (1000), KEYS (1000000), PARTITIONS (4),
# FILTER ('.age > 30'), BIN (target/release; target/debug for a smoke run).
# Needs python3 (the writer and the line timer).
set -euo pipefail
cd "$(dirname "$0")/../.."
writes=${WRITES:-10000}
rate=${RATE:-1000}
keys=${KEYS:-1000000}
partitions=${PARTITIONS:-4}
filter=${FILTER:-'.age > 30'}
bin=${BIN:-target/release}
for b in devbroker rpkv; do
  [ -x "$bin/$b" ] || { echo "$bin/$b missing: cargo build --release -p devbroker -p rpkv" >&2; exit 2; }
done
work=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT

"$bin/devbroker" serve --data-dir "$work/data" --http-addr 127.0.0.1:0 --kafka-addr 127.0.0.1:0 \
  --topic "bench:$partitions" >"$work/broker.log" 2>&1 &
pid=$!
for _ in $(seq 200); do grep -q "devbroker: ready" "$work/broker.log" && break; sleep 0.1; done
grep -q "devbroker: ready" "$work/broker.log" || { cat "$work/broker.log" >&2; exit 1; }
http=$(sed -n 's/^devbroker: http listening on //p' "$work/broker.log")
kafka=$(sed -n 's/^devbroker: kafka listening on //p' "$work/broker.log")
export RPKV_HTTP_URL="http://$http" RPKV_BROKERS="$kafka"
rpkv="$bin/rpkv"

echo "## watch latency: $writes writes at $rate/s over $partitions partitions"
python3 - "$rpkv" "$http" "$writes" "$rate" "$partitions" <<'EOF'
import base64, http.client, json, subprocess, sys, threading, time
rpkv, addr, writes, rate, parts = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
watch = subprocess.Popen([rpkv, "kv", "watch", "bench", "--format", "json", "--count", str(writes)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
started = 0
while started < parts:                 # every partition followed before writing
    if "from offset" in watch.stderr.readline():
        started += 1
seen = {}
def read():
    for line in watch.stdout:
        seen[json.loads(line)["key"]] = time.monotonic()
reader = threading.Thread(target=read)
reader.start()
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
b64 = lambda s: base64.b64encode(s.encode()).decode()
acked, sent = {}, {}
t0 = time.monotonic()
for i in range(writes):
    due = t0 + i / rate
    now = time.monotonic()
    if due > now:
        time.sleep(due - now)
    key = f"w{i:08d}"
    body = json.dumps({"puts": [{"key": b64(key), "value": b64(str(i))}]})
    sent[key] = time.monotonic()
    conn.request("POST", f"/kvstore/bench/partition/{i % parts}/write", body,
                 {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"write {i}: HTTP {r.status}")
    acked[key] = time.monotonic()
elapsed = time.monotonic() - t0
reader.join(timeout=30)
watch.wait(timeout=30)
# The broker wakes the watch's long poll when the write commits, so the line
# is sometimes (about 1%) read before the writer has read its HTTP answer: "acknowledged ->
# printed" is then negative (counted as 0, and how often is said). "sent ->
# printed" is the whole path: the write, its fsync, the fetch and the print.
def report(what, start):
    lat = sorted(max(0.0, seen[k] - start[k]) * 1000 for k in start if k in seen)
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    print(f"{what}: p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, p99.9 {q(0.999):.2f} ms, max {lat[-1]:.2f} ms")
missing = sum(1 for k in acked if k not in seen)
early = sum(1 for k in acked if k in seen and seen[k] < acked[k])
print(f"achieved {writes / elapsed:.0f} writes/s; watched {len(acked) - missing}, missing {missing}")
report("write acknowledged -> line printed", acked)
print(f"  ({early} of {len(acked)} lines were printed before the writer had read its answer)")
report("write sent -> line printed", sent)
EOF

echo "## filter throughput: $keys JSON values, filter $filter"
python3 - "$http" "$keys" "$partitions" <<'EOF'
import base64, http.client, json, sys
addr, keys, parts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port))
b64 = lambda b: base64.b64encode(b).decode()
for start in range(0, keys, 1000):
    puts = []
    for i in range(start, min(keys, start + 1000)):
        v = {"id": i, "age": i % 90, "name": f"user{i}", "tags": ["a", "b"][: i % 3],
             "address": {"city": ["Oslo", "Lima", "Pune"][i % 3]}}
        puts.append({"key": b64(f"j{i:08d}".encode()), "value": b64(json.dumps(v).encode())})
    conn.request("POST", f"/kvstore/bench/partition/{(start // 1000) % parts}/write",
                 json.dumps({"puts": puts}), {"Content-Type": "application/json"})
    r = conn.getresponse(); r.read()
    if r.status != 200:
        sys.exit(f"load at {start}: HTTP {r.status}")
EOF
for f in "$filter" ""; do
  args=(kv scan bench --prefix j --limit "$keys" --format json)
  [ -n "$f" ] && args+=(--filter "$f")
  t0=$(date +%s.%N)
  matched=$("$rpkv" --timeout 120 "${args[@]}" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
  t1=$(date +%s.%N)
  python3 -c "import sys; k, t = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); \
print(f'scan {sys.argv[4] or \"(no filter)\"}: {k} keys in {t:.2f} s = {k / t:.0f} keys/s, {sys.argv[5]} matched')" \
    "$keys" "$t0" "$t1" "$f" "$matched"
done
