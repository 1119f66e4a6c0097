"""The real `sidekick --stdio` subprocess: bad input of every kind, lifecycle, fd hygiene, shutdown."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

import pytest

from sidekick.protocol import LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS
from tests.support.process import SidekickProcess


@pytest.mark.parametrize("version", SUPPORTED_PROTOCOL_VERSIONS)
def test_initialize_echoes_a_supported_version(sidekick: SidekickProcess, version: str) -> None:
    answer = sidekick.request(1, "initialize", {"protocolVersion": version, "capabilities": {}})
    assert answer["result"]["protocolVersion"] == version
    assert answer["result"]["serverInfo"]["name"] == "eliza-sidekick"
    assert "tools" in answer["result"]["capabilities"]


def test_initialize_offers_the_newest_for_an_unknown_version(sidekick: SidekickProcess) -> None:
    answer = sidekick.request(1, "initialize", {"protocolVersion": "1999-01-01", "capabilities": {}})
    assert answer["result"]["protocolVersion"] == LATEST_PROTOCOL_VERSION


def test_every_bad_input_class_gets_the_right_answer_and_the_process_lives(sidekick: SidekickProcess) -> None:
    sidekick.initialize()
    sidekick.write(b"this is not json\n")
    assert sidekick.read()["error"]["code"] == -32700
    sidekick.write(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\xc3\x28"}}\n')
    assert sidekick.read()["error"]["code"] == -32700
    sidekick.write(b'{"jsonrpc":"2.0","method":"ping","id":2,"params":7}\n')
    assert sidekick.read() == {"jsonrpc": "2.0", "id": 2, "error": {
        "code": -32600, "message": 'Invalid Request: the "params" member must be a structured value'}}
    sidekick.write(b"[]\n")
    assert sidekick.read()["error"]["code"] == -32600
    assert sidekick.request(3, "no/such/method")["error"]["code"] == -32601
    bad = sidekick.request(4, "logging/setLevel", {"level": "loud"})
    assert bad["error"]["code"] == -32602 and "level" in bad["error"]["message"]
    sidekick.write(b'[{"jsonrpc":"2.0","id":5,"method":"ping"},{"jsonrpc":"2.0","method":"ping"},'
                   b'{"jsonrpc":"2.0","id":6,"method":"nope"}]\n')
    batch = sidekick.read()
    assert [m["id"] for m in batch] == [5, 6] and batch[0]["result"] == {}
    assert sidekick.request(7, "ping") == {"jsonrpc": "2.0", "result": {}, "id": 7}
    assert sidekick.close() == 0


def test_huge_line_gets_a_clear_error_and_the_stream_goes_on() -> None:
    process = SidekickProcess("--max-line-bytes", "100000")
    try:
        process.write(b'{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"' + b"x" * 300_000 + b'"}}\n')
        error = process.read()["error"]
        assert error["code"] == -32001 and error["data"]["limit"] == 100000
        assert process.request(2, "ping")["result"] == {}
    finally:
        assert process.close() == 0


def test_a_print_anywhere_cannot_reach_stdout() -> None:
    code = ("import sys, runpy; sys.argv=['sidekick','--stdio'];"
            "import sidekick.server as s; orig=s.claim_stdout\n"
            "def claim():\n fd=orig(); print('stray print'); import os; os.write(1, b'stray write\\n'); return fd\n"
            "s.claim_stdout=claim; from sidekick.cli import main; raise SystemExit(main())")
    proc = subprocess.run([sys.executable, "-c", code], input=b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n',
                          capture_output=True, timeout=30)
    assert proc.returncode == 0
    assert proc.stdout.splitlines() == [b'{"jsonrpc":"2.0","result":{},"id":1}']
    assert b"stray print" in proc.stderr and b"stray write" in proc.stderr


def test_eof_exits_zero_and_answers_everything_first() -> None:
    lines = b"".join(json.dumps({"jsonrpc": "2.0", "id": i, "method": "ping"}).encode() + b"\n"
                     for i in range(200))
    proc = subprocess.run([sys.executable, "-m", "sidekick"], input=lines, capture_output=True, timeout=30)
    assert proc.returncode == 0
    assert [json.loads(line)["id"] for line in proc.stdout.splitlines()] == list(range(200))


def test_sigterm_exits_zero(sidekick: SidekickProcess) -> None:
    sidekick.initialize()
    sidekick.proc.send_signal(signal.SIGTERM)
    assert sidekick.proc.wait(20) == 0


def test_log_forwarding_after_set_level(sidekick: SidekickProcess) -> None:
    sidekick.initialize()
    assert sidekick.request(1, "logging/setLevel", {"level": "debug"})["result"] == {}
    sidekick.request(2, "tools/call", {"name": "no_such_tool", "arguments": {}})
    sidekick.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "ghost"}})
    message, _ = sidekick.read_until(lambda m: m.get("method") == "notifications/message")
    assert message["params"]["level"] in ("debug", "info") and message["params"]["logger"].startswith("sidekick")


def test_version_and_help() -> None:
    out = subprocess.run([sys.executable, "-m", "sidekick", "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.startswith("sidekick ")
    shown = subprocess.run([sys.executable, "-m", "sidekick", "--help"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "--stdio" in shown.stdout and "doctor" in shown.stdout


def test_sigterm_with_a_hung_tool_in_flight_answers_it_and_exits_zero() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        silent.settimeout(20)
        process = SidekickProcess("--shutdown-grace", "0.5")
        try:
            process.initialize()
            process.request("warm", "ping")
            process.send({"jsonrpc": "2.0", "id": "hung", "method": "tools/call", "params": {
                "name": "fetch_url", "arguments": {"url": f"http://127.0.0.1:{silent.getsockname()[1]}/"}}})
            connection, _ = silent.accept()  # the fetch is in flight now
            process.proc.send_signal(signal.SIGTERM)
            answer, _ = process.read_until(lambda m: m.get("id") == "hung")
            assert answer["error"]["code"] == -32002
            assert process.proc.wait(20) == 0
            connection.close()
        finally:
            process.close()


def test_start_up_to_the_initialize_answer_imports_nothing_it_does_not_use() -> None:
    process = SidekickProcess(env={"PYTHONPROFILEIMPORTTIME": "1"})  # every import, listed on stderr
    try:
        assert "result" in process.initialize()
    finally:
        assert process.close() == 0
    imported = {line.rsplit(b"|", 1)[-1].strip().decode() for line in process.stderr_lines
                if line.startswith(b"import time:")}
    assert "sidekick.server" in imported
    # jsonschema and http.server come with jsonrpcserver's __init__ only; the rest with the first tool or run.
    unused = {"jsonschema", "http.server", "jsonrpcserver.main", "openai", "httpx", "numexpr", "numpy", "requests",
              "bs4"}
    assert imported & unused == set()
