"""What a hostile web server cannot do to fetch_url: hold a worker past the fetch's deadline, starve the
quick tools, blow up memory or time with markup, burn CPU through an exotic charset, or reach a cloud
metadata endpoint through a zone id or an allow-listed network."""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from sidekick.tools import htmltext
from sidekick.tools.base import ToolFailure, ToolOutput, ToolRegistry
from sidekick.tools.calculate import CalculateTool
from sidekick.tools.fetch import FetchArgs, FetchUrlTool
from sidekick.tools.netguard import BlockedAddress, Guard, Policy
from tests.tools.conftest import Request, Site, allow_local, site, tls_site  # noqa: F401 (fixtures)


# -- metadata addresses stay refused unless listed by address ----------------------------------------
def vet(policy: Policy, host: str, resolved: list[str] | None = None) -> list[str]:
    return Guard(policy, lambda name, port: resolved or []).vet(host, 80)


@pytest.mark.parametrize("host", ["fd00:ec2::254%25eth0", "[fd00:ec2::254%25eth0]", "fd00:ec2::254%eth0",
                                  "fd00:ec2::254%1", "::ffff:169.254.169.254%1", "64:ff9b::a9fe:a9fe%lo"])
def test_a_zone_id_does_not_hide_a_metadata_address(host: str) -> None:
    with pytest.raises(BlockedAddress, match="metadata"):
        vet(Policy(allow_all_private=True), host)


def test_a_zone_id_in_a_url_is_refused_by_fetch_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIDEKICK_ALLOW_PRIVATE_URLS", "1")
    with pytest.raises(ToolFailure, match="metadata"):
        FetchUrlTool(connect_timeout=0.5).run(FetchArgs(url="http://[fd00:ec2::254%25eth0]/latest/meta-data/"))


def test_a_resolver_answer_with_a_zone_id_is_refused() -> None:
    with pytest.raises(BlockedAddress, match="metadata"):
        vet(Policy(allow_all_private=True), "imds.test", ["fd00:ec2::254%eth0"])


METADATA = ["169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe"]


@pytest.mark.parametrize("allowed", ["169.254.0.0/16", "fd00::/8", "0.0.0.0/0", "::/0", "100.64.0.0/10",
                                     "169.254.169.0/24, fd00:ec2::/64, ::ffff:0:0/96, 64:ff9b::/96"])
def test_allow_listing_a_network_does_not_open_its_metadata_addresses(allowed: str) -> None:
    policy = Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": allowed})
    for address in METADATA:
        with pytest.raises(BlockedAddress, match="metadata"):
            vet(policy, address)


def test_a_network_allow_list_still_opens_its_other_addresses() -> None:
    policy = Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": "169.254.0.0/16, fd00::/8"})
    assert vet(policy, "169.254.1.1") == ["169.254.1.1"]
    assert vet(policy, "fd00::1") == ["fd00::1"]


@pytest.mark.parametrize("listed, host", [("169.254.169.254", "169.254.169.254"),
                                          ("169.254.169.254/32", "169.254.169.254"),
                                          ("fd00:ec2::254", "fd00:ec2::254%25eth0"),
                                          ("fd00:ec2::254/128", "fd00:ec2::254")])
def test_a_metadata_address_listed_by_address_is_allowed(listed: str, host: str) -> None:
    assert vet(Policy.from_env({"SIDEKICK_ALLOW_PRIVATE_URLS": listed}), host) == [host.strip("[]")]


# -- only charsets of bounded cost are honoured ------------------------------------------------------
PUNY_BOMB = b"-" + b"a" * 300_000  # punycode decodes this in quadratic time (tens of seconds)


@pytest.mark.parametrize("charset", ["punycode", "idna", "undefined", "unicode_escape", "raw-unicode-escape",
                                     "utf-7", "rot13", "base64", "zlib", "utf-8\x00", "x" * 5000])
def test_a_charset_of_unbounded_cost_or_without_replacement_falls_back_to_utf8(charset: str) -> None:
    body = PUNY_BOMB + "caf\u00e9 \\u0041 +AGE-".encode() + b"\xff"
    assert htmltext.decode(body, charset) == body.decode("utf-8", "replace")
    assert htmltext.decode(b'<meta charset="' + charset.encode() + b'"><p>caf\xc3\xa9\xff</p>', None,
                           markup=True) == '<meta charset="' + charset + '"><p>caf\u00e9\ufffd</p>'


