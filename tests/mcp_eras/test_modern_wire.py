"""2026-07-28 by hand, request by request as the specification's schema spells them, checked against the
schema's own models (the official SDK's `mcp_types` 2026-07-28 surface, generated from schema.ts) and against
schemas/: served before any initialize, both eras on one connection, the envelope's errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from mcp_types import _v2026_07_28 as spec

from sidekick.testing.scripted_server import ScriptedOpenAIServer
from tests.support.process import SidekickProcess

V = "io.modelcontextprotocol/protocolVersion"
CAPS = "io.modelcontextprotocol/clientCapabilities"
META = {V: "2026-07-28", CAPS: {}, "io.modelcontextprotocol/clientInfo": {"name": "by-hand", "version": "1"}}
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def documented(method: str, result: dict[str, Any]) -> None:
    """Every top-level member of a 2026-07-28 result is one schemas/ documents for that method."""
    doc = json.loads((SCHEMAS / f"{method.replace('/', '.')}.json").read_text())
    modern = doc.get("modern", doc)["result"]  # a method only 2026-07-28 has documents it at the top
    shapes = modern.get("anyOf", [modern])
    assert any(set(result) <= set(shape["properties"]) and set(shape.get("required", [])) <= set(result)
               for shape in shapes), (method, sorted(result))


@pytest.fixture
def sidekick() -> Any:
    process = SidekickProcess()
    yield process
    assert process.close() == 0


def test_discover_is_served_before_any_initialize_and_matches_the_schema(sidekick: SidekickProcess) -> None:
    answer = sidekick.request("discover-1", "server/discover", {"_meta": META})
    result = answer["result"]
    parsed = spec.DiscoverResult.model_validate(result)
    assert parsed.result_type == "complete" and "2026-07-28" in parsed.supported_versions
    assert result["supportedVersions"] == ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]
    assert result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"] == "eliza-sidekick"
    assert result["capabilities"]["extensions"]["io.modelcontextprotocol/tasks"] == {}
    assert result["capabilities"]["extensions"]["io.github.eliza-sidekick/sidekick"]["hostTools"] is True
    assert "logging" not in result["capabilities"]  # 2026-07-28 removed logging/setLevel
    assert result["cacheScope"] == "public" and result["ttlMs"] > 0 and "run_task" in result["instructions"]
    documented("server/discover", result)


def test_a_first_request_without_discover_or_initialize_is_served(sidekick: SidekickProcess) -> None:
    result = sidekick.request(1, "tools/call", {"name": "calculate", "arguments": {"expression": "2 ** 10"},
                                                "_meta": META})["result"]
    parsed = spec.CallToolResult.model_validate(result)
    assert parsed.result_type == "complete" and result["structuredContent"]["result"] == "1024"
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    documented("tools/call", result)
    listed = sidekick.request(2, "tools/list", {"_meta": META})["result"]
    parsed_list = spec.ListToolsResult.model_validate(listed)
    assert [t.name for t in parsed_list.tools] == ["calculate", "fetch_url", "web_search", "run_task"]
    assert listed["cacheScope"] == "public" and listed["ttlMs"] == 300_000
    assert all("execution" not in t for t in listed["tools"])  # a 2025-11-25 field; the extension needs none
    documented("tools/list", listed)


def test_both_eras_on_one_connection_each_answered_in_its_own_shape(sidekick: SidekickProcess) -> None:
    modern_before = sidekick.request(1, "tools/list", {"_meta": META})["result"]
    handshake = sidekick.request(2, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                                   "clientInfo": {"name": "old", "version": "1"}})["result"]
    sidekick.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    legacy = sidekick.request(3, "tools/call", {"name": "calculate", "arguments": {"expression": "6*7"}})["result"]
    modern = sidekick.request(4, "tools/call", {"name": "calculate", "arguments": {"expression": "6*7"},
                                                "_meta": META})["result"]
    legacy_list = sidekick.request(5, "tools/list")["result"]
    assert handshake["protocolVersion"] == "2025-06-18" and "tasks" not in handshake["capabilities"]
    assert legacy == {"content": [{"type": "text", "text": "42"}],
                      "structuredContent": {"expression": "6*7", "result": "42", "value": 42}, "isError": False}
    assert modern["resultType"] == "complete" and modern["content"][0]["text"] == json.dumps(legacy[
        "structuredContent"])
    assert set(legacy_list) == {"tools"} and legacy_list["tools"] == modern_before["tools"]
    assert sidekick.request(6, "ping") == {"jsonrpc": "2.0", "result": {}, "id": 6}


@pytest.mark.parametrize(("meta", "code", "says"), [
    ({V: "2026-07-28"}, -32602, "clientCapabilities'] is required"),
    ({V: "2026-07-28", CAPS: []}, -32602, "must be an object"),
    ({V: 20260728, CAPS: {}}, -32602, "must be a string"),
    ({V: "2099-01-01", CAPS: {}}, -32022, "Unsupported protocol version '2099-01-01'"),
    ({V: "2025-06-18", CAPS: {}}, -32022, "served after an initialize handshake"),
])
def test_a_bad_envelope_is_a_clear_error(sidekick: SidekickProcess, meta: dict[str, Any], code: int,
                                         says: str) -> None:
    answer = sidekick.request(1, "tools/list", {"_meta": meta})
    assert answer["error"]["code"] == code and says in answer["error"]["message"]
    if code == -32022:
        parsed = spec.UnsupportedProtocolVersionError.model_validate(answer)
        assert "2026-07-28" in parsed.error.data.supported and parsed.error.data.requested == meta[V]
    assert sidekick.request(2, "server/discover", {})["error"]["code"] == -32602  # discover needs the envelope


def test_missing_client_capability_names_what_to_declare(sidekick: SidekickProcess) -> None:
    answer = sidekick.request(1, "sidekick/run", {"task": "x", "hostTools": [
        {"name": "h", "description": "d", "inputSchema": {"type": "object"}}], "_meta": META})
    parsed = spec.MissingRequiredClientCapabilityError.model_validate(answer)
    assert parsed.error.code == -32021
    assert answer["error"]["data"]["requiredCapabilities"] == {"extensions": {"io.github.eliza-sidekick/sidekick": {}}}


def test_a_cancelled_modern_request_gets_no_answer() -> None:
    asked = threading.Event()

    def script(body: dict[str, Any]) -> dict[str, Any]:
        asked.set()
        return {"hang": 30}

    with ScriptedOpenAIServer(script) as model:
        sidekick = SidekickProcess(env={"SIDEKICK_BASE_URL": model.base_url, "SIDEKICK_MODEL": "m"})
        try:
            sidekick.send({"jsonrpc": "2.0", "id": "run-1", "method": "tools/call", "params": {
                "name": "run_task", "arguments": {"task": "slow"}, "_meta": {**META, "progressToken": "t"}}})
            assert asked.wait(20)
            sidekick.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                           "params": {"requestId": "run-1", "reason": "user left"}})
            sidekick.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                "name": "calculate", "arguments": {"expression": "1"}, "_meta": META}})
            answer, before = sidekick.read_until(lambda m: m.get("id") == 2)
            assert answer["result"]["structuredContent"]["result"] == "1"
        finally:
            assert sidekick.close() == 0
        leftovers = []
        while not sidekick.lines.empty():
            line = sidekick.lines.get_nowait()
            if line is not None:
                leftovers.append(json.loads(line))
        assert not [m for m in leftovers + before if m.get("id") == "run-1"]


def test_an_initialize_that_asks_for_2026_07_28_gets_the_newest_handshake_version(sidekick: SidekickProcess) -> None:
    """2026-07-28 has no initialize: a client asking for it there is offered the handshake era's newest."""
    answer = sidekick.request(1, "initialize", {"protocolVersion": "2026-07-28", "capabilities": {}})
    assert answer["result"]["protocolVersion"] == "2025-11-25"
