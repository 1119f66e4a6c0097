"""Serve one session over this process's stdin and stdout."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from dataclasses import dataclass

from sidekick.logforward import LogForwarder
from sidekick.methods import ServerState, build_methods
from sidekick.redact import RedactingFilter
from sidekick.session import Session
from sidekick.transport import DEFAULT_MAX_LINE_BYTES, StdioTransport

log = logging.getLogger("sidekick.server")


@dataclass
class ServeOptions:
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    shutdown_grace_s: float = 3.0


def claim_stdout() -> int:
    """Keep a private duplicate of fd 1 for protocol messages and point fd 1 at stderr.

    After this, a print() anywhere (a tool, a library) lands on stderr and cannot corrupt the stream.
    """
    sys.stdout.flush()
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    return protocol_fd


def default_registry():  # noqa: ANN201 - imported lazily, see ServerState.registry
    from sidekick.tools import build_registry

    return build_registry()


async def wait_until_orphaned(parent_pid: int, poll_s: float = 0.05) -> None:
    """Return once the parent that spawned us has died (we were reparented)."""
    if parent_pid <= 1:  # spawned by init: there is no parent whose death we could see
        await asyncio.Event().wait()
    while os.getppid() == parent_pid:
        await asyncio.sleep(poll_s)


async def serve(read_fd: int, write_fd: int, options: ServeOptions) -> None:
    """Serve JSON-RPC on the two descriptors until input ends or SIGTERM/SIGINT, then shut down cleanly.

    Input closed with the parent gone (a killed host) leaves no one to answer: the grace is cut short.
    """
    loop = asyncio.get_running_loop()
    parent_pid = os.getppid()
    transport = StdioTransport(read_fd, write_fd, options.max_line_bytes)
    session = Session(transport.send)

    state = ServerState(registry_factory=default_registry)
    state.log_forwarder = LogForwarder(session.notify, loop)
    state.log_forwarder.setLevel(logging.CRITICAL + 100)  # silent until logging/setLevel
    state.log_forwarder.addFilter(RedactingFilter())
    logging.getLogger("sidekick").addHandler(state.log_forwarder)
    for method in build_methods(state):
        session.add_method(method)

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await transport.start(session.receive_line, session.receive_oversize)
    stopper = loop.create_task(stop.wait())
    await asyncio.wait([transport.closed, stopper], return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    input_closed = transport.closed.done()
    log.info("shutting down (%s), %d request(s) in flight", "input or output closed" if input_closed else "signal",
             session.in_flight)
    orphaned = loop.create_task(wait_until_orphaned(parent_pid)) if input_closed else None
    await session.shutdown(options.shutdown_grace_s, input_closed=input_closed, cut_short=orphaned)
    logging.getLogger("sidekick").removeHandler(state.log_forwarder)
    if orphaned is not None and orphaned.done():
        log.info("the parent is gone: the last answers get only a moment to be read")
        await transport.drain(timeout=0.2)
    else:
        await transport.drain()
    if orphaned is not None:
        orphaned.cancel()
    transport.close()
