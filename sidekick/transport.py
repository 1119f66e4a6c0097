"""Bytes ⇄ messages: newline-delimited JSON-RPC on a pair of file descriptors.

`LineFramer` is pure (bytes in, complete lines out) so the session can be tested without pipes.
`StdioTransport` glues it to asyncio: non-blocking pipe reads and writes, with backpressure: when the
peer stops reading our output, we stop reading its input instead of buffering without bound. What is sent
together leaves in one write: the answers to one chunk of input (pipelined requests) as the chunk is done,
and whatever else one loop iteration sends (tasks that finished together) at the end of that iteration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import threading
from typing import Any, Callable

from sidekick.codec import encode_message

log = logging.getLogger("sidekick.transport")

DEFAULT_MAX_LINE_BYTES = 4 * 1024 * 1024
WRITE_HIGH_WATER = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024


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
        self._loop = asyncio.get_running_loop()
        self.closed = self._loop.create_future()  # input EOF or output gone
        self._writer: asyncio.WriteTransport | None = None
        self._pollable = False  # read_fd is read from the loop (else from a thread)
        self._polling = False  # ... and registered with its selector right now
        self._input_done = False
        self._corked: list[bytes] | None = None  # sent, not yet written

    async def start(self, on_line: Callable[[bytes], None], on_oversize: Callable[[int, int], None]) -> None:
        """Start reading; each complete line goes to `on_line`, each dropped oversize line to `on_oversize`."""
        loop = self._loop
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
        if not os.isatty(self.read_fd) and self._poll_input():
            return
        threading.Thread(target=self._read_in_thread, daemon=True).start()

    def _poll_input(self) -> bool:
        # Not loop.connect_read_pipe: its 256 KiB reads cost an mmap, a page fault and a munmap each
        # (glibc's mmap threshold is 128 KiB), several times the cost of the read on a VM.
        mode = os.fstat(self.read_fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)):
            return False
        try:
            os.set_blocking(self.read_fd, False)
            self._loop.add_reader(self.read_fd, self._read_ready)
        except (ValueError, OSError):  # a device the selector cannot poll (/dev/null)
            os.set_blocking(self.read_fd, True)
            return False
        self._pollable = self._polling = True
        return True

    def _read_ready(self) -> None:
        try:
            data = os.read(self.read_fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.info("input failed: %s", exc)
            data = b""
        if data:
            self._feed(data)
        else:
            self._stop_polling()
            self._input_ended()

    def _read_in_thread(self) -> None:
        loop = self._loop
        try:
            while chunk := os.read(self.read_fd, READ_CHUNK):
                loop.call_soon_threadsafe(self._feed, chunk)
        except OSError as exc:
            log.info("input failed: %s", exc)
        try:
            loop.call_soon_threadsafe(self._input_ended)
        except RuntimeError:  # the loop already closed: nobody is waiting for this EOF
            pass

    def _feed(self, data: bytes) -> None:
        assert self.framer is not None
        if self._corked is None:
            self._corked = []
        try:
            self.framer.feed(data)
        finally:
            self._uncork()

    def _input_ended(self) -> None:
        if self._input_done:
            return
        self._input_done = True
        assert self.framer is not None
        if self._corked is None:
            self._corked = []
        try:
            self.framer.close()
        finally:
            self._uncork()
        if not self.closed.done():
            self.closed.set_result(None)

    def _uncork(self) -> None:
        pending, self._corked = self._corked, None
        if pending:
            self._write(pending[0] if len(pending) == 1 else b"".join(pending))

    def send(self, message: Any) -> None:
        self.write_bytes(encode_message(message))

    def write_bytes(self, data: bytes) -> None:
        """Send `data`: written with whatever else is sent in this chunk's handling or loop iteration."""
        if self._corked is None:
            self._corked = []
            self._loop.call_soon(self._uncork)
        self._corked.append(data)

    def _write(self, data: bytes) -> None:
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
        self._uncork()
        if self._writer is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._writer.get_write_buffer_size() and not self._writer.is_closing() and loop.time() < deadline:
            await asyncio.sleep(0.005)

    def _pause_input(self) -> None:
        self._stop_polling()

    def _resume_input(self) -> None:
        if self._pollable and not self._polling and not self._input_done:
            self._loop.add_reader(self.read_fd, self._read_ready)
            self._polling = True

    def _stop_polling(self) -> None:
        if self._polling:
            self._polling = False
            self._loop.remove_reader(self.read_fd)

    def _output_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            log.info("output closed by the peer: %s", exc)
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        self._uncork()
        self._stop_polling()
        if self._writer is not None:
            self._writer.close()
