"""An asyncio network backend for the HTTP connection pool under the `openai` client.

httpcore's default backend goes through anyio: a cancel scope and a checkpoint on every socket write, a
`fail_after` timer on every read and write, and a `select()` on every idle pooled connection each time a
request comes or goes (its keep-alive check). With hundreds of requests in flight that is a large share of
the sidekick's CPU. This backend does the same work on a plain asyncio Protocol: a read whose bytes are
already here returns them, a wait arms a timer only when it has a timeout, and an idle connection knows the
peer closed it because the event loop keeps reading it (no syscall to ask).

It plugs in through httpcore's documented interface (`AsyncNetworkBackend`, `AsyncNetworkStream`), for
httpcore or its fork (httpcore2, under newer `openai` releases): the errors raised are that library's own,
so httpx and then `openai` map them exactly as they map the default backend's.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import sys
from typing import Any, Iterable, NamedTuple

READ_BUFFER_LIMIT = 256 * 1024  # bytes received but not yet read past which the socket stops being read
HAPPY_EYEBALLS_DELAY_S = 0.25  # anyio's: the next address of a host is tried if one has not connected by then


class _Errors(NamedTuple):
    """The HTTP core library's exception classes, which its callers know how to map."""

    connect: type[Exception]
    connect_timeout: type[Exception]
    read: type[Exception]
    read_timeout: type[Exception]
    write: type[Exception]
    write_timeout: type[Exception]

    @classmethod
    def of(cls, core: Any) -> _Errors:
        return cls(core.ConnectError, core.ConnectTimeout, core.ReadError, core.ReadTimeout, core.WriteError,
                   core.WriteTimeout)


def install(http_client: Any) -> bool:
    """Put the asyncio backend under `http_client`'s own connection pool; False (nothing changed) when that
    pool is not the plain httpcore pool this backend was written against."""
    pool = getattr(getattr(http_client, "_transport", None), "_pool", None)
    core = sys.modules.get(type(pool).__module__.split(".")[0])
    # The exact class: a proxy pool subclasses it and tunnels through the stream it gets.
    if core is None or type(pool) is not getattr(core, "AsyncConnectionPool", None) \
            or not hasattr(pool, "_network_backend") or not hasattr(core, "WriteTimeout"):
        return False
    pool._network_backend = AsyncioBackend(_Errors.of(core))
    return True


