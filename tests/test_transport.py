from __future__ import annotations

import json

from hypothesis import given, strategies as st

from sidekick.transport import LineFramer, encode_message


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
