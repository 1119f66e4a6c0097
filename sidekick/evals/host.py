"""The eval harness as the host: spawns `sidekick --stdio` and speaks NDJSON JSON-RPC to it, as Eliza does.

It sends `sidekick/run` with the suite's tools as `hostTools`, and answers every `host/callTool` the
sidekick sends by running that tool in the environment of the run it belongs to. Our request ids
(`eval-N`) and the sidekick's (`s-N`) live in separate maps, so many runs can share one pipe.

Which run a `host/callTool` belongs to: a sidekick that advertises `experimental.sidekick.hostToolMeta`
puts `_meta.relatedRequestId` (the id of the `sidekick/run` request) in the call's params, and then all runs
share one process. Without it a call cannot be attributed when two runs are in flight, so the pool starts
one process per concurrent run instead.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import os
import sys
from typing import Any

from sidekick.evals.suite import Environment

STREAM_LIMIT = 1 << 24
CLOSE_GRACE_S = 5.0


class HostProtocolError(Exception):
    """The sidekick answered a request with a JSON-RPC error."""

    def __init__(self, error: dict[str, Any]) -> None:
        self.code = error.get("code")
        self.message = str(error.get("message"))
        super().__init__(f"{self.message} (JSON-RPC {self.code})")


class SidekickExited(Exception):
    """The sidekick process ended while requests were pending."""


class SidekickChild:
    """One `sidekick --stdio` child and the JSON-RPC conversation with it."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.capabilities: dict[str, Any] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._runs: dict[str, Environment] = {}
        self._tasks = [asyncio.create_task(self._read()), asyncio.create_task(self._drain_stderr())]

    @classmethod
    async def start(cls, command: list[str] | None = None, env: dict[str, str] | None = None) -> SidekickChild:
        command = command or [sys.executable, "-m", "sidekick", "--stdio", "--log-level", "error"]
        proc = await asyncio.create_subprocess_exec(
            *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=STREAM_LIMIT, env={**os.environ, **(env or {})})
        child = cls(proc)
        try:
            answer = await asyncio.wait_for(child.request("initialize", {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "sidekick-eval", "version": "1"}}), 30)
        except BaseException:
            await child.close()
            raise
        child.capabilities = answer.get("capabilities") or {}
        child.notify("notifications/initialized")
        return child

    @property
    def tags_host_calls(self) -> bool:
        experimental = self.capabilities.get("experimental") or {}
        return bool((experimental.get("sidekick") or {}).get("hostToolMeta"))

    def _send(self, message: dict[str, Any]) -> None:
        if self.proc.stdin is None or self.proc.stdin.is_closing():
            raise SidekickExited(self._exit_message())
        self.proc.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    async def request(self, method: str, params: dict[str, Any], request_id: str | None = None) -> Any:
        request_id = request_id or f"eval-{next(self._ids)}"
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            return await future
        except asyncio.CancelledError:
            if self.proc.returncode is None and self.proc.stdin is not None and not self.proc.stdin.is_closing():
                self.notify("notifications/cancelled", {"requestId": request_id, "reason": "eval stopped"})
            raise
        finally:
            self._pending.pop(request_id, None)

    async def run(self, params: dict[str, Any], environment: Environment) -> dict[str, Any]:
        """One `sidekick/run` whose host tools execute in `environment`; returns the run's result."""
        request_id = f"eval-{next(self._ids)}"
        self._runs[request_id] = environment
        try:
            return await self.request("sidekick/run", params, request_id)
        finally:
            self._runs.pop(request_id, None)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            try:
                message = json.loads(line)
            except ValueError:
                self.stderr_tail.append(f"(unparsable stdout line) {line[:200]!r}")
                continue
            if not isinstance(message, dict):
                continue
            if "method" in message:
                if "id" in message:
                    self._answer(message)
            elif (future := self._pending.get(message.get("id"))) is not None and not future.done():
                if "error" in message:
                    future.set_exception(HostProtocolError(message["error"] or {}))
                else:
                    future.set_result(message.get("result"))
        await self.proc.wait()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SidekickExited(self._exit_message()))

    def _answer(self, message: dict[str, Any]) -> None:
        params = message.get("params") or {}
        if message["method"] != "host/callTool":
            error = {"code": -32601, "message": f"Method not found: {message['method']}"}
            self._send({"jsonrpc": "2.0", "id": message["id"], "error": error})
            return
        related = (params.get("_meta") or {}).get("relatedRequestId")
        environment = self._runs.get(related) if related is not None else None
        if environment is None and len(self._runs) == 1:
            environment = next(iter(self._runs.values()))
        if environment is None:
            error = {"code": -32602, "message": "host/callTool: cannot tell which run this call belongs to"}
            self._send({"jsonrpc": "2.0", "id": message["id"], "error": error})
            return
        arguments = params.get("arguments")
        result = environment.call(str(params.get("name")), arguments if isinstance(arguments, dict) else {})
        self._send({"jsonrpc": "2.0", "id": message["id"], "result": {
            "content": [{"type": "text", "text": result.text}], "isError": result.is_error}})

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            self.stderr_tail.append(line.decode(errors="replace").rstrip())

    def _exit_message(self) -> str:
        tail = "\n".join(self.stderr_tail)
        return f"the sidekick exited (code {self.proc.returncode})" + (f"; its stderr ends:\n{tail}" if tail else "")

    async def close(self) -> None:
        """End stdin, wait, then SIGTERM, then SIGKILL."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        for stop in (None, self.proc.terminate, self.proc.kill):
            if stop is not None and self.proc.returncode is None:
                stop()
            try:
                await asyncio.wait_for(self.proc.wait(), CLOSE_GRACE_S)
                break
            except asyncio.TimeoutError:
                continue
        await asyncio.gather(*self._tasks, return_exceptions=True)


class HostPool:
    """Bounded concurrent runs over as few sidekick processes as correct attribution allows."""

    def __init__(self, children: list[SidekickChild], concurrency: int) -> None:
        self.children = children
        self._free: asyncio.Queue[SidekickChild] = asyncio.Queue()
        for slot in range(concurrency):
            self._free.put_nowait(children[slot % len(children)])

    @classmethod
    async def start(cls, concurrency: int, command: list[str] | None = None) -> HostPool:
        first = await SidekickChild.start(command)
        children = [first]
        if not first.tags_host_calls and concurrency > 1:
            started = await asyncio.gather(*(SidekickChild.start(command) for _ in range(concurrency - 1)),
                                           return_exceptions=True)
            children += [c for c in started if isinstance(c, SidekickChild)]
            failures = [e for e in started if isinstance(e, BaseException)]
            if failures:
                await asyncio.gather(*(child.close() for child in children))
                raise failures[0]
        return cls(children, concurrency)

    async def run(self, params: dict[str, Any], environment: Environment) -> dict[str, Any]:
        child = await self._free.get()
        try:
            return await child.run(params, environment)
        finally:
            self._free.put_nowait(child)

    async def close(self) -> None:
        await asyncio.gather(*(child.close() for child in self.children))
