from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pydantic import BaseModel

from sidekick.errors import ConnectionClosedError, RemoteError, RequestTimeoutError
from sidekick.dispatch import Method, RequestContext
from sidekick.session import Session


class EchoParams(BaseModel):
    value: int


def echo(ctx: RequestContext, params: EchoParams) -> dict[str, Any]:
    return {"value": params.value}


def boom(ctx: RequestContext, params: dict[str, Any]) -> None:
    raise ValueError("secret internals /etc/passwd")


class Harness:
    def __init__(self) -> None:
        self.sent: list[Any] = []
        self.sent_event = asyncio.Event()
        self.release = asyncio.Event()
        self.session = Session(self._send)
        self.session.add_method(Method("echo", echo, EchoParams))
        self.session.add_method(Method("boom", boom))
        self.session.add_method(Method("wait", self._wait))

    async def _wait(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self.release.wait()
        return {"waited": True}

    def _send(self, message: Any) -> None:
        json.dumps(message)  # everything sent must be serialisable
        self.sent.append(message)
        self.sent_event.set()

    def line(self, text: str | bytes) -> None:
        self.session.receive_line(text.encode() if isinstance(text, str) else text)

    async def next_sent(self, count: int = 1, timeout: float = 5.0) -> list[Any]:
        async def wait() -> None:
            while len(self.sent) < count:
                self.sent_event.clear()
                await self.sent_event.wait()
        await asyncio.wait_for(wait(), timeout)
        return self.sent


def req(request_id: Any, method: str, params: Any = None) -> str:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return json.dumps(message)


@pytest.fixture
def h() -> Harness:
    return Harness()


def error_code(message: dict[str, Any]) -> int:
    return message["error"]["code"]


async def test_parse_errors_answer_with_null_id(h: Harness) -> None:
    h.line("{not json")
    h.line(b'{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":"\xff"}}')
    assert [(m["id"], error_code(m)) for m in h.sent] == [(None, -32700), (None, -32700)]
    assert "invalid UTF-8" in h.sent[1]["error"]["message"]


@pytest.mark.parametrize("raw, expected_id", [
    ('{"id":1,"method":"echo"}', 1),
    ('{"jsonrpc":"1.0","id":2,"method":"echo"}', 2),
    ('{"jsonrpc":"2.0","id":3,"method":5}', 3),
    ('{"jsonrpc":"2.0","id":[1],"method":"echo"}', None),
    ('{"jsonrpc":"2.0","id":1.5,"method":"echo"}', None),
    ('{"jsonrpc":"2.0","id":true,"method":"echo"}', None),
    ('{"jsonrpc":"2.0","id":4,"method":"echo","params":"x"}', 4),
    ('{"jsonrpc":"2.0","id":5,"method":"echo","params":[1]}', 5),
    ('42', None),
    ('"text"', None),
    ('[]', None),
])
async def test_invalid_requests(h: Harness, raw: str, expected_id: Any) -> None:
    h.line(raw)
    assert len(h.sent) == 1
    assert h.sent[0]["id"] == expected_id and error_code(h.sent[0]) == -32600


async def test_method_not_found_and_invalid_params_are_readable(h: Harness) -> None:
    h.line(req(1, "nope"))
    h.line(req(2, "echo", {"value": "not a number"}))
    h.line(req(3, "echo", {}))
    assert error_code(h.sent[0]) == -32601 and h.sent[0]["id"] == 1
    assert error_code(h.sent[1]) == -32602 and "value" in h.sent[1]["error"]["message"]
    assert "Field required" in h.sent[2]["error"]["message"]


async def test_internal_error_has_no_traceback_or_message_on_the_wire(h: Harness, caplog: Any) -> None:
    h.line(req(1, "boom"))
    error = h.sent[0]["error"]
    assert error["code"] == -32603 and error["message"] == "Internal error"
    assert "passwd" not in json.dumps(h.sent[0]) and "Traceback" not in json.dumps(h.sent[0])
    assert any("passwd" in (r.exc_text or "") or r.exc_info for r in caplog.records)


async def test_sync_methods_answer_inline_and_notifications_get_nothing(h: Harness) -> None:
    h.line(req(7, "echo", {"value": 3}))
    h.line(json.dumps({"jsonrpc": "2.0", "method": "echo", "params": {"value": 1}}))
    h.line(json.dumps({"jsonrpc": "2.0", "method": "unknown/notification"}))
    assert h.sent == [{"jsonrpc": "2.0", "result": {"value": 3}, "id": 7}]


async def test_batch_is_answered_as_one_array_without_notifications(h: Harness) -> None:
    h.line(json.dumps([json.loads(req(1, "echo", {"value": 1})), {"jsonrpc": "2.0", "method": "echo",
                       "params": {"value": 2}}, 5, json.loads(req(2, "nope"))]))
    assert len(h.sent) == 1 and isinstance(h.sent[0], list)
    assert [m.get("id") for m in h.sent[0]] == [1, None, 2]
    assert h.sent[0][0]["result"] == {"value": 1}


async def test_batch_with_async_member_waits_for_it(h: Harness) -> None:
    h.line(json.dumps([json.loads(req(1, "wait")), json.loads(req(2, "echo", {"value": 2}))]))
    await asyncio.sleep(0)
    assert h.sent == []
    h.release.set()
    sent = await h.next_sent()
    assert [m["id"] for m in sent[0]] == [1, 2]


async def test_a_long_request_does_not_block_a_ping(h: Harness) -> None:
    h.line(req("long", "wait"))
    h.line(req(2, "echo", {"value": 1}))
    assert h.sent == [{"jsonrpc": "2.0", "result": {"value": 1}, "id": 2}]
    h.release.set()
    sent = await h.next_sent(2)
    assert sent[1]["id"] == "long" and sent[1]["result"] == {"waited": True}


async def test_cancelled_request_gets_no_answer(h: Harness) -> None:
    h.line(req("c1", "wait"))
    assert h.session.in_flight == 1
    task = next(iter(h.session._inflight.values()))
    h.line(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "c1"}}))
    h.line(json.dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "gone"}}))
    await asyncio.wait({task}, timeout=5)
    assert task.cancelled() and h.session.in_flight == 0
    h.line(req(9, "echo", {"value": 9}))
    assert h.sent == [{"jsonrpc": "2.0", "result": {"value": 9}, "id": 9}]


