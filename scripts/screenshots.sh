#!/usr/bin/env bash
# Screenshots of the rpkv TUI from a real run: starts the dev broker binary on
# free ports, seeds a demo topic over HTTP, runs `rpkv` in tmux, drives it with
# send-keys, captures each screen with colours (capture-pane -e) and converts
# it to SVG (scripts/ansi2svg.py, Python standard library only).
#
#   cargo build -p rpkv -p devbroker --bins && scripts/screenshots.sh [OUT_DIR]
#
# Needs tmux, curl, python3 (kcat for a live group member in the groups shot).
# Writes OUT_DIR/*.svg (default assets/screenshots).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-assets/screenshots}
bin=${CARGO_TARGET_DIR:-target}/debug
mkdir -p "$out"
work=$(mktemp -d)
sock="rpkv-shots-$$"
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [[ -n "${member_pid:-}" ]] && kill "$member_pid" 2>/dev/null || true
  [[ -n "${broker_pid:-}" ]] && kill "$broker_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/devbroker" serve --data-dir "$work/data" --http-addr 127.0.0.1:0 --kafka-addr 127.0.0.1:0 \
  --topic demo:3 --topic sessions:1 --topic events:2:redpanda.kvstore=none >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do grep -q 'devbroker: ready' "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
url="http://$(sed -n 's/^devbroker: http listening on //p' "$work/broker.out")"

b64() { printf '%s' "$1" | base64 -w0; }
put() { # TOPIC PARTITION KEY VALUE
  curl -sf -X POST -H 'content-type: application/json' \
    -d "{\"puts\":[{\"key\":\"$(b64 "$3")\",\"value\":\"$(b64 "$4")\"}]}" \
    "$url/kvstore/$1/partition/$2/write" >/dev/null
}
put demo 0 'user:1' '{"name":"Ada Lovelace","email":"ada@example.com","plan":"pro","tags":["admin","beta"],"logins":42}'
put demo 1 'user:2' '{"name":"Linus","email":"linus@example.com","plan":"free","tags":[]}'
put demo 2 'user:3' '{"name":"Grace Hopper","email":"grace@example.com","plan":"team","tags":["navy"]}'
put demo 0 'config/feature-flags' '{"darkMode":true,"beta":["search","tui"],"limit":100,"ratio":0.25}'
put demo 1 'counter' '7'
put demo 1 'counter' '8'
put demo 1 'counter' '9'
put demo 2 'note' "Remember: writes from rpkv are compare-and-swap. The review screen shows the SHA-256 you read."
curl -sf -X POST -H 'content-type: application/json' \
  -d "{\"puts\":[{\"key\":\"$(b64 blob)\",\"value\":\"$(head -c 96 /dev/urandom | base64 -w0)\"}]}" \
  "$url/kvstore/demo/partition/2/write" >/dev/null
for i in $(seq 1 40); do put sessions 0 "session:$(printf %04d "$i")" "{\"user\":$((i % 3 + 1)),\"ttl\":3600}"; done

# The editor: rewrites the value; with $work/conflict present, another writer
# changes the key first (so the write gets 409).
cat >"$work/editor.sh" <<SH
#!/bin/sh
if [ -e "$work/conflict" ]; then
  curl -sf -X POST -H 'content-type: application/json' \
    -d '{"puts":[{"key":"$(b64 'user:2')","value":"$(b64 '{"name":"Linus","email":"linus@example.com","plan":"team"}')"}]}' \
    "$url/kvstore/demo/partition/1/write" >/dev/null
  printf '%s' '{"name":"Linus","email":"linus@example.com","plan":"enterprise","tags":["kernel"]}' > "\$1"
else
  printf '%s' '{"name":"Linus","email":"linus@example.com","plan":"pro","tags":["kernel"]}' > "\$1"
fi
SH
chmod +x "$work/editor.sh"

