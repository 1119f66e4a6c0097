"""fetch_url against a live server on 127.0.0.1: pages, redirects, limits and the SSRF guard."""

from __future__ import annotations

import asyncio
import gzip
import time
from typing import Any

import pytest

from sidekick.tools.base import ToolOutput, ToolRegistry
from sidekick.tools.fetch import FetchUrlTool
from tests.tools.conftest import Request, Site

ARTICLE = """<!doctype html>
<html><head><title>The  Moon</title><style>body { color: red }</style>
<script>document.write("tracking")</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<main>
<h1>Earth's moon</h1>
<p>The Moon is Earth's only natural
   satellite.</p>
<h2>Facts</h2>
<ul><li>Radius: 1,737 km</li><li>Mass: 7.3&times;10<sup>22</sup> kg</li></ul>
<table><tr><th>Phase</th><th>Days</th></tr><tr><td>Full</td><td>14.8</td></tr></table>
<p>Read <a href="/apollo#top">about Apollo</a> or <a href="https://example.org/x">elsewhere</a>.</p>
<noscript>Enable JavaScript</noscript><svg><text>vector</text></svg>
<div hidden>hidden text</div>
</main>
<footer>Copyright footer</footer>
</body></html>"""

NAMES = {"pinned.test": ["127.0.0.1"], "internal.test": ["10.0.0.7"], "public.test": ["93.184.216.34"]}


def resolver(host: str, port: int) -> list[str]:
    if host not in NAMES:
        raise OSError(f"unknown test host {host}")
    return NAMES[host]


def fetch(tool: FetchUrlTool | None = None, **arguments: Any) -> ToolOutput:
    registry = ToolRegistry()
    registry.add(tool or FetchUrlTool(resolver=resolver))
    return asyncio.run(registry.call("fetch_url", arguments))


def fails(output: ToolOutput, *phrases: str) -> None:
    assert output.is_error, output.text
    for phrase in phrases:
        assert phrase in output.text


def test_an_html_page_becomes_readable_text(site: Site, allow_local: None) -> None:
    site.page("/moon", ARTICLE)
    out = fetch(url=site.url("/moon"))
    assert not out.is_error, out.text
    data = out.structured
    assert data is not None
    assert data["title"] == "The Moon"
    assert data["status"] == 200 and data["contentType"] == "text/html" and data["truncated"] is False
    assert data["url"] == data["finalUrl"] == site.url("/moon")
    assert data["text"] == (
        "# Earth's moon\n\nThe Moon is Earth's only natural satellite.\n\n## Facts\n\n"
        "- Radius: 1,737 km\n- Mass: 7.3×10^22 kg\n\nPhase | Days\nFull | 14.8\n\n"
        "Read about Apollo or elsewhere."
    )
    for dropped in ("tracking", "color", "Home", "Enable JavaScript", "vector", "hidden text", "footer"):
        assert dropped not in data["text"]
    assert out.text.startswith(f"Title: The Moon\nURL: {site.url('/moon')}\n\n# Earth's moon")
    assert "links" not in data


def test_links_are_listed_on_request(site: Site, allow_local: None) -> None:
    site.page("/moon", ARTICLE)
    data = fetch(url=site.url("/moon"), links=True).structured
    assert data is not None
    assert data["links"] == [
        {"text": "about Apollo", "url": site.url("/apollo")},
        {"text": "elsewhere", "url": "https://example.org/x"},
    ]


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain; charset=utf-8", "plain words\nsecond line", "plain words\nsecond line"),
        ("application/json", '{"answer": 42}', '{"answer": 42}'),
        ("application/ld+json", '{"@type": "Thing"}', '{"@type": "Thing"}'),
        ("application/rss+xml", "<rss><title>feed</title></rss>", "<rss><title>feed</title></rss>"),
        (None, "no content type here", "no content type here"),
    ],
)
def test_text_content_types_are_read_as_is(site: Site, allow_local: None, content_type: str | None,
                                           body: str, text: str) -> None:
    site.page("/doc", body, content_type)
    out = fetch(url=site.url("/doc"))
    assert out.structured is not None and out.structured["text"] == text, out.text
    assert out.structured["title"] is None


