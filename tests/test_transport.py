from __future__ import annotations

import asyncio
import json
import os
from typing import Iterator

import pytest
from hypothesis import given, strategies as st

from sidekick.codec import encode_message, loads_strict
from sidekick.transport import LineFramer, StdioTransport


def framer(limit: int = 64) -> tuple[LineFramer, list[bytes], list[tuple[int, int]]]:
    lines: list[bytes] = []
    oversize: list[tuple[int, int]] = []
    return LineFramer(lines.append, lambda size, lim: oversize.append((size, lim)), limit), lines, oversize


def test_lines_split_across_chunks_are_joined() -> None:
    f, lines, _ = framer()
    f.feed(b'{"a":')
    f.feed(b'1}\n{"b"')
    f.feed(b':2}\n')
    assert lines == [b'{"a":1}', b'{"b":2}']


def test_blank_lines_are_skipped_and_last_line_without_newline_counts_at_eof() -> None:
    f, lines, _ = framer()
    f.feed(b"\n\r\n  \n{}")
    f.close()
    assert lines == [b"{}"]


def test_oversize_line_is_reported_once_and_the_stream_continues() -> None:
    f, lines, oversize = framer(limit=10)
    f.feed(b"x" * 8)
    f.feed(b"y" * 30)
    f.feed(b"z" * 5 + b"\n{}\n")
    assert oversize == [(43, 10)]
    assert lines == [b"{}"]


def test_oversize_line_in_one_chunk() -> None:
    f, lines, oversize = framer(limit=10)
    f.feed(b"a" * 11 + b"\nok\n")
    assert oversize == [(11, 10)] and lines == [b"ok"]


def test_unterminated_oversize_line_is_reported_at_eof() -> None:
    f, lines, oversize = framer(limit=4)
    f.feed(b"123456")
    f.close()
    assert oversize == [(6, 4)] and lines == []


@given(st.lists(st.binary(max_size=20).filter(lambda b: b"\n" not in b and b.strip()), max_size=10),
       st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=5))
def test_any_chunking_gives_the_same_lines(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(p + b"\n" for p in pieces)
    f, lines, _ = framer(limit=1000)
    position, i = 0, 0
    while position < len(data):
        step = cuts[i % len(cuts)]
        f.feed(data[position:position + step])
        position += step
        i += 1
    assert lines == pieces


def test_encode_message_is_one_utf8_line_even_with_newlines_and_lone_surrogates() -> None:
    line = encode_message({"text": "a\nb é"})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["text"] == "a\nb é"
    odd = encode_message({"text": "\ud800"})
    assert odd.decode("utf-8").count("\n") == 1
    assert json.loads(odd)["text"] == "\ud800"


def test_nan_and_infinity_never_reach_the_wire() -> None:
    line = encode_message({"result": {"x": float("nan"), "y": [float("inf"), 1.5], "z": "\ud800"}})
    assert json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c))) == {
        "result": {"x": None, "y": [None, 1.5], "z": "\ud800"}}


def test_a_failing_line_handler_does_not_drop_the_rest_of_the_chunk() -> None:
    seen: list[bytes] = []

    def handler(line: bytes) -> None:
        if line == b"bad":
            raise RuntimeError("bug")
        seen.append(line)

    LineFramer(handler, lambda size, limit: None).feed(b"one\nbad\ntwo\n")
    assert seen == [b"one", b"two"]


