"""Protocol benchmark: the sidekick against a bare Python stdio echo loop, measured in the same run.

    python bench/protocol.py [--pings 3000] [--pipelined 30000] [--starts 15]

Prints ping p50/p99, pipelined throughput, cold start (spawn → initialize answered) and idle RSS,
with ratios against the echo loop and the targets from DESIGN.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.process import rss_kb  # noqa: E402

ECHO_LOOP = r"""
import json, sys
out = sys.stdout
for line in sys.stdin:
    message = json.loads(line)
    out.write(json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": {}}) + "\n")
    out.flush()
"""

INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}})


def commands() -> dict[str, list[str]]:
    return {"echo loop": [sys.executable, "-c", ECHO_LOOP], "sidekick": [sys.executable, "-m", "sidekick", "--stdio"]}


def spawn(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)


def ping_line(i: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i


def ping_latency(cmd: list[str], count: int) -> tuple[float, float]:
    proc = spawn(cmd)
    proc.stdin.write(INITIALIZE.encode() + b"\n")
    proc.stdout.readline()
    samples = []
    for i in range(count):
        start = time.perf_counter()
        proc.stdin.write(ping_line(i + 1))
        proc.stdout.readline()
        samples.append(time.perf_counter() - start)
    proc.stdin.close()
    proc.wait()
    samples = samples[count // 10:]  # warm-up
    samples.sort()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def pipelined(cmd: list[str], count: int) -> float:
    proc = spawn(cmd)
    proc.stdin.write(INITIALIZE.encode() + b"\n")
    proc.stdout.readline()
    payload = b"".join(ping_line(i + 1) for i in range(count))

    def writer() -> None:
        proc.stdin.write(payload)
        proc.stdin.close()

    start = time.perf_counter()
    thread = threading.Thread(target=writer)
    thread.start()
    got = sum(1 for _ in proc.stdout)
    elapsed = time.perf_counter() - start
    thread.join()
    proc.wait()
    assert got == count, f"{got} answers for {count} requests"
    return count / elapsed


def cold_start(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = spawn(cmd)
        proc.stdin.write(INITIALIZE.encode() + b"\n")
        proc.stdout.readline()
        samples.append(time.perf_counter() - start)
        proc.stdin.close()
        proc.wait()
    return statistics.median(samples) * 1000


def idle_rss(cmd: list[str]) -> float:
    proc = spawn(cmd)
    proc.stdin.write(INITIALIZE.encode() + b"\n")
    proc.stdout.readline()
    for i in range(100):
        proc.stdin.write(ping_line(i + 1))
        proc.stdout.readline()
    rss = rss_kb(proc.pid)
    proc.stdin.close()
    proc.wait()
    return rss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pings", type=int, default=3000)
    parser.add_argument("--pipelined", type=int, default=30000)
    parser.add_argument("--starts", type=int, default=15)
    args = parser.parse_args()
    figures: dict[str, dict[str, float]] = {}
    for name, cmd in commands().items():
        p50, p99 = ping_latency(cmd, args.pings)
        figures[name] = {"ping p50 µs": p50, "ping p99 µs": p99, "pipelined req/s": pipelined(cmd, args.pipelined),
                         "cold start ms": cold_start(cmd, args.starts), "idle RSS MB": idle_rss(cmd)}
    echo, side = figures["echo loop"], figures["sidekick"]
    targets = {"ping p50 µs": ("ratio ≤ 1.6", side["ping p50 µs"] / echo["ping p50 µs"] <= 1.6),
               "ping p99 µs": ("", None),
               "pipelined req/s": ("≥ 25000", side["pipelined req/s"] >= 25000),
               "cold start ms": ("< 150", side["cold start ms"] < 150),
               "idle RSS MB": ("< 40", side["idle RSS MB"] < 40)}
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"{'metric':<18}{'echo loop':>12}{'sidekick':>12}{'ratio':>8}  target")
    for metric, (target, ok) in targets.items():
        ratio = side[metric] / echo[metric]
        verdict = "" if ok is None else ("  ok" if ok else "  MISSED")
        print(f"{metric:<18}{echo[metric]:>12.1f}{side[metric]:>12.1f}{ratio:>8.2f}  {target}{verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
