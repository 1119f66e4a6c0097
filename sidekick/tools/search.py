"""The `web_search` tool and its providers.

Providers, tried in order until one returns results:
1. SearxNG, when `SIDEKICK_SEARXNG_URL` is set: GET {base}/search?q=…&format=json (the instance must
   enable the json format in settings.yml, `search.formats`).
2. DuckDuckGo's no-key HTML endpoint, `SIDEKICK_DDG_URL` (default https://html.duckduckgo.com/html/).

Provider URLs come from the operator, not the model, so the SSRF guard of fetch_url does not apply to
them and environment proxies are honoured. Read from the environment at each call.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from pydantic import Field

from sidekick.tools.base import Tool, ToolArgs, ToolFailure, ToolOutput

SEARXNG_ENV = "SIDEKICK_SEARXNG_URL"
DDG_ENV = "SIDEKICK_DDG_URL"
DDG_DEFAULT = "https://html.duckduckgo.com/html/"


class ProviderError(Exception):
    """A provider could not answer; the message says why."""


class Http(Protocol):
    """What a provider needs from the tool: a GET returning (status, content type, body)."""

    def get(self, url: str, params: dict[str, str]) -> tuple[int, str, bytes]: ...


class Provider(Protocol):
    """A search backend: `search()` returns [{title, url, snippet}] or raises ProviderError."""

    name: str
    base_url: str

    def search(self, http: Http, query: str, max_results: int) -> list[dict[str, str]]: ...


@dataclass
class SearxNG:
    """A SearxNG instance's JSON API."""

    base_url: str
    name: str = "SearxNG"

    def search(self, http: Http, query: str, max_results: int) -> list[dict[str, str]]:
        url = self.base_url.rstrip("/") + "/search"
        status, _, body = http.get(url, {"q": query, "format": "json"})
        if status == 403:
            raise ProviderError("HTTP 403: the instance does not allow format=json (enable it in search.formats)")
        if status != 200:
            raise ProviderError(f"HTTP {status}")
        try:
            data = json.loads(body)
            rows = data["results"]
        except (ValueError, KeyError, TypeError):
            raise ProviderError("the answer is not SearxNG JSON") from None
        results = [{"title": str(r.get("title") or ""), "url": str(r.get("url") or ""),
                    "snippet": str(r.get("content") or "")} for r in rows if isinstance(r, dict) and r.get("url")]
        if not results and data.get("unresponsive_engines"):
            engines = ", ".join(str(e[0] if isinstance(e, list) and e else e) for e in data["unresponsive_engines"])
            raise ProviderError(f"no results; engines not responding: {engines}")
        return results[:max_results]


@dataclass
class DuckDuckGo:
    """DuckDuckGo's HTML results page (no API key), parsed with beautifulsoup4."""

    base_url: str = DDG_DEFAULT
    name: str = "DuckDuckGo"

    def search(self, http: Http, query: str, max_results: int) -> list[dict[str, str]]:
        from bs4 import BeautifulSoup

        from sidekick.tools.htmltext import one_line

        status, _, body = http.get(self.base_url, {"q": query})
        if status == 202 or b"anomaly-modal" in body:
            raise ProviderError("DuckDuckGo asked for a bot check (rate limited); try again later or configure SearxNG")
        if status != 200:
            raise ProviderError(f"HTTP {status}")
        soup = BeautifulSoup(body, "html.parser")
        results: list[dict[str, str]] = []
        for link in soup.select("a.result__a"):
            container = link.find_parent(class_="result")
            if container is not None and "result--ad" in (container.get("class") or []):
                continue
            url = unwrap_ddg_url(str(link.get("href", "")))
            if not url:
                continue
            snippet = container.select_one(".result__snippet") if container is not None else None
            results.append({"title": one_line(link), "url": url, "snippet": one_line(snippet) if snippet else ""})
            if len(results) >= max_results:
                break
        return results


