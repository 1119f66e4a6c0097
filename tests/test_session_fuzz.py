"""Random bytes and random JSON thrown at transport + session: every request gets exactly one answer."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import given, settings, strategies as st

from sidekick.dispatch import Method, RequestContext
from sidekick.session import Session
from sidekick.codec import encode_message
from sidekick.transport import LineFramer

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
methods = st.sampled_from(["ping", "slow", "nope", "notifications/initialized", "notifications/cancelled"])
envelopes = st.fixed_dictionaries(
    {"jsonrpc": st.sampled_from(["2.0", "2.0", "2.0", "1.0"]), "method": methods | st.integers()},
    optional={"params": st.dictionaries(st.sampled_from(["requestId", "x", "_meta"]), json_values, max_size=3)
              | json_values, "id": st.integers(-5, 5) | st.text(max_size=3) | json_values},
)
lines = st.lists(
    st.one_of(
        envelopes.map(lambda m: json.dumps(m).encode()),
        st.lists(envelopes, max_size=4).map(lambda m: json.dumps(m).encode()),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=40),
    ),
    max_size=25,
)


def answerable_ids(value: Any) -> list[Any]:
    """Ids that must be answered: every request object whose id is usable, valid envelope or not."""
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if not isinstance(item, dict) or "id" not in item:
            continue
        if "method" not in item and ("result" in item or "error" in item):
            continue  # a response to us, never answered
        rid = item["id"]
        if isinstance(rid, bool) or not isinstance(rid, (int, str)):
            continue
        ids.append(rid)
    return ids


def well_formed(message: Any) -> bool:
    if isinstance(message, list):
        return bool(message) and all(well_formed(m) for m in message)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return False
    if "method" in message:
        return True
    return "id" in message and (("result" in message) != ("error" in message))


async def slow(ctx: RequestContext, params: Any) -> dict[str, Any]:
    await asyncio.sleep(0)
    return {"slow": True}


async def exercise(chunks: list[bytes]) -> list[Any]:
    sent: list[Any] = []

    def send(message: Any) -> None:
        strict_loads(encode_message(message))  # everything sent encodes as one line of strict JSON
        sent.append(message)

    session = Session(send)
    session.add_method(Method("ping", lambda ctx, params: {}))
    session.add_method(Method("slow", slow))
    framer = LineFramer(session.receive_line, session.receive_oversize, max_line_bytes=4096)
    for chunk in chunks:
        framer.feed(chunk + b"\n")
    framer.close()
    await session.shutdown(grace=5.0, input_closed=True)
    return sent


def strict_loads(data: bytes | str) -> Any:
    def refuse(name: str) -> Any:
        raise ValueError(name)
    return json.loads(data, parse_constant=refuse)


def cancelled_ids(value: Any) -> set[str]:
    items = value if isinstance(value, list) else [value]
    return {json.dumps(item["params"].get("requestId")) for item in items
            if isinstance(item, dict) and item.get("method") == "notifications/cancelled" and "id" not in item
            and isinstance(item.get("params"), dict)}


@settings(max_examples=150, deadline=None)
@given(lines)
def test_every_request_with_an_id_gets_exactly_one_well_formed_answer(chunks: list[bytes]) -> None:
    expected: list[Any] = []
    cancelled: set[str] = set()
    for chunk in chunks:
        try:
            value = strict_loads(chunk)
        except (ValueError, RecursionError):
            continue
        expected.extend(answerable_ids(value))
        cancelled |= cancelled_ids(value)
    sent = asyncio.run(exercise(chunks))
    assert all(well_formed(strict_loads(encode_message(m))) for m in sent)
    answers = [m for message in sent for m in (message if isinstance(message, list) else [message])
               if "method" not in m]
    for rid in set(map(json.dumps, expected)):
        count = sum(1 for a in answers if json.dumps(a.get("id")) == rid)
        wanted = sum(1 for e in expected if json.dumps(e) == rid)
        # Only a cancel naming this id may suppress an answer.
        assert count == wanted or (rid in cancelled and count < wanted), (rid, count, wanted)
