"""Tool calls that a model wrote into its text instead of the `tool_calls` field.

Endpoints without a tool parser (vLLM or Ollama without one, llama.cpp with some templates) pass the
model's raw output through, and small models write calls in many forms:

- Hermes/Qwen `<tool_call>{…}</tool_call>` (closed or not), `<tools>…</tools>`, `<function_call>…`;
- a fenced ```` ```json ```` block holding one call, several, or a JSON array of calls, maybe inside prose;
- bare `{"name": …, "arguments": …}` objects (Llama 3.x writes `"parameters"`), one after another,
  separated by newlines or commas, and the doubled braces of a template escape (`{{"name": …}}}`);
- Llama 3.x `<|python_tag|>` with JSON or `name.call(key=value)`, Llama 3.2 `[name(key=value), …]`;
- Mistral `[TOOL_CALLS][{…}]` and `[TOOL_CALLS]name[ARGS]{…}`;
- `<function=name>{…}</function>` and `<function=name><parameter=key>value</parameter></function>`.

Only names the run offers are calls. A reply that looks like a call but is not a usable one (broken JSON,
a name the run does not offer, an empty call tag), or that writes a tool's result itself, is reported as
a problem so the loop can ask the model again instead of taking it as the answer.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Literal, Optional

from sidekick.agent.chat import ToolCall

Problem = Literal["malformed_call", "invented_tool_result"]

MAX_SCANNED_CHARS = 100_000
MAX_REPAIRS = 16
MAX_REPAIRED_CHARS = 20_000
NAME_KEYS = ("name", "tool_name", "tool", "function")
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input", "tool_input")
CALL_SHAPE_KEYS = {"name", "arguments", "parameters", "id", "type"}

# Wrappers that only frame a call; blanked (same length, so offsets hold) before the JSON scan.
_FRAMES = re.compile(r"</?tool_call>|</?tools>|</?function_call>|</?tool_response>|</?tool_result>|<\|/?tool_call\|>|<\|python_tag\|>|"
                     r"\[TOOL_CALLS\]|\[/TOOL_CALLS\]|<\|eom_id\|>|<\|eot_id\|>|<\|im_end\|>|<\|end\|>")
_CALL_MARKERS = re.compile(r"<tool_call>|<\|tool_call\|>|<\|python_tag\|>|\[TOOL_CALLS\]|<function=")
# Where a model starts writing what a tool answered, or the next turn of the conversation, itself.
_INVENTED = re.compile(r"<tool_response>|<tool_result>|<\|start_header_id\|>\s*(?:ipython|tool)|"
                       r"<\|im_start\|>\s*(?:tool|user)|\[TOOL_RESULTS\]", re.IGNORECASE)
_MISTRAL = re.compile(r"\[TOOL_CALLS\]\s*([A-Za-z_][\w.-]*)\s*\[ARGS\]\s*")
_FUNCTION_TAG = re.compile(r"<function=([A-Za-z_][\w.-]*)>(.*?)(?:</function>|$)", re.DOTALL)
_PARAMETER_TAG = re.compile(r"<parameter=([A-Za-z_][\w.-]*)>\s*(.*?)\s*</parameter>", re.DOTALL)
_PYTHON_TAG = re.compile(r"<\|python_tag\|>(.*?)(?=<\|eom_id\|>|<\|eot_id\|>|$)", re.DOTALL)
_OPENERS = re.compile(r"\{(?=\s*[\"'{])|\[(?=\s*\{)")
_NAME_IN_TEXT = re.compile(r"[\"']name[\"']\s*:\s*[\"']([^\"']{1,100})[\"']")
_EMPTY_FENCE = re.compile(r"```[\w-]*\s*```")
_LEFTOVER = re.compile(r"^\s*[{}\[\],;][\s{}\[\],;]*$")
_DECODER = json.JSONDecoder()


@dataclass
class TextReading:
    """What a reply's text holds: the calls found, the text around them, and what was wrong with it."""

    calls: list[ToolCall] = field(default_factory=list)
    text: str = ""
    problem: Optional[Problem] = None
    detail: str = ""
    tool: Optional[str] = None  # the name a flagged call used


@dataclass
class _Scan:
    known: set[str]
    calls: list[tuple[int, str, Any]] = field(default_factory=list)  # (offset, name, arguments)
    spans: list[tuple[int, int]] = field(default_factory=list)
    unknown_names: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)

    def taken(self, position: int) -> bool:
        return any(start <= position < end for start, end in self.spans)

    def take(self, start: int, end: int, found: list[tuple[str, Any]]) -> None:
        self.spans.append((start, end))
        self.calls.extend((start, name, arguments) for name, arguments in found)


