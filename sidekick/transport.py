"""Bytes ⇄ messages: newline-delimited JSON-RPC on a pair of file descriptors.

`LineFramer` is pure (bytes in, complete lines out) so the session can be tested without pipes.
`StdioTransport` glues it to asyncio: non-blocking pipe reads and writes, with backpressure: when the
peer stops reading our output, we stop reading its input instead of buffering without bound.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from typing import Any, Callable

log = logging.getLogger("sidekick.transport")

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
WRITE_HIGH_WATER = 4 * 1024 * 1024


class LineFramer:
    """Splits a byte stream into lines; a line longer than `max_line_bytes` is dropped and reported."""

    def __init__(self, on_line: Callable[[bytes], None], on_oversize: Callable[[int, int], None],
                 max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.on_line = on_line
        self.on_oversize = on_oversize
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._discarded = 0  # > 0 while skipping the rest of an oversize line

    def feed(self, data: bytes) -> None:
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return
            self._finish_line(data[start:end])
            start = end + 1

    def _keep(self, tail: bytes) -> None:
        if self._discarded:
            self._discarded += len(tail)
        elif len(self._buffer) + len(tail) > self.max_line_bytes:
            self._discarded = len(self._buffer) + len(tail)
            self._buffer.clear()
        else:
            self._buffer += tail

    def _deliver(self, line: bytes) -> None:
        try:
            self.on_line(line)
        except Exception:  # a handler bug must not drop the rest of this chunk
            log.exception("a line handler failed")

    def _finish_line(self, piece: bytes) -> None:
        if self._discarded:
            size, self._discarded = self._discarded + len(piece), 0
            self.on_oversize(size, self.max_line_bytes)
            return
        if self._buffer:
            self._buffer += piece
            line, self._buffer = bytes(self._buffer), bytearray()
        else:
            line = piece
        if len(line) > self.max_line_bytes:
            self.on_oversize(len(line), self.max_line_bytes)
        elif line.strip():
            self._deliver(line)

    def close(self) -> None:
        """End of input: a last line without its newline still counts."""
        if self._discarded:
            size, self._discarded = self._discarded, 0
            self.on_oversize(size, self.max_line_bytes)
        elif self._buffer.strip():
            line, self._buffer = bytes(self._buffer), bytearray()
            self._deliver(line)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_strict(data: bytes | str) -> Any:
    """`json.loads` without NaN and Infinity: JSON has neither, and a JavaScript peer cannot parse them."""
    return json.loads(data, parse_constant=_refuse_constant)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def encode_message(message: Any) -> bytes:
    """One message as one UTF-8 line of strict JSON.

    Lone surrogates from the input fall back to ASCII escapes; NaN and infinities (which a JavaScript
    peer cannot parse) become null.
    """
    try:
        text = json.dumps(message, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except ValueError:  # UnicodeEncodeError is a ValueError too
        text = json.dumps(_finite(message), separators=(",", ":"), allow_nan=False)
    try:
        return (text + "\n").encode()
    except UnicodeEncodeError:
        return (json.dumps(_finite(message), separators=(",", ":"), allow_nan=False) + "\n").encode()


class _ReadProtocol(asyncio.Protocol):
    def __init__(self, framer: LineFramer, eof: asyncio.Future[None]) -> None:
        self.framer = framer
        self.eof = eof

    def data_received(self, data: bytes) -> None:
        self.framer.feed(data)

    def eof_received(self) -> bool:
        self.framer.close()
        if not self.eof.done():
            self.eof.set_result(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof_received()


class _WriteProtocol(asyncio.Protocol):
    def __init__(self, transport: StdioTransport) -> None:
        self.owner = transport

    def pause_writing(self) -> None:
        self.owner._pause_input()

    def resume_writing(self) -> None:
        self.owner._resume_input()

    def connection_lost(self, exc: Exception | None) -> None:
        self.owner._output_lost(exc)


class StdioTransport:
    """Reads lines from `read_fd`, writes messages to `write_fd`; both are owned by the caller."""

    def __init__(self, read_fd: int, write_fd: int, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.max_line_bytes = max_line_bytes
        self.framer: LineFramer | None = None
        self.closed = asyncio.get_running_loop().create_future()  # input EOF or output gone
        self._reader: asyncio.ReadTransport | None = None
        self._writer: asyncio.WriteTransport | None = None

    async def start(self, on_line: Callable[[bytes], None], on_oversize: Callable[[int, int], None]) -> None:
        """Start reading; each complete line goes to `on_line`, each dropped oversize line to `on_oversize`."""
        loop = asyncio.get_running_loop()
        self.framer = LineFramer(on_line, on_oversize, self.max_line_bytes)
        # A terminal shares its file description with stderr: making it non-blocking would break logging,
        # so terminals (and regular files, which asyncio refuses) get blocking I/O instead.
        if not os.isatty(self.write_fd):
            try:
                self._writer, _ = await loop.connect_write_pipe(
                    lambda: _WriteProtocol(self), os.fdopen(self.write_fd, "wb", 0, closefd=False))
                self._writer.set_write_buffer_limits(high=WRITE_HIGH_WATER)
            except (ValueError, OSError):
                self._writer = None
        if not os.isatty(self.read_fd):
            try:
                self._reader, _ = await loop.connect_read_pipe(
                    lambda: _ReadProtocol(self.framer, self.closed), os.fdopen(self.read_fd, "rb", 0, closefd=False))
                return
            except (ValueError, OSError):
                self._reader = None
        threading.Thread(target=self._read_in_thread, args=(loop,), daemon=True).start()

    def _read_in_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.framer is not None
        protocol = _ReadProtocol(self.framer, self.closed)
        try:
            while chunk := os.read(self.read_fd, 1 << 16):
                loop.call_soon_threadsafe(protocol.data_received, chunk)
        except OSError as exc:
            log.info("input failed: %s", exc)
        try:
            loop.call_soon_threadsafe(protocol.eof_received)
        except RuntimeError:  # the loop already closed: nobody is waiting for this EOF
            pass

    def send(self, message: Any) -> None:
        self.write_bytes(encode_message(message))

    def write_bytes(self, data: bytes) -> None:
        if self._writer is not None:
            if not self._writer.is_closing():
                self._writer.write(data)
            return
        try:
            os.write(self.write_fd, data)
        except OSError as exc:  # EPIPE: nobody listens any more
            self._output_lost(exc)

    async def drain(self, timeout: float = 2.0) -> None:
        """Wait (bounded) until everything written has reached the pipe."""
        if self._writer is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._writer.get_write_buffer_size() and not self._writer.is_closing() and loop.time() < deadline:
            await asyncio.sleep(0.005)

    def _pause_input(self) -> None:
        if self._reader is not None:
            self._reader.pause_reading()

    def _resume_input(self) -> None:
        if self._reader is not None:
            self._reader.resume_reading()

    def _output_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.info("output closed by the peer: %s", exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        for transport in (self._reader, self._writer):
            if transport is not None:
                transport.close()
