"""The method table: jsonrpcserver dispatches, its unused imports are not paid, and ping skips it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from pydantic import BaseModel

from sidekick.dispatch import Method, MethodTable, RequestContext
from sidekick.errors import InvalidParams

ROOT = Path(__file__).resolve().parents[1]


def python(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_the_dispatcher_is_loaded_without_jsonschema_or_http_server() -> None:
    loaded = python("import sys, sidekick.dispatch; "
                    "print(sorted(m for m in ('jsonschema', 'http.server', 'jsonrpcserver.main') if m in sys.modules))")
    assert loaded == "[]"


def test_another_importer_of_jsonrpcserver_still_gets_the_whole_package() -> None:
    answer = python("import sidekick.dispatch, json; from jsonrpcserver import dispatch, Success, method; "
                    "import jsonrpcserver; "
                    "print(dispatch('{\"jsonrpc\": \"2.0\", \"method\": \"nope\", \"id\": 1}', {}), "
                    "callable(jsonrpcserver.serve))")
    assert '"code": -32601' in answer and answer.endswith("True")


class Value(BaseModel):
    value: int


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The methods jsonrpcserver's own `call` dispatched."""
    import jsonrpcserver.dispatcher as dispatcher

    seen: list[str] = []
    real = dispatcher.call
    monkeypatch.setattr(dispatcher, "call", lambda request, context, method: (
        seen.append(request.method), real(request, context, method))[1])
    yield seen


def answer(table: MethodTable, message: dict[str, Any]) -> dict[str, Any] | None:
    ctx = RequestContext(None, message.get("id"), message["method"], message.get("params", {}))  # type: ignore[arg-type]
    return table.dispatch_inline(message, ctx)


def test_ping_is_answered_without_the_dispatcher_and_other_methods_through_it(calls: list[str]) -> None:
    table = MethodTable()
    table.add(Method("ping", lambda ctx, params: {}))
    table.add(Method("double", lambda ctx, params: {"value": params.value * 2}, Value))
    assert answer(table, {"jsonrpc": "2.0", "id": 7, "method": "ping"}) == {"jsonrpc": "2.0", "result": {}, "id": 7}
    assert answer(table, {"jsonrpc": "2.0", "id": 8, "method": "double", "params": {"value": 2}}) == {
        "jsonrpc": "2.0", "result": {"value": 4}, "id": 8}
    assert answer(table, {"jsonrpc": "2.0", "id": 9, "method": "double", "params": {"value": "x"}})[
        "error"]["code"] == -32602
    assert calls == ["double", "double"]


def test_unknown_methods_and_notifications_keep_jsonrpcservers_answers(calls: list[str]) -> None:
    table = MethodTable()
    table.add(Method("ping", lambda ctx, params: {}))
    assert answer(table, {"jsonrpc": "2.0", "id": 1, "method": "nope"})["error"] == {
        "code": -32601, "message": "Method not found", "data": "nope"}
    assert answer(table, {"jsonrpc": "2.0", "method": "nope"}) is None
    assert answer(table, {"jsonrpc": "2.0", "method": "ping"}) is None
    assert answer(table, {"jsonrpc": "2.0", "id": None, "method": "ping"}) == {"jsonrpc": "2.0", "result": {}, "id": None}


def test_a_direct_method_that_raises_answers_its_error() -> None:
    def refuse(ctx: RequestContext, params: dict[str, Any]) -> None:
        raise InvalidParams("no, thanks")

    def crash(ctx: RequestContext, params: dict[str, Any]) -> None:
        raise KeyError("internals")

    table = MethodTable()
    table.add(Method("refuse", refuse))
    table.add(Method("crash", crash))
    assert answer(table, {"jsonrpc": "2.0", "id": 1, "method": "refuse"}) == {
        "jsonrpc": "2.0", "error": {"code": -32602, "message": "no, thanks"}, "id": 1}
    crashed = answer(table, {"jsonrpc": "2.0", "id": 2, "method": "crash"})
    assert crashed["error"]["code"] == -32603 and "internals" not in str(crashed)