def test_redirects_are_followed_and_reported(site: Site, allow_local: None) -> None:
    site.redirect("/old", "/older", 301)
    site.redirect("/older", site.url("/moon", host="pinned.test"), 307)
    site.page("/moon", ARTICLE)
    data = fetch(url=site.url("/old")).structured
    assert data is not None
    assert data["url"] == site.url("/old")
    assert data["finalUrl"] == site.url("/moon", host="pinned.test")
    assert [path for path, _ in site.seen] == ["/old", "/older", "/moon"]


def test_a_long_redirect_chain_is_cut(site: Site, allow_local: None) -> None:
    for hop in range(10):
        site.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    fails(fetch(url=site.url("/hop0")), "too many redirects (more than 5)")
    assert len(site.seen) == 6
    site.redirect("/loop", "/loop")
    fails(fetch(url=site.url("/loop")), "too many redirects")


@pytest.mark.parametrize(
    ("location", "phrases"),
    [
        ("http://169.254.169.254/latest/meta-data/", ["169.254.169.254", "cloud metadata"]),
        ("http://internal.test/admin", ["internal.test, which resolves to 10.0.0.7", "private address"]),
        ("http://[::1]:8080/", ["::1", "loopback"]),
        ("http://[::ffff:127.0.0.2]/", ["loopback address inside an IPv6 address"]),
        ("file:///etc/passwd", ["a redirect to 'file:///etc/passwd' is not http or https"]),
        ("gopher://127.0.0.1:25/", ["not http or https"]),
    ],
)
def test_a_redirect_to_a_refused_address_is_refused(site: Site, allow_local: None, location: str,
                                                     phrases: list[str]) -> None:
    site.redirect("/go", location)
    fails(fetch(url=site.url("/go")), *phrases)
    assert [path for path, _ in site.seen] == ["/go"]