@pytest.mark.parametrize("charset, body, text", [("windows-1252", b"caf\xe9 \x80", "caf\u00e9 \u20ac"),
                                                 ("koi8-r", b"\xd0\xd2\xc9", "\u043f\u0440\u0438"),
                                                 ("shift_jis", b"\x93\xfa\x96\x7b", "\u65e5\u672c"),
                                                 ("utf-16-le", "hi".encode("utf-16-le"), "hi"),
                                                 ("latin-1", b"\xe9", "\u00e9")])
def test_ordinary_charsets_are_still_honoured(charset: str, body: bytes, text: str) -> None:
    assert htmltext.decode(body, charset) == text


def test_fetch_url_reads_a_page_declaring_punycode_or_idna_as_utf8(site: Site, allow_local: None) -> None:
    site.page("/puny", PUNY_BOMB, "text/plain; charset=punycode")  # ASCII: the decoder's slow path
    site.page("/idna", b"<p>caf\xc3\xa9\xff</p>", "text/html; charset=idna")
    registry = ToolRegistry()
    registry.add(FetchUrlTool())
    texts = {}
    for path in ("/puny", "/idna"):
        out = asyncio.run(registry.call("fetch_url", {"url": site.url(path), "maxChars": 200_000}))
        assert not out.is_error and out.structured is not None, out.text
        texts[path] = out.structured["text"]
    assert texts["/puny"] == "-" + "a" * 199_999 and texts["/idna"] == "caf\u00e9\ufffd"


# -- HTML reduction is bounded in memory and time ----------------------------------------------------
NESTED = "<div>" * 400_000 + "deep text" + "</div>" * 400_000
DIV_BOMB = gzip.compress(NESTED.encode()[:2_000_000], compresslevel=9)  # ~3 KB on the wire, 2 MB inflated
P_BOMB = gzip.compress(b"<p>x</p>" * 250_000, compresslevel=9)  # as small, and 250,000 sibling tags


def tree_size(soup: Any) -> tuple[int, int]:
    """(tags, deepest nesting) of a parsed document, walked without recursion."""
    tags, deepest, stack = 0, 0, [(soup, 0)]
    while stack:
        node, depth = stack.pop()
        tags, deepest = tags + 1, max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if hasattr(child, "children"))
    return tags - 1, deepest


@pytest.mark.parametrize("markup", [NESTED, "<p>x</p>" * 300_000, "<td>x" * 300_000, "<b><i>x" * 200_000])
def test_the_parsed_tree_is_bounded_in_elements_and_depth(markup: str) -> None:
    soup, cut = htmltext.parse(markup)
    tags, deepest = tree_size(soup)
    assert cut and tags <= htmltext.MAX_ELEMENTS and deepest <= htmltext.MAX_DEPTH + 1


def test_flattened_markup_keeps_its_text_in_order() -> None:
    page = htmltext.html_to_page("<div>" * 1000 + "<p>deep <b>text</b></p>" + "</div>" * 1000 + "<p>after</p>",
                                 "http://page.test/")
    assert page.text == "deep text\n\nafter" and not page.cut


BOMB_CHILD = """
import gzip, json, resource, sys, threading, time
from sidekick.tools import htmltext
html = gzip.decompress(bytes.fromhex(sys.argv[1])).decode()
htmltext.html_to_page("<p>warm</p>", "http://page.test/")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
begun = time.monotonic()
pages = []
threads = [threading.Thread(target=lambda: pages.append(htmltext.html_to_page(html, "http://page.test/")))
           for _ in range(5)]
for thread in threads: thread.start()
for thread in threads: thread.join()
grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"grown_mb": grown / 1024, "seconds": time.monotonic() - begun, "cut": [p.cut for p in pages]}))
"""


