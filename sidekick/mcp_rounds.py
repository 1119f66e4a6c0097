"""Host tools under 2026-07-28: multi-round-trip `sidekick/run`.

That revision forbids requests from server to client, so `host/callTool` cannot be sent. Instead, when the
model calls a host tool, `sidekick/run` answers `input_required`: `inputRequests` holds one
`{"method": "host/callTool", "params": {name, arguments}}` per call the run waits on, and `requestState` a
handle. The host runs them and retries `sidekick/run` with the same params plus `inputResponses`
(key → `{content, isError}`) and that `requestState`; the run goes on and the retry is answered with the
next `input_required` or the result. Only a client that declares our extension (`SIDEKICK_EXTENSION`) in
its capabilities gets input requests; any other run with host tools is refused at once (-32021).

The run itself stays in this process between the rounds (a model conversation cannot be put into an opaque
string): `requestState` is an unguessable handle, used once, bound to the run's task text, and it lapses
after `hostToolTimeoutMs` without a retry (the run is then cancelled). Cancelling a round's request cancels
the run. Progress goes to whichever round's request is waiting.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from sidekick.errors import InvalidParams
from sidekick.mcp_era import complete

if TYPE_CHECKING:
    from sidekick.dispatch import RequestContext

HOST_CALL = "host/callTool"


def fingerprint(task: str) -> str:
    return hashlib.sha256(task.encode()).hexdigest()


@dataclass
class _Pending:
    name: str
    arguments: dict[str, Any]
    future: asyncio.Future[Any]


@dataclass
class SuspendedRun:
    """One run with host tools, driven round by round by `sidekick/run` requests."""

    task_digest: str
    timeout_s: float
    ctx: RequestContext | None = None  # the round's request, while one is waiting
    runner: asyncio.Task[Any] | None = None
    pending: dict[str, _Pending] = field(default_factory=dict)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    expiry: asyncio.TimerHandle | None = None
    _keys: Any = field(default_factory=lambda: itertools.count(1))

    async def call_host(self, name: str, arguments: dict[str, Any]) -> Any:
        """The run's host caller: park the call until a retry brings its answer."""
        key = f"host-{next(self._keys)}"  # unique over the run's lifetime, never reused
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = _Pending(name, arguments, future)
        self.changed.set()
        try:
            return await future
        finally:
            self.pending.pop(key, None)

    def progress(self, value: int, message: str) -> None:
        if self.ctx is not None:
            self.ctx.progress(value, message)

    def answer(self, responses: dict[str, Any]) -> None:
        """Hand each awaited call its answer; keys not outstanding are ignored (MRTR "SHOULD ignore")."""
        for key, response in responses.items():
            pending = self.pending.get(key)
            if pending is not None and not pending.future.done():
                pending.future.set_result(response)

    def waiting(self) -> dict[str, Any]:
        return {key: {"method": HOST_CALL, "params": {"name": p.name, "arguments": p.arguments}}
                for key, p in self.pending.items() if not p.future.done()}


def _retrieve(task: asyncio.Task[Any]) -> None:
    # A run that ends while no round waits (its timeoutMs passed, then its requestState lapsed) has nobody
    # to read its outcome: read it here so asyncio does not report it as never retrieved.
    if not task.cancelled():
        task.exception()


class Rounds:
    """The runs waiting for their host between rounds, by requestState."""

    def __init__(self) -> None:
        self._suspended: dict[str, SuspendedRun] = {}

    def begin(self, task: str, timeout_s: float) -> SuspendedRun:
        return SuspendedRun(fingerprint(task), timeout_s)

    def resume(self, state: Any, task: str) -> SuspendedRun:
        run = self._suspended.pop(state, None) if isinstance(state, str) else None
        if run is None:
            raise InvalidParams("Invalid params: requestState is unknown, already used or expired; "
                                "start the run again without requestState")
        if run.task_digest != fingerprint(task):
            self._suspended[state] = run
            raise InvalidParams("Invalid params: requestState belongs to a run of another task")
        if run.expiry is not None:
            run.expiry.cancel()
        return run

    async def advance(self, run: SuspendedRun, ctx: RequestContext,
                      start: Callable[[SuspendedRun], Awaitable[Any]] | None = None,
                      track: Callable[[asyncio.Task[Any]], None] | None = None) -> Any:
        """Serve one round: start the run (first round, `track` keeps it for shutdown) or go on with it, until
        it ends (its result) or waits for the host (an input_required result dict)."""
        run.ctx = ctx
        try:
            if start is not None:
                run.runner = asyncio.get_running_loop().create_task(start(run))
                run.runner.add_done_callback(_retrieve)
                if track is not None:
                    track(run.runner)
            assert run.runner is not None
            while True:
                waiting = run.waiting()
                if waiting:
                    return self._suspend(run, waiting)
                if run.runner.done():
                    return run.runner.result()
                run.changed.clear()
                changed = asyncio.ensure_future(run.changed.wait())
                try:
                    await asyncio.wait({run.runner, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
        except asyncio.CancelledError:  # the round's request was cancelled (or the server is stopping)
            if run.runner is not None:
                run.runner.cancel()
            raise
        finally:
            run.ctx = None

    def _suspend(self, run: SuspendedRun, waiting: dict[str, Any]) -> dict[str, Any]:
        state = secrets.token_urlsafe(24)
        self._suspended[state] = run
        run.expiry = asyncio.get_running_loop().call_later(run.timeout_s, self._expire, state)
        return complete({"inputRequests": waiting, "requestState": state}, "input_required")

    def _expire(self, state: str) -> None:
        run = self._suspended.pop(state, None)
        if run is not None and run.runner is not None:
            run.runner.cancel()
