"""web_search against local fakes of SearxNG's JSON API and DuckDuckGo's HTML page."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sidekick.tools.base import ToolOutput, ToolRegistry
from sidekick.tools.search import DDG_DEFAULT, DuckDuckGo, SearxNG, WebSearchTool, providers_from_env, unwrap_ddg_url
from tests.tools.conftest import Site

DDG_PAGE = """<!DOCTYPE html><html><head><title>moon landing at DuckDuckGo</title></head><body>
<div class="serp__results"><div id="links" class="results">
 <div class="result results_links results_links_deep result--ad">
  <div class="links_main links_deep result__body">
   <h2 class="result__title"><a rel="nofollow" class="result__a"
      href="https://duckduckgo.com/y.js?ad_domain=shop.example&amp;u3=https%3A%2F%2Fshop.example">Buy moons</a></h2>
   <a class="result__snippet" href="https://duckduckgo.com/y.js?x=1">Cheap moons, fast.</a>
  </div></div>
 <div class="result results_links results_links_deep web-result ">
  <div class="links_main links_deep result__body">
   <h2 class="result__title"><a rel="nofollow" class="result__a"
      href="//duckduckgo.com/l/?uddg=https%3A%2F%2Fen.wikipedia.org%2Fwiki%2FApollo_11%3Fa%3D1%26b%3D2&amp;rut=9f1c"
      >Apollo 11 - <b>Wikipedia</b></a></h2>
   <div class="result__extras"><a class="result__url" href="#">en.wikipedia.org/wiki/Apollo_11</a></div>
   <a class="result__snippet" href="#">Apollo 11 was the first spaceflight to <b>land</b> humans on the <b>Moon</b>.</a>
  </div></div>
 <div class="result results_links results_links_deep web-result ">
  <div class="links_main links_deep result__body">
   <h2 class="result__title"><a rel="nofollow" class="result__a" href="https://www.nasa.gov/apollo">NASA Apollo</a></h2>
  </div></div>
 <div class="result results_links results_links_deep web-result ">
  <div class="links_main links_deep result__body">
   <h2 class="result__title"><a rel="nofollow" class="result__a"
      href="/l/?uddg=https%3A%2F%2Fexample.org%2Fmoon&amp;rut=1">Moon facts</a></h2>
   <a class="result__snippet" href="#">All about the Moon.</a>
  </div></div>
