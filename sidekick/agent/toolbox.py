"""The tools one run may use: a subset of the registry plus the host's own tools."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from sidekick.errors import ConnectionClosedError, RemoteError, RequestTimeoutError
from sidekick.protocol import ToolSpec
from sidekick.tools.base import ToolOutput, ToolRegistry

HostCaller = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class HostGoneError(Exception):
    """The host closed the connection while the run needed one of its tools."""


def _host_text(answer: Any) -> tuple[str, bool]:
    if not isinstance(answer, dict):
        return str(answer), False
    blocks = answer.get("content") or []
    texts = [b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
    text = "\n".join(t for t in texts if isinstance(t, str))
    if not text and answer.get("structuredContent") is not None:
        import json

        text = json.dumps(answer["structuredContent"], ensure_ascii=False)
    return text, bool(answer.get("isError"))


@dataclass
class Toolbox:
    registry: ToolRegistry
    builtin_names: list[str]
    host_tools: list[ToolSpec] = field(default_factory=list)
    call_host: HostCaller | None = None

    def specs(self) -> list[dict[str, Any]]:
        specs = self.registry.specs(self.builtin_names)
        taken = {s["name"] for s in specs}
        specs += [t.model_dump(by_alias=True, exclude_none=True) for t in self.host_tools if t.name not in taken]
        return specs

    def names(self) -> list[str]:
        return [s["name"] for s in self.specs()]

    def source(self, name: str) -> str:
        if name in self.builtin_names and name in self.registry.tools:
            return "builtin"
        return "host" if any(t.name == name for t in self.host_tools) else "unknown"

    async def call(self, name: str, arguments: dict[str, Any]) -> ToolOutput:
        source = self.source(name)
        if source == "builtin":
            return await self.registry.call(name, arguments)
        if source == "unknown":
            return ToolOutput(f"Unknown tool {name!r}. Available tools: {', '.join(self.names()) or 'none'}.",
                              is_error=True)
        assert self.call_host is not None
        try:
            answer = await self.call_host(name, arguments)
        except RemoteError as exc:
            return ToolOutput(f"{name} failed on the host: {exc.message}", is_error=True)
        except RequestTimeoutError as exc:
            return ToolOutput(f"{name}: {exc}", is_error=True)
        except ConnectionClosedError as exc:
            raise HostGoneError(str(exc)) from None
        except asyncio.CancelledError:
            raise
        text, is_error = _host_text(answer)
        return ToolOutput(text or "(the host tool returned no text)", is_error=is_error)
