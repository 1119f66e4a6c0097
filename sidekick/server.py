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


async def serve(read_fd: int, write_fd: int, options: ServeOptions) -> None:
    """Serve JSON-RPC on the two descriptors until input ends or SIGTERM/SIGINT, then shut down cleanly."""
    loop = asyncio.get_running_loop()
    transport = StdioTransport(read_fd, write_fd, options.max_line_bytes)
    session = Session(transport.send)

    state = ServerState(registry_factory=default_registry)
    state.log_forwarder = LogForwarder(session.notify, loop)
    state.log_forwarder.setLevel(logging.CRITICAL + 100)  # silent until logging/setLevel
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
    await session.shutdown(options.shutdown_grace_s, input_closed=input_closed)
    logging.getLogger("sidekick").removeHandler(state.log_forwarder)
    await transport.drain()
    transport.close()
