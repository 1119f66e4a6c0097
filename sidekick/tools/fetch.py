"""The `fetch_url` tool: read a web page as text.

Limits (attributes of the tool, so an embedding program or a test can change them): connect timeout
5 s, read timeout 10 s per socket read, 20 s for the whole fetch (enforced on its sockets, so a server
trickling its headers cannot hold the worker thread), 2 MB of decoded body (the rest is
cut and `truncated` set), 5 redirects, each followed by hand and re-checked by the SSRF guard
(netguard). Only http and https; only text-like content types (HTML, text/*, JSON, XML, JavaScript).
Environment proxies are not used: they would connect past the guard.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from sidekick.tools.base import Tool, ToolArgs, ToolFailure, ToolOutput
from sidekick.tools.netguard import BlockedAddress, Guard, Policy, Resolver, system_resolver

if TYPE_CHECKING:
    from sidekick.tools.webclient import Deadline

REDIRECTS = (301, 302, 303, 307, 308)
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("application/json", "application/xml", "application/javascript", "application/ecmascript",
              "application/x-javascript", "application/x-ndjson", "application/yaml", "application/x-yaml",
              "application/toml", "application/x-www-form-urlencoded", "application/sql", "application/csv")
TOO_LONG = "the fetch took too long and was abandoned"
ACCEPT = "text/html,application/xhtml+xml,text/plain;q=0.9,application/json;q=0.9,*/*;q=0.5"


class FetchArgs(ToolArgs):
    url: str = Field(description="The http or https URL to read.")
    max_chars: int = Field(20_000, alias="maxChars", ge=100, le=200_000,
                           description="Return at most this many characters of text.")
    links: bool = Field(False, description="Also list the page's links (HTML only, at most 100).")


class FetchUrlTool(Tool):
    """Fetch a URL and return its readable text."""

    name = "fetch_url"
    description = (
        "Fetch a web page (http/https) and return its readable text: title, headings, paragraphs, "
        "lists and tables, without scripts, styles or navigation. Also reads plain text, JSON and XML. "
        "Private and local network addresses are refused."
    )
    Args = FetchArgs
    timeout_s = 30.0
    threads = 16  # at most this many fetches at once; the rest wait their turn within their timeout
    output_schema = {
        "type": "object",
        "properties": {
            "url": {"type": "string"},
            "finalUrl": {"type": "string"},
            "status": {"type": "integer"},
            "contentType": {"type": "string"},
            "title": {"type": ["string", "null"]},
            "text": {"type": "string"},
            "truncated": {"type": "boolean"},
            "links": {"type": "array", "items": {"type": "object"}},
        },
        "required": ["url", "finalUrl", "status", "contentType", "title", "text", "truncated"],
    }

    def __init__(self, *, connect_timeout: float = 5.0, read_timeout: float = 10.0,
                 total_timeout: float = 20.0, max_bytes: int = 2_000_000, max_redirects: int = 5,
                 resolver: Resolver | None = None, policy: Policy | None = None,
                 ca_bundle: str | None = None) -> None:
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.resolver = resolver or system_resolver
        self.policy = policy  # None: read SIDEKICK_ALLOW_PRIVATE_URLS at each call
        self.ca_bundle = ca_bundle  # None: the default CA store (REQUESTS_CA_BUNDLE is not read)

    def run(self, args: FetchArgs) -> ToolOutput:
        import requests
        import urllib3

        from sidekick.tools import webclient

        guard = Guard(self.policy or Policy.from_env(), self.resolver)
        with webclient.Deadline(self.total_timeout) as deadline:
            try:
                with webclient.guarded_session(guard, self.ca_bundle or True, deadline) as session:
                    return self._fetch(session, args, deadline)
            except (BlockedAddress, requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if deadline.expired:  # the deadline shut the connection down: that is the real error
                    raise ToolFailure(TOO_LONG) from None
                raise ToolFailure(webclient.describe_error(exc)) from None

    def _fetch(self, session: Any, args: FetchArgs, deadline: Deadline) -> ToolOutput:
        from sidekick.tools import webclient

        url = _checked_url(args.url)
        for _ in range(self.max_redirects + 1):
            if deadline.expired or deadline.remaining() <= 0:
                raise ToolFailure(TOO_LONG)
            with session.get(url, stream=True, allow_redirects=False, headers={"Accept": ACCEPT},
                             timeout=(self.connect_timeout, self.read_timeout)) as response:
                location = response.headers.get("Location")
                if response.status_code in REDIRECTS and location:
                    url = _checked_url(urljoin(url, location), redirect=True)
                    continue
                if response.status_code >= 400:
                    raise ToolFailure(f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip())
                content_type, charset = _content_type(response.headers.get("Content-Type", ""))
                _refuse_binary(url, content_type)
                body, truncated = webclient.read_capped(response, self.max_bytes, deadline.at)
                if deadline.expired:  # the body ended because the deadline shut the connection down
                    raise ToolFailure(TOO_LONG)
                return _result(args, url, response.status_code, content_type, charset, body, truncated)
        raise ToolFailure(f"too many redirects (more than {self.max_redirects}), last to {url}")


def _checked_url(url: str, redirect: bool = False) -> str:
    what = "a redirect to" if redirect else "the URL"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ToolFailure(f"{what} {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ToolFailure(f"{what} {url!r} is not http or https; only web pages can be fetched")
    if not parts.hostname:
        raise ToolFailure(f"{what} {url!r} has no host")
    return parts.geturl()


def _content_type(header: str) -> tuple[str, str | None]:
    media, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip("'\"") or None
    return media.strip().lower(), charset


def _is_text(content_type: str) -> bool:
    return (content_type.startswith("text/") or content_type in HTML_TYPES or content_type in TEXT_TYPES
            or content_type.endswith(("+json", "+xml")))


def _refuse_binary(url: str, content_type: str) -> None:
    if content_type and not _is_text(content_type):
        raise ToolFailure(f"{url} is {content_type}, not a text page; fetch_url reads HTML, text, JSON and XML")


def _result(args: FetchArgs, final_url: str, status: int, content_type: str, charset: str | None,
            body: bytes, truncated: bool) -> ToolOutput:
    from sidekick.tools import htmltext

    if not content_type:
        if b"\0" in body[:1024]:
            raise ToolFailure(f"{final_url} sent binary content without a content type; fetch_url reads text")
        head = body[:512].lstrip().lower()
        content_type = "text/html" if head.startswith((b"<!doctype html", b"<html")) else "text/plain"
    is_html = content_type in HTML_TYPES
    decoded = htmltext.decode(body, charset, markup=is_html or content_type.endswith("xml"))
    title = None
    links: list[dict[str, str]] = []
    if is_html:
        page = htmltext.html_to_page(decoded, final_url, with_links=args.links)
        title, decoded, links = page.title, page.text, page.links
        truncated = truncated or page.cut
    text = decoded
    if len(text) > args.max_chars:
        text, truncated = text[: args.max_chars], True
    structured: dict[str, Any] = {"url": args.url, "finalUrl": final_url, "status": status,
                                  "contentType": content_type, "title": title, "text": text,
                                  "truncated": truncated}
    if args.links:
        structured["links"] = links
    header = [f"Title: {title}"] if title else []
    header.append(f"URL: {final_url}")
    lines = ["\n".join(header), text or "(no text content)"]
    if truncated:
        lines.append("[truncated: the page is longer than what is shown]")
    if links:
        lines.append("Links:\n" + "\n".join(f"- {link['text'] or '(no text)'}: {link['url']}" for link in links))
    return ToolOutput("\n\n".join(lines), structured=structured)
