"""HTTP plumbing shared by fetch_url and web_search (imported lazily: it imports requests).

- `guarded_session(guard)`: a requests session whose every new connection resolves its host through the
  guard, refuses forbidden addresses, and connects to the address it vetted. The check happens at
  connect time, on every redirect hop, and the socket goes to the vetted IP, so a DNS answer that
  changes between check and connect (DNS rebinding) cannot slip through. TLS still verifies the name.
- `Deadline(seconds)`: a fetch's total time, enforced on the sockets of its session: a server that
  trickles its headers or body one byte at a time never trips a read timeout, which bounds each read.
- `read_capped(response, ...)`: the decoded body, stopping at a byte cap and a deadline.
- `describe_error(exc)`: one readable line for any requests/urllib3 failure.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, DecodeError, MaxRetryError, ProtocolError, ReadTimeoutError

from sidekick import __version__
from sidekick.tools.base import ToolFailure
from sidekick.tools.netguard import BlockedAddress, Guard

USER_AGENT = f"eliza-sidekick/{__version__} (+https://pypi.org/project/eliza-sidekick/)"
CHUNK = 16 * 1024


class Deadline:
    """The end of one fetch. When it passes, every connection the fetch opened is shut down, which wakes
    a read blocked in another thread (the worker is released); `expired` then says why the read ended.
    Use as a context manager: its timer is cancelled on exit."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.expired = False
        self._connections: list[tuple[HTTPConnection, socket.socket]] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self.expire)
        self._timer.daemon = True
        self._timer.name = "sidekick-fetch-deadline"

    def __enter__(self) -> Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def track(self, conn: HTTPConnection, sock: socket.socket) -> None:
        with self._lock:
            self._connections.append((conn, sock))
            if not self.expired:
                return
        _shut(conn, sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            connections = list(self._connections)
        for conn, sock in connections:
            _shut(conn, sock)


def _shut(conn: HTTPConnection, sock: socket.socket) -> None:
    # conn.sock is the TLS socket once the handshake is done (the raw one is then detached, and a
    # handshake is bounded by the connect timeout anyway); before that it is the raw socket.
    for target in {id(s): s for s in (conn.sock, sock) if s is not None}.values():
        try:
            target.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed
            pass


def _connect_pinned(conn: HTTPConnection, guard: Guard, new_conn: Any, deadline: Deadline | None) -> Any:
    host = conn._dns_host
    addresses = guard.vet(host, conn.port)
    last: Exception | None = None
    for address in addresses:
        if deadline is not None:
            left = deadline.remaining()
            if left <= 0 or deadline.expired:
                raise ConnectTimeoutError(conn, "the fetch's deadline passed before connecting")
            if isinstance(conn.timeout, (int, float)):
                conn.timeout = min(conn.timeout, left)
        # urllib3 connects to `_dns_host`; SNI, certificate checks and the Host header use `host`,
        # which reads the same attribute, so it is swapped only for the duration of the connect.
        conn._dns_host = address
        try:
            sock = new_conn()
        except (ConnectTimeoutError, OSError) as exc:  # NewConnectionError is a ConnectTimeoutError
            last = exc
            continue
        finally:
            conn._dns_host = host
        if deadline is not None:
            deadline.track(conn, sock)
        return sock
    assert last is not None
    raise last


def guarded_session(guard: Guard, verify: bool | str = True, deadline: Deadline | None = None) -> requests.Session:
    """A session that connects only where `guard` allows; proxies from the environment are ignored.

    `verify` is requests' TLS setting: True for the default CA store, or the path of a CA bundle. With a
    `deadline`, connecting stops when it has passed and the connections are shut down when it passes.
    """

    class Connection(HTTPConnection):
        def _new_conn(self):  # type: ignore[no-untyped-def]
            return _connect_pinned(self, guard, super()._new_conn, deadline)

    class SecureConnection(HTTPSConnection):
        def _new_conn(self):  # type: ignore[no-untyped-def]
            return _connect_pinned(self, guard, super()._new_conn, deadline)

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": Pool, "https": SecurePool}

    session = requests.Session()
    session.trust_env = False  # a proxy would connect on our behalf, past the guard
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    session.headers["User-Agent"] = USER_AGENT
    session.verify = verify
    return session


def read_capped(response: requests.Response, max_bytes: int, deadline: float) -> tuple[bytes, bool]:
    """Read the decoded body up to `max_bytes`; returns (body, truncated).

    `read1` returns whatever has arrived, and urllib3 (>= 2.6) bounds each decompression step, so a gzip
    bomb costs at most the cap. ToolFailure when the monotonic `deadline` passes: a server that drips
    bytes never trips the read timeout, which bounds each socket read only.
    """
    chunks: list[bytes] = []
    size = 0
    while chunk := response.raw.read1(CHUNK, decode_content=True):
        if time.monotonic() > deadline:
            raise ToolFailure("the download took too long and was abandoned")
        if size + len(chunk) > max_bytes:
            chunks.append(chunk[: max_bytes - size])
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), False


def describe_error(exc: BaseException) -> str:
    """A one-line description of a failed request, without urllib3's nested reprs."""
    if isinstance(exc, BlockedAddress):
        return str(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "the server did not answer in time (read timeout)"
    if isinstance(exc, ReadTimeoutError) or (
        isinstance(exc, requests.exceptions.ConnectionError) and exc.args and isinstance(exc.args[0], ReadTimeoutError)
    ):
        return "the server stopped sending data (read timeout)"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS error: {_reason(exc)}"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"could not connect: {_reason(exc)}"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.URLRequired)):
        return f"invalid URL: {exc}"
    if isinstance(exc, (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError,
                        ProtocolError, DecodeError)):
        return f"the response body is malformed: {_reason(exc)}"
    return f"{type(exc).__name__}: {exc}"


def _reason(exc: BaseException) -> str:
    inner = exc.args[0] if exc.args else exc
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    text = str(inner)
    # urllib3 prefixes "<urllib3.connection.HTTPConnection object at 0x…>: " to connection errors
    return text.split(">: ", 1)[-1]
