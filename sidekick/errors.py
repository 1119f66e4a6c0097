"""Every error the sidekick can put on the wire, and the one place that maps the unexpected.

JSON-RPC errors are `RpcError` subclasses with a CODE and a default MESSAGE. Application errors use the
range -32000..-32049 (documented in the README). Errors that come *from* the peer are `RemoteError`;
local failures of the connection are `ConnectionClosedError` and `RequestTimeoutError`.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("sidekick.errors")


class RpcError(Exception):
    """A JSON-RPC error answer this side sends."""

    CODE = -32603
    MESSAGE = "Internal error"

    def __init__(self, message: str | None = None, data: Any = None) -> None:
        self.message = message or self.MESSAGE
        self.data = data
        super().__init__(self.message)

    @property
    def code(self) -> int:
        return self.CODE

    def to_error(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.CODE, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


class ParseError(RpcError):
    CODE = -32700
    MESSAGE = "Parse error"


class InvalidRequest(RpcError):
    CODE = -32600
    MESSAGE = "Invalid Request"


class MethodNotFound(RpcError):
    CODE = -32601
    MESSAGE = "Method not found"


class InvalidParams(RpcError):
    CODE = -32602
    MESSAGE = "Invalid params"


class InternalError(RpcError):
    CODE = -32603
    MESSAGE = "Internal error"


# Application errors: -32000..-32049.
class LineTooLong(RpcError):
    CODE = -32001
    MESSAGE = "Message too large"


class ServerShuttingDown(RpcError):
    CODE = -32002
    MESSAGE = "Server is shutting down"


class ModelError(RpcError):
    """The model endpoint failed in a way the run cannot recover from (auth, bad request, unreachable)."""

    CODE = -32010
    MESSAGE = "Model endpoint error"

    def __init__(self, message: str | None = None, kind: str = "error", retryable: bool = False,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message, {"kind": kind, "retryable": retryable})
        self.kind = kind
        self.retryable = retryable
        self.retry_after_s = retry_after_s  # what the endpoint asked for (Retry-After), if anything


class ContextOverflowError(ModelError):
    """The prompt does not fit the model's context window (kind "context_overflow").

    `context_tokens` is the window and `prompt_tokens` the prompt's size, when the endpoint said them.
    """

    def __init__(self, message: str, context_tokens: int | None = None, prompt_tokens: int | None = None) -> None:
        super().__init__(message, kind="context_overflow")
        self.context_tokens = context_tokens
        self.prompt_tokens = prompt_tokens
        for key, value in (("contextTokens", context_tokens), ("promptTokens", prompt_tokens)):
            if value is not None:
                self.data[key] = value


class ConfigurationError(RpcError):
    CODE = -32011
    MESSAGE = "Configuration error"


class HostToolError(RpcError):
    CODE = -32020
    MESSAGE = "Host tool failed"


class RemoteError(Exception):
    """An error answer received from the peer for a request this side sent."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(f"{message} (code {code})")
        self.code = code
        self.message = message
        self.data = data


class ConnectionClosedError(Exception):
    """The peer went away while a request this side sent was pending."""


class RequestTimeoutError(Exception):
    """A request this side sent got no answer in time."""


def to_rpc_error(exc: BaseException) -> RpcError:
    """Map any exception raised by a method to the error that goes on the wire.

    The traceback of an unexpected exception goes to the log (stderr), never to the peer.
    """
    if isinstance(exc, RpcError):
        return exc
    log.error("unexpected error in a method handler", exc_info=exc)
    return InternalError(data={"type": type(exc).__name__})


def describe_validation_error(exc: Any, root: str = "params") -> str:
    """A one-line, human-readable summary of a pydantic ValidationError; `root` names the whole value."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or root
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or str(exc)
