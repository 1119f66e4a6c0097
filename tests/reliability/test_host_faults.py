"""A host that misbehaves never wedges the sidekick: silent, late, failing, not reading, gone."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any, Iterator

import pytest

from sidekick.testing.scripted_server import ScriptedOpenAIServer, tool_results
from tests.reliability.support import drain_messages, ping_barrier, rss_kb, spawn_raw, strict_process
from tests.support.process import SidekickProcess

DEADLINE_S = 20.0
TOOL = {"name": "LOOKUP", "description": "Look something up on the host",
        "inputSchema": {"type": "object", "properties": {"q": {"type": "string"}}}}


def lookup_then_answer(body: dict[str, Any]) -> dict[str, Any]:
    results = tool_results(body)
    if not results:
        return {"tool_calls": [{"name": "LOOKUP", "arguments": {"q": "x"}}]}
    return {"content": f"saw: {results[-1]}"}


@pytest.fixture
def model() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer(lookup_then_answer) as server:
        yield server


@pytest.fixture
def sidekick() -> Iterator[SidekickProcess]:
    process = strict_process()
    process.initialize()
    yield process
    process.close()


def start_run(sidekick: SidekickProcess, model: ScriptedOpenAIServer, request_id: Any, **extra: Any) -> dict[str, Any]:
    sidekick.send({"jsonrpc": "2.0", "id": request_id, "method": "sidekick/run", "params": {
        "task": "look it up", "tools": [], "hostTools": [TOOL],
        "model": {"baseUrl": model.base_url, "model": "m", "apiKey": "sk-host-faults"}, **extra}})
    return drain_messages(sidekick, lambda m: m.get("method") == "host/callTool")[-1]


def test_a_host_that_never_answers_times_out_into_a_tool_error(sidekick: SidekickProcess,
                                                              model: ScriptedOpenAIServer) -> None:
    call = start_run(sidekick, model, 1, hostToolTimeoutMs=300)
    seen = drain_messages(sidekick, lambda m: m.get("id") == 1)
    assert {"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": call["id"], "reason": "timed out"}} in seen
    result = seen[-1]["result"]
    assert result["stopReason"] == "done" and result["steps"][0] == {**result["steps"][0], "ok": False,
                                                                      "source": "host"}
    assert "no answer within 0.3 s" in result["text"]
    assert ping_barrier(sidekick, "after") == []


def test_a_late_answer_after_the_run_ended_is_dropped(sidekick: SidekickProcess,
                                                      model: ScriptedOpenAIServer) -> None:
    call = start_run(sidekick, model, 1, hostToolTimeoutMs=200)
    drain_messages(sidekick, lambda m: m.get("id") == 1)
    sidekick.send({"jsonrpc": "2.0", "id": call["id"], "result": {"content": [{"type": "text", "text": "late"}]}})
    sidekick.send({"jsonrpc": "2.0", "id": call["id"], "error": {"code": -1, "message": "late too"}})
    assert ping_barrier(sidekick, "after") == []  # nothing answers an answer
    # and the next run works as before
    second = start_run(sidekick, model, 2)
    sidekick.send({"jsonrpc": "2.0", "id": second["id"], "result": {"content": [{"type": "text", "text": "on time"}]}})
    assert drain_messages(sidekick, lambda m: m.get("id") == 2)[-1]["result"]["text"] == "saw: on time"


@pytest.mark.parametrize("answer, shown", [
    ({"error": {"code": -32000, "message": "the agent is busy"}}, "LOOKUP failed on the host: the agent is busy"),
    ({"error": "not an object"}, "LOOKUP failed on the host"),
    ({"result": {"content": [{"type": "text", "text": "quota exceeded"}], "isError": True}}, "quota exceeded"),
    ({"result": "a bare string"}, ""),
    ({"result": None}, ""),
    ({"result": {"content": "not a list"}}, ""),
])
def test_a_host_error_or_malformed_answer_goes_back_to_the_model(sidekick: SidekickProcess,
                                                                 model: ScriptedOpenAIServer,
                                                                 answer: dict[str, Any], shown: str) -> None:
    call = start_run(sidekick, model, 1)
    sidekick.send({"jsonrpc": "2.0", "id": call["id"], **answer})
    result = drain_messages(sidekick, lambda m: m.get("id") == 1)[-1]["result"]
    assert result["stopReason"] == "done" and shown in result["text"], result["text"]
    assert result["steps"][0]["ok"] is False and result["steps"][0]["source"] == "host"
    assert ping_barrier(sidekick, "after") == []


def test_stdin_closed_while_a_run_waits_on_the_host_answers_the_run_and_exits_zero(
        sidekick: SidekickProcess, model: ScriptedOpenAIServer) -> None:
    start_run(sidekick, model, 1)
    sidekick.proc.stdin.close()
    result = drain_messages(sidekick, lambda m: m.get("id") == 1)[-1]["result"]
    assert result["stopReason"] == "error" and result["error"]["kind"] == "host_gone"
    assert sidekick.proc.wait(DEADLINE_S) == 0


@pytest.mark.parametrize("method, params", [("ping", None), ("tools/list", {}),
                                           ("tools/call", {"name": "calculate", "arguments": {"expression": "1"}}),
                                           ("sidekick/run", {"task": "again"})])
def test_a_request_reusing_the_id_of_a_run_in_flight_is_refused(sidekick: SidekickProcess,
                                                                model: ScriptedOpenAIServer, method: str,
                                                                params: dict[str, Any] | None) -> None:
    call = start_run(sidekick, model, "busy")
    answer = sidekick.request("busy", method, params)
    assert answer["error"]["code"] == -32600 and "already in use" in answer["error"]["message"], answer
    sidekick.send({"jsonrpc": "2.0", "id": call["id"], "result": {"content": [{"type": "text", "text": "found"}]}})
    result = drain_messages(sidekick, lambda m: m.get("id") == "busy")[-1]["result"]
    assert result["text"] == "saw: found"  # the run itself carries on, answered once
    assert sidekick.request("busy", "ping") == {"jsonrpc": "2.0", "id": "busy", "result": {}}  # free again
    assert ping_barrier(sidekick, "after") == []


@pytest.mark.parametrize("name", ["calculate\n", "LOOKUP\n", "LOOKUP\r\n", "\nLOOKUP", "LOOK UP", ""])
def test_host_tool_names_that_an_endpoint_would_refuse_are_refused(sidekick: SidekickProcess, name: str) -> None:
    answer = sidekick.request("named", "sidekick/run", {
        "task": "go", "tools": ["calculate"], "hostTools": [{**TOOL, "name": name}],
        "model": {"baseUrl": "http://127.0.0.1:9/v1", "model": "m", "apiKey": "sk-never-used"}})
    assert answer["error"]["code"] == -32602, answer
    assert "hostTools: names must match" in answer["error"]["message"] and repr(name) in answer["error"]["message"]


# -- pipes ------------------------------------------------------------------------------------------
def test_stdin_closed_mid_message_exits_zero() -> None:
    proc = spawn_raw()
    out, err = proc.communicate(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n{"jsonrpc":"2.0","id":2,"met',
                                timeout=DEADLINE_S)
    assert proc.returncode == 0, err
    answers = [json.loads(line) for line in out.splitlines()]
    assert answers[0] == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert [a["error"]["code"] for a in answers[1:]] == [-32700]  # the half message, reported at EOF


def test_stdout_closed_by_the_parent_exits_zero_even_with_stdin_open() -> None:
    proc = spawn_raw(stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')
        proc.stdin.flush()
        assert proc.stdout.readline()
        proc.stdout.close()  # EPIPE from now on
        for i in range(2, 200):  # keep writing until the sidekick notices; it may already have exited
            try:
                proc.stdin.write(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i)
                proc.stdin.flush()
            except BrokenPipeError:
                break
            if proc.poll() is not None:
                break
        assert proc.wait(DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass


def test_stdout_closed_while_a_run_waits_on_the_host_exits_zero(model: ScriptedOpenAIServer) -> None:
    proc = spawn_raw(stderr=subprocess.DEVNULL)
    try:
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "sidekick/run", "params": {
            "task": "look it up", "tools": [], "hostTools": [TOOL],
            "model": {"baseUrl": model.base_url, "model": "m", "apiKey": "sk-host-faults"}}}).encode() + b"\n")
        proc.stdin.flush()
        while json.loads(proc.stdout.readline()).get("method") != "host/callTool":
            pass
        proc.stdout.close()  # the parent stops reading for good; stdin stays open
        assert proc.wait(DEADLINE_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()


def test_a_host_that_stops_reading_pauses_input_with_bounded_memory_then_gets_every_answer() -> None:
    """Flood pings, read nothing: the sidekick must stop reading stdin instead of buffering answers."""
    proc = spawn_raw(stderr=subprocess.DEVNULL, bufsize=0)
    lines: list[bytes] = []
    try:
        proc.stdin.write(b'{"jsonrpc":"2.0","id":0,"method":"ping"}\n')
        assert json.loads(proc.stdout.readline()) == {"jsonrpc": "2.0", "id": 0, "result": {}}
        baseline = rss_kb(proc.pid)
        chunk_pings = 2000
        total_chunks = 1000  # 2 M pings, ~90 MB: far beyond any pipe or buffer if nothing pushed back
        written = [0]
        stop = threading.Event()

        def flood() -> None:
            for c in range(total_chunks):
                if stop.is_set():
                    return
                start = 1 + c * chunk_pings
                data = b"".join(b'{"jsonrpc":"2.0","id":%d,"method":"ping"}\n' % i
                                for i in range(start, start + chunk_pings))
                try:
                    proc.stdin.write(data)
                except (BrokenPipeError, ValueError):
                    return
                written[0] = start + chunk_pings - 1

        writer = threading.Thread(target=flood, daemon=True)
        writer.start()
        peak = baseline
        last, still_since = -1, time.monotonic()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.is_alive():  # wait until the writer is stuck
            peak = max(peak, rss_kb(proc.pid))
            if written[0] != last:
                last, still_since = written[0], time.monotonic()
            elif time.monotonic() - still_since > 1.5:
                break
            time.sleep(0.05)
        stop.set()
        assert writer.is_alive(), "the sidekick read every flooded byte without anyone reading its answers"
        growth_mb = (peak - baseline) / 1024
        assert growth_mb < 48, f"RSS grew {growth_mb:.1f} MB while the host was not reading"
        assert written[0] < total_chunks * chunk_pings // 4

        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
        reader.start()
        writer.join(DEADLINE_S)
        assert not writer.is_alive()
        sent = written[0]
        proc.stdin.close()
        assert proc.wait(60) == 0
        reader.join(DEADLINE_S)
        ids = [json.loads(line)["id"] for line in lines]
        assert ids == list(range(1, sent + 1))  # every answer, once, in order
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
