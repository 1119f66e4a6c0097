"""Which MCP era a request belongs to, told by what the client sends.

A request whose `_meta` carries `io.modelcontextprotocol/protocolVersion` is a 2026-07-28 ("modern") request:
stateless, its version and the client's capabilities in its own `_meta`, its result marked with `resultType`.
Anything else is served as the handshake era (2024-11-05 … 2025-11-25) always was. Both are served on the
same connection at the same time: an open stdio pipe is no session (2026-07-28, basic/index "Statelessness").

This module is imported at start-up, so it holds only what the per-request check needs: no pydantic models.
"""

from __future__ import annotations

from typing import Any

from sidekick import __version__
from sidekick.errors import InvalidParams, RpcError, ServerShuttingDown

MODERN_PROTOCOL_VERSIONS = ("2026-07-28",)
SERVED_VERSIONS = ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")  # newest first

PROTOCOL_VERSION_KEY = "io.modelcontextprotocol/protocolVersion"
CLIENT_CAPABILITIES_KEY = "io.modelcontextprotocol/clientCapabilities"
CLIENT_INFO_KEY = "io.modelcontextprotocol/clientInfo"
LOG_LEVEL_KEY = "io.modelcontextprotocol/logLevel"
SERVER_INFO_KEY = "io.modelcontextprotocol/serverInfo"
RELATED_TASK_KEY = "io.modelcontextprotocol/related-task"
TASKS_EXTENSION = "io.modelcontextprotocol/tasks"
SIDEKICK_EXTENSION = "io.github.eliza-sidekick/sidekick"
"""Our extension: `sidekick/run`, and host tools asked for with `input_required` results (host/callTool)."""

SERVER_NAME = "eliza-sidekick"
SERVER_INFO = {SERVER_INFO_KEY: {"name": SERVER_NAME, "version": __version__}}


class MissingRequiredClientCapability(RpcError):
    CODE = -32021
    MESSAGE = "Missing required client capability"


class UnsupportedProtocolVersion(RpcError):
    CODE = -32022
    MESSAGE = "Unsupported protocol version"


def shutdown_error(params: Any, message: str | None = None) -> RpcError:
    """What a request refused or cut short by shutdown gets: -32002 in the handshake era; 2026-07-28 has no
    such code, so an internal error saying why."""
    meta = params.get("_meta") if isinstance(params, dict) else None
    if isinstance(meta, dict) and PROTOCOL_VERSION_KEY in meta:
        return RpcError(message or ServerShuttingDown.MESSAGE)
    return ServerShuttingDown(message)


class Envelope:
    """The per-request protocol fields of a 2026-07-28 request."""

    __slots__ = ("version", "capabilities", "client_info")  # a plain class: a dataclass costs start-up time

    def __init__(self, version: str, capabilities: dict[str, Any], client_info: Any = None) -> None:
        self.version = version
        self.capabilities = capabilities
        self.client_info = client_info

    def has_extension(self, identifier: str) -> bool:
        extensions = self.capabilities.get("extensions")
        return isinstance(extensions, dict) and isinstance(extensions.get(identifier), dict)

    def require_extension(self, identifier: str, why: str) -> None:
        if not self.has_extension(identifier):
            raise MissingRequiredClientCapability(
                f"Missing required client capability: {why} needs the extension {identifier}; declare it in "
                f"_meta[{CLIENT_CAPABILITIES_KEY!r}].extensions",
                {"requiredCapabilities": {"extensions": {identifier: {}}}})


def envelope(params: dict[str, Any]) -> Envelope | None:
    """The request's 2026-07-28 envelope, or None for a handshake-era request.

    Raises UnsupportedProtocolVersion for a version we do not serve per request, and InvalidParams for an
    envelope without its required client capabilities (a malformed request, as the specification says).
    """
    meta = params.get("_meta")
    if type(meta) is not dict or PROTOCOL_VERSION_KEY not in meta:
        return None
    version = meta[PROTOCOL_VERSION_KEY]
    if not isinstance(version, str):
        raise InvalidParams(f"Invalid params: _meta[{PROTOCOL_VERSION_KEY!r}] must be a string")
    if version not in MODERN_PROTOCOL_VERSIONS:
        raise UnsupportedProtocolVersion(
            f"Unsupported protocol version {version!r} in _meta: requests carrying "
            f"{PROTOCOL_VERSION_KEY} are served at {', '.join(MODERN_PROTOCOL_VERSIONS)}; "
            f"{', '.join(SERVED_VERSIONS[1:])} are served after an initialize handshake",
            {"supported": list(SERVED_VERSIONS), "requested": version})
    capabilities = meta.get(CLIENT_CAPABILITIES_KEY)
    if not isinstance(capabilities, dict):
        what = "is required on every 2026-07-28 request" if capabilities is None else "must be an object"
        raise InvalidParams(f"Invalid params: _meta[{CLIENT_CAPABILITIES_KEY!r}] {what}")
    return Envelope(version, capabilities, meta.get(CLIENT_INFO_KEY))


def complete(result: dict[str, Any], result_type: str = "complete") -> dict[str, Any]:
    """A result dict as 2026-07-28 sends it: `resultType` first, our identity in `_meta`."""
    meta = result.pop("_meta", None)
    return {"resultType": result_type, **result, "_meta": {**(meta or {}), **SERVER_INFO}}
