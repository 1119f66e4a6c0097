"""Stateful fuzzing of Session + LineFramer in process: random interleavings, exact invariants.

Everything the peer sends goes into one byte stream that is fed to the framer in random cuts, so lines
arrive split at any point. Requests, notifications, batches, cancels of live and dead ids, answers to
our host requests (right, wrong, unknown and duplicate ids, errors), garbage and oversize lines.

Invariants: every request with an id is answered exactly once, unless a cancel reached it while it was
live (then never); answers carry the id they belong to and the result computed for that id; every
message sent is one valid JSON-RPC line; parse and oversize errors come one per bad line.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from sidekick.dispatch import Method, RequestContext
from sidekick.session import Session
from sidekick.codec import encode_message
from sidekick.transport import LineFramer

MAX_LINE = 512


def line(message: Any) -> bytes:
    return json.dumps(message).encode() + b"\n"


class SessionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.sent: list[Any] = []
        self.session = Session(self._send)
        self.session.add_method(Method("ping", lambda ctx, params: {}))
        self.session.add_method(Method("echo", lambda ctx, params: {"echo": params.get("v")}))
        self.session.add_method(Method("slow", self._slow))
        self.session.add_method(Method("ask", self._ask))
        self.framer = LineFramer(self._on_line, self.session.receive_oversize, max_line_bytes=MAX_LINE)
        self.stream = bytearray()
        self.gates: dict[Any, asyncio.Event] = {}
        self.expect: dict[str, Any] = {}  # json(id) → expected result, for requests not yet seen answered
        self.fed_ids: set[str] = set()  # requests the session has received
        self.async_ids: set[str] = set()  # requests served by `async def` methods (cancellable)
        self.host_answered: dict[str, int] = {}  # host request id → delivery in which its answer was read
        self.generation = 0  # deliveries so far
        self.cancelled_live: set[str] = set()  # cancels that reached a request before its answer
        self.cancel_targets: dict[int, str] = {}  # position in stream of a cancel line → target id
        self.bad_lines = 0
        self.oversize_lines = 0
        self.counter = 0

    # -- the session's side -------------------------------------------------------------------
    def _send(self, message: Any) -> None:
        encoded = encode_message(message)
        assert encoded.endswith(b"\n") and encoded.count(b"\n") == 1
        self.sent.append(json.loads(encoded))

    async def _slow(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        gate = self.gates.setdefault(ctx.id, asyncio.Event())
        await gate.wait()
        return {"slow": ctx.id}

    async def _ask(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        answer = await ctx.session.request("host/callTool", {"name": "t", "arguments": {"for": ctx.id}})
        return {"asked": ctx.id, "answer": answer}

    def _on_line(self, raw: bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        for item in message if isinstance(message, list) else [message]:
            if not isinstance(item, dict):
                continue
            if item.get("method") == "notifications/cancelled":
                target = item["params"]["requestId"]
                if self._live(target):
                    self.cancelled_live.add(json.dumps(target))
            elif "id" in item and "method" in item:
                self.fed_ids.add(json.dumps(item["id"]))
            elif isinstance(item.get("id"), str):
                self.host_answered.setdefault(item["id"], self.generation)
        self.session.receive_line(raw)

    def _live(self, target: Any) -> bool:
        """Whether a request is still running when a cancel for it is read (our model, not the session's).

        Only async requests can be; a sync one is decided when read, even if its batch's answer waits.
        A slow request ends when its gate opens; an `ask` when an earlier delivery answered its host request
        (an answer and a cancel read in one delivery: the task has not resumed yet, so the cancel wins).
        """
        key = json.dumps(target)
        if key not in self.fed_ids or key not in self.async_ids or self._answered(key):
            return False
        if target in self.gates:
            return not self.gates[target].is_set()
        for request in self._host_requests():
            if request["params"]["arguments"]["for"] == target:
                return self.host_answered.get(request["id"], self.generation) == self.generation
        return True  # an `ask` that has not reached the host yet, or a slow one not yet started

    # -- helpers ------------------------------------------------------------------------------
    def _answers(self) -> list[dict[str, Any]]:
        return [m for message in self.sent for m in (message if isinstance(message, list) else [message])
                if "method" not in m]

    def _answered(self, key: str) -> bool:
        return any(json.dumps(a.get("id")) == key for a in self._answers())

    def _new_id(self, numeric: bool) -> Any:
        self.counter += 1
        return self.counter if numeric else f"r{self.counter}"

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def _settle(self) -> None:
        async def spin() -> None:
            for _ in range(30):
                await asyncio.sleep(0)
        self._run(spin())

    def _host_requests(self) -> list[dict[str, Any]]:
        return [m for m in self.sent if isinstance(m, dict) and m.get("method") == "host/callTool"]

    def _pending_host(self) -> list[str]:
        return [r["id"] for r in self._host_requests() if r["id"] in self.session._pending]

    # -- rules: what the peer writes ------------------------------------------------------------
    @initialize()
    def start(self) -> None:
        self.expect.clear()

    @rule(numeric=st.booleans())
    def ping(self, numeric: bool) -> None:
        rid = self._new_id(numeric)
        self.expect[json.dumps(rid)] = {}
        self.stream += line({"jsonrpc": "2.0", "id": rid, "method": "ping"})

    @rule(value=st.integers() | st.text(max_size=20))
    def echo(self, value: Any) -> None:
        rid = self._new_id(False)
        self.expect[json.dumps(rid)] = {"echo": value}
        self.stream += line({"jsonrpc": "2.0", "id": rid, "method": "echo", "params": {"v": value}})

    @rule(numeric=st.booleans())
    def slow(self, numeric: bool) -> None:
        rid = self._new_id(numeric)
        self.expect[json.dumps(rid)] = {"slow": rid}
        self.async_ids.add(json.dumps(rid))
        self.stream += line({"jsonrpc": "2.0", "id": rid, "method": "slow"})

    @rule()
    def ask(self) -> None:
        rid = self._new_id(False)
        self.expect[json.dumps(rid)] = ("asked", rid)
        self.async_ids.add(json.dumps(rid))
        self.stream += line({"jsonrpc": "2.0", "id": rid, "method": "ask"})

    @rule(kinds=st.lists(st.sampled_from(["ping", "slow", "echo", "note", "unknown"]), min_size=1, max_size=5))
    def batch(self, kinds: list[str]) -> None:
        items = []
        for kind in kinds:
            if kind == "note":
                items.append({"jsonrpc": "2.0", "method": "notifications/initialized"})
                continue
            rid = self._new_id(False)
            if kind == "slow":
                self.async_ids.add(json.dumps(rid))
            method = {"unknown": "no/such"}.get(kind, kind)
            self.expect[json.dumps(rid)] = {"ping": {}, "slow": {"slow": rid}, "echo": {"echo": None},
                                            "unknown": ("error", -32601)}[kind]
            items.append({"jsonrpc": "2.0", "id": rid, "method": method})
        self.stream += line(items)

    @rule()
    def notification(self) -> None:
        self.stream += line({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.stream += line({"jsonrpc": "2.0", "method": "no/such/notification", "params": {"x": 1}})

    @rule(data=st.data())
    def cancel_known(self, data: st.DataObject) -> None:
        if not self.expect:
            return
        key = data.draw(st.sampled_from(sorted(self.expect)))
        self.stream += line({"jsonrpc": "2.0", "method": "notifications/cancelled",
                             "params": {"requestId": json.loads(key), "reason": "fuzz"}})

    @rule(request_id=st.integers(10_000, 20_000) | st.text(max_size=5) | st.none() | st.just([1]))
    def cancel_unknown(self, request_id: Any) -> None:
        self.stream += line({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": request_id}})

    @rule(junk=st.binary(max_size=60).filter(lambda b: b"\n" not in b))
    def garbage(self, junk: bytes) -> None:
        try:
            json.loads(junk)
            return  # valid JSON by chance: not garbage
        except ValueError:
            pass
        if not junk.strip():
            return  # blank lines are skipped, not errors
        self.bad_lines += 1
        self.stream += junk + b"\n"

    @rule(size=st.integers(MAX_LINE + 1, MAX_LINE * 4))
    def huge(self, size: int) -> None:
        self.oversize_lines += 1
        self.stream += b'{"jsonrpc":"2.0","id":"huge","method":"ping","params":{"x":"' + b"x" * size + b'"}}\n'

    @rule(data=st.data())
    def answer_host(self, data: st.DataObject) -> None:
        pending = self._pending_host()
        if not pending:
            return
        request_id = data.draw(st.sampled_from(pending))
        if data.draw(st.booleans()):
            self.stream += line({"jsonrpc": "2.0", "id": request_id, "result": {"content": [], "tag": request_id}})
        else:
            self.stream += line({"jsonrpc": "2.0", "id": request_id, "error": {"code": -1, "message": "no"}})

    @rule(wrong=st.sampled_from(["s-999999", 5, None, "", "r1"]), error=st.booleans())
    def answer_unknown_id(self, wrong: Any, error: bool) -> None:
        body = {"error": {"code": 1, "message": "x"}} if error else {"result": {"stray": True}}
        self.stream += line({"jsonrpc": "2.0", "id": wrong, **body})

    @rule()
    def answer_a_finished_host_request_again(self) -> None:
        done = [r["id"] for r in self._host_requests() if r["id"] not in self.session._pending]
        if done:
            self.stream += line({"jsonrpc": "2.0", "id": done[0], "result": {"duplicate": True}})

    # -- rules: time passing ------------------------------------------------------------------
    @precondition(lambda self: bool(self.stream))
    @rule(data=st.data())
    def deliver(self, data: st.DataObject) -> None:
        cut = data.draw(st.integers(1, len(self.stream)))
        chunk, self.stream = bytes(self.stream[:cut]), self.stream[cut:]
        self.generation += 1

        async def feed() -> None:
            self.framer.feed(chunk)
        self._run(feed())
        self._settle()

    @rule(data=st.data())
    def release_slow(self, data: st.DataObject) -> None:
        waiting = [rid for rid, gate in self.gates.items() if not gate.is_set()]
        if waiting:
            self.gates[data.draw(st.sampled_from(waiting))].set()
            self._settle()

    @invariant()
    def every_message_is_well_formed(self) -> None:
        for message in self.sent:
            for item in message if isinstance(message, list) else [message]:
                assert item.get("jsonrpc") == "2.0", item
                assert ("method" in item) or (("result" in item) != ("error" in item)), item

    def teardown(self) -> None:
        try:
            self._finish()
            self._check()
        finally:
            self.loop.close()

    def _finish(self) -> None:
        self.generation += 1

        async def feed() -> None:
            self.framer.feed(bytes(self.stream))
            self.framer.close()
        self._run(feed())
        self.stream.clear()
        self._settle()
        for _ in range(50):  # answer every host request still open, release every gate, until quiet
            pending = self._pending_host()
            waiting = [g for g in self.gates.values() if not g.is_set()]
            if not pending and not waiting:
                break
            for gate in waiting:
                gate.set()

            async def answer(ids: list[str] = pending) -> None:
                for request_id in ids:
                    self.session.receive_line(line({"jsonrpc": "2.0", "id": request_id,
                                                    "result": {"content": [], "tag": request_id}}))
            self._run(answer())
            self._settle()
        self._run(self.session.shutdown(grace=5.0, input_closed=True))

    def _check(self) -> None:
        answers = self._answers()
        by_id: dict[str, list[dict[str, Any]]] = {}
        for answer in answers:
            by_id.setdefault(json.dumps(answer.get("id")), []).append(answer)
        null_errors = [a["error"]["code"] for a in by_id.pop("null", [])]
        assert null_errors.count(-32700) == self.bad_lines, null_errors
        assert null_errors.count(-32001) == self.oversize_lines, null_errors
        assert len(null_errors) == self.bad_lines + self.oversize_lines, null_errors
        for key, expected in self.expect.items():
            got = by_id.pop(key, [])
            if key in self.cancelled_live:
                assert got == [], f"{key} was cancelled while live but got answered: {got}"
                continue
            assert len(got) == 1, f"{key} expected exactly one answer, got {got}"
            answer = got[0]
            if isinstance(expected, tuple) and expected[0] == "error":
                assert answer["error"]["code"] == expected[1]
            elif isinstance(expected, tuple) and expected[0] == "asked":
                result = answer.get("result")
                if result is not None:  # an error answer from the host is a method error here
                    assert result["asked"] == expected[1]
                    assert result["answer"]["tag"] in {r["id"] for r in self._host_requests()
                                                       if r["params"]["arguments"]["for"] == expected[1]}
                else:
                    assert answer["error"]["code"] == -32603, answer
            else:
                assert answer.get("result") == expected, (key, answer)
        assert not by_id, f"answers for ids nobody asked about: {by_id}"
        # Each cancelled live `ask` told the host to stop waiting for its request.
        cancels = {m["params"]["requestId"] for m in self.sent
                   if isinstance(m, dict) and m.get("method") == "notifications/cancelled"}
        for request in self._host_requests():
            asker = json.dumps(request["params"]["arguments"]["for"])
            if asker in self.cancelled_live:
                assert request["id"] in cancels


SessionMachine.TestCase.settings = settings(max_examples=400, stateful_step_count=40, deadline=None,
                                            suppress_health_check=[HealthCheck.too_slow])
test_session_under_random_interleavings = SessionMachine.TestCase
