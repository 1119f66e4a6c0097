"""Soak: one `sidekick --stdio` process under a long mixed load, checked for lost, duplicated or mixed-up answers.

    python bench/soak.py [--requests 100000] [--window 64] [--seed 1]

The mix: pings, `tools/call` calculate, `sidekick/run` against the scripted model (a plain answer, a
calculate step, or a host tool the driver answers), runs cancelled while they wait on the host, and
cancels of ids already answered. Up to `--window` requests are in flight at once. Prints throughput,
latency percentiles, and the process's RSS after warm-up and at the end; exits 1 if any invariant broke.
`tests/reliability/test_soak.py` runs a short version of the same driver.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results  # noqa: E402
from tests.support.process import rss_kb  # noqa: E402

HOST_TOOL = {"name": "HOST_NOTE", "description": "Note something on the host",
             "inputSchema": {"type": "object", "properties": {"tag": {"type": "string"}}}}
MIX = (("ping", 70), ("calc", 18), ("run", 4), ("run_calc", 2), ("run_host", 3), ("run_cancel", 1.5),
       ("cancel_dead", 1.5))


def model_script(body: dict[str, Any]) -> dict[str, Any]:
    task = next(m["content"] for m in body["messages"] if m["role"] == "user")
    results = tool_results(body)
    kind, tag = task.split(" ", 1)
    if kind == "run_calc" and not results:
        return {"tool_calls": [{"name": "calculate", "arguments": {"expression": "6 * 7"}}]}
    if kind in ("run_host", "run_cancel") and not results:
        return {"tool_calls": [{"name": "HOST_NOTE", "arguments": {"tag": tag}}]}
    return {"content": f"{tag}: {results[-1] if results else 'ok'}"}


@dataclass
class SoakReport:
    requests: int = 0  # messages sent: requests with ids plus cancel notifications
    answered: int = 0
    cancelled_runs: int = 0
    host_calls: int = 0
    elapsed_s: float = 0.0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    rss_start_kb: int = 0
    rss_end_kb: int = 0
    problems: list[str] = field(default_factory=list)
    exit_code: int | None = None

    def percentile(self, p: float, kind: str | None = None) -> float:
        values = sorted(v for k, vs in self.latencies_ms.items() if kind in (None, k) for v in vs)
        return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0

    def lines(self) -> list[str]:
        out = [f"requests        {self.requests} in {self.elapsed_s:.1f} s = {self.requests / self.elapsed_s:,.0f}/s "
               f"({self.answered} answered, {self.cancelled_runs} runs cancelled live, {self.host_calls} host calls)",
               f"latency all     p50 {self.percentile(0.5):.2f} ms   p99 {self.percentile(0.99):.2f} ms   "
               f"max {self.percentile(1.0):.2f} ms"]
        for kind in sorted(self.latencies_ms):
            out.append(f"  {kind:<13} p50 {self.percentile(0.5, kind):7.2f} ms   p99 {self.percentile(0.99, kind):7.2f} ms"
                       f"   (n={len(self.latencies_ms[kind])})")
        out.append(f"RSS             start {self.rss_start_kb / 1024:.1f} MB   end {self.rss_end_kb / 1024:.1f} MB   "
                   f"growth {(self.rss_end_kb - self.rss_start_kb) / 1024:+.1f} MB")
        out.append(f"exit code       {self.exit_code}")
        out.append("invariants      " + ("all held" if not self.problems else f"{len(self.problems)} BROKEN"))
        out += [f"  - {p}" for p in self.problems[:20]]
        return out


class Soak:
    """Drives one process; call `run(n)` once. Threads: this one writes, one reads stdout."""

    def __init__(self, window: int = 64, seed: int = 1, deadline_s: float = 600.0) -> None:
        self.window = threading.BoundedSemaphore(window)
        self.random = random.Random(seed)
        self.deadline_s = deadline_s
        self.report = SoakReport()
        self.lock = threading.Lock()  # guards stdin writes and the tables below
        self.pending: dict[Any, tuple[str, float]] = {}  # id → (kind, sent at)
        self.answered_ids: list[Any] = []
        self.cancel_at_host: set[str] = set()  # run ids to cancel when their host call arrives
        self.cancelled: set[str] = set()
        self.done = threading.Event()
        self.next_id = 0

    def _write(self, message: Any) -> None:
        data = json.dumps(message, separators=(",", ":")).encode() + b"\n"
        with self.lock:
            self.proc.stdin.write(data)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            now = time.perf_counter()
            try:
                message = json.loads(raw)
            except ValueError:
                self.report.problems.append(f"stdout line is not JSON: {raw[:80]!r}")
                continue
            for item in message if isinstance(message, list) else [message]:
                self._handle(item, now)
        self.done.set()

    def _handle(self, item: dict[str, Any], now: float) -> None:
        method = item.get("method")
        if method == "host/callTool":
            self.report.host_calls += 1
            tag = item["params"]["arguments"]["tag"]
            if tag in self.cancel_at_host:
                with self.lock:
                    self.cancelled.add(tag)
                    self.pending.pop(tag, None)
                self._write({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": tag}})
                self.report.cancelled_runs += 1
                self.window.release()
            else:
                self._write({"jsonrpc": "2.0", "id": item["id"],
                             "result": {"content": [{"type": "text", "text": f"noted {tag}"}], "isError": False}})
            return
        if method is not None:
            if method != "notifications/cancelled":
                self.report.problems.append(f"unexpected message {item}")
            return
        rid = item.get("id")
        with self.lock:
            entry = self.pending.pop(rid, None)
            if entry is None:
                why = "a cancelled run" if rid in self.cancelled else "an unknown or already answered id"
                self.report.problems.append(f"answer for {why}: {str(item)[:160]}")
                return
        kind, sent = entry
        self.report.latencies_ms.setdefault(kind, []).append((now - sent) * 1000)
        self.report.answered += 1
        self.answered_ids.append(rid)
        self._check(kind, rid, item)
        self.window.release()

    def _check(self, kind: str, rid: Any, item: dict[str, Any]) -> None:
        result = item.get("result")
        if kind == "ping":
            ok = result == {}
        elif kind == "calc":
            ok = result is not None and result["content"][0]["text"] == str(int(rid[1:]) + 1)
        else:
            expected = {"run": f"{rid}: ok", "run_calc": f"{rid}: 42", "run_host": f"{rid}: noted {rid}"}[kind]
            ok = result is not None and result.get("stopReason") == "done" and result.get("text") == expected
        if not ok:
            self.report.problems.append(f"wrong answer for {kind} {rid}: {str(item)[:200]}")

    def _send_one(self, kind: str, server: ScriptedOpenAIServer) -> None:
        self.next_id += 1
        rid = f"{kind[0]}{self.next_id}"
        if kind == "cancel_dead":
            if self.answered_ids:
                target = self.answered_ids[self.random.randrange(len(self.answered_ids))]
                self._write({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": target}})
                self.report.requests += 1
            return
        self.window.acquire()
        if kind == "ping":
            message: dict[str, Any] = {"method": "ping"}
        elif kind == "calc":
            message = {"method": "tools/call", "params": {"name": "calculate",
                                                          "arguments": {"expression": f"{self.next_id} + 1"}}}
        else:
            message = {"method": "sidekick/run", "params": {
                "task": f"{kind} {rid}", "tools": ["calculate"], "hostTools": [HOST_TOOL],
                "model": {"baseUrl": server.base_url, "model": "scripted", "apiKey": "sk-soak"}}}
            if kind == "run_cancel":
                with self.lock:
                    self.cancel_at_host.add(rid)
        with self.lock:
            self.pending[rid] = (kind, time.perf_counter())
        self._write({"jsonrpc": "2.0", "id": rid, **message})
        self.report.requests += 1

    def run(self, total: int, warm_up: int = 200) -> SoakReport:
        kinds, weights = zip(*MIX)
        with ScriptedOpenAIServer(model_script) as server:
            self.proc = subprocess.Popen([sys.executable, "-m", "sidekick", "--stdio"], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
                                         env={**os.environ, "SIDEKICK_CONFIG": os.devnull})
            reader = threading.Thread(target=self._read, daemon=True)
            reader.start()
            try:
                for kind in kinds * (warm_up // len(kinds)):  # every path once, imports included
                    self._send_one(kind, server)
                self._wait_idle()
                self.report = SoakReport(rss_start_kb=rss_kb(self.proc.pid))
                start = time.perf_counter()
                for kind in self.random.choices(kinds, weights, k=total):
                    self._send_one(kind, server)
                self._wait_idle()
                self.report.elapsed_s = time.perf_counter() - start
                self.report.rss_end_kb = rss_kb(self.proc.pid)
            finally:
                with self.lock:
                    self.proc.stdin.close()
                try:
                    self.report.exit_code = self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.report.exit_code = self.proc.wait()
                reader.join(30)
                self.proc.stdout.close()
        if self.pending:
            self.report.problems.append(f"{len(self.pending)} requests never answered, e.g. {list(self.pending)[:5]}")
        if self.report.exit_code != 0:
            self.report.problems.append(f"exit code {self.report.exit_code}")
        return self.report

    def _wait_idle(self) -> None:
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            with self.lock:
                if not self.pending:
                    return
            if self.done.wait(0.01):
                return


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    report = Soak(window=args.window, seed=args.seed).run(args.requests)
    print(f"soak: {args.requests} mixed requests, window {args.window}, seed {args.seed}")
    for line in report.lines():
        print(line)
    return 1 if report.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