@pytest.mark.parametrize("bomb", [DIV_BOMB, P_BOMB], ids=["nested", "flat"])
def test_five_inflated_markup_bombs_at_once_stay_small(bomb: bytes) -> None:
    """Measured in a child process, so the peak RSS is this test's alone (before the bounds, one nested bomb
    alone took 45 s and +270 MB here; five at once, +1.3 GB)."""
    child = subprocess.run([sys.executable, "-c", BOMB_CHILD, bomb.hex()], capture_output=True, text=True,
                           timeout=300, cwd=Path(__file__).resolve().parents[2])
    assert child.returncode == 0, child.stderr
    seen = json.loads(child.stdout)
    assert seen["cut"] == [True] * 5 and seen["grown_mb"] < 100, seen


def test_fetch_url_reads_an_inflated_div_bomb_as_a_truncated_page(site: Site, allow_local: None) -> None:
    site.page("/bomb", DIV_BOMB, "text/html", headers={"Content-Encoding": "gzip"})
    registry = ToolRegistry()
    registry.add(FetchUrlTool())
    out = asyncio.run(registry.call("fetch_url", {"url": site.url("/bomb")}))  # not "timed out after 30 s"
    assert not out.is_error and out.structured is not None, out.text
    assert out.structured["truncated"] is True


# -- the fetch's total deadline holds while headers trickle, and frees the worker --------------------
def trickle_headers(request: Request) -> None:
    request.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Slow: ")
    while not request.server.site.release.wait(0.2):
        request.wfile.write(b"z")
        request.wfile.flush()


def run_in_thread(tool: FetchUrlTool, url: str) -> tuple[threading.Thread, list[BaseException | object]]:
    outcome: list[BaseException | object] = []

    def work() -> None:
        try:
            outcome.append(tool.run(FetchArgs(url=url)))
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread, outcome


def test_trickled_headers_end_at_the_total_deadline_and_free_the_thread(site: Site, allow_local: None) -> None:
    site.route("/slow", trickle_headers)
    thread, outcome = run_in_thread(FetchUrlTool(read_timeout=10, total_timeout=1.0), site.url("/slow"))
    thread.join(timeout=20)  # the trickle goes on until teardown: only the deadline can end the fetch
    assert not thread.is_alive(), "the fetch still holds its thread past its deadline"
    assert isinstance(outcome[0], ToolFailure) and "took too long" in str(outcome[0]), outcome


def test_trickled_headers_over_tls_end_at_the_deadline_too(tls_site: tuple[Site, str], allow_local: None) -> None:
    site, ca_bundle = tls_site
    site.route("/slow", trickle_headers)
    tool = FetchUrlTool(read_timeout=10, total_timeout=1.5, ca_bundle=ca_bundle,
                        resolver=lambda host, port: ["127.0.0.1"])
    thread, outcome = run_in_thread(tool, f"https://pinned.test:{site.port}/slow")
    thread.join(timeout=20)
    assert not thread.is_alive(), "the fetch still holds its thread past its deadline"
    assert isinstance(outcome[0], ToolFailure) and "took too long" in str(outcome[0]), outcome


# -- many slow fetches cannot starve the quick tools -------------------------------------------------
def stall_then_answer(request: Request) -> None:
    request.server.site.release.wait(60)
    request.reply(b"late", "text/plain")


def test_64_slow_fetches_at_once_do_not_starve_calculate(site: Site, allow_local: None) -> None:
    site.route("/stall", stall_then_answer)
    registry = ToolRegistry()
    for tool in (FetchUrlTool(read_timeout=60, total_timeout=60), CalculateTool()):
        registry.add(tool)

    async def scenario() -> tuple[ToolOutput, int, list[ToolOutput]]:
        fetches = [asyncio.ensure_future(registry.call("fetch_url", {"url": site.url(f"/stall?{i}")}))
                   for i in range(64)]
        deadline = time.monotonic() + 30
        while len(site.seen) < FetchUrlTool.threads and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        answer = await registry.call("calculate", {"expression": "6 * 7"})
        running = len(site.seen)
        site.release.set()
        return answer, running, await asyncio.gather(*fetches)

    answer, running, fetched = asyncio.run(scenario())
    assert not answer.is_error and answer.text == "42", answer.text  # not "calculate timed out after 5 s"
    assert running <= FetchUrlTool.threads  # the fetches beyond wait their turn
    assert [out.structured["text"] for out in fetched if out.structured] == ["late"] * 64
