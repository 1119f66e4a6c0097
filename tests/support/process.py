"""A real `sidekick --stdio` subprocess driven line by line, with deadlines instead of sleeps."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Any

DEADLINE_S = 20.0


def rss_kb(pid: int) -> int:
    """Resident set size of a live process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class SidekickProcess:
    def __init__(self, *args: str, env: dict[str, str] | None = None, cwd: str | None = None) -> None:
        """`cwd`: the tree whose sidekick `-m` starts (a benchmark's baseline checkout); default this one."""
        full_env = {**os.environ, "SIDEKICK_ALLOW_PRIVATE_URLS": "1", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "sidekick", "--stdio", *args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, cwd=cwd)
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self.stderr_lines: list[bytes] = []
        self._threads = [threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
                         threading.Thread(target=self._drain_stderr, daemon=True)]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, sink: queue.Queue[bytes | None]) -> None:
        for line in stream:
            sink.put(line)
        sink.put(None)

    def _drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line)

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message: Any) -> None:
        self.write(json.dumps(message).encode() + b"\n")

    def read(self, timeout: float = DEADLINE_S) -> Any:
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError("the sidekick closed its stdout")
        assert line.endswith(b"\n")
        return json.loads(line)

    def read_until(self, predicate: Any, timeout: float = DEADLINE_S) -> tuple[Any, list[Any]]:
        """Read messages until one matches; returns it and everything read before it."""
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            message = self.read(max(0.01, deadline - time.monotonic()))
            if predicate(message):
                return message, seen
            seen.append(message)

    def request(self, request_id: Any, method: str, params: dict[str, Any] | None = None) -> Any:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        answer, _ = self.read_until(lambda m: isinstance(m, dict) and m.get("id") == request_id
                                    and ("result" in m or "error" in m))
        return answer

    def initialize(self) -> Any:
        answer = self.request(0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                                "clientInfo": {"name": "tests", "version": "0"}})
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    def close(self, timeout: float = DEADLINE_S) -> int:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for thread in self._threads:
                thread.join(timeout)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
