"""Strict JSON for the wire: no NaN or Infinity either way (JSON has neither, and a JavaScript peer cannot
parse them), one message per UTF-8 line out. Used by the transport, the session and the agent loop alike."""

from __future__ import annotations

import json
from typing import Any


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.loads and json.dumps build a decoder or an encoder per call when given options.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_ASCII_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def loads_strict(data: bytes | str) -> Any:
    """`json.loads` without NaN and Infinity: JSON has neither, and a JavaScript peer cannot parse them."""
    if isinstance(data, (bytes, bytearray)):
        data = data.decode(json.detect_encoding(data), "surrogatepass")
    elif data.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
    return _DECODER.decode(data)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def encode_message(message: Any) -> bytes:
    """One message as one UTF-8 line of strict JSON.

    Lone surrogates from the input fall back to ASCII escapes; NaN and infinities (which a JavaScript
    peer cannot parse) become null.
    """
    try:
        text = _ENCODER.encode(message)
    except ValueError:  # UnicodeEncodeError is a ValueError too
        text = _ASCII_ENCODER.encode(_finite(message))
    try:
        return (text + "\n").encode()
    except UnicodeEncodeError:
        return (_ASCII_ENCODER.encode(_finite(message)) + "\n").encode()
