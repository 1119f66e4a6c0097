"""run_task as a task: 2025-11-25's experimental tasks and the 2026-07-28 `io.modelcontextprotocol/tasks`
extension, over one store.

A task is a run the host polls instead of waiting on: `tools/call` answers at once with a task handle, the run
goes on, and `tasks/get` (plus, in 2025-11-25, the blocking `tasks/result`) gives its state and result.
The two eras spell a task differently (`ttl` vs `ttlMs`, the result in `tasks/result` vs inline) and disagree
on one point: a tool result with `isError` is a `failed` task in 2025-11-25 and a `completed` one under the
extension. A task is rendered in the era of the request that asks about it (when it carries no envelope, in
the era that created it).

Tasks live in this process (ids are random UUIDs, unguessable), are kept for their TTL after creation, at most
MAX_KEPT finished ones, and are cancelled with the session when it shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from sidekick.errors import InvalidParams, MethodNotFound, RpcError, to_rpc_error
from sidekick.mcp_era import RELATED_TASK_KEY, complete

log = logging.getLogger("sidekick.tasks")

DEFAULT_TTL_MS = 3_600_000
MIN_TTL_MS = 10_000
POLL_INTERVAL_MS = 500
MAX_KEPT = 256
TERMINAL = frozenset({"completed", "failed", "cancelled"})
LEGACY, MODERN = "2025-11-25", "2026-07-28"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class TaskRecord:
    task_id: str
    era: str
    ttl_ms: int
    created_at: str = field(default_factory=_now)
    updated_at: str = ""
    born: float = field(default_factory=time.monotonic)
    status: str = "working"
    status_message: str | None = "run_task is working"
    result: dict[str, Any] | None = None  # the tools/call result, as the creating era spells it
    error: dict[str, Any] | None = None
    runner: asyncio.Task[Any] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.updated_at = self.created_at

    def status_in(self, era: str) -> str:
        if era == LEGACY and self.status == "completed" and (self.result or {}).get("isError"):
            return "failed"  # 2025-11-25: "for tool calls, this includes an isError result"
        return self.status

    def move(self, status: str, message: str | None) -> None:
        if self.status in TERMINAL:
            return
        self.status, self.status_message, self.updated_at = status, message, _now()
        if status in TERMINAL:
            self.done.set()

    def render(self, era: str) -> dict[str, Any]:
        task: dict[str, Any] = {"taskId": self.task_id, "status": self.status_in(era)}
        if self.status_message:
            task["statusMessage"] = self.status_message
        task |= {"createdAt": self.created_at, "lastUpdatedAt": self.updated_at}
        if era == LEGACY:
            return task | {"ttl": self.ttl_ms, "pollInterval": POLL_INTERVAL_MS}
        return task | {"ttlMs": self.ttl_ms, "pollIntervalMs": POLL_INTERVAL_MS}


Track = Callable[[asyncio.Task[Any]], None]


class TaskStore:
    """The tasks of this process, by id."""

    def __init__(self) -> None:
        self._tasks: dict[str, TaskRecord] = {}

    def start(self, era: str, work: Callable[[TaskRecord], Awaitable[dict[str, Any]]], ttl_ms: int | None,
              track: Track) -> TaskRecord:
        """Create a task running `work(record)` (which answers the tools/call result dict); `track` gives the
        runner to whoever cancels it at shutdown."""
        self._purge()
        ttl = DEFAULT_TTL_MS if ttl_ms is None else max(MIN_TTL_MS, min(DEFAULT_TTL_MS, ttl_ms))
        record = TaskRecord(str(uuid.uuid4()), era, ttl)
        record.runner = asyncio.get_running_loop().create_task(self._run(record, work))
        track(record.runner)
        self._tasks[record.task_id] = record
        return record

    async def _run(self, record: TaskRecord, work: Callable[[TaskRecord], Awaitable[dict[str, Any]]]) -> None:
        try:
            result = await work(record)
        except asyncio.CancelledError:
            record.move("cancelled", record.status_message if record.status == "cancelled" else "cancelled")
            raise
        except Exception as exc:  # a bug, or a protocol fault of the run: the task failed with that error
            record.error = to_rpc_error(exc).to_error()
            record.move("failed", record.error["message"])
        else:
            record.result = result
            record.move("completed", "run_task finished" if not result.get("isError") else "run_task failed")

    def get(self, task_id: Any) -> TaskRecord:
        self._purge()
        record = self._tasks.get(task_id) if isinstance(task_id, str) else None
        if record is None:
            raise InvalidParams(f"Invalid params: no task {task_id!r} (unknown, or past its TTL)")
        return record

    def legacy_tasks(self) -> list[TaskRecord]:
        self._purge()
        return [r for r in self._tasks.values() if r.era == LEGACY]

    def cancel(self, record: TaskRecord, reason: str) -> None:
        record.move("cancelled", reason)
        if record.runner is not None and not record.runner.done():
            record.runner.cancel()

    def _purge(self) -> None:
        now = time.monotonic()
        finished = [r for r in self._tasks.values() if r.status in TERMINAL]
        expired = {r.task_id for r in finished if now - r.born > r.ttl_ms / 1000}
        expired |= {r.task_id for r in finished[: max(0, len(finished) - MAX_KEPT)]}
        for task_id in expired:
            del self._tasks[task_id]


# -- the methods ---------------------------------------------------------------------------------------
def era_of(request_era: str | None, record: TaskRecord) -> str:
    return request_era or record.era


def tasks_get(store: TaskStore, request_era: str | None, params: dict[str, Any]) -> dict[str, Any]:
    record = store.get(params.get("taskId"))
    era = era_of(request_era, record)
    task = record.render(era)
    if era == LEGACY:
        return task
    if record.status == "completed":
        task["result"] = record.result
    elif record.status == "failed":
        task["error"] = record.error
    return complete(task)


async def tasks_result(store: TaskStore, request_era: str | None, params: dict[str, Any]) -> dict[str, Any]:
    """2025-11-25: wait until the task ends, then answer what the tools/call itself would have."""
    if request_era == MODERN:
        raise MethodNotFound("Method not found: tasks/result is not part of the tasks extension; poll tasks/get")
    record = store.get(params.get("taskId"))
    await record.done.wait()
    if record.status == "cancelled":  # even when the run finished after all: a cancelled task stays cancelled
        raise InvalidParams(f"Invalid params: task {record.task_id} was cancelled; it has no result")
    if record.error is not None:
        raise _Relayed(record.error)
    assert record.result is not None
    return {**record.result, "_meta": {**record.result.get("_meta", {}), RELATED_TASK_KEY: {"taskId": record.task_id}}}


class _Relayed(RpcError):
    """The JSON-RPC error a failed task ended with, answered again by tasks/result."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"), error.get("data"))
        self._code = error.get("code", self.CODE)

    @property
    def code(self) -> int:
        return self._code

    def to_error(self) -> dict[str, Any]:
        return {**super().to_error(), "code": self._code}


