from __future__ import annotations

import logging
import os
import threading
from typing import Iterator

import pytest

from sidekick.stderr_log import NonBlockingStderrHandler

DEADLINE_S = 20.0


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_fd, write_fd = os.pipe()
    yield read_fd, write_fd
    for fd in (read_fd, write_fd):
        try:
            os.close(fd)
        except OSError:
            pass


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("test", logging.INFO, __file__, 1, message, None, None)


def read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_reader_that_never_reads_costs_dropped_lines_never_a_blocked_caller(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    handler = NonBlockingStderrHandler(write_fd, max_bytes=4096)
    line = "x" * 1000
    emitted = threading.Event()

    def log_a_lot() -> None:
        for i in range(1000):  # 1 MB: 15 times a pipe, 250 times the queue
            handler.emit(record(f"{i} {line}"))
        emitted.set()

    threading.Thread(target=log_a_lot, daemon=True).start()
    assert emitted.wait(DEADLINE_S), "logging blocked while nobody read stderr"
    assert handler.dropped_total > 0
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(read_fd)), daemon=True)
    reader.start()
    assert handler.wait_written(DEADLINE_S)
    handler.emit(record("after the jam"))
    handler.close()
    os.close(write_fd)
    reader.join(DEADLINE_S)
    lines = received[0].decode().splitlines()
    notices = [n for n in lines if "log line(s) dropped" in n]
    assert sum(int(n.split()[1]) for n in notices) == handler.dropped_total
    assert lines[-1] == "after the jam" and lines[-2] == notices[-1]  # reported where the lines went missing
    kept = [n for n in lines if n.endswith(line)]
    assert len(kept) + handler.dropped_total == 1000 and lines[0] == f"0 {line}"


def test_lines_are_written_in_order_when_the_reader_keeps_up(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    handler = NonBlockingStderrHandler(write_fd)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(read_all(read_fd)), daemon=True)
    reader.start()
    for i in range(200):
        handler.emit(record(f"line {i}"))
    handler.close()
    os.close(write_fd)
    reader.join(DEADLINE_S)
    assert received[0].decode().splitlines() == [f"line {i}" for i in range(200)] and handler.dropped_total == 0


def test_a_closed_reader_ends_writing_quietly(pipe: tuple[int, int]) -> None:
    read_fd, write_fd = pipe
    os.close(read_fd)
    handler = NonBlockingStderrHandler(write_fd)
    handler.emit(record("nobody hears this"))  # EPIPE in the writer thread, not here
    handler.close()
    handler.emit(record("nor this"))
