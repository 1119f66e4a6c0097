"""Method handlers, the context they get, and their adapters to jsonrpcserver's dispatch.

A handler is `handler(ctx, params)`: a plain `def` for cheap methods (answered inline) or an `async def`
(run as a task). Its params are validated with its pydantic model first; whatever it raises becomes the
JSON-RPC error that `sidekick.errors.to_rpc_error` says.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from jsonrpcserver import JsonRpcError, Success, async_dispatch_to_response, dispatch_to_response
from jsonrpcserver.response import to_serializable_one
from pydantic import BaseModel, ValidationError

from sidekick.errors import InvalidParams, describe_validation_error, to_rpc_error

if TYPE_CHECKING:
    from sidekick.session import Session


@dataclass(slots=True)
class RequestContext:
    """What a method handler knows about the request it serves."""

    session: Session
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
        params: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            params["total"] = total
        if message is not None:
            params["message"] = message
        self.session.notify("notifications/progress", params)


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


def _with_signature(entry: Callable[..., Any]) -> Callable[..., Any]:
    # jsonrpcserver binds every call against inspect.signature(); precomputing it halves a ping's cost.
    entry.__signature__ = inspect.signature(entry)  # type: ignore[attr-defined]
    return entry


def _sync_entry(method: Method) -> Callable[..., Any]:
    # ctx is positional-only so that a params member named "ctx" is just another param.
    def entry(ctx: RequestContext, /, **params: Any) -> Any:
        try:
            return Success(_as_result(method.handler(ctx, method.parse(params))))
        except Exception as exc:
            raise _wire_error(exc) from None
    return _with_signature(entry)


def _async_entry(method: Method) -> Callable[..., Any]:
    async def entry(ctx: RequestContext, /, **params: Any) -> Any:
        try:
            return Success(_as_result(await method.handler(ctx, method.parse(params))))
        except Exception as exc:
            raise _wire_error(exc) from None
    return _with_signature(entry)


def _identity(value: Any) -> Any:
    return value


class MethodTable:
    """The methods a session serves, ready for jsonrpcserver: one table for inline, one for tasks."""

    def __init__(self) -> None:
        self.methods: dict[str, Method] = {}
        self._sync: dict[str, Callable[..., Any]] = {}
        self._async: dict[str, Callable[..., Any]] = {}

    def add(self, method: Method) -> None:
        self.methods[method.name] = method
        if method.is_async:
            self._async[method.name] = _async_entry(method)
        else:
            self._sync[method.name] = _sync_entry(method)

    def get(self, name: str) -> Method | None:
        return self.methods.get(name)

    def dispatch_inline(self, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        """Answer a request for a plain-`def` method (or an unknown one: -32601) without a task switch."""
        return dispatch_to_response(message, self._sync, context=ctx, deserializer=_identity,  # type: ignore[return-value]
                                    validator=_identity, post_process=to_serializable_one)

    async def dispatch(self, message: dict[str, Any], ctx: RequestContext) -> dict[str, Any] | None:
        """Answer a request for an `async def` method."""
        return await async_dispatch_to_response(message, self._async, context=ctx, deserializer=_identity,
                                                validator=_identity, post_process=to_serializable_one)