def _arguments_of(obj: dict[str, Any]) -> Any:
    for key in ARGUMENT_KEYS:
        if key in obj:
            value = obj[key]
            if isinstance(value, str):  # arguments encoded twice, as OpenAI's wire format does
                try:
                    decoded = json.loads(value)
                except ValueError:
                    return value
                return decoded if isinstance(decoded, dict) else value
            return value
    return {}


def _name_of(obj: dict[str, Any]) -> Any:
    function = obj.get("function")
    if isinstance(function, dict):  # {"type": "function", "function": {"name": …, "arguments": …}}
        return function.get("name")
    return next((obj[key] for key in NAME_KEYS if isinstance(obj.get(key), str)), None)


def _is_call_shaped(obj: dict[str, Any]) -> bool:
    if isinstance(obj.get("function"), dict):
        return isinstance(obj["function"].get("name"), str)
    arguments = obj.get("arguments", obj.get("parameters"))
    return isinstance(obj.get("name"), str) and isinstance(arguments, (dict, str)) and set(obj) <= CALL_SHAPE_KEYS


def _calls_in(value: Any, scan: _Scan) -> list[tuple[str, Any]] | None:
    """The calls a decoded JSON value holds; None when it is not call-shaped at all."""
    if isinstance(value, list):
        parts = [_calls_in(item, scan) for item in value]
        if not value or any(part is None for part in parts):
            return None
        return [call for part in parts for call in part or ()]
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("tool_calls"), list):
        return _calls_in(value["tool_calls"], scan)
    name = _name_of(value)
    if isinstance(name, str) and name in scan.known:
        source = value["function"] if isinstance(value.get("function"), dict) else value
        return [(name, _arguments_of(source))]
    if _is_call_shaped(value):
        scan.unknown_names.append(str(name))
        return []
    return None


def _brackets(text: str, start: int, stop: int) -> Iterator[tuple[int, str]]:
    """The brackets of `text[start:stop]` that are outside quoted strings, with their offsets."""
    quote, escaped = "", False
    for index in range(start, stop):
        char = text[index]
        if quote:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "{[]}":
            yield index, char


def _balanced_end(text: str, start: int) -> int | None:
    """The end of the bracketed span opening at `start`; None if it never closes."""
    depth = 0
    for index, char in _brackets(text, start, min(len(text), start + MAX_REPAIRED_CHARS)):
        depth += 1 if char in "{[" else -1
        if depth == 0:
            return index + 1
    return None


def _closed(piece: str) -> str:
    """`piece` with the brackets it left open closed: small models drop the last brace of a call."""
    closers: list[str] = []
    for _, char in _brackets(piece, 0, len(piece)):
        if char in "{[":
            closers.append("}" if char == "{" else "]")
        elif closers:
            closers.pop()
    return piece.rstrip() + "".join(reversed(closers))


def _repaired(span: str) -> Any:
    """Common slips of small models: doubled braces, Python literals, trailing commas, a missing brace."""
    attempts = [span.replace("{{", "{").replace("}}", "}"), re.sub(r",\s*([}\]])", r"\1", span),
                _closed(span)]
    for attempt in attempts:
        try:
            return json.loads(attempt)
        except ValueError:
            pass
    for attempt in (span, *attempts):
        try:
            return ast.literal_eval(attempt)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            pass
    raise ValueError("not JSON")


def _scan_json(text: str, scan: _Scan) -> None:
    repairs = 0
    for match in _OPENERS.finditer(text):
        start = match.start()
        if scan.taken(start):
            continue
        try:
            value, end = _DECODER.raw_decode(text, start)
        except (ValueError, RecursionError):
            if repairs >= MAX_REPAIRS:
                continue
            repairs += 1
            end = _balanced_end(text, start)
            if end is None:  # never closed: up to the end of the line that ends the call, or of the text
                end = min(len(text), start + MAX_REPAIRED_CHARS)
            try:
                value = _repaired(text[start:end])
            except (ValueError, RecursionError):
                piece = text[start:end]
                named = _NAME_IN_TEXT.search(piece[:500])
                if named and ("arguments" in piece or "parameters" in piece or named.group(1) in scan.known):
                    scan.broken.append(named.group(1))
                continue
        found = _calls_in(value, scan)
        if found is not None:
            scan.take(start, end, found)


