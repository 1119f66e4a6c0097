"""Web pages to readable text, and body bytes to str (imported lazily: it imports bs4).

The text keeps what a reader wants from a page: the title, headings (as `#` lines), paragraphs, list
items (`- `), table rows (cells joined by ` | `) and preformatted blocks; scripts, styles, navigation,
footers, forms, SVG and hidden elements are dropped. The tree is walked without recursion, so deeply
nested markup cannot exhaust the stack.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EncodingDetector

DROP = ["script", "style", "nav", "footer", "noscript", "svg", "template", "iframe", "object", "embed",
        "canvas", "select", "button", "textarea", "input", "dialog", "head"]
BLOCKS = {"p", "div", "section", "article", "main", "header", "aside", "blockquote", "ul", "ol", "dl",
          "dt", "dd", "table", "caption", "figure", "figcaption", "address", "hr", "details", "summary",
          "center", "body", "html"}
HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
MAX_LINKS = 100
_PRE_END = object()
_KEEP = str.maketrans({" ": "\ue000", "\t": "\ue001"})  # private-use stand-ins survive the tidy-up
_RESTORE = str.maketrans({"\ue000": " ", "\ue001": "\t"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_WHITESPACE = re.compile(r"\s+")
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass
class Page:
    """What was read from an HTML document."""

    title: str | None
    text: str
    links: list[dict[str, str]] = field(default_factory=list)


def decode(body: bytes, charset: str | None, markup: bool = False) -> str:
    """Decode a body: BOM, then the declared charset, then (for HTML/XML) a <meta> or XML declaration,
    then UTF-8. Undecodable bytes become U+FFFD instead of failing."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return body.decode(encoding, "replace")
    candidates = [charset]
    if markup:
        candidates.append(EncodingDetector.find_declared_encoding(body[:8192], is_html=True))
    for candidate in candidates:
        if candidate:
            try:
                return body.decode(codecs.lookup(candidate.strip().strip("'\"")).name, "replace")
            except LookupError:
                continue
    return body.decode("utf-8", "replace")


def html_to_page(html: str, base_url: str, with_links: bool = False) -> Page:
    """The readable content of an HTML document."""
    soup = BeautifulSoup(html, "html.parser")
    title = one_line(soup.title) if soup.title else None
    for tag in soup.find_all(DROP):
        if not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(_is_hidden):
        if not tag.decomposed:
            tag.decompose()
    if not title:
        h1 = soup.find("h1")
        title = one_line(h1) if h1 else None
    links = _links(soup, base_url) if with_links else []
    return Page(title or None, _text(soup), links)


def one_line(tag: Tag) -> str:
    """A tag's text on one line, whitespace collapsed (inline tags do not add spaces)."""
    return _WHITESPACE.sub(" ", tag.get_text()).strip()


def _is_hidden(tag: Tag) -> bool:
    style = _WHITESPACE.sub("", str(tag.get("style", ""))).lower()
    return tag.has_attr("hidden") or tag.get("aria-hidden") == "true" or "display:none" in style


def _links(soup: BeautifulSoup, base_url: str) -> list[dict[str, str]]:
    links: list[dict[str, str]] = []
    seen: set[str] = set()
    for a in soup.find_all("a", href=True):
        url = urljoin(base_url, str(a["href"]).strip()).split("#", 1)[0]
        if urlsplit(url).scheme not in ("http", "https") or url in seen:
            continue
        seen.add(url)
        links.append({"text": one_line(a), "url": url})
        if len(links) >= MAX_LINKS:
            break
    return links


def _text(soup: BeautifulSoup) -> str:
    parts: list[str] = []
    pre_depth = 0
    # Entries are nodes to visit, or text to emit when a tag closes: a stack instead of recursion.
    stack: list[object] = [soup]
    while stack:
        node = stack.pop()
        if node is _PRE_END:
            pre_depth -= 1
        elif isinstance(node, Tag):
            before, after = _markers(node)
            parts.append(before)
            stack.append(after)
            if node.name == "pre":
                pre_depth += 1
                stack.append(_PRE_END)
            stack.extend(reversed(list(node.children)))
        elif type(node) is NavigableString:  # not comments, doctypes, CDATA, processing instructions
            parts.append(node.translate(_KEEP) if pre_depth else _WHITESPACE.sub(" ", node))
        elif isinstance(node, str) and not isinstance(node, NavigableString):
            parts.append(node)
    return _tidy("".join(parts))


def _markers(tag: Tag) -> tuple[str, str]:
    name = tag.name
    if name in HEADINGS:
        return "\n\n" + "#" * HEADINGS[name] + " ", "\n\n"
    if name == "li":
        return "\n- ", ""
    if name == "tr":
        return "\n", ""
    if name in ("td", "th"):
        last = tag.find_next_sibling(["td", "th"]) is None
        return " ", "" if last else " |"
    if name == "br":
        return "\n", ""
    if name == "sup":
        return "^", ""
    if name == "pre":
        return "\n\n", "\n\n"
    if name in BLOCKS:
        return "\n\n", "\n\n"
    return "", ""


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip().translate(_RESTORE) for line in text.split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