# -- one decoder, one encoder --------------------------------------------------------------------
def test_strict_loads_and_encoding_build_no_decoder_or_encoder_per_call(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    for cls in (json.JSONDecoder, json.JSONEncoder):
        original = cls.__init__
        monkeypatch.setattr(cls, "__init__", lambda self, *a, _o=original, _n=cls.__name__, **k: (
            built.append(_n), _o(self, *a, **k))[1])
    for _ in range(3):
        assert loads_strict(b'{"jsonrpc":"2.0","id":1,"method":"ping"}')["id"] == 1
        assert encode_message({"result": {"é": 1}}) == '{"result":{"é":1}}\n'.encode()
    assert built == []


def test_strict_loads_keeps_json_loads_semantics() -> None:
    assert loads_strict("[1]") == [1] and loads_strict(bytearray(b"2")) == 2
    assert loads_strict(b'\xef\xbb\xbf{"a":1}') == {"a": 1}  # a UTF-8 BOM on bytes is skipped, as json.loads does
    for bad in (b'{"x":NaN}', b"[Infinity]", b"[-Infinity]"):
        with pytest.raises(ValueError, match="not valid JSON"):
            loads_strict(bad)
    with pytest.raises(json.JSONDecodeError, match="BOM"):
        loads_strict('\ufeff{"a":1}')
    with pytest.raises(UnicodeDecodeError):
        loads_strict(b'{"a":"\xff"}')


# -- StdioTransport on real pipes ----------------------------------------------------------------
class Pipes:
    """The transport between two pipes: this test writes its input and reads its output."""

    def __init__(self) -> None:
        self.in_read, self.in_write = os.pipe()
        self.out_read, self.out_write = os.pipe()
        os.set_blocking(self.out_read, False)
        self._buffer = b""

    async def read_lines(self, count: int, timeout: float = 5.0) -> list[bytes]:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._buffer.count(b"\n") < count:
            assert asyncio.get_running_loop().time() < deadline, f"got {self._buffer!r}"
            try:
                self._buffer += os.read(self.out_read, 1 << 16)
            except BlockingIOError:
                await asyncio.sleep(0.001)
        lines = self._buffer.split(b"\n")
        self._buffer = b"\n".join(lines[count:])
        return lines[:count]

    def close(self) -> None:
        for fd in (self.in_read, self.in_write, self.out_read, self.out_write):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    p = Pipes()
    yield p
    p.close()


async def test_what_is_sent_together_leaves_in_one_write(pipes: Pipes, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = StdioTransport(pipes.in_read, pipes.out_write)
    writes: list[int] = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: (writes.append(fd) if fd == pipes.out_write else None,
                                                       real_write(fd, data))[1])
    await transport.start(lambda line: transport.send({"echo": loads_strict(line)["id"]}), lambda size, limit: None)
    try:
        real_write(pipes.in_write, b'{"id":1}\n{"id":2}\n{"id":3}\n')
        assert await pipes.read_lines(3) == [b'{"echo":1}', b'{"echo":2}', b'{"echo":3}']
        assert writes == [pipes.out_write]
        transport.send({"task": 1})  # sent in one loop iteration (tasks that finished together)
        transport.send({"task": 2})
        assert await pipes.read_lines(2) == [b'{"task":1}', b'{"task":2}']
        assert writes == [pipes.out_write] * 2
        transport.send({"last": True})
    finally:
        transport.close()  # writes what is still corked
    assert await pipes.read_lines(1) == [b'{"last":true}']


async def test_input_is_read_in_chunks_below_the_mmap_threshold_and_eof_ends_it(
        pipes: Pipes, monkeypatch: pytest.MonkeyPatch) -> None:
    sizes: list[int] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: (sizes.append(n) if fd == pipes.in_read else None,
                                                   real_read(fd, n))[1])
    lines: list[bytes] = []
    transport = StdioTransport(pipes.in_read, pipes.out_write)
    await transport.start(lines.append, lambda size, limit: None)
    try:
        os.write(pipes.in_write, b'{"a":1}\n{"b":')
        os.write(pipes.in_write, b"2}")
        os.close(pipes.in_write)
        await asyncio.wait_for(transport.closed, 5)
        assert lines == [b'{"a":1}', b'{"b":2}']  # the last line without its newline counts at EOF
        assert sizes and max(sizes) <= 128 * 1024  # glibc serves larger buffers with mmap: a page fault per read
    finally:
        transport.close()