def _pythonic(source: str, known: set[str]) -> list[tuple[str, Any]] | None:
    """`[name(key=value), …]` or `name.call(key=value)`, only when every call names a known tool."""
    try:
        tree = ast.parse(source.strip(), mode="eval").body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    nodes = tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]
    found = []
    for node in nodes:
        if not isinstance(node, ast.Call) or node.args:
            return None
        function = node.func
        if isinstance(function, ast.Attribute) and function.attr == "call" and isinstance(function.value, ast.Name):
            function = function.value
        if not isinstance(function, ast.Name) or function.id not in known:
            return None
        try:
            arguments = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg is not None}
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return None
        found.append((function.id, arguments))
    return found or None


def _tag_parameter(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _scan_tagged(text: str, scan: _Scan) -> None:
    for match in _MISTRAL.finditer(text):
        try:
            arguments, end = _DECODER.raw_decode(text, match.end())
        except (ValueError, RecursionError):
            scan.broken.append(match.group(1))
            continue
        if match.group(1) in scan.known:
            scan.take(match.start(), end, [(match.group(1), arguments)])
        else:
            scan.unknown_names.append(match.group(1))
    for match in _FUNCTION_TAG.finditer(text):
        name, body = match.group(1), match.group(2).strip()
        if name not in scan.known:
            scan.unknown_names.append(name)
            continue
        parameters = _PARAMETER_TAG.findall(body)
        if parameters:
            arguments: Any = {key: _tag_parameter(value) for key, value in parameters}
        else:
            try:
                arguments = json.loads(body) if body else {}
            except ValueError:
                scan.broken.append(name)
                continue
        scan.take(match.start(), match.end(), [(name, arguments)])
    for match in _PYTHON_TAG.finditer(text):
        found = _pythonic(match.group(1), scan.known)
        if found:
            scan.take(match.start(), match.end(), found)


def _remaining(text: str, spans: list[tuple[int, int]]) -> str:
    pieces, position = [], 0
    for start, end in sorted(spans):
        if start >= position:
            pieces.append(text[position:start])
            position = end
    pieces.append(text[position:])
    rest = _FRAMES.sub("", "".join(pieces))
    rest = _EMPTY_FENCE.sub("", rest)
    lines = [line for line in rest.splitlines() if not _LEFTOVER.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _problem(text: str, scan: _Scan, invented: bool) -> tuple[Optional[Problem], str]:
    offered = ", ".join(sorted(scan.known)) or "none"
    if scan.broken:
        return "malformed_call", f"the call to {scan.broken[0]!r} is not valid JSON"
    if scan.unknown_names:
        return "malformed_call", f"there is no tool named {scan.unknown_names[0]!r} (the tools: {offered})"
    if _CALL_MARKERS.search(text):
        return "malformed_call", "it has a tool-call marker but no call to a tool of this run inside"
    if invented:
        return "invented_tool_result", "it contains a tool result that no tool returned"
    return None, ""


def _scan(text: str, known: set[str]) -> _Scan:
    scan = _Scan(known=known)
    _scan_tagged(text, scan)
    _scan_json(_FRAMES.sub(lambda m: " " * len(m.group()), text), scan)
    if not scan.calls:
        stripped = re.sub(r"^```[\w-]*\s*|\s*```$", "", text.strip())
        found = _pythonic(stripped, known) if stripped[:1] == "[" or "(" in stripped[:80] else None
        if found:
            scan.take(0, len(text), found)
    return scan


def parse_text_tool_calls(content: str | None, known_tools: Iterable[str]) -> TextReading:
    """Find tool calls in `content`, in every form above, for the tools in `known_tools`.

    With calls found, `text` is the reply without them (and without anything the model wrote after an
    invented tool result). With none, `text` is the reply unchanged, and `problem` says whether it looked
    like a call or invented a tool's result.
    """
    if not content:
        return TextReading(text=content or "")
    scanned = content[:MAX_SCANNED_CHARS]
    invented = _INVENTED.search(scanned)
    before = scanned[:invented.start()] if invented else scanned
    known = set(known_tools)
    scan = _scan(before, known)
    if not scan.calls and invented:
        # A call wrapped in a tool-response tag by mistake is still the model's call, not a made-up result.
        whole = _scan(scanned, known)
        if whole.calls:
            scan, before = whole, scanned
    if scan.calls:
        calls = [ToolCall(id="", name=name, arguments=arguments) for _, name, arguments in sorted(
            scan.calls, key=lambda c: c[0])]
        return TextReading(calls=calls, text=_remaining(before, scan.spans))
    problem, detail = _problem(before, scan, invented is not None)
    tool = (scan.broken or scan.unknown_names or [None])[0] if problem == "malformed_call" else None
    return TextReading(text=content, problem=problem, detail=detail, tool=tool)