</div></div></body></html>"""

EMPTY_DDG_PAGE = '<html><body><div class="no-results">No results.</div></body></html>'

SEARXNG_ANSWER = {
    "query": "moon landing",
    "results": [
        {"url": "https://en.wikipedia.org/wiki/Moon_landing", "title": "Moon landing", "content": "A landing."},
        {"url": "https://example.org/b", "title": "Second", "content": None},
    ],
    "unresponsive_engines": [],
}


def search(tool: WebSearchTool | None = None, **arguments: Any) -> ToolOutput:
    registry = ToolRegistry()
    registry.add(tool or WebSearchTool())
    return asyncio.run(registry.call("web_search", arguments))


@pytest.fixture
def ddg(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    site.page("/html/", DDG_PAGE)
    monkeypatch.setenv("SIDEKICK_DDG_URL", site.url("/html/"))
    monkeypatch.delenv("SIDEKICK_SEARXNG_URL", raising=False)
    return site


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def queries(site: Site, path: str) -> list[dict[str, list[str]]]:
    return [parse_qs(urlsplit(seen).query) for seen, _ in site.seen if urlsplit(seen).path == path]


def test_duckduckgo_results_are_parsed(ddg: Site) -> None:
    out = search(query="moon landing")
    assert not out.is_error, out.text
    assert out.structured == {
        "query": "moon landing",
        "provider": "DuckDuckGo",
        "results": [
            {"title": "Apollo 11 - Wikipedia", "url": "https://en.wikipedia.org/wiki/Apollo_11?a=1&b=2",
             "snippet": "Apollo 11 was the first spaceflight to land humans on the Moon."},
            {"title": "NASA Apollo", "url": "https://www.nasa.gov/apollo", "snippet": ""},
            {"title": "Moon facts", "url": "https://example.org/moon", "snippet": "All about the Moon."},
        ],
    }
    assert out.text.startswith("1. Apollo 11 - Wikipedia\n   https://en.wikipedia.org/wiki/Apollo_11?a=1&b=2\n")
    assert queries(ddg, "/html/") == [{"q": ["moon landing"]}]


def test_max_results_limits_the_list(ddg: Site) -> None:
    out = search(query="moon", maxResults=1)
    assert out.structured is not None and len(out.structured["results"]) == 1


def test_searxng_is_preferred_when_configured(ddg: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    ddg.page("/searx/search", json.dumps(SEARXNG_ANSWER), "application/json")
    monkeypatch.setenv("SIDEKICK_SEARXNG_URL", ddg.url("/searx/"))
    out = search(query="moon landing")
    assert out.structured == {
        "query": "moon landing",
        "provider": "SearxNG",
        "results": [
            {"title": "Moon landing", "url": "https://en.wikipedia.org/wiki/Moon_landing", "snippet": "A landing."},
            {"title": "Second", "url": "https://example.org/b", "snippet": ""},
        ],
    }
    assert queries(ddg, "/searx/search") == [{"q": ["moon landing"], "format": ["json"]}]
    assert queries(ddg, "/html/") == []


@pytest.mark.parametrize(
    "searx_reply",
    [
        {"status": 500, "body": "oops"},
        {"status": 200, "body": "<html>not json</html>"},
        {"status": 200, "body": json.dumps({"results": [], "unresponsive_engines": [["google", "timeout"]]})},
    ],
)
def test_a_failing_searxng_falls_back_to_duckduckgo(ddg: Site, monkeypatch: pytest.MonkeyPatch,
                                                    searx_reply: dict[str, Any]) -> None:
    ddg.page("/searx/search", searx_reply["body"], "application/json", status=searx_reply["status"])
    monkeypatch.setenv("SIDEKICK_SEARXNG_URL", ddg.url("/searx"))
    out = search(query="moon")
    assert out.structured is not None and out.structured["provider"] == "DuckDuckGo"


def test_no_reachable_provider_is_a_clear_error(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.page("/searx/search", "forbidden", "text/plain", status=403)
    monkeypatch.setenv("SIDEKICK_SEARXNG_URL", site.url("/searx"))
    dead = closed_port_url()
    monkeypatch.setenv("SIDEKICK_DDG_URL", dead)
    out = search(query="moon")
    assert out.is_error
    assert out.text.startswith("web_search failed: no search provider could answer. Tried ")
    assert f"SearxNG at {site.url('/searx')}: HTTP 403" in out.text and "format=json" in out.text
    assert f"DuckDuckGo at {dead}: could not connect" in out.text


def test_a_duckduckgo_bot_check_is_reported(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.page("/html/", '<div class="anomaly-modal__title">Unfortunately, bots use DuckDuckGo too.</div>', status=202)
    monkeypatch.setenv("SIDEKICK_DDG_URL", site.url("/html/"))
    monkeypatch.delenv("SIDEKICK_SEARXNG_URL", raising=False)
    out = search(query="moon")
    assert out.is_error and "bot check" in out.text


def test_no_results_is_an_answer_not_an_error(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    site.page("/html/", EMPTY_DDG_PAGE)
    monkeypatch.setenv("SIDEKICK_DDG_URL", site.url("/html/"))
    monkeypatch.delenv("SIDEKICK_SEARXNG_URL", raising=False)
    out = search(query="qwxzv")
    assert not out.is_error
    assert out.text == "No results for 'qwxzv'."
    assert out.structured == {"query": "qwxzv", "provider": "DuckDuckGo", "results": []}


def test_a_slow_provider_times_out_and_the_next_is_tried(ddg: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    ddg.route("/slow/search", lambda request: request.server.site.release.wait(30))
    monkeypatch.setenv("SIDEKICK_SEARXNG_URL", ddg.url("/slow"))
    out = search(WebSearchTool(read_timeout=0.3), query="moon")
    assert out.structured is not None and out.structured["provider"] == "DuckDuckGo"


def test_providers_can_be_given_directly(site: Site) -> None:
    site.page("/html/", DDG_PAGE)
    tool = WebSearchTool([SearxNG(closed_port_url()), DuckDuckGo(site.url("/html/"))])
    out = search(tool, query="moon")
    assert out.structured is not None and out.structured["provider"] == "DuckDuckGo"


def test_provider_order_comes_from_the_environment() -> None:
    assert providers_from_env({}) == [DuckDuckGo(DDG_DEFAULT)]
    assert providers_from_env({"SIDEKICK_SEARXNG_URL": " http://searx.local ", "SIDEKICK_DDG_URL": "http://d/"}) == [
        SearxNG("http://searx.local"),
        DuckDuckGo("http://d/"),
    ]


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("//duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.org%2Fa%3Fb%3Dc&rut=x", "https://example.org/a?b=c"),
        ("https://duckduckgo.com/l/?uddg=http%3A%2F%2Fexample.org%2F", "http://example.org/"),
        ("/l/?uddg=https%3A%2F%2Fexample.org%2F", "https://example.org/"),
        ("https://example.org/direct", "https://example.org/direct"),
        ("https://duckduckgo.com/y.js?ad_domain=x", None),
        ("//duckduckgo.com/l/?uddg=javascript%3Aalert(1)", None),
        ("//duckduckgo.com/l/?rut=x", None),
        ("", None),
    ],
)
def test_duckduckgo_redirect_links_are_unwrapped(href: str, url: str | None) -> None:
    assert unwrap_ddg_url(href) == url


def test_an_empty_query_is_refused() -> None:
    out = search(query="")
    assert out.is_error and "Invalid arguments for web_search: query" in out.text
