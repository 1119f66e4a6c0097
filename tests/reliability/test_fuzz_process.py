"""Stateful fuzzing of a real `sidekick --stdio` subprocess, one process for every example.

Random interleavings of pings, tool calls, unknown methods, notifications, batches, agent runs that wait
on a host tool (live host requests), answers to those (right, erroring, wrong or unknown ids, late
duplicates), cancels of live and dead ids, garbage, lines split across writes, and lines over
`--max-line-bytes`. After each example a ping barrier settles the stream and the invariants are checked:
every request with an id answered exactly once (a run cancelled while waiting on the host: never),
each answer is the one computed for its id, stdout is valid NDJSON, the process stays up, and its RSS
stays bounded over the whole test.
"""

from __future__ import annotations

import itertools
import json
import queue
from typing import Any

from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.reliability.support import rss_kb, strict_process, wait_for
from tests.support.process import SidekickProcess

MAX_LINE = 4096
HOST_TOOL = {"name": "HOST_ECHO", "description": "Echo a tag on the host",
             "inputSchema": {"type": "object", "properties": {"tag": {"type": "string"}}}}
_ids = itertools.count(1)


def host_script(body: dict[str, Any]) -> dict[str, Any]:
    """Call the host tool once with the task as its tag, then answer with the tag and the tool's result."""
    task = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
    results = tool_results(body)
    if not results:
        return {"tool_calls": [{"name": "HOST_ECHO", "arguments": {"tag": task}}]}
    return {"content": f"done {task} with {results[-1]}"}


class World:
    """What outlives one example: the process, the model server, everything read from stdout."""

    def __init__(self, process: SidekickProcess, server: ScriptedOpenAIServer) -> None:
        self.process = process
        self.server = server
        self.received: list[Any] = []

    def pump(self, timeout: float = 0.0) -> None:
        """Move what the process wrote so far into `received`; stdout must be one JSON value per line."""
        block = timeout > 0
        while True:
            try:
                raw = self.process.lines.get(block=block, timeout=timeout if block else None)
            except queue.Empty:
                return
            block = False
            assert raw is not None, "the sidekick closed its stdout"
            assert raw.endswith(b"\n") and raw.count(b"\n") == 1
            self.received.append(json.loads(raw))


WORLD: World | None = None


class ProcessMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert WORLD is not None
        self.world = WORLD
        self.start = len(self.world.received)
        self.expect: dict[str, Any] = {}  # json(id) → expected result (or a checker tag)
        self.runs: dict[str, dict[str, Any]] = {}  # run id → {"host": request id, "state": ...}
        self.cancel_live: set[str] = set()
        self.maybe: set[str] = set()  # cancels that raced a run's end: zero or one answer
        self.bad_lines = 0
        self.oversize_lines = 0

    # -- helpers ------------------------------------------------------------------------------
    def _id(self) -> str:
        return f"p{next(_ids)}"

    def _send(self, message: Any) -> None:
        self.world.process.send(message)

    def _mine(self) -> list[Any]:
        self.world.pump()
        return self.world.received[self.start:]

    def _flat(self) -> list[dict[str, Any]]:
        return [m for message in self._mine() for m in (message if isinstance(message, list) else [message])]

    def _host_call_for(self, run_id: str) -> dict[str, Any] | None:
        for message in self._flat():
            if message.get("method") == "host/callTool" and message["params"]["arguments"].get("tag") == run_id:
                return message
        return None

    def _waiting_runs(self) -> list[str]:
        return sorted(r for r, s in self.runs.items() if s["state"] == "waiting")

    # -- rules --------------------------------------------------------------------------------
    @rule(numeric=st.booleans())
    def ping(self, numeric: bool) -> None:
        rid: Any = next(_ids) if numeric else self._id()
        self.expect[json.dumps(rid)] = {}
        self._send({"jsonrpc": "2.0", "id": rid, "method": "ping"})

    @rule(a=st.integers(-10**6, 10**6), b=st.integers(-10**6, 10**6))
    def calculate(self, a: int, b: int) -> None:
        rid = self._id()
        self.expect[json.dumps(rid)] = ("calc", str(a + b))
        self._send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                    "params": {"name": "calculate", "arguments": {"expression": f"{a} + {b}"}}})

    @rule()
    def unknown_method(self) -> None:
        rid = self._id()
        self.expect[json.dumps(rid)] = ("error", -32601)
        self._send({"jsonrpc": "2.0", "id": rid, "method": "no/such/method"})

    @rule()
    def notifications(self) -> None:
        self._send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self._send({"jsonrpc": "2.0", "method": "notifications/whatever", "params": {"x": [1, 2]}})

    @rule(kinds=st.lists(st.sampled_from(["ping", "calc", "note", "unknown"]), min_size=1, max_size=6))
    def batch(self, kinds: list[str]) -> None:
        items = []
        for kind in kinds:
            if kind == "note":
                items.append({"jsonrpc": "2.0", "method": "notifications/initialized"})
                continue
            rid = self._id()
            if kind == "ping":
                items.append({"jsonrpc": "2.0", "id": rid, "method": "ping"})
                self.expect[json.dumps(rid)] = {}
            elif kind == "calc":
                items.append({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                              "params": {"name": "calculate", "arguments": {"expression": "6 * 7"}}})
                self.expect[json.dumps(rid)] = ("calc", "42")
            else:
                items.append({"jsonrpc": "2.0", "id": rid, "method": "nope"})
                self.expect[json.dumps(rid)] = ("error", -32601)
        self._send(items)

    @precondition(lambda self: len(self._waiting_runs()) < 4)
    @rule()
    def start_run(self) -> None:
        rid = self._id()
        self.expect[json.dumps(rid)] = ("run", rid)
        self._send({"jsonrpc": "2.0", "id": rid, "method": "sidekick/run", "params": {
            "task": rid, "tools": [], "hostTools": [HOST_TOOL], "hostToolTimeoutMs": 120_000,
            "model": {"baseUrl": self.world.server.base_url, "model": "scripted", "apiKey": "sk-fuzz-000000"}}})
        call = wait_for(lambda: self._host_call_for(rid), 20.0, f"the host/callTool of run {rid}")
        self.runs[rid] = {"host": call["id"], "state": "waiting"}

    @precondition(lambda self: bool(self._waiting_runs()))
    @rule(data=st.data(), failed=st.booleans())
    def answer_host(self, data: st.DataObject, failed: bool) -> None:
        rid = data.draw(st.sampled_from(self._waiting_runs()))
        run = self.runs[rid]
        if failed:
            self._send({"jsonrpc": "2.0", "id": run["host"], "error": {"code": -32000, "message": f"no {rid}"}})
        else:
            self._send({"jsonrpc": "2.0", "id": run["host"],
                        "result": {"content": [{"type": "text", "text": f"echo {rid}"}], "isError": False}})
        run["state"] = "answered"
        run["failed"] = failed

    @precondition(lambda self: bool(self._waiting_runs()))
    @rule(data=st.data())
    def cancel_live_run(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(self._waiting_runs()))
        self._send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": rid}})
        self.runs[rid]["state"] = "cancelled"
        self.cancel_live.add(json.dumps(rid))

    @rule(data=st.data())
    def cancel_dead_or_racing(self, data: st.DataObject) -> None:
        choices = [json.loads(k) for k in self.expect] + ["never-sent", 987654321]
        target = data.draw(st.sampled_from(choices))
        self._send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": target}})
        key = json.dumps(target)
        run = self.runs.get(target) if isinstance(target, str) else None
        if run is not None and run["state"] == "waiting":
            run["state"] = "cancelled"
            self.cancel_live.add(key)
        elif run is not None and run["state"] == "answered":
            self.maybe.add(key)  # the run may have finished before the cancel was read
        elif isinstance(self.expect.get(key), tuple) and self.expect[key][0] == "calc":
            self.maybe.add(key)  # tools/call runs as a task: the cancel may catch it in flight
        # pings and unknown methods are answered as they are read: a cancel can only come too late

    @rule(wrong=st.sampled_from(["s-999999", 42, None, "", "p1"]), error=st.booleans())
    def answer_with_an_unknown_id(self, wrong: Any, error: bool) -> None:
        body = {"error": {"code": 1, "message": "stray"}} if error else {"result": {"stray": True}}
        self._send({"jsonrpc": "2.0", "id": wrong, **body})

    @precondition(lambda self: any(r["state"] != "waiting" for r in self.runs.values()))
    @rule(data=st.data())
    def answer_a_host_request_late(self, data: st.DataObject) -> None:
        rid = data.draw(st.sampled_from(sorted(r for r, s in self.runs.items() if s["state"] != "waiting")))
        run = self.runs[rid]
        # After the cancel: maybe read before the sidekick's cancellation took effect, and then the call
        # did complete, so the sidekick need not tell the host it is off.
        run["late"] = True
        self._send({"jsonrpc": "2.0", "id": run["host"], "result": {"content": [], "late": True}})

    @rule(junk=st.binary(min_size=1, max_size=80).filter(lambda b: b"\n" not in b and b.strip() != b""))
    def garbage(self, junk: bytes) -> None:
        try:
            json.loads(junk)
            return
        except ValueError:
            pass
        self.bad_lines += 1
        self.world.process.write(junk + b"\n")

    @rule(cut=st.integers(1, 40))
    def split_line(self, cut: int) -> None:
        rid = self._id()
        self.expect[json.dumps(rid)] = {}
        data = json.dumps({"jsonrpc": "2.0", "id": rid, "method": "ping"}).encode() + b"\n"
        self.world.process.write(data[:cut])  # flushed: the process sees half a line first
        self.world.process.write(data[cut:])

    @rule(size=st.integers(MAX_LINE + 1, MAX_LINE * 8))
    def huge_line(self, size: int) -> None:
        self.oversize_lines += 1
        self.world.process.write(b'{"jsonrpc":"2.0","id":"big","method":"ping","params":{"x":"'
                                 + b"y" * size + b'"}}\n')

    @invariant()
    def process_is_up(self) -> None:
        assert self.world.process.proc.poll() is None

    # -- settle and check ---------------------------------------------------------------------
    def teardown(self) -> None:
        for run in self.runs.values():
            if run["state"] == "waiting":  # unblock what the example left waiting
                self._send({"jsonrpc": "2.0", "id": run["host"],
                            "result": {"content": [{"type": "text", "text": "final"}]}})
                run["state"] = "answered"
        must = {k for k in self.expect if k not in self.cancel_live and k not in self.maybe}

        told = {self.runs[json.loads(k)]["host"] for k in self.cancel_live if not self.runs[json.loads(k)].get("late")}

        def settled() -> bool:
            flat = self._flat()
            answered = {json.dumps(m.get("id")) for m in flat if "method" not in m}
            cancelled = {m["params"]["requestId"] for m in flat if m.get("method") == "notifications/cancelled"}
            missing[:] = [sorted(must - answered), sorted(told - cancelled)]
            return must <= answered and told <= cancelled
        missing: list[Any] = []
        try:
            wait_for(settled, 30.0, "every answer of this example")
        except AssertionError:
            raise AssertionError(f"missing answers {missing[0]} and host cancels {missing[1]}; "
                                 f"runs {self.runs}; received {self._mine()}") from None
        barrier = self._id()
        self._send({"jsonrpc": "2.0", "id": barrier, "method": "ping"})
        wait_for(lambda: any(m.get("id") == barrier for m in self._flat()), 30.0, "the barrier ping")
        self._check(barrier)
        self.world.received.clear()

    def _check(self, barrier: str) -> None:
        flat = self._flat()
        requests = [m for m in flat if "method" in m]
        for message in requests:
            assert message["method"] in ("host/callTool", "notifications/cancelled"), message
        told = {m["params"]["requestId"] for m in requests if m["method"] == "notifications/cancelled"}
        for key in self.cancel_live:
            run = self.runs[json.loads(key)]
            assert run.get("late") or run["host"] in told, f"host not told that {key}'s call is off"
        by_id: dict[str, list[dict[str, Any]]] = {}
        for answer in (m for m in flat if "method" not in m):
            by_id.setdefault(json.dumps(answer.get("id")), []).append(answer)
        assert len(by_id.pop(json.dumps(barrier))) == 1
        nulls = [a["error"]["code"] for a in by_id.pop("null", [])]
        assert sorted(nulls) == sorted([-32700] * self.bad_lines + [-32001] * self.oversize_lines), nulls
        for key, expected in self.expect.items():
            got = by_id.pop(key, [])
            if key in self.cancel_live:
                assert got == [], f"{key} was cancelled while waiting on the host, yet answered: {got}"
                continue
            if key in self.maybe:
                assert len(got) <= 1, got
            else:
                assert len(got) == 1, f"{key}: expected one answer, got {got}"
            for answer in got:
                self._check_answer(key, expected, answer)
        assert not by_id, f"answers nobody asked for: {by_id}"

    def _check_answer(self, key: str, expected: Any, answer: dict[str, Any]) -> None:
        if isinstance(expected, dict):
            assert answer.get("result") == expected, (key, answer)
        elif expected[0] == "error":
            assert answer["error"]["code"] == expected[1], (key, answer)
        elif expected[0] == "calc":
            assert answer["result"]["content"][0]["text"] == expected[1], (key, answer)
        else:
            rid = expected[1]
            result = answer["result"]
            assert result["stopReason"] == "done", result
            assert result["text"].startswith(f"done {rid} with "), (rid, result["text"])
            tail = result["text"].split(" with ", 1)[1]
            if self.runs[rid].get("failed"):
                assert f"no {rid}" in tail, tail
            else:
                assert tail in (f"echo {rid}", "final"), tail


def test_a_real_process_under_random_interleavings() -> None:
    global WORLD
    process = strict_process("--max-line-bytes", str(MAX_LINE))
    try:
        with ScriptedOpenAIServer(host_script) as server:
            WORLD = World(process, server)
            process.initialize()
            warm = ProcessMachine()  # one full run first, so imports do not count as growth
            warm.start_run()
            warm.teardown()
            before = rss_kb(process.proc.pid)
            ProcessMachine.TestCase.settings = settings(
                max_examples=60, stateful_step_count=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
            ProcessMachine.TestCase("runTest").runTest()
            after = rss_kb(process.proc.pid)
            assert process.proc.poll() is None
            assert after - before < 64 * 1024, f"RSS grew from {before} kB to {after} kB"
            assert not server.errors
    finally:
        WORLD = None
        code = process.close()
    assert code == 0
