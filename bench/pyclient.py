"""The Python side of bench/protocol.py: a buffered client that runs a plan, the same plan node_client.mjs runs.

A plan names targets (stdio commands, or an HTTP base URL) and how many rounds of how many calls; every
round measures every target in turn (the order rotates), so each round's figures are side by side.
Reads go through one buffer (`os.read` of 64 KiB, split on newlines), never a `readline` per byte.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import threading
import time
from typing import Any
from urllib.parse import urlsplit

EXPRESSION = "1234567 * 0.175"
INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}}


def reap(proc: subprocess.Popen[bytes]) -> None:
    """Wait for a process told to stop (killed after 10 s), and close its output."""
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def ping_line(i: int) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i


def calculate_line(i: int) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
        "name": "calculate", "arguments": {"expression": EXPRESSION}}}).encode() + b"\n"


class StdioTarget:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["name"]
        self.proc = subprocess.Popen(spec["stdio"], cwd=spec.get("cwd"), env=spec.get("env"), bufsize=0,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.pid = self.proc.pid
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self._buffer = b""
        self._next_id = 1
        if spec.get("mcp"):
            self.call(json.dumps(INITIALIZE).encode() + b"\n", 0)
            os.write(self._in, b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')

    def readline(self) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[:end], self._buffer[end + 1:]
                return line
            chunk = os.read(self._out, 1 << 16)
            if not chunk:
                raise EOFError(f"{self.name} closed its output")
            self._buffer += chunk

    def call(self, line: bytes, request_id: int) -> Any:
        os.write(self._in, line)
        while True:
            answer = json.loads(self.readline())
            if answer.get("id") == request_id:
                return answer

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def ping(self) -> Any:
        i = self.new_id()
        return self.call(ping_line(i), i)

    def calculate(self) -> Any:
        i = self.new_id()
        return self.call(calculate_line(i), i)

    def pipelined(self, count: int) -> float:
        """Requests per second for `count` pings written at once (a writer thread) and read as they come."""
        first = self._next_id + 1
        self._next_id += count
        payload = b"".join(ping_line(first + i) for i in range(count))
        writer = threading.Thread(target=os.write, args=(self._in, payload))
        start = time.perf_counter()
        writer.start()
        got = 0
        while got < count:
            if b'"id"' in self.readline():
                got += 1
        elapsed = time.perf_counter() - start
        writer.join()
        return count / elapsed

    def close(self) -> None:
        self.proc.stdin.close()
        reap(self.proc)


class HttpTarget:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.name = spec["name"]
        self.pid = spec.get("pid")
        url = urlsplit(spec["http"])
        self.connection = http.client.HTTPConnection(url.hostname, url.port)  # keep-alive, buffered reads

    def post(self, path: str, body: bytes) -> Any:
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        assert response.status == 200, (response.status, data[:200])
        return json.loads(data)

    def ping(self) -> Any:
        return self.post("/ping", b"{}")

    def calculate(self) -> Any:
        return self.post("/calculate", json.dumps({"expression": EXPRESSION}).encode())

    def close(self) -> None:
        self.connection.close()


def _block(call: Any, count: int) -> tuple[float, float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2] * 1e6, samples[min(len(samples) - 1, int(len(samples) * 0.99))] * 1e6


def run_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """Run `plan`; per metric and target, one figure per round (µs for latencies, req/s for pipelined)."""
    targets = [StdioTarget(spec) if "stdio" in spec else HttpTarget(spec) for spec in plan["targets"]]
    specs = {spec["name"]: spec for spec in plan["targets"]}
    results: dict[str, Any] = {"ping": {}, "ping p99": {}, "calculate": {}, "pipelined": {},
                               "pids": {t.name: t.pid for t in targets}}
    try:
        for target in targets:
            _block(target.ping, plan["warmup"])
            if specs[target.name].get("calculate"):
                _block(target.calculate, plan["warmup"] // 4)
        for round_no in range(plan["rounds"]):
            order = targets[round_no % len(targets):] + targets[:round_no % len(targets)]
            for target in order:
                p50, p99 = _block(target.ping, plan["pings"])
                results["ping"].setdefault(target.name, []).append(p50)
                results["ping p99"].setdefault(target.name, []).append(p99)
            for target in (t for t in order if specs[t.name].get("calculate")):
                results["calculate"].setdefault(target.name, []).append(_block(target.calculate, plan["calls"])[0])
            for target in (t for t in order if specs[t.name].get("pipelined")):
                results["pipelined"].setdefault(target.name, []).append(target.pipelined(plan["pipelined"]))
        if plan.get("keep"):
            results["open"] = targets  # the caller measures memory, then closes them
            return results
    except BaseException:
        for target in targets:
            target.close()
        raise
    for target in targets:
        target.close()
    return results