def test_private_addresses_are_refused_unless_allowed(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.page("/moon", ARTICLE)
    monkeypatch.delenv("SIDEKICK_ALLOW_PRIVATE_URLS", raising=False)
    fails(fetch(url=site.url("/moon")), "127.0.0.1, a loopback address", "SIDEKICK_ALLOW_PRIVATE_URLS=1")
    fails(fetch(url=site.url("/moon", host="pinned.test")), "pinned.test, which resolves to 127.0.0.1")
    fails(fetch(url="http://internal.test/"), "private address")
    assert site.seen == []
    monkeypatch.setenv("SIDEKICK_ALLOW_PRIVATE_URLS", "1")
    assert not fetch(url=site.url("/moon")).is_error


def test_the_connection_goes_to_the_vetted_address(site: Site, allow_local: None) -> None:
    # pinned.test exists only in the injected resolver: the request can only have reached the server
    # through the address the guard vetted, while the Host header still names the site.
    site.page("/moon", ARTICLE)
    out = fetch(url=site.url("/moon", host="pinned.test"))
    assert not out.is_error, out.text
    assert site.seen[0][1]["Host"] == f"pinned.test:{site.port}"


def test_dns_rebinding_is_caught_at_connect_time(site: Site, allow_local: None) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.9"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    # Connection: close makes the next hop open a new connection, which resolves the name again.
    site.page("/first", b"", "text/plain", 302,
              {"Location": site.url("/second", host="rebind.test"), "Connection": "close"})
    site.page("/second", ARTICLE)
    fails(fetch(FetchUrlTool(resolver=rebinding), url=site.url("/first", host="rebind.test")),
          "rebind.test, which resolves to 10.0.0.9")
    assert [path for path, _ in site.seen] == ["/first"]


def test_a_public_name_passes_the_guard_without_the_test_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    from sidekick.tools import webclient

    monkeypatch.delenv("SIDEKICK_ALLOW_PRIVATE_URLS", raising=False)
    attempts: list[str] = []

    def refuse_to_connect(conn: Any, guard: Any, new_conn: Any, deadline: Any) -> Any:
        attempts.append(guard.vet(conn._dns_host, conn.port)[0])
        raise OSError("the test never connects to a public address")

    monkeypatch.setattr(webclient, "_connect_pinned", refuse_to_connect)
    fails(fetch(url="http://public.test/page"), "could not connect", "never connects")
    assert attempts == ["93.184.216.34"]


def test_the_byte_cap_truncates_a_huge_body(site: Site, allow_local: None) -> None:
    site.page("/huge", "word " * 400_000, "text/plain")
    out = fetch(FetchUrlTool(max_bytes=100_000), url=site.url("/huge"), maxChars=200_000)
    assert out.structured is not None and out.structured["truncated"] is True
    assert len(out.structured["text"]) == 100_000
    assert "[truncated" in out.text


def test_the_byte_cap_applies_to_decompressed_bytes(site: Site, allow_local: None) -> None:
    bomb = gzip.compress(b"a" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    site.page("/bomb", bomb, "text/plain", headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    out = fetch(FetchUrlTool(max_bytes=200_000), url=site.url("/bomb"), maxChars=200_000)
    assert out.structured is not None and out.structured["truncated"] is True
    assert out.structured["text"] == "a" * 200_000
    assert time.monotonic() - started < 10


def test_max_chars_cuts_the_text(site: Site, allow_local: None) -> None:
    site.page("/long", "x" * 5000, "text/plain")
    data = fetch(url=site.url("/long"), maxChars=100).structured
    assert data is not None and data["text"] == "x" * 100 and data["truncated"] is True


def _stall_after_headers(request: Request) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/plain")
    request.send_header("Content-Length", "100")
    request.end_headers()
    request.wfile.write(b"partial")
    request.wfile.flush()
    request.server.site.release.wait(30)


def _stall_before_headers(request: Request) -> None:
    request.server.site.release.wait(30)


def _drip(request: Request) -> None:
    request.send_response(200)
    request.send_header("Content-Type", "text/plain")
    request.end_headers()
    while not request.server.site.release.wait(0.02):
        request.wfile.write(b"x" * 20_000)
        request.wfile.flush()


def test_a_stalled_body_hits_the_read_timeout(site: Site, allow_local: None) -> None:
    site.route("/stall", _stall_after_headers)
    fails(fetch(FetchUrlTool(read_timeout=0.3), url=site.url("/stall")), "stopped sending data")


def test_a_silent_server_hits_the_read_timeout(site: Site, allow_local: None) -> None:
    site.route("/silent", _stall_before_headers)
    fails(fetch(FetchUrlTool(read_timeout=0.3), url=site.url("/silent")), "did not answer in time")


def test_a_dripping_body_hits_the_total_deadline(site: Site, allow_local: None) -> None:
    site.route("/drip", _drip)
    tool = FetchUrlTool(read_timeout=5, total_timeout=0.5, max_bytes=100_000_000)
    fails(fetch(tool, url=site.url("/drip")), "took too long")


@pytest.mark.parametrize(
    ("content_type", "body", "phrase"),
    [
        ("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "is image/png, not a text page"),
        ("application/octet-stream", b"\0\1\2\3", "is application/octet-stream, not a text page"),
        ("application/pdf", b"%PDF-1.7", "is application/pdf"),
        (None, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "binary content without a content type"),
    ],
)
def test_binary_content_is_refused(site: Site, allow_local: None, content_type: str | None, body: bytes,
                                   phrase: str) -> None:
    site.page("/file", body, content_type)
    fails(fetch(url=site.url("/file")), phrase)


@pytest.mark.parametrize(
    ("content_type", "body", "text"),
    [
        ("text/plain; charset=utf-8", b"caf\xc3\xa9 \xff\xfe broken", "café \ufffd\ufffd broken"),
        ("text/plain; charset=no-such-charset", b"caf\xc3\xa9 \xe9", "café \ufffd"),
        ("text/plain; charset=ISO-8859-1", b"caf\xe9", "café"),
        ("text/plain", b"\xef\xbb\xbfbom utf-8 \xe2\x82\xac", "bom utf-8 €"),
        ("text/html", b'<meta charset="windows-1252"><p>caf\xe9 \x80</p>', "café €"),
        ('text/html; charset="utf-8"', b"<p>caf\xe9</p>", "caf\ufffd"),
    ],
)
def test_bad_and_declared_encodings_decode_with_replacement(site: Site, allow_local: None, content_type: str,
                                                            body: bytes, text: str) -> None:
    site.page("/enc", body, content_type)
    out = fetch(url=site.url("/enc"))
    assert out.structured is not None and out.structured["text"] == text, out.text


def test_http_errors_are_tool_errors(site: Site, allow_local: None) -> None:
    fails(fetch(url=site.url("/missing")), "answered HTTP 404 Not Found")
    site.page("/boom", "oops", "text/plain", status=500)
    fails(fetch(url=site.url("/boom")), "HTTP 500")


def test_connection_failures_are_reported(allow_local: None) -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    fails(fetch(url=f"http://127.0.0.1:{port}/"), "could not connect")
    fails(fetch(url="http://unknown.test/"), "cannot resolve host 'unknown.test'")


@pytest.mark.parametrize(
    ("arguments", "phrase"),
    [
        ({"url": "ftp://example.org/file"}, "is not http or https"),
        ({"url": "javascript:alert(1)"}, "is not http or https"),
        ({"url": "example.org"}, "is not http or https"),
        ({"url": "http://"}, "has no host"),
        ({"url": "http://example.org:99999/"}, "not a valid URL"),
        ({"url": "http://x", "maxChars": 5}, "Invalid arguments for fetch_url: maxChars"),
        ({"url": "http://x", "extra": 1}, "Invalid arguments for fetch_url: extra"),
        ({}, "Invalid arguments for fetch_url: url"),
    ],
)
def test_bad_arguments_are_refused(arguments: dict[str, Any], phrase: str) -> None:
    fails(fetch(**arguments), phrase)


def test_tls_verifies_the_name_while_connecting_to_the_vetted_address(tls_site: tuple[Site, str],
                                                                      allow_local: None) -> None:
    site, ca = tls_site
    site.page("/moon", ARTICLE)
    url = f"https://pinned.test:{site.port}/moon"
    out = fetch(FetchUrlTool(resolver=resolver, ca_bundle=ca), url=url)
    assert not out.is_error, out.text
    assert out.structured is not None and out.structured["title"] == "The Moon"
    assert site.seen[-1][1]["Host"] == f"pinned.test:{site.port}"
    # The certificate names pinned.test, not the address: reaching it by address must fail verification.
    fails(fetch(FetchUrlTool(resolver=resolver, ca_bundle=ca), url=f"https://127.0.0.1:{site.port}/moon"),
          "TLS error")


def test_a_host_that_does_not_accept_hits_the_connect_timeout(allow_local: None) -> None:
    import socket

    # A listener whose accept queue is full leaves further connection attempts unanswered (Linux).
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        waiting = [socket.socket() for _ in range(4)]
        try:
            for sock in waiting:
                sock.setblocking(False)
                sock.connect_ex(("127.0.0.1", port))
            fails(fetch(FetchUrlTool(connect_timeout=0.3), url=f"http://127.0.0.1:{port}/"),
                  "timed out while connecting")
        finally:
            for sock in waiting:
                sock.close()
