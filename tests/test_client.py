"""SidekickClient against a scripted peer process (and once against the real sidekick)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, AsyncIterator

import pytest

from sidekick.client import SidekickClient, SidekickExitedError
from sidekick.errors import InvalidParams, RemoteError

DEADLINE_S = 20

# A stand-in `sidekick --stdio`: `echo` answers with what it was sent, the ids it was told are cancelled and
# the answers it got to no question, `fail` answers with an error, `progress` reports two steps first, `ask`
# asks the host for a tool and answers with the host's whole answer, `withdraw` cancels the pending asks,
# `noise` writes a line that is not JSON first, `hang` never answers, and the `exit` notification exits
# with code 3.
PEER = r'''
import json, sys

def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()

asks, cancelled, stray = {}, [], []
for line in sys.stdin:
    message = json.loads(line)
    method, params, rid = message.get("method"), message.get("params") or {}, message.get("id")
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "protocolVersion": params["protocolVersion"], "serverInfo": {"name": "peer", "version": "0"},
            "capabilities": {"experimental": {"sidekick": {"hostToolMeta": True}}}}})
    elif method == "echo":
        send({"jsonrpc": "2.0", "id": rid, "result": {"id": rid, "params": params, "cancelled": cancelled,
                                                    "stray": stray}})
    elif method == "fail":
        send({"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "it failed", "data": [1]}})
    elif method == "progress":
        for step in (1, 2):
            send({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": params["_meta"]["progressToken"], "progress": step, "message": f"step {step}"}})
        send({"jsonrpc": "2.0", "id": rid, "result": "done"})
    elif method == "ask":
        asks[f"s-{rid}"] = rid
        send({"jsonrpc": "2.0", "id": f"s-{rid}", "method": params.get("method", "host/callTool"), "params": {
            "name": "lookup", "arguments": {"key": params.get("key")}, "_meta": {"relatedRequestId": rid}}})
    elif method == "withdraw":
        for ask in asks:
            send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": ask}})
        asks.clear()
        send({"jsonrpc": "2.0", "id": rid, "result": "withdrawn"})
    elif method == "noise":
        sys.stdout.write("not json\n")
        send({"jsonrpc": "2.0", "id": rid, "result": "after the noise"})
    elif method is None and rid in asks:
        send({"jsonrpc": "2.0", "id": asks.pop(rid), "result": message})
    elif method is None:
        stray.append(message)
    elif method == "notifications/cancelled":
        cancelled.append(params["requestId"])
    elif method == "exit":
        sys.stderr.write("peer: giving up\n")
        sys.stderr.flush()
        sys.exit(3)
'''


@pytest.fixture
async def peer() -> AsyncIterator[SidekickClient]:
    client = await SidekickClient.spawn(command=[sys.executable, "-c", PEER], capture_stderr=True)
    yield client
    await client.close()


def within(awaitable: Any) -> Any:
    return asyncio.wait_for(awaitable, DEADLINE_S)


async def test_spawn_keeps_the_initialize_result(peer: SidekickClient) -> None:
    assert peer.server_info == {"name": "peer", "version": "0"}
    assert peer.capabilities["experimental"]["sidekick"]["hostToolMeta"] is True
    assert peer.initialize_result["protocolVersion"] == "2025-06-18"


async def test_requests_get_their_results_and_error_answers_raise_remote_error(peer: SidekickClient) -> None:
    first, second = await within(asyncio.gather(peer.request("echo", {"n": 1}), peer.request("echo")))
    assert first["params"] == {"n": 1} and second["params"] == {} and first["id"] != second["id"]
    assert (await within(peer.request("echo", request_id="mine-1")))["id"] == "mine-1"
    with pytest.raises(RemoteError) as info:
        await within(peer.request("fail"))
    assert (info.value.code, info.value.message, info.value.data) == (-32000, "it failed", [1])


async def test_a_caller_chosen_id_already_pending_is_refused(peer: SidekickClient) -> None:
    hanging = asyncio.ensure_future(peer.request("hang", request_id="twice"))
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="already pending"):
        await peer.request("echo", request_id="twice")
    hanging.cancel()
    await asyncio.gather(hanging, return_exceptions=True)


async def test_progress_reaches_the_callback_of_its_request(peer: SidekickClient) -> None:
    seen: list[tuple[float, str]] = []
    assert await within(peer.request("progress", on_progress=lambda step, text: seen.append((step, text)))) == "done"
    assert seen == [(1, "step 1"), (2, "step 2")]


async def test_host_tool_calls_are_answered_with_their_meta(peer: SidekickClient) -> None:
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def host_tool(name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        calls.append((name, arguments, meta))
        if arguments["key"] == "refuse":
            raise InvalidParams("not this one")
        if arguments["key"] == "crash":
            raise KeyError("missing")
        return {"content": [{"type": "text", "text": f"value of {arguments['key']}"}], "isError": False}

    peer.on_host_tool = host_tool
    answer = await within(peer.request("ask", {"key": "k"}, request_id="run-7"))
    assert answer["result"]["content"][0]["text"] == "value of k"
    assert calls == [("lookup", {"key": "k"}, {"relatedRequestId": "run-7"})]
    refused = await within(peer.request("ask", {"key": "refuse"}))
    assert refused["error"] == {"code": -32602, "message": "not this one"}
    crashed = await within(peer.request("ask", {"key": "crash"}))
    assert crashed["result"] == {"content": [{"type": "text", "text": "KeyError: 'missing'"}], "isError": True}


async def test_unknown_requests_and_host_calls_without_a_handler_get_method_not_found(peer: SidekickClient) -> None:
    no_tools = await within(peer.request("ask", {"key": "k"}))
    assert no_tools["error"]["code"] == -32601 and "offers no tools" in no_tools["error"]["message"]
    unknown = await within(peer.request("ask", {"method": "host/other"}))
    assert unknown["error"] == {"code": -32601, "message": "Method not found", "data": "host/other"}


async def test_a_host_call_the_child_withdraws_is_cancelled_and_not_answered(peer: SidekickClient) -> None:
    started, outcome = asyncio.Event(), []

    async def host_tool(name: str, arguments: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return {}

    peer.on_host_tool = host_tool
    asking = asyncio.ensure_future(peer.request("ask", {"key": "k"}))
    await within(started.wait())
    assert await within(peer.request("withdraw")) == "withdrawn"
    assert outcome == ["cancelled"]
    asking.cancel()
    await asyncio.gather(asking, return_exceptions=True)
    assert (await within(peer.request("echo")))["stray"] == []


async def test_noise_on_the_child_stdout_goes_to_the_stderr_tail_unanswered(peer: SidekickClient) -> None:
    assert await within(peer.request("noise")) == "after the noise"
    assert "(unparsable stdout line) b'not json\\n'" in peer.stderr_tail
    assert (await within(peer.request("echo")))["stray"] == []


async def test_cancelling_the_awaiting_task_tells_the_peer_and_the_client_still_works(peer: SidekickClient) -> None:
    waiting = asyncio.ensure_future(peer.request("hang", request_id="slow"))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await within(peer.request("echo")))["cancelled"] == ["slow"]


async def test_the_child_exiting_rejects_pending_requests_naming_the_code(peer: SidekickClient) -> None:
    waiting = asyncio.ensure_future(peer.request("hang"))
    await asyncio.sleep(0)
    peer.notify("exit")
    with pytest.raises(SidekickExitedError, match=r"code 3\).*\n.*peer: giving up") as info:
        await within(waiting)
    assert info.value.returncode == 3
    with pytest.raises(SidekickExitedError, match="code 3"):
        await within(peer.request("echo"))
    assert await peer.close() == 3


async def test_the_real_sidekick_initializes_answers_and_closes_cleanly() -> None:
    async with await SidekickClient.spawn("--log-level", "error", capture_stderr=True) as client:
        assert client.capabilities["experimental"]["sidekick"]["hostToolMeta"] is True
        assert client.server_info["name"]
        assert await within(client.request("ping")) == {}
        with pytest.raises(RemoteError) as info:
            await within(client.request("no/such/method"))
        assert info.value.code == -32601
    assert client.process.returncode == 0
