"""Ids the model has read versus ids it made up, and the JSON schema of a call that can only use the former.

Small models open a task about "my delivered order" with `get_order("o_12345")`: an id that appears nowhere
the model could have read it. The loop spots such calls here, and an endpoint that can constrain its output
to a schema is asked the turn again with every id argument limited to the ids the run has shown.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

ID_NAME = re.compile(r"(?:^|[_-])(?:[Uu]?[Uu])?[Ii][Dd][Ss]?$|[a-z0-9](?:I[Dd]|Uuid)s?$")  # id, user_id, orderId, uuid
# A token that may be an id: a word with a digit or an underscore in it (o_1003, 7f3a-9c, SUMMER20); not a
# hyphenated word ("outdoor-gear" in a system prompt, which the 1.5B held to the ids sent as an order id).
_ID_TOKEN = re.compile(r"(?<![\w.-])(?=[\w.-]*[\d_])[A-Za-z0-9][\w.-]{0,62}[A-Za-z0-9](?![\w-])")
MAX_KNOWN_IDS = 200  # a bigger enum makes the endpoint's grammar slow to build and the schema long


def id_arguments(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """The (name, value) pairs of arguments named like ids (`id`, `user_id`, `orderId`, `item_ids`)."""
    pairs = []
    for name, value in arguments.items():
        if not ID_NAME.search(name):
            continue
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, (str, int)) and not isinstance(item, bool) and str(item).strip():
                pairs.append((name, str(item).strip()))
    return pairs


def unseen_ids(arguments: dict[str, Any] | None, seen: Callable[[], str]) -> list[tuple[str, str]]:
    """Id arguments whose value appears nowhere in `seen()` (what the model had read): it made them up."""
    pairs = id_arguments(arguments or {})
    if not pairs:
        return []
    text = seen()
    return [(name, value) for name, value in pairs if value not in text]


def known_ids(texts: Iterable[str]) -> list[str]:
    """The id-like tokens of `texts` (the task, the host's context, tool results that worked), first seen first."""
    found: dict[str, None] = {}
    for text in texts:
        for token in _ID_TOKEN.findall(text):
            found.setdefault(token, None)
            if len(found) >= MAX_KNOWN_IDS:
                return list(found)
    return list(found)


def call_schema(tools: Sequence[dict[str, Any]], ids: Sequence[str] | None = None) -> dict[str, Any] | None:
    """The JSON schema of one call, `{"name": …, "arguments": …}`, of any of `tools` (specs with `inputSchema`).

    With `ids`, every string argument named like an id must be one of them, and a tool that requires such an
    argument is left out when there are none; None when no tool is left.
    """
    options = []
    for spec in tools:
        arguments = spec.get("inputSchema") or {"type": "object"}
        if ids is not None:
            arguments = _grounded(arguments, list(ids))
            if arguments is None:
                continue
        options.append({"type": "object", "properties": {"name": {"const": spec["name"]}, "arguments": arguments},
                        "required": ["name", "arguments"]})
    if not options:
        return None
    return options[0] if len(options) == 1 else {"anyOf": options}


def _grounded(schema: dict[str, Any], ids: list[str]) -> dict[str, Any] | None:
    """`schema` with its id-named string properties (also those of objects in arrays) limited to `ids`; None
    when one of them is required and `ids` is empty."""
    required = set(schema.get("required") or ())
    properties = dict(schema.get("properties") or {})  # new dicts where held: specs often share one {"type": …}
    for name, prop in properties.items():
        held: dict[str, Any] | None = prop
        if not isinstance(prop, dict):
            continue
        if prop.get("type") == "string" and ID_NAME.search(name):
            held = {**prop, "enum": ids} if ids else None
        elif prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            items = _grounded(prop["items"], ids)
            held = None if items is None else {**prop, "items": items}
        elif prop.get("type") == "object" and prop.get("properties"):
            held = _grounded(prop, ids)
        if held is None:
            if name in required:
                return None
            held = prop  # an optional id with none known: left free rather than dropped
        properties[name] = held
    return {**schema, "properties": properties} if "properties" in schema else schema
