"""Method handlers, the context they get, and their adapters to jsonrpcserver's dispatch.

A handler is `handler(ctx, params)`: a plain `def` for cheap methods (answered inline) or an `async def`
(run as a task). Its params are validated with its pydantic model first; whatever it raises becomes the
JSON-RPC error that `sidekick.errors.to_rpc_error` says. A plain `def` without a params model (`ping`)
is called directly: it is the hot path of every health check, and there is nothing to dispatch.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Protocol

from pydantic import BaseModel, ValidationError

from sidekick.errors import InvalidParams, describe_validation_error, to_rpc_error
from sidekick.protocol import ProgressParams, to_wire


def _finish_package(package: ModuleType, name: str) -> Any:
    del package.__getattr__
    package.__spec__.loader.exec_module(package)  # type: ignore[union-attr]
    return getattr(package, name)


def _jsonrpcserver(submodule: str) -> ModuleType:
    """A module of jsonrpcserver, without running the package's __init__ until someone needs it.

    That __init__ imports jsonschema (to validate requests: the session checks the envelope itself) and
    http.server (for its `serve`): most of jsonrpcserver's start-up cost, and none of it used here.
    Another importer of `jsonrpcserver` still gets the whole package: its first attribute look-up
    runs the __init__.
    """
    if "jsonrpcserver" not in sys.modules:
        spec = importlib.util.find_spec("jsonrpcserver")
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError("No module named 'jsonrpcserver'", name="jsonrpcserver")
        package = importlib.util.module_from_spec(spec)
        package.__getattr__ = lambda name: _finish_package(package, name)  # type: ignore[method-assign]
        sys.modules["jsonrpcserver"] = package
    return importlib.import_module(f"jsonrpcserver.{submodule}")


_sync = _jsonrpcserver("dispatcher")
_async = _jsonrpcserver("async_dispatcher")
_result = _jsonrpcserver("result")
_response = _jsonrpcserver("response")
JsonRpcError = _jsonrpcserver("exceptions").JsonRpcError
NOID = _jsonrpcserver("sentinels").NOID

class Peer(Protocol):
    """What a handler may do with the other side (`sidekick.session.Session` is one)."""

    def notify(self, method: str, params: dict[str, Any] | None = None) -> None: ...

    async def request(self, method: str, params: dict[str, Any] | None = None,
                      timeout: float | None = None) -> Any: ...

    def track(self, task: asyncio.Task[Any]) -> None: ...


@dataclass(slots=True)
class RequestContext:
    """What a method handler knows about the request it serves."""

    session: Peer
    id: Any
    method: str
    params: dict[str, Any]

    @property
    def progress_token(self) -> Any:
        meta = self.params.get("_meta")
        return meta.get("progressToken") if isinstance(meta, dict) else None

    def progress(self, progress: float, message: str | None = None, total: float | None = None) -> None:
        """Send `notifications/progress` when the request asked for it (MCP `_meta.progressToken`)."""
        token = self.progress_token
        if token is None:
            return
        self.session.notify("notifications/progress", to_wire(ProgressParams(
            progress_token=token, progress=progress, total=total, message=message)))


Handler = Callable[[RequestContext, Any], Any]


@dataclass(slots=True)
class Method:
    """A method handler with its params model; `is_async` handlers run as tasks."""

    name: str
    handler: Handler
    params_model: type[BaseModel] | None = None
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.handler)

    def parse(self, params: dict[str, Any]) -> Any:
        if self.params_model is None:
            return params
        try:
            return self.params_model.model_validate(params)
        except ValidationError as exc:
            raise InvalidParams(f"Invalid params: {describe_validation_error(exc)}") from None


def _as_result(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    return {} if value is None else value


def _wire_error(exc: BaseException) -> JsonRpcError:
    error = to_rpc_error(exc)
    return JsonRpcError(error.code, error.message, error.data) if error.data is not None else \
        JsonRpcError(error.code, error.message)


# Entries take (ctx, /, **params) and the session lets only object params through, so jsonrpcserver's
# argument check (inspect.Signature.bind, a third of its per-call cost) could never fail: entries are
# called through its `call`, which maps what they raise and checks what they return.
def _sync_entry(method: Method) -> Callable[..., Any]:
    # ctx is positional-only so that a params member named "ctx" is just another param.
    def entry(ctx: RequestContext, /, **params: Any) -> Any:
        try:
            return _result.Success(_as_result(method.handler(ctx, method.parse(params))))
        except Exception as exc:
            raise _wire_error(exc) from None
    return entry


def _async_entry(method: Method) -> Callable[..., Any]:
    async def entry(ctx: RequestContext, /, **params: Any) -> Any:
        try:
            return _result.Success(_as_result(await method.handler(ctx, method.parse(params))))
        except Exception as exc:
            raise _wire_error(exc) from None
    return entry


def _answer(request: Any, result: Any) -> dict[str, Any] | None:
    if request.id is NOID:  # a notification: no answer
        return None
    return _response.to_serializable_one(_sync.to_response(request, result))  # type: ignore[no-any-return]


class MethodTable:
    """The methods a session serves, ready for jsonrpcserver: one table for inline, one for tasks."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}
        self._entries: dict[str, Callable[..., Any]] = {}

    def add(self, method: Method) -> None:
        self.methods[method.name] = method
        self._entries[method.name] = _async_entry(method) if method.is_async else _sync_entry(method)

    def get(self, name: str) -> Method | None:
        return self.methods.get(name)

    def dispatch_inline(self, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        """Answer a request for a plain-`def` method (or an unknown one: -32601) without a task switch."""
        method = self.methods.get(ctx.method)
        if method is not None and method.params_model is None:
            return _direct(method, message, ctx)
        request = _sync.create_request(message)
        found = _sync.get_method(self._entries, request.method)  # -32601 when unknown
        return _answer(request, found.bind(functools.partial(_sync.call, request, ctx)))

    async def dispatch(self, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        """Answer a request for an `async def` method."""
        request = _sync.create_request(message)
        return _answer(request, await _async.call(request, ctx, self._entries[request.method]))


def _direct(method: Method, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = {"jsonrpc": "2.0", "result": _as_result(method.handler(ctx, ctx.params))}
    except Exception as exc:
        answer = {"jsonrpc": "2.0", "error": to_rpc_error(exc).to_error()}
    if "id" not in message:
        return None
    answer["id"] = message["id"]
    return answer
