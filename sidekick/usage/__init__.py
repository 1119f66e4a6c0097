"""Usage metrics: every run and tool call recorded in a local SQLite file (read by `sidekick stats`) and, with
the `otel` extra and OTEL_EXPORTER_OTLP_ENDPOINT set, exported as OpenTelemetry GenAI spans and metrics.

Both are run-hook consumers that `build_run` adds to each run (`run_consumers`); nothing is opened, imported
or started before the first run, so serving and cold start do not pay for them. The environment decides:

- SIDEKICK_USAGE=off (or 0, false, no): record nothing.
- SIDEKICK_USAGE_DB: the database file (default $XDG_STATE_HOME/sidekick/usage.db, else
  ~/.local/state/sidekick/usage.db).
- SIDEKICK_USAGE_CONTENT=1: also keep task, answer, tool arguments and result text (off by default).
- SIDEKICK_USAGE_RETENTION_DAYS (default 90) and SIDEKICK_USAGE_MAX_MB (default 64): older runs, then the
  oldest past the size, are pruned by the writer thread.
- OTEL_EXPORTER_OTLP_ENDPOINT (and the other standard OTEL_* variables): export over OTLP/HTTP.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sidekick.run_protocol import RunParams
    from sidekick.tools.base import ToolRegistry
    from sidekick.usage.recorder import UsageWriter
    from sidekick.usage.store import Retention

log = logging.getLogger("sidekick.usage")

DEFAULT_RETENTION_DAYS = 90.0
DEFAULT_MAX_MB = 64.0
OFF = {"off", "0", "false", "no"}
MAX_LABEL_CHARS = 64
_writer: UsageWriter | None = None
_otel_warned = False


def enabled() -> bool:
    """Whether runs are recorded (SIDEKICK_USAGE is not off)."""
    return os.environ.get("SIDEKICK_USAGE", "").strip().lower() not in OFF


def db_path() -> Path:
    """$SIDEKICK_USAGE_DB, else $XDG_STATE_HOME/sidekick/usage.db, else ~/.local/state/sidekick/usage.db."""
    explicit = os.environ.get("SIDEKICK_USAGE_DB")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "sidekick" / "usage.db"


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1
    if value <= 0:
        log.warning("%s must be a positive number, got %r; using %g", name, raw, default)
        return default
    return value


def retention() -> Retention:
    """The retention the environment asks for (SIDEKICK_USAGE_RETENTION_DAYS, SIDEKICK_USAGE_MAX_MB)."""
    from sidekick.usage.store import Retention

    return Retention(days=_number("SIDEKICK_USAGE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS),
                     max_bytes=int(_number("SIDEKICK_USAGE_MAX_MB", DEFAULT_MAX_MB) * 1024 * 1024))


def writer() -> UsageWriter | None:
    """This process's writer for the current database path; None when usage is off."""
    global _writer
    if not enabled():
        return None
    path = db_path()
    if _writer is None or _writer.path != path:
        from sidekick.usage.recorder import UsageWriter

        if _writer is not None:
            _writer.close()
        _writer = UsageWriter(path, retention())
    return _writer


def finish() -> None:
    """Write what is queued and export what is buffered, within a few seconds: for an exit that skips atexit
    (the stdio server's os._exit when a tool thread is stuck). Costs nothing when no run was observed."""
    if _writer is not None:
        _writer.close()
    otel = sys.modules.get("sidekick.usage.otel")
    if otel is not None and otel._telemetry is not None:
        otel._telemetry.shutdown()


def _label(value: Any) -> str | None:
    return value.strip()[:MAX_LABEL_CHARS] or None if isinstance(value, str) else None


def meta_value(params: RunParams, key: str) -> Any:
    """A member of the request's `_meta` beyond the ones the protocol names (traceparent, category)."""
    extra = params.meta.model_extra if params.meta is not None else None
    return (extra or {}).get(key)


def tracing_meta(meta: Any) -> dict[str, str] | None:
    """What of a request's `_meta` the run's records read (traceparent, tracestate, category), for a run built
    from another request's params (the MCP tool run_task)."""
    if not isinstance(meta, dict):
        return None
    kept = {key: meta[key] for key in ("traceparent", "tracestate", "category") if isinstance(meta.get(key), str)}
    return kept or None


def category_of(params: RunParams) -> str | None:
    """The run's category label: `_meta.category`, else `context.category`."""
    return _label(meta_value(params, "category")) or _label((params.context or {}).get("category"))


def provider_of(params: RunParams) -> str:
    return (params.model.provider if params.model else None) or os.environ.get("SIDEKICK_MODEL_PROVIDER") or "openai"


def plugin_tools(registry: ToolRegistry) -> frozenset[str]:
    """Registry tools that did not come with the sidekick (their source is "plugin" in the usage store)."""
    return frozenset(name for name, tool in registry.tools.items() if not type(tool).__module__.startswith("sidekick."))


def _telemetry() -> Any:
    global _otel_warned
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or \
            os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    import importlib.util

    if importlib.util.find_spec("opentelemetry.sdk") is None or \
            importlib.util.find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        if not _otel_warned:
            _otel_warned = True
            log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed: "
                        "pip install 'eliza-sidekick[otel]'")
        return None
    from sidekick.usage.otel import telemetry

    return telemetry()


def run_consumers(params: RunParams, registry: ToolRegistry, *, model: Any = None,
                  client: str | None = None) -> list[object]:
    """The usage and tracing consumers of one run (none when both are off)."""
    consumers: list[object] = []
    usage = writer()
    if usage is not None:
        from sidekick.usage.recorder import UsageRun

        consumers.append(UsageRun(usage, plugin_tools=plugin_tools(registry), client=client,
                                  category=category_of(params), provider=provider_of(params),
                                  content=os.environ.get("SIDEKICK_USAGE_CONTENT", "").strip() == "1"))
    telemetry = _telemetry()
    if telemetry is not None:
        from sidekick.usage.otel import OtelRun

        settings = getattr(model, "settings", None)
        consumers.append(OtelRun(telemetry, provider=provider_of(params), base_url=getattr(settings, "base_url", None),
                                 traceparent=meta_value(params, "traceparent"),
                                 tracestate=meta_value(params, "tracestate")))
    return consumers
