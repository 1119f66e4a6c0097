"""The tools one run may use: a subset of the registry plus the host's own tools."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from pydantic import ValidationError

from sidekick.errors import (
    ConnectionClosedError,
    HostToolError,
    RemoteError,
    RequestTimeoutError,
    describe_validation_error,
)
from sidekick.protocol import MAX_VALUE_DEPTH, HostCallToolResult, ToolSpec, cut_depth, nests_within
from sidekick.tools.base import ToolOutput, ToolRegistry

HostCaller = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]


class HostGoneError(HostToolError):
    """The host closed the connection while the run needed one of its tools: the run cannot go on."""

    MESSAGE = "The host went away"
    kind = "host_gone"


def _host_text(answer: Any) -> tuple[str, bool]:
    try:
        result = HostCallToolResult.model_validate(answer)
    except ValidationError as exc:
        return f"The host answered in an unexpected shape: {describe_validation_error(exc, root='result')}", True
    texts = [b["text"] for b in result.content if b.get("type") == "text" and isinstance(b.get("text"), str)]
    text = "\n".join(texts)
    if not text and result.structured_content is not None:
        text = json.dumps(cut_depth(result.structured_content), ensure_ascii=False)
    return text, result.is_error


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
        if source == "unknown":
            return ToolOutput(f"Unknown tool {name!r}. Available tools: {', '.join(self.names()) or 'none'}.",
                              is_error=True)
        if not nests_within(arguments):  # too deep to send to the host, or for any tool to need
            return ToolOutput(f"Invalid arguments for {name}: nested deeper than {MAX_VALUE_DEPTH} levels; "
                              "send a flatter JSON object", is_error=True)
        if source == "builtin":
            return await self.registry.call(name, arguments)
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