async def test_duplicate_id_in_flight_is_refused(h: Harness) -> None:
    h.line(req(1, "wait"))
    h.line(req(1, "wait"))
    assert error_code(h.sent[0]) == -32600 and h.sent[0]["id"] == 1
    h.release.set()
    await h.next_sent(2)
    assert h.sent[1]["result"] == {"waited": True}


async def test_string_and_integer_ids_do_not_collide(h: Harness) -> None:
    h.line(req(1, "wait"))
    h.line(req("1", "wait"))
    h.release.set()
    sent = await h.next_sent(2)
    assert sorted(str(type(m["id"])) for m in sent) == ["<class 'int'>", "<class 'str'>"]


async def test_outgoing_request_gets_its_answer(h: Harness) -> None:
    pending = asyncio.ensure_future(h.session.request("host/callTool", {"name": "x"}))
    await h.next_sent()
    outgoing = h.sent[0]
    assert outgoing["method"] == "host/callTool" and isinstance(outgoing["id"], str)
    h.line(json.dumps({"jsonrpc": "2.0", "id": "unknown", "result": {}}))  # dropped quietly
    h.line(json.dumps({"jsonrpc": "2.0", "id": outgoing["id"], "result": {"ok": 1}}))
    assert await pending == {"ok": 1}
    assert len(h.sent) == 1


async def test_outgoing_request_error_timeout_and_close(h: Harness) -> None:
    failing = asyncio.ensure_future(h.session.request("host/callTool"))
    await h.next_sent()
    h.line(json.dumps({"jsonrpc": "2.0", "id": h.sent[0]["id"], "error": {"code": -1, "message": "nope"}}))
    with pytest.raises(RemoteError, match="nope"):
        await failing
    with pytest.raises(RequestTimeoutError):
        await h.session.request("host/callTool", timeout=0.01)
    assert h.sent[-1]["method"] == "notifications/cancelled"
    orphan = asyncio.ensure_future(h.session.request("host/callTool"))
    await asyncio.sleep(0)
    h.session.close()
    with pytest.raises(ConnectionClosedError):
        await orphan


async def test_shutdown_answers_unfinished_requests_and_refuses_new_ones(h: Harness) -> None:
    h.line(req(1, "wait"))
    await h.session.shutdown(grace=0.01)
    assert h.sent[0]["id"] == 1 and error_code(h.sent[0]) == -32002
    h.line(req(2, "wait"))
    assert error_code(h.sent[1]) == -32002


async def test_unhashable_ids_in_responses_and_cancels_are_dropped_quietly(h: Harness) -> None:
    h.line('{"jsonrpc":"2.0","id":[1],"result":{}}')
    h.line('{"jsonrpc":"2.0","id":{"a":1},"error":{"code":1,"message":"x"}}')
    h.line('{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":[1]}}')
    h.line('[{"jsonrpc":"2.0","id":[2],"result":{}}]')
    assert h.sent == []


