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
import logging
import os
import signal
import sys
from typing import Any, AsyncIterator, Awaitable, Callable

from sidekick.dispatch import Method, RequestContext
from sidekick.errors import ConnectionClosedError, MethodNotFound, RpcError
from sidekick.session import Session
from sidekick.codec import encode_message, loads_strict

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
    """A `Session` over a child's stdin/stdout, with progress callbacks and host tool answers.

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
        self._progress_tokens = itertools.count(1)
        self._progress: dict[str, ProgressHandler] = {}
        self._exited = False
        self._session = Session(self._send)
        self._session.add_method(Method("host/callTool", self._call_host_tool))
        self._session.add_method(Method("notifications/progress", self._report_progress))
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

    def _check_running(self) -> None:
        if not self._writable():
            raise SidekickExitedError(self._exit_message(), self.process.returncode)

    def _send(self, message: Any) -> None:
        # What the session sends on its own (an answer, a cancel) is dropped once the child cannot read it.
        if self._writable():
            assert self.process.stdin is not None
            self.process.stdin.write(encode_message(message))

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None:
        """Send a notification; SidekickExitedError if the child is gone."""
        self._check_running()
        self._session.notify(method, params)

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      on_progress: ProgressHandler | None = None, request_id: Any = None) -> Any:
        """Send a request and wait for its result; RemoteError for an error answer.

        `request_id` defaults to the session's next id; a caller-chosen id must not be pending already.
        Cancelling the awaiting task sends `notifications/cancelled`.
        """
        self._check_running()
        params = dict(params or {})
        token = None
        if on_progress is not None:
            token = f"progress-{next(self._progress_tokens)}"
            params["_meta"] = {**params.get("_meta", {}), "progressToken": token}
            self._progress[token] = on_progress
        try:
            return await self._session.request(method, params, request_id=request_id)
        finally:
            self._progress.pop(token, None)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in _lines(self.process.stdout):
            try:
                message = loads_strict(line)
            except (ValueError, RecursionError):  # noise on the child's stdout, not a message to answer
                self.stderr_tail.append(f"(unparsable stdout line) {line[:200]!r}")
                continue
            try:
                self._session.receive(message)
            except Exception:  # a bug in handling one message must not end the reader
                log.exception("could not handle a message from the sidekick")
        await self.process.wait()
        if self._stderr is not None:
            await asyncio.wait({self._stderr}, timeout=1.0)  # a grandchild may hold stderr open
        self._exited = True
        self._session.close(SidekickExitedError(self._exit_message(), self.process.returncode))

    def _report_progress(self, ctx: RequestContext, params: dict[str, Any]) -> None:
        try:
            handler = self._progress.get(params.get("progressToken"))
            if handler is not None:
                handler(params.get("progress", 0), params.get("message", ""))
        except Exception:  # the session would swallow it silently: a notification has no answer to carry it
            log.exception("could not handle a progress notification from the sidekick")

    async def _call_host_tool(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        if self.on_host_tool is None:
            raise MethodNotFound("this host offers no tools")
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
        await asyncio.gather(self._reader, *filter(None, [self._stderr]), return_exceptions=True)
        await self._session.shutdown(grace=0)  # cancels host tool calls still running
        return await self.process.wait()
