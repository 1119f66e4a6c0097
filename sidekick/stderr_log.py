"""Log lines to stderr without ever blocking the thread that logs.

A host that does not read our stderr fills the pipe, and a blocking write would then stall the event
loop and with it every request. Records are formatted by the caller and queued; a daemon thread writes
them. While the queue holds `max_bytes`, new lines are dropped and counted, and the count is written in
their place as soon as stderr takes writes again.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import threading

DEFAULT_MAX_BYTES = 256 * 1024
CLOSE_WAIT_S = 1.0


def dropped_notice(count: int) -> bytes:
    return f"sidekick: {count} log line(s) dropped: stderr was not being read\n".encode()


class NonBlockingStderrHandler(logging.Handler):
    """A logging handler writing to `fd` from its own thread, through a queue bounded in bytes."""

    def __init__(self, fd: int = 2, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        super().__init__()
        self.fd = fd
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued_bytes = 0
        self._dropped_unreported = 0
        self._writing = False
        self._closed = False
        self._broken = False  # stderr is gone (EPIPE): nobody will read anything again
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._write_forever, name="sidekick-stderr", daemon=True)
        self._thread.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            data = (self.format(record) + "\n").encode("utf-8", "replace")
        except Exception:
            self.handleError(record)
            return
        with self._ready:
            if self._broken or self._closed:
                return
            if self._queued_bytes + len(data) > self.max_bytes:
                self._dropped_unreported += 1
                self.dropped_total += 1
                return
            if self._dropped_unreported:
                self._put(dropped_notice(self._dropped_unreported))
                self._dropped_unreported = 0
            self._put(data)
            self._ready.notify()

    def _put(self, data: bytes) -> None:
        self._queue.append(data)
        self._queued_bytes += len(data)

    def _write_forever(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                chunk = b"".join(self._queue)
                self._queue.clear()
                self._writing = True
            try:
                self._write_all(chunk)
                broken = False
            except OSError:
                broken = True
            with self._ready:
                self._queued_bytes -= len(chunk)
                self._writing = False
                if broken:
                    self._broken = True
                    self._queue.clear()
                    self._queued_bytes = 0
                self._ready.notify_all()

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:  # stderr shares a non-blocking file description with stdout
                select.select([], [self.fd], [])

    def wait_written(self, timeout: float) -> bool:
        """Wait, at most `timeout` seconds, until every queued line is written; False if some are not."""
        with self._ready:
            return self._ready.wait_for(lambda: self._broken or not (self._queue or self._writing), timeout)

    def close(self) -> None:
        """Report lines still counted as dropped, and give the writer a bounded time to finish."""
        with self._ready:
            if self._dropped_unreported and not self._broken:
                self._put(dropped_notice(self._dropped_unreported))
                self._dropped_unreported = 0
            self._ready.notify_all()
        self.wait_written(CLOSE_WAIT_S)
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        super().close()
