"""The eval harness as the host: `sidekick/run` over a `SidekickClient`, as Eliza does, one environment per run.

Each run sends the suite's tools as `hostTools`, and every `host/callTool` the sidekick sends is answered by
running that tool in the environment of the run it belongs to. The sidekick names that run: it puts the id of
our `sidekick/run` request in the call's `_meta.relatedRequestId`, and advertises doing so with
`experimental.sidekick.hostToolMeta`; then all runs share one process. Without it a call cannot be attributed
while two runs are in flight, so it is refused rather than guessed, and the pool starts one process per
concurrent run instead.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from sidekick.client import SIDEKICK_COMMAND, SidekickClient
from sidekick.errors import InvalidParams
from sidekick.evals.suite import Environment

CLOSE_GRACE_S = 5.0
INIT_TIMEOUT_S = 30.0


class SidekickChild:
    """One `sidekick --stdio` child whose host tool calls run in the environment of the run they belong to."""

    def __init__(self, client: SidekickClient) -> None:
        self.client = client
        self._ids = itertools.count(1)
        self._runs: dict[str, Environment] = {}
        client.on_host_tool = self._call_tool

    @classmethod
    async def start(cls, command: list[str] | None = None, env: dict[str, str] | None = None) -> SidekickChild:
        """Spawn and initialize `command`, by default this Python's sidekick logging only errors."""
        client = await SidekickClient.spawn(
            command=command or [*SIDEKICK_COMMAND, "--log-level", "error"], env=env, capture_stderr=True,
            client_name="sidekick-eval", init_timeout=INIT_TIMEOUT_S)
        return cls(client)

    @property
    def proc(self) -> asyncio.subprocess.Process:
        """The child process."""
        return self.client.process

    @property
    def tags_host_calls(self) -> bool:
        """Whether the child names the run of each host/callTool (`hostToolMeta`)."""
        experimental = self.client.capabilities.get("experimental") or {}
        return bool((experimental.get("sidekick") or {}).get("hostToolMeta"))

    async def run(self, params: dict[str, Any], environment: Environment) -> dict[str, Any]:
        """One `sidekick/run` whose host tools execute in `environment`; returns the run's result."""
        request_id = f"eval-{next(self._ids)}"
        self._runs[request_id] = environment
        try:
            return await self.client.request("sidekick/run", params, request_id=request_id)
        finally:
            self._runs.pop(request_id, None)

    async def _call_tool(self, name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        related = meta.get("relatedRequestId")
        if related is None:  # an untagged call is attributable only while a single run is in flight
            environment = next(iter(self._runs.values())) if len(self._runs) == 1 else None
        else:  # a tag we do not know (a run already finished or withdrawn) must not reach another run
            environment = self._runs.get(related) if isinstance(related, (str, int)) else None
        if environment is None:
            raise InvalidParams("host/callTool: cannot tell which run this call belongs to")
        result = environment.call(name, arguments)
        return {"content": [{"type": "text", "text": result.text}], "isError": result.is_error}

    async def close(self) -> None:
        """End stdin, wait, then SIGTERM, then SIGKILL."""
        await self.client.close(CLOSE_GRACE_S)


class HostPool:
    """Bounded concurrent runs over as few sidekick processes as correct attribution allows."""

    def __init__(self, children: list[SidekickChild], concurrency: int) -> None:
        self.children = children
        self._free: asyncio.Queue[SidekickChild] = asyncio.Queue()
        for slot in range(concurrency):
            self._free.put_nowait(children[slot % len(children)])

    @classmethod
    async def start(cls, concurrency: int, command: list[str] | None = None) -> HostPool:
        """One child if it tags its host calls, else one per concurrent run."""
        first = await SidekickChild.start(command)
        children = [first]
        try:
            if not first.tags_host_calls and concurrency > 1:
                started = await asyncio.gather(*(SidekickChild.start(command) for _ in range(concurrency - 1)),
                                               return_exceptions=True)
                children += [c for c in started if isinstance(c, SidekickChild)]
                failures = [e for e in started if isinstance(e, BaseException)]
                if failures:
                    raise failures[0]
        except BaseException:  # including cancellation: no child may outlive a pool that never started
            await asyncio.gather(*(child.close() for child in children))
            raise
        return cls(children, concurrency)

    async def run(self, params: dict[str, Any], environment: Environment) -> dict[str, Any]:
        """One run on the next free slot."""
        child = await self._free.get()
        try:
            return await child.run(params, environment)
        finally:
            self._free.put_nowait(child)

    async def close(self) -> None:
        """Close every child."""
        await asyncio.gather(*(child.close() for child in self.children))
