#!/usr/bin/env python3
"""What a slow fsync waited behind: trace every ext4 file sync and every kernel
writeback for a while, then list the slow syncs with what overlapped them.

Run it as root while a load runs (e.g. a `loadgen tail` row), naming the broker's
data directory so inodes print as file names:

    tests/bench/sync-trace.py --seconds 60 --dir /tmp/tail-data --slow-ms 10

Or analyse an earlier `perf record` (the same four events):

    tests/bench/sync-trace.py --perf-data perf.data --dir DATA

Each slow sync is printed with the other syncs, the writeback passes and the
`sync_file_range` calls that overlapped it, and what the disk was doing meanwhile
(requests in flight, cache flushes) (writeback's `reason`: periodic = the kernel's 5 s flusher,
background = dirty ratio crossed, sync = someone asked). The summary counts the
slow syncs that overlapped a sync of another file, a writeback pass, or nothing.
Needs `perf` (Debian: linux-perf) and ext4; written by hand because no tool
pairs these tracepoints into intervals.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

EVENTS = [
    "ext4:ext4_sync_file_enter",
    "ext4:ext4_sync_file_exit",
    "writeback:writeback_start",
    "writeback:writeback_written",
    "syscalls:sys_enter_sync_file_range",
    "syscalls:sys_exit_sync_file_range",
    "block:block_rq_issue",
    "block:block_rq_complete",
]
RQ = re.compile(r"^\S+ (?P<rwbs>\S+) (?:\d+ )?\(\) (?P<sector>\d+) \+ (?P<sectors>\d+)")
LINE = re.compile(r"^\s*(?P<comm>.+?)\s+(?P<tid>\d+)\s+\[\d+\]\s+(?P<ts>[\d.]+):\s+(?P<event>\S+):\s+(?P<rest>.*)$")


def record(seconds, out):
    cmd = ["perf", "record", "-q", "-a", "-o", out]
    for e in EVENTS:
        cmd += ["-e", e]
    cmd += ["--", "sleep", str(seconds)]
    subprocess.run(cmd, check=True)


def parse(perf_data):
    text = subprocess.run(
        ["perf", "script", "-i", perf_data], check=True, capture_output=True, text=True
    ).stdout
    syncs, passes, ranges, rqs = [], [], [], []
    open_syncs, open_passes, open_ranges, open_rqs, open_flushes = {}, {}, {}, {}, []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        tid, ts, event, rest = m["tid"], float(m["ts"]), m["event"], m["rest"]
        if event == "ext4:ext4_sync_file_enter":
            ino = re.search(r"ino (\d+)", rest)
            open_syncs[tid] = (ts, m["comm"], int(ino[1]) if ino else 0)
        elif event == "ext4:ext4_sync_file_exit" and tid in open_syncs:
            start, comm, ino = open_syncs.pop(tid)
            syncs.append((start, ts, comm, ino))
        elif event == "writeback:writeback_start":
            open_passes[tid] = (ts, rest)
        elif event == "writeback:writeback_written" and tid in open_passes:
            start, _ = open_passes.pop(tid)
            reason = re.search(r"reason=(\S+)", rest)
            pages = re.search(r"nr_pages=(\d+)", rest)
            passes.append((start, ts, reason[1] if reason else "?", int(pages[1]) if pages else 0))
        elif event == "syscalls:sys_enter_sync_file_range":
            open_ranges[tid] = (ts, m["comm"])
        elif event == "syscalls:sys_exit_sync_file_range" and tid in open_ranges:
            start, comm = open_ranges.pop(tid)
            ranges.append((start, ts, comm))
        elif event in ("block:block_rq_issue", "block:block_rq_complete"):
            r = RQ.match(rest)
            if not r:
                continue
            flush = r["rwbs"].startswith("F")
            if event == "block:block_rq_issue":
                if flush:
                    open_flushes.append(ts)
                else:
                    open_rqs[r["sector"]] = (ts, r["rwbs"], int(r["sectors"]))
            elif flush and open_flushes:
                # A flush has no sector to pair on, and not every issue is
                # traced with its completion: pair with the latest issue, so a
                # flush's time is a lower bound when flushes overlap.
                rqs.append((open_flushes.pop(), ts, "FLUSH", 0))
                open_flushes = [t for t in open_flushes if ts - t < 1.0]
            elif r["sector"] in open_rqs:
                start, rwbs, sectors = open_rqs.pop(r["sector"])
                rqs.append((start, ts, rwbs, sectors))
    return syncs, passes, ranges, rqs


def names(directory):
    out = {}
    if directory:
        for root, _, files in os.walk(directory):
            for f in files:
                p = os.path.join(root, f)
                try:
                    out[os.stat(p).st_ino] = os.path.relpath(p, directory)
                except OSError:
                    pass
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--perf-data", help="analyse this perf.data instead of recording")
    ap.add_argument("--dir", help="directory whose files name the inodes")
    ap.add_argument("--slow-ms", type=float, default=10)
    args = ap.parse_args()

    if args.perf_data:
        data = args.perf_data
    else:
        data = tempfile.mktemp(suffix=".perf.data")
        record(args.seconds, data)
    syncs, passes, ranges, rqs = parse(data)
    if not args.perf_data:
        os.unlink(data)
    name = names(args.dir)

    def label(ino):
        return name.get(ino, f"ino {ino}")

    if not syncs:
        sys.exit("no ext4 syncs traced: is the load running, and on ext4?")
    t0 = min(s[0] for s in syncs)
    slow = [s for s in syncs if (s[1] - s[0]) * 1000 >= args.slow_ms]
    counts = {"another file's sync": 0, "a writeback pass": 0, "sync_file_range": 0, "nothing traced": 0}
    for start, end, comm, ino in slow:
        others = [s for s in syncs if s[3] != ino and s[0] < end and s[1] > start]
        wbs = [p for p in passes if p[0] < end and p[1] > start]
        print(
            f"{start - t0:9.3f}s  {(end - start) * 1000:7.2f} ms  {comm} {label(ino)}"
        )
        for o in others:
            print(f"      with sync of {label(o[3])} ({o[2]}), {(o[1] - o[0]) * 1000:.1f} ms from {o[0] - t0:.3f}s")
        for p in wbs:
            print(f"      with writeback reason={p[2]} nr_pages={p[3]}, {(p[1] - p[0]) * 1000:.1f} ms from {p[0] - t0:.3f}s")
        rs = [r for r in ranges if r[0] < end and r[1] > start]
        for r in rs[:3]:
            print(f"      with sync_file_range by {r[2]}, {(r[1] - r[0]) * 1000:.1f} ms from {r[0] - t0:.3f}s")
        if len(rs) > 3:
            print(f"      ... and {len(rs) - 3} more sync_file_range calls")
        inflight = [q for q in rqs if q[0] < end and q[1] > start]
        if inflight:
            flushes = [q for q in inflight if q[2] == "FLUSH"]
            mib = sum(q[3] for q in inflight) * 512 / 2**20
            worst = max(inflight, key=lambda q: q[1] - q[0])
            print(
                f"      at the disk meanwhile: {len(inflight)} requests, {mib:.1f} MiB, "
                f"{len(flushes)} flushes (longest {max(((q[1] - q[0]) * 1000 for q in flushes), default=0):.1f} ms), "
                f"slowest request {worst[2]} {(worst[1] - worst[0]) * 1000:.1f} ms"
            )
        if rs:
            counts["sync_file_range"] += 1
        if others:
            counts["another file's sync"] += 1
        if wbs:
            counts["a writeback pass"] += 1
        if not others and not wbs and not rs:
            counts["nothing traced"] += 1
    per_file = {}
    for s in syncs:
        d = (s[1] - s[0]) * 1000
        n, total, worst = per_file.get(s[3], (0, 0.0, 0.0))
        per_file[s[3]] = (n + 1, total + d, max(worst, d))
    print(f"\n{len(syncs)} syncs, {len(slow)} of them >= {args.slow_ms} ms; {len(passes)} writeback passes")
    for ino, (n, total, worst) in sorted(per_file.items(), key=lambda kv: -kv[1][2])[:8]:
        print(f"  {label(ino)}: {n} syncs, mean {total / n:.2f} ms, max {worst:.2f} ms")
    def dist(what, ds):
        if ds:
            ds = sorted(ds)
            print(
                f"  {what}: {len(ds)}, mean {sum(ds) / len(ds):.2f} ms, "
                f"p99 {ds[int(len(ds) * 0.99)]:.2f} ms, max {ds[-1]:.2f} ms"
            )

    dist("disk cache flushes", [(q[1] - q[0]) * 1000 for q in rqs if q[2] == "FLUSH"])
    dist("disk writes", [(q[1] - q[0]) * 1000 for q in rqs if "W" in q[2]])
    dist("sync_file_range calls", [(r[1] - r[0]) * 1000 for r in ranges])
    print("slow syncs that overlapped: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    main()
