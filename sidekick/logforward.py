"""Forward the sidekick's own log records to the host as MCP `notifications/message`."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Callable

from sidekick.protocol import LogMessageParams, to_wire

MCP_TO_PYTHON = {
    "debug": logging.DEBUG, "info": logging.INFO, "notice": logging.INFO + 5, "warning": logging.WARNING,
    "error": logging.ERROR, "critical": logging.CRITICAL, "alert": logging.CRITICAL + 5,
    "emergency": logging.CRITICAL + 10,
}


def mcp_level(levelno: int) -> str:
    """The MCP name of a Python log level (the highest MCP level not above it)."""
    name = "debug"
    for mcp_name, value in MCP_TO_PYTHON.items():
        if levelno >= value:
            name = mcp_name
    return name


class LogForwarder(logging.Handler):
    """A logging handler that sends records as notifications; safe from any thread, never recursive."""

    def __init__(self, notify: Callable[[str, dict[str, Any]], None], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(logging.NOTSET)
        self._notify = notify
        self._loop = loop
        self._busy = threading.local()

    def set_mcp_level(self, level: str) -> None:
        self.setLevel(MCP_TO_PYTHON[level])
        logger = logging.getLogger("sidekick")
        if logger.getEffectiveLevel() > self.level:
            logger.setLevel(self.level)

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(self._busy, "active", False):
            return
        self._busy.active = True
        try:
            params = to_wire(LogMessageParams(level=mcp_level(record.levelno), logger=record.name,
                                              data=record.getMessage()))
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                self._notify("notifications/message", params)
            elif not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._notify, "notifications/message", params)
        except Exception:
            self.handleError(record)
        finally:
            self._busy.active = False
