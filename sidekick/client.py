"""A small asyncio host for a `sidekick --stdio` child: what Eliza's plugin does, in Python.

Used by `sidekick demo` and `sidekick eval`, and usable by any Python host:

    async with SidekickClient.spawn(on_host_tool=handler) as client:
        result = await client.request("sidekick/run", {"task": "..."}, on_progress=print)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from typing import Any, Awaitable, Callable

from sidekick.errors import ConnectionClosedError, RemoteError

HostToolHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
ProgressHandler = Callable[[float, str], None]
READ_LIMIT = 64 * 1024 * 1024


class SidekickClient:
    """JSON-RPC over a child's stdin/stdout: ids, pending futures, progress, and host tool answers."""

    def __init__(self, process: asyncio.subprocess.Process, on_host_tool: HostToolHandler | None = None) -> None:
        self.process = process
        self.on_host_tool = on_host_tool
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._progress: dict[Any, ProgressHandler] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._tasks: set[asyncio.Task[Any]] = set()

    @classmethod
    async def spawn(cls, *args: str, env: dict[str, str] | None = None,
                    on_host_tool: HostToolHandler | None = None) -> SidekickClient:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidekick", "--stdio", *args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})}, limit=READ_LIMIT)
        client = cls(process, on_host_tool)
        await client.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                            "clientInfo": {"name": "sidekick-python-host", "version": "1"}})
        client.notify("notifications/initialized")
        return client

    async def __aenter__(self) -> SidekickClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _write(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        self._write({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      on_progress: ProgressHandler | None = None) -> Any:
        """Send a request and wait for its result; RemoteError for an error answer. Cancelling the
        awaiting task sends `notifications/cancelled`."""
        request_id = next(self._ids)
        params = dict(params or {})
        if on_progress is not None:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": f"p{request_id}"}
            self._progress[f"p{request_id}"] = on_progress
        future = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        try:
            return await future
        except asyncio.CancelledError:
            if self.process.returncode is None:
                self.notify("notifications/cancelled", {"requestId": request_id, "reason": "cancelled"})
            raise
        finally:
            self._pending.pop(request_id, None)
            self._progress.pop(f"p{request_id}", None)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for line in self.process.stdout:
                self._dispatch(json.loads(line))
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionClosedError("the sidekick exited"))

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, list):
            for item in message:
                self._dispatch(item)
            return
        method = message.get("method")
        if method == "notifications/progress":
            handler = self._progress.get(message["params"].get("progressToken"))
            if handler is not None:
                handler(message["params"]["progress"], message["params"].get("message", ""))
        elif method == "host/callTool":
            task = asyncio.get_running_loop().create_task(self._answer_host_tool(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif method is None:
            future = self._pending.get(message.get("id"))
            if future is not None and not future.done():
                if "error" in message:
                    error = message["error"]
                    future.set_exception(RemoteError(error["code"], error["message"], error.get("data")))
                else:
                    future.set_result(message["result"])

    async def _answer_host_tool(self, message: dict[str, Any]) -> None:
        params = message.get("params", {})
        if self.on_host_tool is None:
            self._write({"jsonrpc": "2.0", "id": message["id"],
                         "error": {"code": -32601, "message": "this host offers no tools"}})
            return
        try:
            result = await self.on_host_tool(params.get("name", ""), params.get("arguments") or {})
        except Exception as exc:  # the host tool's failure is the model's to read
            result = {"content": [{"type": "text", "text": f"{type(exc).__name__}: {exc}"}], "isError": True}
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})

    async def close(self, timeout: float = 10.0) -> int:
        """End stdin, wait for a clean exit, and kill only if it does not come."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            code = await asyncio.wait_for(self.process.wait(), timeout)
        except asyncio.TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)
        return code