def unwrap_ddg_url(href: str) -> str | None:
    """The target of a DuckDuckGo result link (its `uddg` parameter), or None for ads and odd links."""
    parts = urlsplit(href if "://" in href or not href.startswith("//") else "https:" + href)
    if parts.path.endswith("/l/"):
        target = parse_qs(parts.query).get("uddg", [""])[0]
        parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if parts.hostname.endswith("duckduckgo.com") and parts.path.startswith("/y.js"):
        return None  # an ad's click-tracking link
    return parts.geturl()


def providers_from_env(environ: dict[str, str] | None = None) -> list[Provider]:
    """The providers the environment configures, in the order they are tried."""
    env = os.environ if environ is None else environ
    providers: list[Provider] = []
    if env.get(SEARXNG_ENV, "").strip():
        providers.append(SearxNG(env[SEARXNG_ENV].strip()))
    providers.append(DuckDuckGo(env.get(DDG_ENV, "").strip() or DDG_DEFAULT))
    return providers


class SearchArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=500, description="What to search the web for.")
    max_results: int = Field(5, alias="maxResults", ge=1, le=20, description="How many results to return.")


class WebSearchTool(Tool):
    """Search the web through the configured providers."""

    name = "web_search"
    description = (
        "Search the web. Returns a list of results, each with a title, URL and snippet. Use fetch_url "
        "to read a result in full."
    )
    Args = SearchArgs
    timeout_s = 30.0
    threads = 8
    output_schema = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "provider": {"type": "string"},
            "results": {"type": "array", "items": {
                "type": "object",
                "properties": {"title": {"type": "string"}, "url": {"type": "string"}, "snippet": {"type": "string"}},
                "required": ["title", "url", "snippet"],
            }},
        },
        "required": ["query", "provider", "results"],
    }

    def __init__(self, providers: list[Provider] | None = None, *, connect_timeout: float = 5.0,
                 read_timeout: float = 10.0, total_timeout: float = 20.0, max_bytes: int = 2_000_000) -> None:
        self.providers = providers  # None: read the environment at each call
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes

    def run(self, args: SearchArgs) -> ToolOutput:
        import requests

        providers = self.providers if self.providers is not None else providers_from_env()
        tried: list[str] = []
        empty: list[str] = []
        with requests.Session() as session:
            http = _SessionHttp(session, self, time.monotonic() + self.total_timeout)
            for provider in providers:
                try:
                    results = provider.search(http, args.query, args.max_results)
                except ProviderError as exc:
                    tried.append(f"{provider.name} at {provider.base_url}: {exc}")
                    continue
                if results:
                    return _output(args.query, provider.name, results)
                empty.append(provider.name)
        if empty:
            return _output(args.query, empty[0], [])
        raise ToolFailure("no search provider could answer. Tried " + "; ".join(tried))


@dataclass
class _SessionHttp:
    session: Any
    tool: WebSearchTool
    deadline: float

    def get(self, url: str, params: dict[str, str]) -> tuple[int, str, bytes]:
        import requests
        import urllib3

        from sidekick.tools import webclient

        if time.monotonic() > self.deadline:
            raise ProviderError("skipped: the search took too long")
        try:
            with self.session.get(url, params=params, stream=True, headers={"User-Agent": webclient.USER_AGENT},
                                  timeout=(self.tool.connect_timeout, self.tool.read_timeout)) as response:
                body, _ = webclient.read_capped(response, self.tool.max_bytes, self.deadline)
                return response.status_code, response.headers.get("Content-Type", ""), body
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise ProviderError(webclient.describe_error(exc)) from None
        except ToolFailure as exc:
            raise ProviderError(str(exc)) from None


def _output(query: str, provider: str, results: list[dict[str, str]]) -> ToolOutput:
    if results:
        lines = [f"{i}. {r['title'] or r['url']}\n   {r['url']}" + (f"\n   {r['snippet']}" if r["snippet"] else "")
                 for i, r in enumerate(results, 1)]
        text = "\n".join(lines)
    else:
        text = f"No results for {query!r}."
    return ToolOutput(text, structured={"query": query, "provider": provider, "results": results})
