"""Keep secrets out of log lines, ours and every library's (httpx, httpcore and openai log headers at debug).

Two nets: the API keys this process was given are replaced wherever they appear, whatever their shape
(an endpoint may echo a key in any header or message), and values shaped like credentials are replaced
even when we never saw them (Authorization headers, bearer tokens, `sk-…` keys).
"""

from __future__ import annotations

import logging
import os
import re
import threading

REDACTED = "[redacted]"
MIN_SECRET_CHARS = 8  # shorter "keys" (placeholders like "x") would redact ordinary words
MAX_REMEMBERED = 64
KEY_VARIABLES = ("SIDEKICK_API_KEY", "OPENAI_API_KEY")

_CREDENTIAL_NAME = r"(?:proxy-)?authorization|x-api-key|api[-_]?key|cookie|set-cookie"
# The name, then whatever joins it to its value in a header line, a dict repr or httpcore's byte tuples:
# `Authorization: …`, `'api_key': '…'`, `(b'authorization', b'…')`, `api_key=…`.
_NAMED_VALUE = re.compile(rf"(?i)\b({_CREDENTIAL_NAME})(['\"]?\s*[:=,]\s*(?:b?['\"])?)((?:bearer|basic)\s+)?[^\s'\",)}}]+")
_SCHEME_TOKEN = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
_SK_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{8,}")

_known: dict[str, None] = {}  # insertion-ordered: the oldest is forgotten first
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Redact `value` from every log line from now on."""
    if not value or len(value) < MIN_SECRET_CHARS:
        return
    with _known_lock:
        _known.pop(value, None)
        _known[value] = None
        while len(_known) > MAX_REMEMBERED:
            del _known[next(iter(_known))]


def remember_environment_secrets() -> None:
    for name in KEY_VARIABLES:
        remember_secret(os.environ.get(name))


def redact(text: str) -> str:
    """`text` with known secrets and credential-shaped values replaced by [redacted]."""
    for secret in list(_known):
        if secret in text:
            text = text.replace(secret, REDACTED)
    text = _NAMED_VALUE.sub(lambda m: m.group(1) + m.group(2) + (m.group(3) or "") + REDACTED, text)
    text = _SCHEME_TOKEN.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    return _SK_KEY.sub(REDACTED, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message, traceback and stack in place, so every later handler sees them redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # bad format args: let the handler report it as logging does
            return True
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