class AsyncioBackend:
    """httpcore's `AsyncNetworkBackend` on asyncio's own transports."""

    def __init__(self, errors: _Errors) -> None:
        self._errors = errors

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        # asyncio sets TCP_NODELAY on every TCP socket, as the default backend does.
        return await self._connect(loop.create_connection(
            lambda: AsyncioStream(self._errors), host, port, local_addr=local,
            happy_eyeballs_delay=HAPPY_EYEBALLS_DELAY_S), timeout, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        return await self._connect(loop.create_unix_connection(lambda: AsyncioStream(self._errors), path),
                                   timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _connect(self, connecting: Any, timeout: float | None,
                       socket_options: Iterable[Any] | None) -> AsyncioStream:
        try:
            _, stream = await asyncio.wait_for(connecting, timeout)
        except asyncio.TimeoutError as exc:  # before OSError: from 3.11 it is the built-in TimeoutError, an OSError
            raise self._errors.connect_timeout(str(exc) or "timed out connecting") from exc
        except OSError as exc:
            raise self._errors.connect(str(exc)) from exc
        try:
            for option in socket_options or ():
                stream.get_extra_info("socket").setsockopt(*option)
        except OSError as exc:
            stream.abort()
            raise self._errors.connect(str(exc)) from exc
        return stream


class AsyncioStream(asyncio.Protocol):
    """One connection: the event loop's protocol for its socket, and httpcore's `AsyncNetworkStream` over it.

    Bytes are buffered as they arrive (up to READ_BUFFER_LIMIT, then the socket is paused) and handed to
    `read`; `write` hands bytes to the transport and waits only while its buffer is over its high-water mark.
    httpcore reads from one task and writes from one task at a time, so one waiter of each is enough.
    """

    def __init__(self, errors: _Errors) -> None:
        self._errors = errors
        self._loop = asyncio.get_running_loop()
        self._transport: Any = None
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._reading_paused = False
        self._writing_paused = False
        self._at_eof = False  # the peer will send nothing more (it shut its side, or the connection is gone)
        self._lost: BaseException | None = None  # why the connection was lost, when it was by an error
        self._closed = False  # closed by us
        self._read_waiter: asyncio.Future[bool] | None = None
        self._write_waiter: asyncio.Future[bool] | None = None

    # The event loop's side (asyncio.Protocol).

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._chunks.append(bytes(data))  # no copy of bytes; the proactor loop may pass a bytearray
        self._buffered += len(data)
        if self._buffered > READ_BUFFER_LIMIT and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()
        _wake(self._read_waiter)

    def eof_received(self) -> bool:
        self._at_eof = True
        _wake(self._read_waiter)
        return False  # the transport closes itself: nothing is left to send on a connection the server ended

    def connection_lost(self, exc: BaseException | None) -> None:
        self._at_eof = True
        self._lost = exc
        _wake(self._read_waiter)
        _wake(self._write_waiter)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        _wake(self._write_waiter)

    # httpcore's side (AsyncNetworkStream).

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        if not self._chunks and not self._at_eof and not self._closed:
            self._read_waiter = self._loop.create_future()
            try:
                if not await _wait(self._loop, self._read_waiter, timeout):
                    raise self._errors.read_timeout("timed out reading")
            finally:
                self._read_waiter = None
        if self._closed:
            raise self._errors.read("the connection is closed")
        if not self._chunks:
            if self._lost is not None:
                raise self._errors.read(str(self._lost) or type(self._lost).__name__) from self._lost
            return b""
        chunk = self._chunks.popleft()
        if len(chunk) > max_bytes:
            self._chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self._buffered -= len(chunk)
        if self._reading_paused and self._buffered <= READ_BUFFER_LIMIT:
            self._reading_paused = False
            self._transport.resume_reading()
        return chunk

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        self._check_writable()
        try:
            self._transport.write(buffer)
        except (RuntimeError, OSError) as exc:  # a transport that is closing or whose SSL state broke
            raise self._errors.write(str(exc)) from exc
        if self._writing_paused:
            self._write_waiter = self._loop.create_future()
            try:
                if not await _wait(self._loop, self._write_waiter, timeout):
                    raise self._errors.write_timeout("timed out writing")
            finally:
                self._write_waiter = None
            self._check_writable()

    async def aclose(self) -> None:
        # Abort, not close: nothing we would still send matters on a connection being dropped, and a TLS close
        # would wait on the peer's close_notify (the default backend does not send one either). The socket is
        # closed on the loop's next iteration.
        self.abort()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        try:
            self._transport = await asyncio.wait_for(self._loop.start_tls(
                self._transport, self, ssl_context, server_hostname=server_hostname), timeout)
        except asyncio.TimeoutError as exc:
            self.abort()
            raise self._errors.connect_timeout("timed out in the TLS handshake") from exc
        except OSError as exc:  # ssl.SSLError (a certificate refused) is one
            self.abort()
            raise self._errors.connect(str(exc)) from exc
        except BaseException:
            self.abort()
            raise
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # asked of every idle pooled connection on each request: kept cheap
            return bool(self._chunks) or self._at_eof
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None

    def abort(self) -> None:
        """Drop the connection at once (its socket closes on the event loop's next iteration)."""
        if not self._closed:
            self._closed = True
            self._transport.abort()

    def _check_writable(self) -> None:
        if self._closed:
            raise self._errors.write("the connection is closed")
        if self._lost is not None or self._transport.is_closing():
            raise self._errors.write(str(self._lost or "the connection was closed by the server"))


def _wake(waiter: asyncio.Future[bool] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(True)


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


async def _wait(loop: asyncio.AbstractEventLoop, waiter: asyncio.Future[bool], timeout: float | None) -> bool:
    """Whether `waiter` was woken before `timeout` seconds (None: no limit, and no timer) passed."""
    timer = None if timeout is None else loop.call_later(max(0.0, timeout), _expire, waiter)
    try:
        return await waiter
    finally:
        if timer is not None:
            timer.cancel()
