"""A tokenizer-free estimate of how many tokens a transcript costs, erring a little on the high side.

Calibrated against Qwen2.5's tokenizer (llama.cpp `/tokenize`), the strictest common case: it spends one
token per digit, so a price table costs about a token per character, four times what `chars / 4` says.
Words cost about one token up to eight letters and a token per four letters beyond (camelCase parts count
as words), ASCII punctuation a little over half a token per character, a newline or indentation run one,
a space before a digit one, 3-byte characters (CJK) one each, emoji two. Tokenizers that group digits
(Llama 3, GPT-4o) come out lower than the estimate, which is the safe side.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

MARGIN = 1.05
MESSAGE_OVERHEAD = 8  # role markers and separators of a chat template, per message
TOOL_CALL_OVERHEAD = 12  # the wrapper a template writes around each tool call
TOOLS_OVERHEAD = 100  # the instructions a template writes around the tool specs (Qwen2.5: ~80)
IMAGE_TOKENS = 1_000

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])")
_PUNCT = re.compile(r"[!-/:-@\[-`{-~]+")
_BREAKS = re.compile(r"[ \t]*[\r\n]\s*|[ \t]{2,}")
_SPACE_DIGIT = re.compile(r" (?=[0-9])")
_DIGITS = "0123456789"
_LATIN = re.compile(r"[\u0080-\u024f]")
_TWO_BYTE = re.compile(r"[\u0250-\u07ff]")
_WIDE = re.compile(r"[\u0800-\uffff]")
_ASTRAL = re.compile(r"[\U00010000-\U0010ffff]")


@functools.lru_cache(maxsize=512)  # bounded memory: entries pin strings of up to 16k characters
def estimate_tokens(text: str) -> int:
    """Estimated tokens of `text` (cached: a transcript re-sends the same strings every turn)."""
    if not text:
        return 0
    words = _WORD.findall(text)
    n = len(words) + sum(len(word) - 8 for word in words if len(word) > 8) / 4
    runs = _PUNCT.findall(text)
    n += 0.3 * sum(map(len, runs)) + 0.6 * len(runs)
    n += sum(text.count(d) for d in _DIGITS) + len(_SPACE_DIGIT.findall(text)) + len(_BREAKS.findall(text))
    if not text.isascii():
        n += len(_LATIN.findall(text)) + 0.5 * len(_TWO_BYTE.findall(text)) + len(_WIDE.findall(text))
        n += 2 * len(_ASTRAL.findall(text))
    return int(n * MARGIN) + 1


def _content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return estimate_tokens(content)
    if isinstance(content, list):  # content parts: text, images
        total = 0
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                total += estimate_tokens(part["text"])
            elif isinstance(part, dict) and part.get("type") in ("image_url", "input_image", "image"):
                total += IMAGE_TOKENS
            else:
                total += estimate_tokens(json.dumps(part, ensure_ascii=False, default=str))
        return total
    return estimate_tokens(str(content))


def message_tokens(message: dict[str, Any]) -> int:
    """Estimated tokens of one chat message as a chat template renders it."""
    total = MESSAGE_OVERHEAD + _content_tokens(message.get("content"))
    for call in message.get("tool_calls") or ():
        function = (call.get("function") or {}) if isinstance(call, dict) else {}
        arguments = function.get("arguments")
        total += TOOL_CALL_OVERHEAD + estimate_tokens(str(function.get("name") or ""))
        total += estimate_tokens(arguments if isinstance(arguments, str) else json.dumps(arguments))
    return total


def tools_tokens(tools: list[dict[str, Any]]) -> int:
    """Estimated tokens of the tool specs, which chat templates write into the prompt as JSON."""
    if not tools:
        return 0
    specs = [{"type": "function", "function": {"name": t.get("name"), "description": t.get("description", ""),
                                                "parameters": t.get("inputSchema")}} for t in tools]
    return TOOLS_OVERHEAD + estimate_tokens(json.dumps(specs, ensure_ascii=False))