async def test_deeply_nested_json_is_a_parse_error_and_the_next_line_is_served(h: Harness) -> None:
    h.line("[" * 200_000 + "]" * 200_000)
    h.line('{"jsonrpc":"2.0","id":1,"method":"echo","params":{"value":NaN}}')
    h.line(req(2, "echo", {"value": 2}))
    assert [(m["id"], m.get("error", {}).get("code")) for m in h.sent] == [(None, -32700), (None, -32700), (2, None)]
    assert "nested too deeply" in h.sent[0]["error"]["message"]


async def test_a_param_named_ctx_is_just_a_param(h: Harness) -> None:
    h.line(req(1, "echo", {"value": 1, "ctx": "x"}))
    assert h.sent == [{"jsonrpc": "2.0", "result": {"value": 1}, "id": 1}]


async def test_no_answer_to_a_notification_during_shutdown(h: Harness) -> None:
    await h.session.shutdown(grace=0.01)
    h.line(json.dumps({"jsonrpc": "2.0", "method": "wait"}))
    assert h.sent == []


async def test_an_inline_request_reusing_an_in_flight_id_is_refused(h: Harness) -> None:
    h.line(req("r", "wait"))
    h.line(req("r", "echo", {"value": 1}))
    h.line(req("r", "nope"))
    h.line(req("other", "echo", {"value": 2}))
    assert [(m["id"], m.get("error", {}).get("code")) for m in h.sent] == [("r", -32600), ("r", -32600),
                                                                           ("other", None)]
    assert "already in use" in h.sent[0]["error"]["message"]
    h.release.set()
    sent = await h.next_sent(4)
    assert sent[3] == {"jsonrpc": "2.0", "result": {"waited": True}, "id": "r"}
    h.line(req("r", "echo", {"value": 3}))  # free again once answered
    assert h.sent[4] == {"jsonrpc": "2.0", "result": {"value": 3}, "id": "r"}


async def test_a_batch_still_running_at_shutdown_is_answered_in_full(h: Harness) -> None:
    h.line(json.dumps([json.loads(req(1, "wait")), json.loads(req(2, "echo", {"value": 2}))]))
    await h.session.shutdown(grace=0.01)
    assert len(h.sent) == 1 and isinstance(h.sent[0], list)
    assert {m["id"]: m.get("result") or error_code(m) for m in h.sent[0]} == {1: -32002, 2: {"value": 2}}


async def test_shutdown_stops_waiting_when_cut_short(h: Harness) -> None:
    h.line(req(1, "wait"))
    cut_short = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_soon(cut_short.set_result, None)
    await asyncio.wait_for(h.session.shutdown(grace=600, cut_short=cut_short), 30)  # not the 600 s grace
    assert h.sent[0]["id"] == 1 and error_code(h.sent[0]) == -32002


async def test_an_answer_to_our_request_wakes_the_caller_in_one_loop_iteration(h: Harness) -> None:
    pending = asyncio.ensure_future(h.session.request("host/callTool", {"name": "x"}, timeout=30))
    await h.next_sent()
    h.line(json.dumps({"jsonrpc": "2.0", "id": h.sent[0]["id"], "result": {"ok": 1}}))
    await asyncio.sleep(0)  # asyncio.wait_for would need a second: a callback, then the task's wake-up
    assert pending.done() and pending.result() == {"ok": 1}


async def test_a_timed_out_request_tells_the_peer_and_a_late_answer_is_dropped(h: Harness) -> None:
    with pytest.raises(RequestTimeoutError, match="host/callTool got no answer within 0.01 s"):
        await h.session.request("host/callTool", timeout=0.01)
    request_id = h.sent[0]["id"]
    assert h.sent[1] == {"jsonrpc": "2.0", "method": "notifications/cancelled",
                         "params": {"requestId": request_id, "reason": "timed out"}}
    h.line(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": {}}))
    assert len(h.sent) == 2


async def test_a_task_sends_its_answer_as_it_finishes_not_one_iteration_later(h: Harness) -> None:
    h.line(req(1, "wait"))
    await asyncio.sleep(0)  # the task starts and waits
    h.release.set()
    await asyncio.sleep(0)  # the task finishes: a done callback would send only after this
    assert h.sent == [{"jsonrpc": "2.0", "result": {"waited": True}, "id": 1}]


async def test_shutdown_answers_a_2026_request_with_an_error_that_revision_defines(h: Harness) -> None:
    meta = {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}}}
    h.line(req(1, "wait", meta))
    await h.session.shutdown(grace=0.01)
    h.line(req(2, "wait", meta))
    assert [(m["id"], error_code(m)) for m in h.sent] == [(1, -32603), (2, -32603)]
    assert all("shut" in m["error"]["message"] for m in h.sent)
