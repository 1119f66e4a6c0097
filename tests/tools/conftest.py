"""A threaded HTTP server on 127.0.0.1 whose routes each test defines."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Iterator
from urllib.parse import urlsplit

import pytest

Handler = Callable[["Request"], None]


class Request(BaseHTTPRequestHandler):
    """One request; route handlers call `reply()` or write to `wfile` themselves."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        site = self.server.site
        site.seen.append((self.path, dict(self.headers)))
        handler = site.routes.get(urlsplit(self.path).path)
        try:
            if handler is None:
                self.reply(b"not found", "text/plain", status=404)
            else:
                handler(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up early, as the tests intend

    def reply(self, body: bytes, content_type: str | None = "text/html; charset=utf-8", status: int = 200,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet test output
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    site: Site

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-body are part of the tests


@dataclass
class Site:
    """Routes served by the test server, and a record of the requests it saw."""

    port: int
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def route(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def page(self, path: str, body: bytes | str, content_type: str | None = "text/html; charset=utf-8",
             status: int = 200, headers: dict[str, str] | None = None) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.route(path, lambda request: request.reply(data, content_type, status, headers))

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.page(path, b"", "text/plain", status, {"Location": location})


@contextmanager
def serving(server: _Server) -> Iterator[Site]:
    """Run `server` in a thread; on exit release stalled handlers and stop it."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server.site
    finally:
        server.site.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def site() -> Iterator[Site]:
    """A live local web server; handlers that stall wait on `site.release`, set at teardown."""
    server = _Server(("127.0.0.1", 0), Request)
    server.site = Site(server.server_address[1])
    with serving(server) as live:
        yield live


@pytest.fixture
def allow_local(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let fetch_url reach the loopback test server and nothing else that is private."""
    monkeypatch.setenv("SIDEKICK_ALLOW_PRIVATE_URLS", "127.0.0.1")


@pytest.fixture
def tls_site(tmp_path: Path) -> Iterator[tuple[Site, str]]:
    """A server over HTTPS with a self-signed certificate for `pinned.test`; yields (site, CA bundle path)."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=pinned.test",
         "-addext", "subjectAltName=DNS:pinned.test", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = _Server(("127.0.0.1", 0), Request)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.site = Site(server.server_address[1])
    with serving(server) as live:
        yield live, str(cert)
