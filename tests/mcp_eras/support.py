"""The official `mcp` Python SDK client, connected to a real `sidekick --stdio`, at each MCP revision.

- "2026-07-28": `Client` as it comes (mode "auto": it probes `server/discover` and stays modern).
- "2025-11-25": `Client(mode="legacy")`, the newest initialize handshake.
- "2025-06-18": a `ClientSession` that offers that version in `initialize` (the SDK always offers its
  newest; `PinnedSession` asks for another through the SDK's own request, adopt and notify calls).

`Recorder` sits between the SDK and the pipe and keeps every message both ways, so a test can check what
went over the wire (a cancelled request got no answer). `TasksExtension` is the io.modelcontextprotocol/tasks
extension as a client implements it with the SDK's extension API: a `task` result is polled to its end.
"""

from __future__ import annotations

import math
import sys
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Literal, Sequence

import anyio
import mcp_types as types
from mcp import Client, ClientSession, StdioServerParameters
from mcp.client.extension import ClaimContext, ClientExtension, ResultClaim
from mcp.client.stdio import stdio_client
from pydantic import Field

ERAS = ("2026-07-28", "2025-11-25", "2025-06-18")
DEADLINE_S = 30.0


def server(env: dict[str, str] | None = None) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "sidekick", "--stdio"],
                                 env={"SIDEKICK_ALLOW_PRIVATE_URLS": "1", **(env or {})})


class PinnedSession(ClientSession):
    """A ClientSession whose initialize offers `version` instead of the SDK's newest handshake version."""

    version = "2025-06-18"

    async def initialize(self) -> types.InitializeResult:
        result = await self.send_request(types.InitializeRequest(params=types.InitializeRequestParams(
            protocol_version=self.version, capabilities=types.ClientCapabilities(),
            client_info=types.Implementation(name="pinned-test-client", version="1"))), types.InitializeResult)
        self.adopt(result)
        await self.send_notification(types.InitializedNotification())
        return result


class Recorder:
    """Every JSON-RPC message between the SDK and the sidekick, as dicts: `sent` and `received`."""

    def __init__(self, params: StdioServerParameters) -> None:
        self.params = params
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []

    @staticmethod
    def _as_dict(item: Any) -> dict[str, Any] | None:
        message = getattr(item, "message", None)
        return message.model_dump(by_alias=True, exclude_none=True) if message is not None else None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[Any]:
        async with stdio_client(self.params) as (read, write):
            to_sdk, from_pipe = anyio.create_memory_object_stream[Any](math.inf)
            to_pipe, from_sdk = anyio.create_memory_object_stream[Any](math.inf)

            async def inbound() -> None:
                async with to_sdk:
                    async for item in read:
                        if (message := self._as_dict(item)) is not None:
                            self.received.append(message)
                        await to_sdk.send(item)

            flushed = anyio.Event()

            async def outbound() -> None:
                async with from_sdk:
                    async for item in from_sdk:
                        if (message := self._as_dict(item)) is not None:
                            self.sent.append(message)
                        await write.send(item)
                flushed.set()

            async with anyio.create_task_group() as group:
                group.start_soon(inbound)
                group.start_soon(outbound)
                try:
                    yield from_pipe, to_pipe
                finally:
                    # Everything the SDK sent goes out; stdio_client then ends the child's stdin on exit.
                    await to_pipe.aclose()
                    with anyio.move_on_after(DEADLINE_S):
                        await flushed.wait()
                    group.cancel_scope.cancel()

    def answers_to(self, request_id: Any) -> list[dict[str, Any]]:
        return [m for m in self.received if "method" not in m and m.get("id") == request_id]


@asynccontextmanager
async def connect(era: str, env: dict[str, str] | None = None, recorder: Recorder | None = None,
                  extensions: Sequence[ClientExtension] = ()) -> AsyncIterator[Any]:
    """A connected client at `era`: a `Client` (2026-07-28, 2025-11-25) or a `PinnedSession` (2025-06-18),
    which answer the same list_tools / call_tool / protocol_version / server_info calls."""
    recorder = recorder or Recorder(server(env))
    if era == "2025-06-18":
        async with recorder() as (read, write):
            async with PinnedSession(read, write) as session:
                with anyio.fail_after(DEADLINE_S):
                    await session.initialize()
                yield session
        return
    mode = "auto" if era == "2026-07-28" else "legacy"
    async with Client(recorder(), mode=mode, extensions=list(extensions) or None) as client:
        yield client


def session_of(client: Any) -> ClientSession:
    return client if isinstance(client, ClientSession) else client.session


def text_of(result: Any) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


async def wait_for(event: threading.Event, what: str) -> None:
    """Wait for a thread's event (the scripted model was called) with a deadline, never a fixed sleep."""
    if not await anyio.to_thread.run_sync(event.wait, DEADLINE_S):
        raise AssertionError(f"timed out waiting for {what}")


# -- custom requests through the SDK's own session --------------------------------------------------
class AnyParams(types.RequestParams):
    model_config = {"extra": "allow"}


class AnyRequest(types.Request[AnyParams, str]):
    """A request the SDK has no model for (`sidekick/run`, an unknown method): any params, stamped with the
    era's `_meta` by the session like every other request."""


class AnyResult(types.Result):
    model_config = {"extra": "allow"}


async def send(client: Any, method: str, progress: Any = None, **params: Any) -> dict[str, Any]:
    result = await session_of(client).send_request(AnyRequest(method=method, params=AnyParams(**params)), AnyResult,
                                                   progress_callback=progress)
    return result.model_dump(by_alias=True, exclude_none=True)


# -- the tasks extension, client side ----------------------------------------------------------------
class CreatedTask(types.Result):
    result_type: Literal["task"] = "task"
    task_id: str
    status: str
    poll_interval_ms: int | None = Field(default=None)


class PolledTask(types.Result):
    model_config = {"extra": "allow"}

    task_id: str
    status: str
    status_message: str | None = None
    poll_interval_ms: int | None = None
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None


class TaskIdParams(types.RequestParams):
    task_id: str


class GetTask(types.Request[TaskIdParams, Literal["tasks/get"]]):
    method: Literal["tasks/get"] = "tasks/get"


class CancelTask(types.Request[TaskIdParams, Literal["tasks/cancel"]]):
    method: Literal["tasks/cancel"] = "tasks/cancel"


class TasksExtension(ClientExtension):
    """Polls a `task` result with tasks/get (at the server's pollIntervalMs) until it ends."""

    identifier = "io.modelcontextprotocol/tasks"

    def __init__(self) -> None:
        self.created: list[CreatedTask] = []
        self.polls: list[PolledTask] = []

    def claims(self) -> Sequence[ResultClaim[Any]]:
        return [ResultClaim(result_type="task", model=CreatedTask, resolve=self.resolve)]

    async def poll(self, session: ClientSession, task_id: str) -> PolledTask:
        polled = await session.send_request(GetTask(params=TaskIdParams(task_id=task_id)), PolledTask)
        self.polls.append(polled)
        return polled

    async def resolve(self, created: CreatedTask, ctx: ClaimContext) -> types.CallToolResult:
        self.created.append(created)
        with anyio.fail_after(DEADLINE_S):
            while True:
                polled = await self.poll(ctx.session, created.task_id)
                if polled.status == "completed":
                    return types.CallToolResult.model_validate(polled.result)
                if polled.status in ("failed", "cancelled"):
                    raise RuntimeError(f"task {created.task_id} {polled.status}: {polled.error}")
                await anyio.sleep((polled.poll_interval_ms or 500) / 1000)  # the protocol's own pacing
