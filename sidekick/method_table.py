"""Every method and notification on the wire: its name, who sends it, and its params and result models.

The one table both sides read: `methods.py` takes the params model each handler is validated with from here,
and schemas/ is generated from it (`python -m sidekick.schemas`), so a method cannot be served with one shape
and documented with another.
"""

from __future__ import annotations

from typing import NamedTuple

from pydantic import BaseModel

from sidekick import protocol as p
from sidekick import run_protocol as run


class WireMethod(NamedTuple):
    name: str
    direction: str  # who sends it: "host", "sidekick" or "both"
    params: type[BaseModel]
    result: type[BaseModel] | None  # None: a notification


WIRE_METHODS: tuple[WireMethod, ...] = (
    WireMethod("initialize", "host", p.InitializeParams, p.InitializeResult),
    WireMethod("notifications/initialized", "host", p.EmptyParams, None),
    WireMethod("ping", "both", p.EmptyParams, p.EmptyResult),
    WireMethod("logging/setLevel", "host", p.SetLevelParams, p.EmptyResult),
    WireMethod("tools/list", "host", p.ListToolsParams, p.ListToolsResult),
    WireMethod("tools/call", "host", p.CallToolParams, p.CallToolResult),
    WireMethod("sidekick/run", "host", run.RunParams, run.RunResult),
    WireMethod("host/callTool", "sidekick", p.HostCallToolParams, p.HostCallToolResult),
    WireMethod("notifications/cancelled", "both", p.CancelledParams, None),
    WireMethod("notifications/progress", "sidekick", p.ProgressParams, None),
    WireMethod("notifications/message", "sidekick", p.LogMessageParams, None),
)
BY_NAME = {method.name: method for method in WIRE_METHODS}
UNVALIDATED = frozenset({"ping"})  # the hot path of every health check: its params are not parsed


def params_model(name: str) -> type[BaseModel] | None:
    """The model a served method's params are validated with (None: passed on as they came)."""
    return None if name in UNVALIDATED else BY_NAME[name].params