tmux -L "$sock" -f /dev/null new-session -d -s main -x 120 -y 36 \
  "env TERM=xterm-256color EDITOR='$work/editor.sh' VISUAL= XDG_STATE_HOME='$work/state' XDG_CONFIG_HOME='$work/config' '$bin/rpkv' --http-url '$url' --brokers 127.0.0.1:1; sleep 60"
keys() { tmux -L "$sock" send-keys -t main "$@"; sleep 0.6; }
shot() { # NAME TITLE
  tmux -L "$sock" capture-pane -e -p -t main >"$work/$1.ans"
  python3 scripts/ansi2svg.py "$work/$1.ans" "$out/$1.svg" --cols 120 --title "$2"
  echo "wrote $out/$1.svg"
}
sleep 1.5
shot 01-topics "rpkv: topics"
keys Enter
keys j
shot 02-scan-json "rpkv: all partitions merged by key, JSON value"
keys -l '/blob'
keys Enter
shot 03-hex-dump "rpkv: prefix filter, binary value as a hex dump"
keys Escape
keys '?'
shot 04-help "rpkv: help"
keys Escape
keys -l '/user:2'
keys Enter
keys E
sleep 0.5
shot 05-review "rpkv: review before a compare-and-swap write"
keys y
touch "$work/conflict"
keys E
sleep 0.5
keys y
sleep 0.5
shot 06-conflict "rpkv: conflict (409) after another writer"
keys Escape
rm -f "$work/conflict"
keys -l '/counter'
keys Enter
keys h
sleep 0.5
shot 07-history "rpkv: key history from the topic log"
keys Escape
keys q

# The groups view, over the Kafka listener: two groups moved by `rpkv group
# seek` (one at the start of `events`, one at its end) and, with kcat, a
# live member that consumes and commits.
kafka=$(sed -n 's/^devbroker: kafka listening on //p' "$work/broker.out")
rpkv=("$bin/rpkv" --http-url "$url" --brokers "$kafka")
seq 1 120 | sed 's/^/event-/' | "${rpkv[@]}" topic produce events >/dev/null
"${rpkv[@]}" group seek billing --to start --topics events >/dev/null
"${rpkv[@]}" group seek audit --to end --topics events >/dev/null
if command -v kcat >/dev/null; then
  kcat -b "$kafka" -G orders-app -q -X auto.offset.reset=earliest events \
    >/dev/null 2>&1 &
  member_pid=$!
  sleep 4
fi
tmux -L "$sock" kill-server 2>/dev/null || true
tmux -L "$sock" -f /dev/null new-session -d -s main -x 120 -y 36 \
  "env TERM=xterm-256color XDG_STATE_HOME='$work/state' XDG_CONFIG_HOME='$work/config' '$bin/rpkv' --http-url '$url' --brokers '$kafka'; sleep 60"
sleep 1.5
keys -l ':groups'
keys Enter
sleep 1
shot 08-groups "rpkv: consumer groups with state, members and lag"
keys q

# Follow mode (over the Kafka listener): keys written with curl while the
# merged view of demo follows; the changed rows are marked for 2 s.
tmux -L "$sock" kill-server 2>/dev/null || true
tmux -L "$sock" -f /dev/null new-session -d -s main -x 120 -y 36 \
  "env TERM=xterm-256color XDG_STATE_HOME='$work/state' XDG_CONFIG_HOME='$work/config' '$bin/rpkv' --http-url '$url' --brokers '$kafka'; sleep 60"
sleep 1.5
keys -l ':topic demo'
keys Enter
keys j
keys j
keys F
sleep 1
put demo 0 'order:1001' '{"user":1,"total":42.5,"status":"paid"}'
put demo 2 'order:1002' '{"user":3,"total":7,"status":"new"}'
put demo 1 'counter' '10'
sleep 0.8
shot 09-follow "rpkv: follow mode, keys written meanwhile marked in place"
keys q
