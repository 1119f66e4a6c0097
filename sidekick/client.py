"""A small asyncio host for a `sidekick --stdio` child: what Eliza's plugin does, in Python.

Used by `sidekick demo`, by `sidekick eval` (through `sidekick.evals.host`), and usable by any Python host:

    async def save_note(name: str, arguments: dict, meta: dict) -> dict:
        return {"content": [{"type": "text", "text": "saved"}], "isError": False}

    async with await SidekickClient.spawn(on_host_tool=save_note) as client:
        result = await client.request("sidekick/run", {"task": "..."}, on_progress=print)

An error answer from the sidekick raises `RemoteError`; the child going away with requests pending raises
`SidekickExitedError`, whose message names the exit code (and, with `capture_stderr`, its last stderr lines).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import signal
import sys
from typing import Any, AsyncIterator, Awaitable, Callable

from sidekick.errors import ConnectionClosedError, MethodNotFound, RemoteError, RpcError

HostToolHandler = Callable[[str, dict[str, Any], dict[str, Any]], Awaitable[dict[str, Any]]]
ProgressHandler = Callable[[float, str], None]
SIDEKICK_COMMAND = (sys.executable, "-m", "sidekick", "--stdio")
PROTOCOL_VERSION = "2025-06-18"
READ_LIMIT = 64 * 1024 * 1024
STDERR_TAIL_LINES = 40
log = logging.getLogger("sidekick.client")


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


async def _lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while True:
        try:
            line = await stream.readline()
        except ValueError:  # longer than READ_LIMIT: the reader has dropped it, and the stream goes on
            continue
        if not line:
            return
        yield line


class SidekickExitedError(ConnectionClosedError):
    """The sidekick process ended while requests were pending (or a request was sent after it ended)."""

    def __init__(self, message: str, returncode: int | None) -> None:
        super().__init__(message)
        self.returncode = returncode


class SidekickClient:
    """JSON-RPC over a child's stdin/stdout: ids, pending futures, progress, and host tool answers.

    `on_host_tool(name, arguments, meta)` answers each `host/callTool`; `meta` is the call's `_meta`
    (the sidekick puts the id of the request the call belongs to in `relatedRequestId`). It returns an
    MCP tool result; an `RpcError` it raises becomes an error answer, any other exception an `isError`
    result for the model to read.
    """

    def __init__(self, process: asyncio.subprocess.Process, on_host_tool: HostToolHandler | None = None) -> None:
        self.process = process
        self.on_host_tool = on_host_tool
        self.initialize_result: dict[str, Any] = {}
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._ids = itertools.count(1)
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._progress: dict[str, ProgressHandler] = {}
        self._host_calls: dict[Any, asyncio.Task[None]] = {}
        self._exited = False
        loop = asyncio.get_running_loop()
        self._stderr = loop.create_task(self._read_stderr()) if process.stderr is not None else None
        self._reader = loop.create_task(self._read())

    @classmethod
    async def spawn(cls, *args: str, command: list[str] | None = None, env: dict[str, str] | None = None,
                    on_host_tool: HostToolHandler | None = None, capture_stderr: bool = False,
                    client_name: str = "sidekick-python-host", init_timeout: float = 30.0) -> SidekickClient:
        """Start `command` (default: this Python's `sidekick --stdio`) with `args`, and initialize it.

        `env` is added to our environment. With `capture_stderr` the child's stderr is read as it comes (so a
        chatty child never blocks) and its last lines kept in `stderr_tail`; else it shares ours.
        """
        process = await asyncio.create_subprocess_exec(
            *(command or SIDEKICK_COMMAND), *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE if capture_stderr else None, env={**os.environ, **(env or {})},
            limit=READ_LIMIT)
        client = cls(process, on_host_tool)
        try:
            client.initialize_result = await asyncio.wait_for(client.request("initialize", {
                "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                "clientInfo": {"name": client_name, "version": "1"}}), init_timeout) or {}
            client.notify("notifications/initialized")
        except BaseException:
            await client.close()
            raise
        return client

    @property
    def capabilities(self) -> dict[str, Any]:
        """The `capabilities` of the sidekick's `initialize` result."""
        return self.initialize_result.get("capabilities") or {}

    @property
    def server_info(self) -> dict[str, Any]:
        """The `serverInfo` (name, version) of the sidekick's `initialize` result."""
        return self.initialize_result.get("serverInfo") or {}

    async def __aenter__(self) -> SidekickClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _writable(self) -> bool:
        return not self._exited and self.process.stdin is not None and not self.process.stdin.is_closing()

    def _write(self, message: dict[str, Any]) -> None:
        if not self._writable():
            raise SidekickExitedError(self._exit_message(), self.process.returncode)
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification; SidekickExitedError if the child is gone."""
        self._write({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      on_progress: ProgressHandler | None = None, request_id: Any = None) -> Any:
        """Send a request and wait for its result; RemoteError for an error answer.

        `request_id` defaults to the next integer; a caller-chosen id must not be pending already.
        Cancelling the awaiting task sends `notifications/cancelled`.
        """
        if request_id is None:
            request_id = next(self._ids)
        elif request_id in self._pending:
            raise ValueError(f"request id {request_id!r} is already pending")
        params = dict(params or {})
        token = f"progress-{next(self._ids)}"
        if on_progress is not None:
            params["_meta"] = {**params.get("_meta", {}), "progressToken": token}
            self._progress[token] = on_progress
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
            return await future
        except asyncio.CancelledError:
            if self._writable() and self.process.returncode is None:
                self.notify("notifications/cancelled", {"requestId": request_id, "reason": "cancelled by the host"})
            raise
        finally:
            self._pending.pop(request_id, None)
            self._progress.pop(token, None)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in _lines(self.process.stdout):
            try:
                message = json.loads(line)
            except ValueError:
                self.stderr_tail.append(f"(unparsable stdout line) {line[:200]!r}")
                continue
            try:
                self._dispatch(message)
            except Exception:  # a malformed message or a failing progress callback must not end the reader
                log.exception("could not handle a message from the sidekick")
        await self.process.wait()
        if self._stderr is not None:
            await asyncio.wait({self._stderr}, timeout=1.0)  # a grandchild may hold stderr open
        self._exited = True
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SidekickExitedError(self._exit_message(), self.process.returncode))

    def _dispatch(self, message: Any) -> None:
        if isinstance(message, list):
            for item in message:
                self._dispatch(item)
            return
        if not isinstance(message, dict):
            return
        method, params = message.get("method"), _as_dict(message.get("params"))
        if method is None:
            future = self._pending.get(message.get("id"))
            if future is not None and not future.done():
                if "error" in message:
                    error = message["error"] or {}
                    future.set_exception(RemoteError(error.get("code"), str(error.get("message")), error.get("data")))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:
            self._host_calls[message["id"]] = asyncio.get_running_loop().create_task(self._answer(message))
        elif method == "notifications/progress":
            handler = self._progress.get(params.get("progressToken"))
            if handler is not None:
                handler(params.get("progress", 0), params.get("message", ""))
        elif method == "notifications/cancelled":
            task = self._host_calls.get(params.get("requestId"))
            if task is not None:
                task.cancel()

    async def _answer(self, message: dict[str, Any]) -> None:
        try:
            reply: dict[str, Any] = {"result": await self._host_result(message)}
        except RpcError as exc:
            reply = {"error": exc.to_error()}
        except asyncio.CancelledError:
            return  # the sidekick withdrew the call and expects no answer
        finally:
            self._host_calls.pop(message["id"], None)
        if self._writable():
            self._write({"jsonrpc": "2.0", "id": message["id"], **reply})

    async def _host_result(self, message: dict[str, Any]) -> dict[str, Any]:
        if message["method"] != "host/callTool":
            raise MethodNotFound(f"Method not found: {message['method']}")
        if self.on_host_tool is None:
            raise MethodNotFound("this host offers no tools")
        params = _as_dict(message.get("params"))
        try:
            return await self.on_host_tool(str(params.get("name", "")), _as_dict(params.get("arguments")),
                                           _as_dict(params.get("_meta")))
        except RpcError:
            raise
        except Exception as exc:  # the host tool's failure is the model's to read
            return {"content": [{"type": "text", "text": f"{type(exc).__name__}: {exc}"}], "isError": True}

    async def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        async for line in _lines(self.process.stderr):
            self.stderr_tail.append(line.decode(errors="replace").rstrip())
            log.debug("sidekick stderr: %s", self.stderr_tail[-1])

    def _exit_message(self) -> str:
        code = self.process.returncode
        status = "closed its output" if code is None else f"exited (code {code})"
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                status = f"was killed by {signal.Signals(-code).name} (code {code})"
        tail = "\n".join(self.stderr_tail)
        return f"the sidekick {status}" + (f"; its stderr ends:\n{tail}" if tail else "")

    async def close(self, timeout: float = 10.0) -> int:
        """End stdin, wait `timeout` s, then SIGTERM, wait again, then SIGKILL; returns the exit code."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        for stop in (None, self.process.terminate, self.process.kill):
            if stop is not None and self.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    stop()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.process.wait(), None if stop == self.process.kill else timeout)
                break
        for task in self._host_calls.values():
            task.cancel()
        await asyncio.gather(self._reader, *filter(None, [self._stderr]), *self._host_calls.values(),
                             return_exceptions=True)
        return await self.process.wait()