def tasks_list(store: TaskStore, request_era: str | None, params: dict[str, Any]) -> dict[str, Any]:
    if request_era == MODERN:
        raise MethodNotFound("Method not found: tasks/list is not part of the tasks extension")
    if params.get("cursor") is not None:
        raise InvalidParams("Invalid params: unknown cursor (tasks/list answers in one page)")
    return {"tasks": [r.render(LEGACY) for r in store.legacy_tasks()]}


def tasks_cancel(store: TaskStore, request_era: str | None, params: dict[str, Any]) -> dict[str, Any]:
    record = store.get(params.get("taskId"))
    era = era_of(request_era, record)
    if era == LEGACY:
        if record.status in TERMINAL:
            raise InvalidParams(f"Invalid params: task {record.task_id} is already {record.status_in(era)}")
        store.cancel(record, "cancelled by tasks/cancel")
        return record.render(LEGACY)
    store.cancel(record, "cancelled by tasks/cancel")  # cooperative: a finished task keeps its state
    return complete({})


def tasks_update(store: TaskStore, request_era: str | None, params: dict[str, Any]) -> dict[str, Any]:
    if request_era != MODERN:
        raise MethodNotFound("Method not found: tasks/update is the tasks extension's (2026-07-28)")
    store.get(params.get("taskId"))
    if not isinstance(params.get("inputResponses"), dict):
        raise InvalidParams("Invalid params: inputResponses must be an object")
    return complete({})  # run_task tasks never ask for input: every response is for no outstanding key
