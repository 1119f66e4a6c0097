"""A byte cap on every response the model client reads, so no endpoint can grow our memory without end.

The cap sits below the `openai` client, in its HTTP client's response hook: a non-streamed body is read
whole before anything can count it, and the SSE decoder buffers a line (or an event) until it ends, so an
endpoint that sends a body or a line without end would otherwise be held in memory until the request
timeout. A streamed turn's text is capped separately, in characters (openai_model.MAX_TURN_CHARS).
"""

from __future__ import annotations

import sys
from typing import Any

from sidekick.agent import asyncio_network

MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # a 128k-token answer streamed as SSE is ~25 MB
_capped_class: type | None = None
_ssl_context: Any = None


class ResponseTooLarge(Exception):
    """A model endpoint's response went past MAX_RESPONSE_BYTES (raised while it is read)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the response went past {limit:,} bytes")
        self.limit = limit


def http_client() -> Any:
    """The `openai` client's default async HTTP client, with every response body capped, on the asyncio
    network backend (asyncio_network) where its pool is the one that backend knows."""
    from openai import DefaultAsyncHttpxClient

    async def cap(response: Any) -> None:
        response.stream = _capped(response)(response.stream, MAX_RESPONSE_BYTES)

    client = DefaultAsyncHttpxClient(event_hooks={"response": [cap]}, **_shared_verify(DefaultAsyncHttpxClient))
    asyncio_network.install(client)
    return client


def _shared_verify(client_class: type) -> dict[str, Any]:
    # Each HTTP client would load the CA bundle into an SSL context of its own (~50 ms of CPU and 0.75 MB),
    # and an endpoint under load has several clients: they share the one the library's defaults give.
    global _ssl_context
    if _ssl_context is None:
        bases = [c for c in client_class.__mro__ if c.__name__ == "AsyncClient"]  # httpx's, or its fork's
        library = sys.modules.get(bases[0].__module__.split(".")[0]) if bases else None
        create = getattr(library, "create_ssl_context", None)  # public from httpx 0.28
        if create is None:  # an older httpx: each client makes its own, as before
            return {}
        _ssl_context = create()
    return {"verify": _ssl_context}


def _capped(response: Any) -> type:
    # The body must stay an AsyncByteStream of the HTTP library `openai` was built on (httpx, or a
    # fork of it in newer releases), so the class is made from the module the response comes from.
    global _capped_class
    if _capped_class is None:
        base = sys.modules[type(response).__module__.split(".")[0]].AsyncByteStream

        class CappedBody(base):  # type: ignore[misc, valid-type]
            def __init__(self, inner: Any, limit: int) -> None:
                self.inner = inner
                self.limit = limit

            async def __aiter__(self) -> Any:
                seen = 0
                async for chunk in self.inner:
                    seen += len(chunk)
                    if seen > self.limit:
                        raise ResponseTooLarge(self.limit)
                    yield chunk

            async def aclose(self) -> None:
                await self.inner.aclose()

        _capped_class = CappedBody
    return _capped_class


def caused_by_size(exc: BaseException) -> ResponseTooLarge | None:
    """The ResponseTooLarge behind `exc` (older `openai` releases wrap it in APIConnectionError)."""
    seen: BaseException | None = exc
    for _ in range(8):  # a chain is short; the bound only guards against a cycle
        if seen is None or isinstance(seen, ResponseTooLarge):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
